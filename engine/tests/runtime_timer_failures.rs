//! A delayed transition whose condition fails at run time (#17): recorded on the
//! case as a `timer-failed` event with the script error, never silently dropped,
//! and not fired again until the case enters a stage anew.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use redress_engine::case::{Actor, Case, EventKind, apply};
use redress_engine::policy::{CheckOptions, Given, Policy, check};
use redress_engine::runtime::{Command, CommandKind, Data, decide, fire_due, next_due};
use serde_json::json;

/// The end-to-end tests' `quick` policy, with a delayed transition whose condition
/// divides by zero for a case of amount 120.50.
fn policy() -> Policy {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/serve");
    let text = std::fs::read_to_string(dir.join("quick.toml")).unwrap();
    let text = format!(
        "{text}\n[[transitions]]\non = \"lapse\"\nfrom = \"investigating\"\nto = \"closed\"\n\
         after = \"1 minutes\"\nwhen = '100 / (amount - 120.50) > 0'\n"
    );
    let report = check(
        &Given {
            name: "quick.toml",
            text: &text,
            dir: &dir,
        },
        CheckOptions::default(),
    );
    let errors: Vec<_> = report.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    report.policy.unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    "2026-03-02T09:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::seconds(seconds)
}

/// A case of `amount`, taken in at 0 s and under investigation from 1 s.
fn investigating(policy: &Policy, amount: &str) -> Case {
    let mut case = Case::new("C-1");
    let data: Data = json!({"category": "fees", "amount": amount})
        .as_object()
        .unwrap()
        .clone();
    let intake = Command::new(CommandKind::Intake {
        received_at: at(0),
        data,
    });
    let investigate = Command::new(CommandKind::Event {
        name: "investigate".into(),
        data: Data::new(),
    })
    .by(Actor {
        id: Some("ann".into()),
        role: Some("agent".into()),
    });
    for (command, now) in [(intake, at(0)), (investigate, at(1))] {
        let decision = decide(policy, &case, &command, now).unwrap();
        decision.events.iter().for_each(|e| apply(&mut case, e));
    }
    case
}

#[test]
fn a_delayed_transition_whose_condition_fails_is_recorded_once_with_the_error() {
    let policy = policy();
    let mut case = investigating(&policy, "120.50");
    let (due, _) = next_due(&case, &policy).expect("the delayed transition is pending");
    assert_eq!(due, at(61));
    let fired = fire_due(&policy, &mut case, at(600));
    assert!(fired.stuck.is_none(), "{fired:?}");
    let failures: Vec<_> = fired
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::TimerFailed { error, timer, .. } => Some((e.at, timer, error)),
            _ => None,
        })
        .collect();
    assert_eq!(failures.len(), 1, "{:?}", fired.events);
    let (stamped, timer, error) = &failures[0];
    assert_eq!(*stamped, at(61));
    assert!(timer.contains("transition 4"), "{timer}");
    assert!(error.to_lowercase().contains("zero"), "{error}");
    assert_eq!(case.stage, "investigating");
    assert_eq!(case.failed_timers.len(), 1);
    // Recorded once: nothing is pending any more, and firing again adds nothing.
    assert_eq!(next_due(&case, &policy), None);
    assert!(fire_due(&policy, &mut case, at(6000)).events.is_empty());
}

#[test]
fn a_delayed_transition_whose_condition_holds_still_fires() {
    let policy = policy();
    let mut case = investigating(&policy, "200.00");
    let fired = fire_due(&policy, &mut case, at(600));
    assert_eq!(case.stage, "closed", "{:?}", fired.events);
    assert!(case.failed_timers.is_empty());
}
