#!/usr/bin/env python3
"""Generate engine/tests/fixtures/holidays.json, the independent cross-check of the
shipped calendars in policies/calendars/*.toml, for 2026 and 2027.

Run once, then commit the JSON; the Rust test (engine/tests/calendar_data.rs) reads
only the JSON, so it never needs Python:

    python3 -m venv /tmp/hv && /tmp/hv/bin/pip install holidays chinesecalendar lunardate
    /tmp/hv/bin/python tools/gen_holiday_fixture.py > engine/tests/fixtures/holidays.json

Sources:
- cn-2026: the `chinesecalendar` package (transcribes the State Council notices),
  holiday days including weekends inside each period, and make-up working days.
- cn-2027: `chinesecalendar` has no 2027 data yet (the State Council's notice was not
  out when this was made), so the statutory holidays of 全国年节及纪念日放假办法 (as
  amended, in force since 2025) are computed instead: the lunar dates by the
  `lunardate` package, the Qingming solar term by `chinesecalendar`'s solar terms. No
  make-up working days and no substitute rest days (补假): the notice fixes those.
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

from lunardate import LunarDate

YEARS = (2026, 2027)


def iso(day):
    return day.isoformat()


def from_holidays(table):
    days = {iso(d): name for d, name in sorted(table.items())}
    observed = [d for d, name in days.items() if "(observed)" in name]
    return {"holidays": days, "observed": observed, "working_days": []}


def china(year):
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    days = {}
    for day in chinese_calendar.get_holidays(first, last, include_weekends=False):
        days[iso(day)] = chinese_calendar.get_holiday_detail(day)[1]
    working = [
        iso(d)
        for d in chinese_calendar.get_workdays(first, last, include_weekends=True)
        if d.weekday() >= 5
    ]
    return {"holidays": dict(sorted(days.items())), "observed": [], "working_days": working}


def china_statutory(year):
    """The statutory holidays of 全国年节及纪念日放假办法 (2024 amendment, Art. 2)."""
    spring = LunarDate(year, 1, 1).to_solar_date()
    qingming = [d for d, name in chinese_calendar.get_solar_terms(
        dt.date(year, 4, 1), dt.date(year, 4, 10)) if name == "清明"][0]
    periods = [
        ("New Year's Day", dt.date(year, 1, 1), 1),
        ("Spring Festival", spring - dt.timedelta(days=1), 4),  # Eve to the 3rd day
        ("Tomb-sweeping Day", qingming, 1),
        ("Labour Day", dt.date(year, 5, 1), 2),
        ("Dragon Boat Festival", LunarDate(year, 5, 5).to_solar_date(), 1),
        ("Mid-autumn Festival", LunarDate(year, 8, 15).to_solar_date(), 1),
        ("National Day", dt.date(year, 10, 1), 3),
    ]
    days = {}
    for name, first, length in periods:
        for i in range(length):
            days[iso(first + dt.timedelta(days=i))] = name
    return {"holidays": dict(sorted(days.items())), "observed": [], "working_days": []}


def england_and_wales(year):
    eng = holidays.country_holidays("GB", subdiv="ENG", years=year)
    wls = holidays.country_holidays("GB", subdiv="WLS", years=year)
    if set(eng) != set(wls):
        sys.exit("England and Wales differ")
    return from_holidays(eng)


def australia_national(year):
    tables = [
        holidays.country_holidays("AU", subdiv=s, years=year)
        for s in holidays.Australia.subdivisions
    ]
    common = set.intersection(*(set(t) for t in tables))
    national = holidays.country_holidays("AU", years=year)
    names = {d: national.get(d) or tables[0].get(d) for d in common}
    return from_holidays(names)


def us_federal(year):
    table = holidays.country_holidays("US", years=year)
    # An observed day that belongs to the next year's holiday (New Year's Day on a
    # Saturday is observed on 31 December) is in this year's list, as OPM lists it.
    after = holidays.country_holidays("US", years=year + 1)
    for day, name in after.items():
        if day.year == year:
            table[day] = name
    return from_holidays(table)


def main():
    calendars = {}
    for year in YEARS:
        calendars[f"cn-{year}"] = china(year) if year == 2026 else china_statutory(year)
        calendars[f"gb-eaw-{year}"] = england_and_wales(year)
        calendars[f"us-federal-{year}"] = us_federal(year)
        calendars[f"au-national-{year}"] = australia_national(year)
    fixture = {
        "generated_by": "tools/gen_holiday_fixture.py",
        "packages": {
            "holidays": version("holidays"),
            "chinesecalendar": version("chinesecalendar"),
            "lunardate": version("lunardate"),
        },
        "calendars": dict(sorted(calendars.items())),
    }
    json.dump(fixture, sys.stdout, ensure_ascii=False, indent=2)
    print()


if __name__ == "__main__":
    main()
