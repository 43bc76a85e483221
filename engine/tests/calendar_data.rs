//! Cross-checks every shipped calendar in `policies/calendars/` against an independent
//! source committed as data (`engine/tests/fixtures/holidays-2026.json`, made once by
//! `tools/gen_holiday_fixture.py` from the `holidays` and `chinesecalendar` packages).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::NaiveDate;
use redress_engine::calendar::Calendar;
use redress_engine::calendar::data::{CalendarFile, parse_calendar_file};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    calendars: BTreeMap<String, Expected>,
}

#[derive(Deserialize)]
struct Expected {
    holidays: BTreeMap<NaiveDate, String>,
    observed: BTreeSet<NaiveDate>,
    working_days: BTreeSet<NaiveDate>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn load(name: &str) -> (CalendarFile, Expected) {
    let path = root().join(format!("policies/calendars/{name}.toml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = parse_calendar_file(&text).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let fixture = root().join("engine/tests/fixtures/holidays-2026.json");
    let mut fixture: Fixture =
        serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let expected = fixture
        .calendars
        .remove(name)
        .unwrap_or_else(|| panic!("{name}: not in the fixture"));
    (file, expected)
}

fn holiday_days(file: &CalendarFile) -> BTreeMap<NaiveDate, (String, bool)> {
    let mut days = BTreeMap::new();
    for h in &file.holidays {
        for d in h.from.iter_days().take_while(|d| *d <= h.to) {
            days.insert(d, (h.name.clone(), h.observed));
        }
    }
    days
}

/// Compares dates, observed flags and make-up days; names too when `names` is set.
fn cross_check(name: &str, names: bool) {
    let (file, expected) = load(name);
    let ours = holiday_days(&file);
    let our_dates: BTreeSet<_> = ours.keys().copied().collect();
    let their_dates: BTreeSet<_> = expected.holidays.keys().copied().collect();
    assert_eq!(
        our_dates, their_dates,
        "{name}: holiday dates differ from the fixture"
    );
    let our_observed: BTreeSet<_> = ours
        .iter()
        .filter(|(_, (_, o))| *o)
        .map(|(d, _)| *d)
        .collect();
    assert_eq!(
        our_observed, expected.observed,
        "{name}: observed days differ"
    );
    let our_working: BTreeSet<_> = file.working_days.iter().map(|w| w.date).collect();
    assert_eq!(
        our_working, expected.working_days,
        "{name}: make-up working days differ"
    );
    if names {
        for (date, (ours, _)) in &ours {
            assert_eq!(
                Some(ours),
                expected.holidays.get(date),
                "{name}: name of {date}"
            );
        }
    }
    assert!(!file.source.is_empty(), "{name}: no source");
    let calendar =
        Calendar::new(file.into_spec("data.toml")).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    for date in &expected.working_days {
        assert!(
            calendar.is_working_day(*date).unwrap(),
            "{name}: {date} should be worked"
        );
    }
}

#[test]
fn cn_2026_matches_chinesecalendar() {
    cross_check("cn-2026", true);
}

#[test]
fn gb_eaw_2026_matches_holidays() {
    cross_check("gb-eaw-2026", false);
}

#[test]
fn us_federal_2026_matches_holidays() {
    cross_check("us-federal-2026", false);
}

#[test]
fn au_national_2026_matches_holidays() {
    cross_check("au-national-2026", false);
}

#[test]
fn every_shipped_file_is_cross_checked() {
    let dir = root().join("policies/calendars");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "au-national-2026",
            "cn-2026",
            "gb-eaw-2026",
            "us-federal-2026"
        ]
    );
}

#[test]
fn cn_2026_make_up_saturday_is_a_working_day() {
    let (file, _) = load("cn-2026");
    let calendar = Calendar::new(file.into_spec("data.toml")).unwrap();
    let saturday = NaiveDate::from_ymd_opt(2026, 2, 14).unwrap();
    assert!(calendar.is_working_day(saturday).unwrap());
    let kind = calendar.day_kind(saturday).unwrap();
    assert_eq!(
        calendar.day_reason(kind),
        "Spring Festival make-up working day"
    );
}

#[test]
fn us_federal_observed_day_is_closed_unless_open_on_observed() {
    let (file, _) = load("us-federal-2026");
    let july_3 = NaiveDate::from_ymd_opt(2026, 7, 3).unwrap();
    let mut spec = file.into_spec("data.toml");
    assert!(
        !Calendar::new(spec.clone())
            .unwrap()
            .is_working_day(july_3)
            .unwrap()
    );
    spec.open_on_observed = true;
    let fed = Calendar::new(spec).unwrap();
    assert!(
        fed.is_working_day(july_3).unwrap(),
        "Federal Reserve Banks open on 3 July"
    );
    assert!(
        !fed.is_working_day(NaiveDate::from_ymd_opt(2026, 12, 25).unwrap())
            .unwrap()
    );
}
