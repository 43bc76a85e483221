//! Migration of running cases between versions of a policy: the UK bank policy
//! before the 2027 calendar data (2026 only) and after (2026 and 2027 joined).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use chrono::{DateTime, Utc};
use redress_engine::case::{Case, EventKind};
use redress_engine::policy::{CheckOptions, Given, Policy, check};
use redress_engine::runtime::migrate::{MigrationRefusal, migrate_case};
use redress_engine::runtime::{Command, CommandKind, Timer, decide_and_apply, fire_due, next_due};
use redress_engine::sla::ClockState;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies")
}

fn shipped_text() -> String {
    std::fs::read_to_string(dir().join("bank-uk.toml")).unwrap()
}

/// The shipped policy with one replacement made (each must apply).
fn version(replacements: &[(&str, &str)]) -> Policy {
    let mut text = shipped_text();
    for (from, to) in replacements {
        assert!(
            text.contains(from),
            "bank-uk.toml no longer contains {from:?}"
        );
        text = text.replace(from, to);
    }
    load_text(&text)
}

/// `bank-uk.toml` as `text` says, its includes beside the shipped one.
fn load_text(text: &str) -> Policy {
    let dir = dir();
    let given = Given {
        name: "bank-uk.toml",
        text,
        dir: &dir,
    };
    check(&given, CheckOptions::default())
        .into_policy()
        .unwrap_or_else(|e| panic!("{e}"))
}

const BOTH_YEARS: &str =
    r#"include = ["calendars/gb-eaw-2026.toml", "calendars/gb-eaw-2027.toml"]"#;
const ONLY_2026: &str = r#"include = ["calendars/gb-eaw-2026.toml"]"#;

fn old() -> Policy {
    version(&[(BOTH_YEARS, ONLY_2026)])
}

fn current() -> Policy {
    version(&[])
}

/// A payment-services complaint received at `received`, investigation started.
fn psd_case(policy: &Policy, id: &str, received: &str) -> Case {
    let mut case = Case::new(id);
    let data = serde_json::json!({
        "category": "payments", "payment_service": true,
        "summary": "a card payment taken twice", "amount": 120
    });
    let intake = CommandKind::Intake {
        received_at: at(received),
        data: data.as_object().unwrap().clone(),
    };
    decide_and_apply(policy, &mut case, &Command::new(intake), at(received)).unwrap();
    let start = CommandKind::Event {
        name: "start_investigation".into(),
        data: Default::default(),
    };
    let mut command = Command::new(start);
    command.actor = Some(redress_engine::case::Actor {
        id: Some("h1".into()),
        role: Some("agent".into()),
    });
    decide_and_apply(policy, &mut case, &command, at(received)).unwrap();
    case
}

fn deadline(policy: &Policy, case: &Case, sla: &str) -> Option<DateTime<Utc>> {
    let rule = &policy.slas()[sla];
    let clock = case.clocks.get(sla)?;
    clock
        .deadline(&rule.rule, policy.calendar_of(rule))
        .unwrap()
}

fn breaches(case_events: &[redress_engine::case::Event]) -> usize {
    case_events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Breached { .. }))
        .count()
}

#[test]
fn the_2027_data_moves_a_running_deadline_and_the_breach_fires_once_at_the_new_instant() {
    let (old, new) = (old(), current());
    assert_ne!(old.hash(), new.hash());
    let mut case = psd_case(&old, "C-1", "2026-12-24T10:00:00Z");
    // Before the 2027 data, 1 January 2027 counted as a working day: provisional.
    assert_eq!(
        deadline(&old, &case, "payment_services"),
        Some(at("2027-01-18T17:00:00Z"))
    );
    // Nothing is due before the migration but the warnings.
    let fired = fire_due(&old, &mut case, at("2027-01-04T10:00:00Z"));
    assert_eq!(breaches(&fired.events), 0);

    let m = migrate_case(&old, &new, &case, at("2027-01-05T09:00:00Z"), None).unwrap();
    let moved: Vec<_> = m.moved().collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    let psd = moved[0];
    assert_eq!(psd.sla, "payment_services");
    assert_eq!(psd.old, Some(at("2027-01-18T17:00:00Z")));
    assert_eq!(psd.new, Some(at("2027-01-19T17:00:00Z")));
    assert!(
        psd.why
            .iter()
            .any(|w| w == "2027-01-01 is now a non-working day (New Year's Day)"),
        "{:?}",
        psd.why
    );
    assert!(
        psd.why
            .iter()
            .any(|w| w == "the deadline is no longer provisional")
    );
    // The event names both versions; the case is on the new one.
    match &m.event.kind {
        EventKind::Migrated { from, to, .. } => {
            assert_eq!((from.as_str(), to.as_str()), (old.hash(), new.hash()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m.event.seq, case.version + 1);
    let mut case = m.case;
    assert_eq!(&*case.policy, new.hash());
    assert_eq!(
        deadline(&new, &case, "payment_services"),
        Some(at("2027-01-19T17:00:00Z"))
    );
    // The warnings already sent are kept: not sent again.
    let fired = fire_due(&new, &mut case, at("2027-01-18T17:30:00Z"));
    assert!(
        fired
            .events
            .iter()
            .all(|e| !matches!(e.kind, EventKind::Breached { .. })),
        "no breach at the old instant: {:?}",
        fired.timers
    );
    let fired = fire_due(&new, &mut case, at("2027-01-19T17:00:00Z"));
    assert_eq!(
        fired.timers,
        [(
            at("2027-01-19T17:00:00Z"),
            Timer::Breach {
                sla: "payment_services".into()
            }
        )]
    );
    assert_eq!(
        fire_due(&new, &mut case, at("2027-02-01T00:00:00Z")).timers,
        []
    );
}

#[test]
fn an_already_breached_clock_keeps_its_deadline_and_its_outcome() {
    let (old, new) = (old(), current());
    let mut case = psd_case(&old, "C-2", "2026-12-24T10:00:00Z");
    let fired = fire_due(&old, &mut case, at("2027-01-18T17:30:00Z"));
    assert_eq!(breaches(&fired.events), 1);
    let m = migrate_case(&old, &new, &case, at("2027-01-18T18:00:00Z"), None).unwrap();
    assert_eq!(m.moved().count(), 0, "a breached clock does not move");
    let EventKind::Migrated { clocks, .. } = &m.event.kind else {
        panic!()
    };
    let psd = clocks.iter().find(|c| c.sla == "payment_services").unwrap();
    assert!(psd.kept && psd.old == psd.new);
    let mut case = m.case;
    let rule = &new.slas()["payment_services"];
    let clock = &case.clocks["payment_services"];
    let cal = new.calendar_of(rule);
    assert_eq!(
        clock
            .state(&rule.rule, cal, at("2027-01-18T18:00:00Z"))
            .unwrap(),
        ClockState::Breached
    );
    assert_eq!(
        deadline(&new, &case, "payment_services"),
        Some(at("2027-01-18T17:00:00Z"))
    );
    let fired = fire_due(&new, &mut case, at("2027-02-01T00:00:00Z"));
    assert_eq!(breaches(&fired.events), 0, "nothing fires twice");
    assert!(next_due(&case, &new).is_none_or(|(_, t)| !matches!(t, Timer::Breach { .. })));
}

#[test]
fn a_stage_without_a_counterpart_is_refused_and_a_mapped_one_moves() {
    let old = old();
    let case = psd_case(&old, "C-3", "2026-12-24T10:00:00Z");
    assert_eq!(case.stage, "investigating");
    let text = shipped_text();
    assert!(text.contains("investigating = {"), "bank-uk.toml changed");
    let unmapped = rename_stage(&text, "investigating", "investigation", false);
    let err = migrate_case(&old, &unmapped, &case, at("2027-01-05T09:00:00Z"), None).unwrap_err();
    assert!(
        matches!(err, MigrationRefusal::UnmappedStage { .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "unmapped-stage");
    assert!(
        err.to_string()
            .contains("stage `investigating` has no counterpart"),
        "{err}"
    );
    let mapped = rename_stage(&text, "investigating", "investigation", true);
    let m = migrate_case(&old, &mapped, &case, at("2027-01-05T09:00:00Z"), None).unwrap();
    assert_eq!(m.case.stage, "investigation");
    let EventKind::Migrated { stage, .. } = &m.event.kind else {
        panic!()
    };
    assert_eq!(
        stage.as_ref(),
        Some(&("investigating".to_string(), "investigation".to_string()))
    );
}

/// The shipped policy with a stage renamed everywhere, with or without a
/// `[migration]` table mapping the old name.
fn rename_stage(text: &str, old: &str, new: &str, mapped: bool) -> Policy {
    let mut text = text
        .replace(&format!("{old} = {{"), &format!("{new} = {{"))
        .replace(&format!("\"{old}\""), &format!("\"{new}\""));
    if mapped {
        text.push_str(&format!(
            "\n[migration]\nstages = {{ {old} = \"{new}\" }}\n"
        ));
    }
    load_text(&text)
}
