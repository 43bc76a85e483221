#!/usr/bin/env python3
"""Generate engine/tests/fixtures/holidays-2026.json, the independent cross-check of
the shipped calendars in policies/calendars/*.toml.

Run once, then commit the JSON; the Rust test (engine/tests/calendar_data.rs) reads
only the JSON, so it never needs Python:

    python3 -m venv /tmp/hv && /tmp/hv/bin/pip install holidays chinesecalendar
    /tmp/hv/bin/python tools/gen_holiday_fixture.py > engine/tests/fixtures/holidays-2026.json

Sources:
- cn-2026: the `chinesecalendar` package (transcribes the State Council notices),
  holiday days including weekends inside each period, and make-up working days.
- gb-eaw-2026: `holidays`, country GB, subdivision ENG (identical to WLS, checked).
- us-federal-2026: `holidays`, country US (federal holidays).
- au-national-2026: `holidays`, country AU: the dates that are public holidays in
  every state and territory (the intersection over all subdivisions).
A name ending in "(observed)" marks an observed-in-lieu day.
"""

import datetime as dt
import json
import sys
from importlib.metadata import version

import chinese_calendar
import holidays

YEAR = 2026


def iso(day):
    return day.isoformat()


def from_holidays(table):
    days = {iso(d): name for d, name in sorted(table.items())}
    observed = [d for d, name in days.items() if "(observed)" in name]
    return {"holidays": days, "observed": observed, "working_days": []}


def china():
    first, last = dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31)
    days = {}
    for day in chinese_calendar.get_holidays(first, last, include_weekends=False):
        days[iso(day)] = chinese_calendar.get_holiday_detail(day)[1]
    working = [
        iso(d)
        for d in chinese_calendar.get_workdays(first, last, include_weekends=True)
        if d.weekday() >= 5
    ]
    return {"holidays": dict(sorted(days.items())), "observed": [], "working_days": working}


def england_and_wales():
    eng = holidays.country_holidays("GB", subdiv="ENG", years=YEAR)
    wls = holidays.country_holidays("GB", subdiv="WLS", years=YEAR)
    if set(eng) != set(wls):
        sys.exit("England and Wales differ")
    return from_holidays(eng)


def australia_national():
    tables = [
        holidays.country_holidays("AU", subdiv=s, years=YEAR)
        for s in holidays.Australia.subdivisions
    ]
    common = set.intersection(*(set(t) for t in tables))
    national = holidays.country_holidays("AU", years=YEAR)
    names = {d: national.get(d) or tables[0].get(d) for d in common}
    return from_holidays(names)


def main():
    fixture = {
        "generated_by": "tools/gen_holiday_fixture.py",
        "packages": {"holidays": version("holidays"), "chinesecalendar": version("chinesecalendar")},
        "calendars": {
            "cn-2026": china(),
            "gb-eaw-2026": england_and_wales(),
            "us-federal-2026": from_holidays(holidays.country_holidays("US", years=YEAR)),
            "au-national-2026": australia_national(),
        },
    }
    json.dump(fixture, sys.stdout, ensure_ascii=False, indent=2)
    print()


if __name__ == "__main__":
    main()
