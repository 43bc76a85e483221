//! decide/apply on the bank policy: determinism, idempotency, stale versions,
//! receipt before registration, refusals that scenario files cannot express.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use redress_engine::case::{Actor, Case, Event, EventKind, apply};
use redress_engine::policy::{Policy, load_policy};
use redress_engine::runtime::{Command, CommandKind, Data, Timer, decide, next_due};
use serde_json::json;

fn bank() -> Policy {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/bank.toml");
    load_policy(&path).unwrap()
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn data(v: serde_json::Value) -> Data {
    v.as_object().unwrap().clone()
}

fn agent() -> Actor {
    Actor {
        id: Some("u7".into()),
        role: Some("agent".into()),
    }
}

fn intake(received: &str) -> Command {
    Command::new(CommandKind::Intake {
        received_at: t(received),
        data: data(json!({"category": "fees", "summary": "charged twice", "amount": 120.5})),
    })
}

fn event(name: &str) -> Command {
    Command::new(CommandKind::Event {
        name: name.into(),
        data: Data::new(),
    })
    .by(agent())
}

/// Decides and applies; returns the new events.
fn run(policy: &Policy, case: &mut Case, cmd: &Command, now: &str) -> Vec<Event> {
    let d = decide(policy, case, cmd, t(now)).unwrap();
    d.events.iter().for_each(|e| apply(case, e));
    d.events
}

fn received_case(policy: &Policy) -> (Case, Vec<Event>) {
    let mut case = Case::new("C-1");
    let mut log = run(
        policy,
        &mut case,
        &intake("2026-03-02T09:15:00+08:00"),
        "2026-03-02T09:15:00+08:00",
    );
    log.extend(run(
        policy,
        &mut case,
        &event("acknowledge"),
        "2026-03-02T11:00:00+08:00",
    ));
    (case, log)
}

#[test]
fn the_same_events_give_the_same_case() {
    let policy = bank();
    let (case, log) = received_case(&policy);
    assert_eq!(Case::from_events("C-1", &log), case);
    // and through JSON, as a store keeps them
    let json: Vec<String> = log
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    let back: Vec<Event> = json
        .iter()
        .map(|j| serde_json::from_str(j).unwrap())
        .collect();
    assert_eq!(back, log);
    assert_eq!(Case::from_events("C-1", &back), case);
    let stored: Case = serde_json::from_str(&serde_json::to_string(&case).unwrap()).unwrap();
    assert_eq!(stored, case);
}

#[test]
fn every_event_records_policy_hash_actor_and_instant() {
    let policy = bank();
    let (case, log) = received_case(&policy);
    assert!(log.iter().all(|e| &*e.policy == policy.hash()));
    assert_eq!(&*case.policy, policy.hash());
    let moved = log
        .iter()
        .find(|e| matches!(e.kind, EventKind::Moved { .. }))
        .unwrap();
    assert_eq!(moved.actor, Some(agent()));
    assert_eq!(moved.at, t("2026-03-02T11:00:00+08:00"));
    let routed = log.iter().find_map(|e| match &e.kind {
        EventKind::Routed { rule, reason, .. } => Some((*rule, reason.clone())),
        _ => None,
    });
    assert_eq!(routed.map(|r| r.0), Some(Some(5)));
    assert_eq!(
        log.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=log.len() as u64).collect::<Vec<_>>()
    );
}

#[test]
fn a_repeated_idempotency_key_adds_nothing() {
    let policy = bank();
    let (mut case, _) = received_case(&policy);
    let mut cmd = event("start_investigation");
    cmd.key = Some("k-1".into());
    let first = run(&policy, &mut case, &cmd, "2026-03-02T12:00:00+08:00");
    let before = case.clone();
    let again = decide(&policy, &case, &cmd, t("2026-03-02T12:05:00+08:00")).unwrap();
    assert!(again.events.is_empty());
    assert_eq!(
        again.repeat_of,
        Some((first[0].seq, first.last().unwrap().seq))
    );
    assert_eq!(case, before);
}

#[test]
fn a_stale_version_is_refused_and_changes_nothing() {
    let policy = bank();
    let (case, _) = received_case(&policy);
    let before = case.clone();
    let mut cmd = event("start_investigation");
    cmd.expected_version = Some(case.version - 1);
    let refusal = decide(&policy, &case, &cmd, t("2026-03-02T12:00:00+08:00")).unwrap_err();
    assert_eq!(refusal.code(), "stale-version");
    assert_eq!(case, before);
    cmd.expected_version = Some(case.version);
    assert!(decide(&policy, &case, &cmd, t("2026-03-02T12:00:00+08:00")).is_ok());
}

#[test]
fn a_letter_received_yesterday_starts_its_clocks_at_receipt() {
    let policy = bank();
    let mut case = Case::new("C-2");
    run(
        &policy,
        &mut case,
        &intake("2026-03-01T16:00:00+08:00"),
        "2026-03-02T10:00:00+08:00",
    );
    let run0 = &case.clocks["decision"].runs()[0];
    assert_eq!(run0.started_at, t("2026-03-01T16:00:00+08:00"));
    assert_eq!(case.received_at, t("2026-03-01T16:00:00+08:00"));
    // counted from Sunday's receipt, half the acknowledgement time has already passed
    // when the letter is keyed in: the warning is overdue and fires at once
    let (at, timer) = next_due(&case, &policy).unwrap();
    assert!(at < t("2026-03-02T10:00:00+08:00"), "{at}");
    assert!(
        matches!(timer, Timer::Warning { ref sla, percent: 50 } if sla == "acknowledgement"),
        "{timer:?}"
    );
}

#[test]
fn refusals_scenario_files_cannot_express() {
    let policy = bank();
    let (case, _) = received_case(&policy);
    let at = t("2026-03-02T12:00:00+08:00");
    let code = |cmd: &Command| decide(&policy, &case, cmd, at).unwrap_err().code();
    assert_eq!(code(&event("acknowlege")), "unknown-event");
    let bad = Command::new(CommandKind::Update {
        data: data(json!({"category": "mortgages"})),
    });
    assert_eq!(code(&bad), "invalid-value");
    let bad = Command::new(CommandKind::Update {
        data: data(json!({"amount": -5})),
    });
    assert_eq!(code(&bad), "invalid-value");
    let bad = Command::new(CommandKind::Update {
        data: data(json!({"colour": "red"})),
    });
    assert_eq!(code(&bad), "unknown-field");
    assert_eq!(
        code(&intake("2026-03-02T09:15:00+08:00")),
        "already-received"
    );
    let early = decide(
        &policy,
        &case,
        &event("start_investigation"),
        t("2026-03-01T00:00:00Z"),
    );
    assert_eq!(early.unwrap_err().code(), "before-last-event");
    let fire = Command::new(CommandKind::Fire(Timer::Breach {
        sla: "decision".into(),
    }));
    assert_eq!(code(&fire), "timer-not-due");
    let future = decide(
        &policy,
        &Case::new("C-9"),
        &intake("2026-03-03T09:00:00+08:00"),
        at,
    );
    assert_eq!(future.unwrap_err().code(), "received-in-future");
    let none = decide(&policy, &Case::new("C-9"), &event("acknowledge"), at);
    assert_eq!(none.unwrap_err().code(), "not-received");
}

#[test]
fn an_unknown_event_suggests_the_close_name() {
    let policy = bank();
    let (case, _) = received_case(&policy);
    let r = decide(
        &policy,
        &case,
        &event("acknowlege"),
        t("2026-03-02T12:00:00+08:00"),
    )
    .unwrap_err();
    assert!(r.to_string().contains("did you mean `acknowledge`?"), "{r}");
}

#[test]
fn not_allowed_names_the_events_that_are() {
    let policy = bank();
    let (case, _) = received_case(&policy);
    let r = decide(
        &policy,
        &case,
        &event("decide"),
        t("2026-03-02T12:00:00+08:00"),
    )
    .unwrap_err();
    assert_eq!(r.code(), "not-allowed-from-stage");
    assert!(r.to_string().contains("`start_investigation`"), "{r}");
}

#[test]
fn a_breach_fires_at_the_deadline_and_escalates() {
    let policy = bank();
    let (mut case, _) = received_case(&policy);
    let mut fired = Vec::new();
    while let Some((at, timer)) = next_due(&case, &policy) {
        if at > t("2026-03-20T00:00:00+08:00") {
            break;
        }
        let cmd = Command::new(CommandKind::Fire(timer.clone()));
        let d = decide(&policy, &case, &cmd, at).unwrap();
        d.events.iter().for_each(|e| apply(&mut case, e));
        fired.push((at, timer));
    }
    let breach = fired
        .iter()
        .find(|(_, t)| matches!(t, Timer::Breach { sla } if sla == "decision"));
    assert_eq!(breach.map(|b| b.0), Some(t("2026-03-18T00:00:00+08:00")));
    assert_eq!(case.queue.as_deref(), Some("compliance"));
    assert_eq!(case.priority, Some(1));
    assert!(fired.windows(2).all(|w| w[0].0 <= w[1].0));
    // nothing fires twice: the next timer is later than the last one fired
    let last = fired.last().unwrap().0;
    assert!(next_due(&case, &policy).is_none_or(|(at, _)| at > last - TimeDelta::seconds(1)));
}

#[test]
fn decide_and_apply_folds_exactly_like_apply() {
    use redress_engine::runtime::decide_and_apply;
    let policy = bank();
    let (mut by_apply, _) = received_case(&policy);
    let mut by_both = by_apply.clone();
    let mut cmd = event("start_investigation");
    cmd.key = Some("k-9".into());
    let at = t("2026-03-02T12:00:00+08:00");
    let events = run(&policy, &mut by_apply, &cmd, "2026-03-02T12:00:00+08:00");
    let decision = decide_and_apply(&policy, &mut by_both, &cmd, at).unwrap();
    assert_eq!(decision.events, events);
    assert_eq!(by_both, by_apply);
    let refused = decide_and_apply(&policy, &mut by_both, &event("acknowledge"), at);
    assert_eq!(refused.unwrap_err().code(), "not-allowed-from-stage");
    assert_eq!(by_both, by_apply);
}

/// Two guarded transitions on one event: an agent granting more than they may is told
/// the role is wrong (the transition whose guard holds), not that `amount <= 500` is false.
#[test]
fn the_refusal_comes_from_the_transition_that_applies() {
    let text = r#"
[policy]
id = "comp"
name = "Compensation"
version = "1"
timezone = "Asia/Shanghai"

[roles]
agent = "Agent"
manager = "Duty manager"

[fields]
amount = { type = "money", required = true }

[stages]
received = { start = true }
compensated = { terminal = true }

[[transitions]]
on = "compensate"
from = "received"
to = "compensated"
when = "amount <= 500"
roles = ["agent", "manager"]

[[transitions]]
on = "compensate"
from = "received"
to = "compensated"
when = "amount > 500"
roles = ["manager"]

[routing]
rules = [{ otherwise = true, queue = "front-office" }]
"#;
    let policy = load_given("comp.toml", text, Path::new(".")).unwrap();
    for (amount, expected) in [(1200, Err("role-not-allowed")), (300, Ok(()))] {
        let mut case = Case::new("C-1");
        let take = Command::new(CommandKind::Intake {
            received_at: t("2026-03-02T09:00:00+08:00"),
            data: data(json!({ "amount": amount })),
        });
        run(&policy, &mut case, &take, "2026-03-02T09:00:00+08:00");
        let got = decide(
            &policy,
            &case,
            &event("compensate"),
            t("2026-03-02T10:00:00+08:00"),
        )
        .map(|_| ())
        .map_err(|r| r.code().as_str());
        assert_eq!(got, expected, "amount {amount}");
    }
}

/// The minimal policy with a counter only actions may set: `investigate` adds one.
fn with_counter() -> Policy {
    let text = include_str!("policies/valid/minimal.toml")
        .replace(
            "summary = { type = \"text\" }",
            "summary = { type = \"text\" }\nevidence_count = { type = \"integer\", default = 0, set_by = \"actions\" }",
        )
        .replace(
            "to = \"investigating\"",
            "to = \"investigating\"\nactions = [{ script = \"#{ set: #{ evidence_count: evidence_count + 1 } }\" }]",
        );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policies/valid");
    load_given("counter.toml", &text, &dir).unwrap_or_else(|e| panic!("{e}"))
}

/// A policy from its text, includes relative to `dir`.
fn load_given(
    name: &str,
    text: &str,
    dir: &Path,
) -> Result<Policy, redress_engine::policy::LoadError> {
    use redress_engine::policy::{CheckOptions, Given, check};
    check(&Given { name, text, dir }, CheckOptions::default()).into_policy()
}

#[test]
fn a_field_set_by_actions_cannot_be_written_by_any_command() {
    let policy = with_counter();
    let forged = json!({"category": "fees", "evidence_count": 99});
    let now = "2026-03-02T09:00:00Z";
    let mut case = Case::new("C-1");
    let commands = [
        CommandKind::Intake {
            received_at: t(now),
            data: data(forged.clone()),
        },
        CommandKind::Intake {
            received_at: t(now),
            data: data(json!({"category": "fees"})),
        },
    ];
    let refused = decide(&policy, &case, &Command::new(commands[0].clone()), t(now));
    assert_eq!(
        refused.err().map(|r| r.code().as_str()),
        Some("set-by-actions")
    );
    run(&policy, &mut case, &Command::new(commands[1].clone()), now);
    assert_eq!(
        case.fields["evidence_count"],
        redress_engine::value::Value::Integer(0)
    );
    let later = "2026-03-02T10:00:00Z";
    for kind in [
        CommandKind::Update {
            data: data(json!({"evidence_count": 5})),
        },
        CommandKind::Event {
            name: "investigate".into(),
            data: data(json!({"evidence_count": 5})),
        },
    ] {
        let refused = decide(&policy, &case, &Command::new(kind).by(agent()), t(later));
        assert_eq!(
            refused.err().map(|r| r.code().as_str()),
            Some("set-by-actions")
        );
    }
    run(&policy, &mut case, &event("investigate"), later);
    assert_eq!(
        case.fields["evidence_count"],
        redress_engine::value::Value::Integer(1)
    );
}
