//! Deadline arithmetic, case by case: every unit, DST in London and Sydney, make-up
//! days, holidays with and without rolling, month-end clamping, leap years, receipt
//! outside business hours. One table; each failure names its case.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, NaiveTime, Utc, Weekday};
use redress_engine::calendar::data::parse_calendar_file;
use redress_engine::calendar::{
    Calendar, CalendarSpec, DeadlineOptions, IntervalKind, SlaDuration,
};

fn shipped(name: &str) -> Calendar {
    let path = format!(
        "{}/../policies/calendars/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let file = parse_calendar_file(&std::fs::read_to_string(path).unwrap()).unwrap();
    Calendar::new(file.into_spec("data.toml")).unwrap()
}

fn t(s: &str) -> NaiveTime {
    NaiveTime::parse_from_str(s, "%H:%M").unwrap()
}

/// A calendar without data limits: Monday to Friday, optional hours.
fn plain(tz: chrono_tz::Tz, hours: &[(&str, &str)]) -> Calendar {
    Calendar::new(CalendarSpec {
        name: format!("plain {tz}"),
        timezone: tz,
        week: vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ],
        hours: hours.iter().map(|(a, b)| (t(a), t(b))).collect(),
        holidays: vec![],
        working_days: vec![],
        open_on_observed: false,
        covers: Vec::new(),
    })
    .unwrap()
}

fn calendar(key: &str) -> Calendar {
    match key {
        "cn" => shipped("cn-2026"),
        "gb" => shipped("gb-eaw-2026"),
        "au" => shipped("au-national-2026"),
        "us" => shipped("us-federal-2026"),
        "utc" => plain(chrono_tz::UTC, &[]),
        "sh-split" => plain(
            chrono_tz::Asia::Shanghai,
            &[("09:00", "12:00"), ("13:30", "17:30")],
        ),
        "sh-day" => plain(chrono_tz::Asia::Shanghai, &[("09:00", "17:30")]),
        "london-hours" => plain(chrono_tz::Europe::London, &[("09:00", "17:00")]),
        other => panic!("no calendar {other}"),
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

struct Case {
    name: &'static str,
    cal: &'static str,
    start: &'static str,
    target: &'static str,
    roll: bool,
    after_hours: bool,
    want: &'static str,
}

const fn case(
    name: &'static str,
    cal: &'static str,
    start: &'static str,
    target: &'static str,
    want: &'static str,
) -> Case {
    Case {
        name,
        cal,
        start,
        target,
        roll: false,
        after_hours: false,
        want,
    }
}

const fn rolled(c: Case) -> Case {
    Case { roll: true, ..c }
}

const fn after_hours(c: Case) -> Case {
    Case {
        after_hours: true,
        ..c
    }
}

const CASES: &[Case] = &[
    // days: the day of receipt is not counted; end of day = next local midnight
    case(
        "15 days from 13 Feb 16:00 Beijing",
        "cn",
        "2026-02-13T16:00:00+08:00",
        "15 days",
        "2026-03-01T00:00:00+08:00",
    ),
    case(
        "23:30 UTC is already 14 Feb in Beijing",
        "cn",
        "2026-02-13T23:30:00Z",
        "1 day",
        "2026-02-16T00:00:00+08:00",
    ),
    case(
        "days count holidays",
        "cn",
        "2026-02-13T10:00:00+08:00",
        "3 days",
        "2026-02-17T00:00:00+08:00",
    ),
    case(
        "8 weeks",
        "utc",
        "2026-03-02T10:00:00Z",
        "8 weeks",
        "2026-04-28T00:00:00Z",
    ),
    // hours: exact elapsed time
    case(
        "24 hours across London spring-forward",
        "gb",
        "2026-03-28T12:00:00+00:00",
        "24 hours",
        "2026-03-29T13:00:00+01:00",
    ),
    case(
        "24 hours across London fall-back",
        "gb",
        "2026-10-24T12:00:00+01:00",
        "24 hours",
        "2026-10-25T11:00:00+00:00",
    ),
    case(
        "24 hours across Sydney spring-forward",
        "au",
        "2026-10-03T10:00:00+10:00",
        "24 hours",
        "2026-10-04T11:00:00+11:00",
    ),
    case(
        "24 hours across Sydney fall-back",
        "au",
        "2026-04-04T10:00:00+11:00",
        "24 hours",
        "2026-04-05T09:00:00+10:00",
    ),
    case(
        "90 minutes",
        "utc",
        "2026-03-02T10:00:00Z",
        "90 minutes",
        "2026-03-02T11:30:00Z",
    ),
    // days across DST: local midnights
    case(
        "1 day across London spring-forward",
        "gb",
        "2026-03-28T12:00:00+00:00",
        "1 day",
        "2026-03-30T00:00:00+01:00",
    ),
    case(
        "1 day across London fall-back",
        "gb",
        "2026-10-24T12:00:00+01:00",
        "1 day",
        "2026-10-26T00:00:00+00:00",
    ),
    case(
        "1 day across Sydney spring-forward",
        "au",
        "2026-10-03T10:00:00+10:00",
        "1 day",
        "2026-10-05T00:00:00+11:00",
    ),
    case(
        "1 day across Sydney fall-back",
        "au",
        "2026-04-04T10:00:00+11:00",
        "1 day",
        "2026-04-06T00:00:00+10:00",
    ),
    // business days
    case(
        "1 business day lands on the make-up Saturday",
        "cn",
        "2026-02-13T10:00:00+08:00",
        "1 business day",
        "2026-02-15T00:00:00+08:00",
    ),
    case(
        "3 business days skip Spring Festival",
        "cn",
        "2026-02-13T10:00:00+08:00",
        "3 business days",
        "2026-02-26T00:00:00+08:00",
    ),
    case(
        "15 business days over Spring Festival",
        "cn",
        "2026-02-13T10:00:00+08:00",
        "15 business days",
        "2026-03-13T00:00:00+08:00",
    ),
    case(
        "business day from a holiday",
        "cn",
        "2026-10-03T10:00:00+08:00",
        "1 business day",
        "2026-10-09T00:00:00+08:00",
    ),
    case(
        "business day from a Sunday",
        "gb",
        "2026-12-27T10:00:00+00:00",
        "1 business day",
        "2026-12-30T00:00:00+00:00",
    ),
    case(
        "business day closes at close of business",
        "sh-day",
        "2026-03-06T10:00:00+08:00",
        "1 business day",
        "2026-03-09T17:30:00+08:00",
    ),
    case(
        "US observed holiday is closed",
        "us",
        "2026-07-02T10:00:00-04:00",
        "1 business day",
        "2026-07-07T00:00:00-04:00",
    ),
    // deadline inside a national holiday, with and without rolling
    case(
        "deadline inside National Day",
        "cn",
        "2026-09-28T10:00:00+08:00",
        "5 days",
        "2026-10-04T00:00:00+08:00",
    ),
    rolled(case(
        "deadline inside National Day, rolled",
        "cn",
        "2026-09-28T10:00:00+08:00",
        "5 days",
        "2026-10-09T00:00:00+08:00",
    )),
    rolled(case(
        "roll leaves a working day alone",
        "cn",
        "2026-09-21T10:00:00+08:00",
        "3 days",
        "2026-09-25T00:00:00+08:00",
    )),
    rolled(case(
        "roll onto a make-up Saturday",
        "cn",
        "2026-02-12T10:00:00+08:00",
        "1 day",
        "2026-02-14T00:00:00+08:00",
    )),
    rolled(case(
        "roll over a weekend",
        "gb",
        "2026-03-04T10:00:00+00:00",
        "3 days",
        "2026-03-10T00:00:00+00:00",
    )),
    // months: same day, clamped to month end; leap years
    case(
        "1 month from 31 January 2026",
        "utc",
        "2026-01-31T10:00:00Z",
        "1 month",
        "2026-03-01T00:00:00Z",
    ),
    case(
        "1 month from 31 January 2024 (leap)",
        "utc",
        "2024-01-31T10:00:00Z",
        "1 month",
        "2024-03-01T00:00:00Z",
    ),
    case(
        "1 month from 31 January 2028 (leap)",
        "utc",
        "2028-01-31T10:00:00Z",
        "1 month",
        "2028-03-01T00:00:00Z",
    ),
    case(
        "12 months from 29 February 2028",
        "utc",
        "2028-02-29T10:00:00Z",
        "12 months",
        "2029-03-01T00:00:00Z",
    ),
    case(
        "6 months from 31 August",
        "utc",
        "2026-08-31T10:00:00Z",
        "6 months",
        "2027-03-01T00:00:00Z",
    ),
    case(
        "1 month from 15 March",
        "utc",
        "2026-03-15T10:00:00Z",
        "1 month",
        "2026-04-16T00:00:00Z",
    ),
    case(
        "2 days across 29 February 2024",
        "utc",
        "2024-02-28T10:00:00Z",
        "2 days",
        "2024-03-02T00:00:00Z",
    ),
    // business hours, split hours
    case(
        "4 business hours over lunch",
        "sh-split",
        "2026-03-02T11:00:00+08:00",
        "4 business hours",
        "2026-03-02T16:30:00+08:00",
    ),
    case(
        "business hours ending exactly at close",
        "sh-split",
        "2026-03-02T09:00:00+08:00",
        "3 business hours",
        "2026-03-02T12:00:00+08:00",
    ),
    case(
        "business hours received after hours",
        "sh-split",
        "2026-03-06T19:00:00+08:00",
        "4 business hours",
        "2026-03-09T14:30:00+08:00",
    ),
    case(
        "business hours over a weekend",
        "sh-split",
        "2026-03-06T17:00:00+08:00",
        "60 business minutes",
        "2026-03-09T09:30:00+08:00",
    ),
    case(
        "business hours across London spring-forward",
        "london-hours",
        "2026-03-27T16:00:00+00:00",
        "8 business hours",
        "2026-03-30T16:00:00+01:00",
    ),
    // receipt outside business hours counts from the next opening
    case(
        "after hours, option off",
        "sh-day",
        "2026-03-06T18:00:00+08:00",
        "1 business day",
        "2026-03-09T17:30:00+08:00",
    ),
    after_hours(case(
        "after hours, option on",
        "sh-day",
        "2026-03-06T18:00:00+08:00",
        "1 business day",
        "2026-03-10T17:30:00+08:00",
    )),
    after_hours(case(
        "after hours, 24 hours",
        "sh-day",
        "2026-03-06T18:00:00+08:00",
        "24 hours",
        "2026-03-10T09:00:00+08:00",
    )),
    after_hours(case(
        "before opening on a working day",
        "sh-day",
        "2026-03-09T07:00:00+08:00",
        "1 business day",
        "2026-03-10T17:30:00+08:00",
    )),
    after_hours(case(
        "inside hours, option on changes nothing",
        "sh-day",
        "2026-03-09T10:00:00+08:00",
        "1 business day",
        "2026-03-10T17:30:00+08:00",
    )),
    after_hours(case(
        "received during Spring Festival counts from 24 Feb",
        "cn",
        "2026-02-15T10:00:00+08:00",
        "1 day",
        "2026-02-26T00:00:00+08:00",
    )),
];

#[test]
fn deadlines_table() {
    let mut failures = Vec::new();
    for c in CASES {
        let cal = calendar(c.cal);
        let target: SlaDuration = c.target.parse().unwrap();
        let options = DeadlineOptions {
            roll_to_working_day: c.roll,
            from_next_working_day_after_hours: c.after_hours,
        };
        match cal.deadline_with(at(c.start), &target, options, &[]) {
            Ok(d) if d.at == at(c.want) => {}
            Ok(d) => failures.push(format!(
                "{}: got {}, want {}",
                c.name,
                d.at.with_timezone(&cal.timezone()),
                c.want
            )),
            Err(e) => failures.push(format!("{}: error {e}", c.name)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn plain_deadline_matches_deadline_with_defaults() {
    let cal = calendar("cn");
    let target: SlaDuration = "15 days".parse().unwrap();
    let start = at("2026-02-13T16:00:00+08:00");
    assert_eq!(
        cal.deadline(start, &target).unwrap(),
        at("2026-03-01T00:00:00+08:00")
    );
}

/// Past the data a deadline is counted on the working week alone and marked
/// provisional; before the data begins it is an error, never a guess.
#[test]
fn past_the_data_is_provisional_before_it_an_error() {
    let gb = calendar("gb");
    // DISP 1.6.2A: 15 business days from Christmas Eve 2026 reach into January 2027.
    let d = gb
        .deadline_with(
            at("2026-12-24T10:00:00Z"),
            &"15 business days".parse().unwrap(),
            DeadlineOptions::default(),
            &[],
        )
        .unwrap();
    // 29, 30, 31 December, then Monday to Friday from 1 January (no holiday assumed).
    assert_eq!(d.at, at("2027-01-19T00:00:00Z"));
    let p = d.provisional.expect("provisional");
    assert_eq!(p.date.to_string(), "2027-01-01");
    assert_eq!(
        p.reason,
        "2027 data not loaded: counted Monday to Friday, no holidays"
    );
    // Within the data nothing is provisional; calendar days need no day's kind.
    let within = gb
        .deadline_with(
            at("2026-03-02T10:00:00Z"),
            &"15 business days".parse().unwrap(),
            DeadlineOptions::default(),
            &[],
        )
        .unwrap();
    assert_eq!(within.provisional, None);
    let month = gb
        .deadline_with(
            at("2026-12-20T10:00:00Z"),
            &"1 month".parse().unwrap(),
            DeadlineOptions::default(),
            &[],
        )
        .unwrap();
    assert_eq!(month.provisional, None, "days need no working-day data");
    let options = DeadlineOptions {
        roll_to_working_day: true,
        ..DeadlineOptions::default()
    };
    let rolled = gb
        .deadline_with(
            at("2026-12-20T10:00:00Z"),
            &"13 days".parse().unwrap(),
            options,
            &[],
        )
        .unwrap();
    assert_eq!(
        rolled.at,
        at("2027-01-05T00:00:00Z"),
        "Sat 2 Jan rolls to Mon 4 Jan"
    );
    assert!(rolled.provisional.is_some(), "the roll looked at 2027 days");
    let err = calendar("cn")
        .deadline(
            at("1999-01-01T10:00:00+08:00"),
            &"15 business days".parse().unwrap(),
        )
        .unwrap_err();
    assert_eq!(err.code(), "date-outside-calendar");
}

#[test]
fn explains_a_day_rule_in_a_regulators_words() {
    let cal = calendar("cn");
    let d = cal
        .deadline_with(
            at("2026-02-13T16:00:00+08:00"),
            &"15 days".parse().unwrap(),
            DeadlineOptions::default(),
            &[],
        )
        .unwrap();
    assert_eq!(
        cal.rules(&d),
        ["15 days from receipt 2026-02-13 (Asia/Shanghai): end of 2026-02-28"]
    );
}

#[test]
fn explains_skipped_days_by_name() {
    let cal = calendar("cn");
    let d = cal
        .deadline_with(
            at("2026-02-13T10:00:00+08:00"),
            &"3 business days".parse().unwrap(),
            DeadlineOptions::default(),
            &[],
        )
        .unwrap();
    let lines: Vec<String> = cal
        .timeline(&d, d.at, &[])
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{} {} {:?} {}",
                i.from.with_timezone(&cal.timezone()).format("%m-%d %H:%M"),
                i.to.with_timezone(&cal.timezone()).format("%m-%d %H:%M"),
                i.kind,
                i.reason.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            "02-13 10:00 02-14 00:00 NotCounted day of receipt is not counted",
            "02-14 00:00 02-15 00:00 Counted Spring Festival make-up working day",
            "02-15 00:00 02-24 00:00 NonWorking Spring Festival",
            "02-24 00:00 02-26 00:00 Counted ",
        ]
    );
    let rolled = DeadlineOptions {
        roll_to_working_day: true,
        ..DeadlineOptions::default()
    };
    let d = cal
        .deadline_with(
            at("2026-09-28T10:00:00+08:00"),
            &"5 days".parse().unwrap(),
            rolled,
            &[],
        )
        .unwrap();
    assert_eq!(
        cal.rules(&d),
        [
            "5 days from receipt 2026-09-28 (Asia/Shanghai): end of 2026-10-03",
            "2026-10-03 is not a working day (National Day): rolled to the end of 2026-10-08"
        ]
    );
}

#[test]
fn explains_business_hours_and_after_hours_receipt() {
    let cal = calendar("sh-split");
    let options = DeadlineOptions {
        from_next_working_day_after_hours: true,
        ..DeadlineOptions::default()
    };
    let d = cal
        .deadline_with(
            at("2026-03-06T19:00:00+08:00"),
            &"4 business hours".parse().unwrap(),
            options,
            &[],
        )
        .unwrap();
    let kinds: Vec<IntervalKind> = cal
        .timeline(&d, d.at, &[])
        .unwrap()
        .iter()
        .map(|i| i.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            IntervalKind::NotCounted,
            IntervalKind::Counted,
            IntervalKind::OutsideHours,
            IntervalKind::Counted
        ]
    );
    assert_eq!(
        cal.rules(&d),
        [
            "received 2026-03-06 19:00 +08:00 outside business hours: counted from 2026-03-09 09:00 +08:00 (Asia/Shanghai)",
            "4 business hours from 2026-03-09 09:00 +08:00 (Asia/Shanghai): 2026-03-09 14:30 +08:00"
        ]
    );
}

#[test]
fn business_days_between_counts_working_days_after_the_first() {
    let cal = calendar("cn");
    let n = cal
        .business_days_between(
            at("2026-02-13T10:00:00+08:00"),
            at("2026-03-12T10:00:00+08:00"),
        )
        .unwrap();
    assert_eq!(n, 15);
}
