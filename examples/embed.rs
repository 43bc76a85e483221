//! Embedding the Redress engine as a library: load a policy, run one complaint on a
//! virtual clock, and print why each deadline is what it is.
//!
//! The complaint is a payment-services complaint under the UK bank policy
//! (`policies/bank-uk.toml`, FCA DISP 1.6.2A): received on Wednesday 1 April 2026,
//! just before Easter, extended to 35 business days in exceptional circumstances, and
//! answered on 20 May. Nothing here reads the system clock: every command carries
//! the instant it happens at, so the run is the same every time.
//!
//! Run it with `cargo run --example embed`.

use std::error::Error;
use std::path::Path;

use chrono::{DateTime, Utc};
use redress_engine::case::{Actor, EventKind};
use redress_engine::policy::load_policy;
use redress_engine::runtime::{Command, CommandKind, Data, VirtualCase};
use serde_json::json;

fn main() -> Result<(), Box<dyn Error>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/bank-uk.toml");
    // Loading validates the policy: a policy with problems is an error listing them all.
    let policy = load_policy(&path)?;
    println!(
        "policy `{}` version {} ({})",
        policy.id(),
        policy.version(),
        policy.name()
    );

    // A case on a virtual clock; `true` keeps its events so we can print them.
    let mut case = VirtualCase::new(&policy, "PSR-2026-0412", true);

    let received_at = at("2026-04-01T10:00:00+01:00")?;
    let intake = CommandKind::Intake {
        received_at,
        data: data(json!({
            "category": "payments",
            "payment_service": true,
            "summary": "a Faster Payment of £900 never arrived",
            "amount": 900,
        })),
    };
    case.send(&Command::new(intake), received_at)?;

    let agent = Actor {
        id: Some("h.khan".into()),
        role: Some("agent".into()),
    };
    let supervisor = Actor {
        id: Some("r.osei".into()),
        role: Some("supervisor".into()),
    };

    case.send(
        &event("start_investigation", json!({})).by(agent.clone()),
        at("2026-04-01T11:00:00+01:00")?,
    )?;

    // A refused command changes nothing and says why, with a stable code.
    let early = Command::new(CommandKind::Extend {
        sla: "payment_services".into(),
        extension: None,
    });
    if let Err(refusal) = case.send(
        &early.clone().by(supervisor.clone()),
        at("2026-04-20T09:00:00+01:00")?,
    ) {
        println!("refused ({}): {refusal}", refusal.code());
    }

    // DISP 1.6.2A(2): a holding reply with the reasons, then up to 35 business days.
    let update = CommandKind::Update {
        data: data(json!({
            "exceptional_circumstances": true,
            "holding_reason": "the beneficiary bank has not answered our recall; final response by 22 May",
        })),
    };
    case.send(
        &Command::new(update).by(supervisor.clone()),
        at("2026-04-20T09:30:00+01:00")?,
    )?;
    case.send(&early.by(supervisor), at("2026-04-20T10:00:00+01:00")?)?;

    let answer = event(
        "send_final_response",
        json!({ "final_response": "funds recovered and returned", "fos_rights_explained": true }),
    );
    case.send(&answer.by(agent), at("2026-05-20T11:00:00+01:00")?)?;

    let c = &case.case;
    let queue = c.queue.as_deref().unwrap_or("-");
    println!(
        "\nstage `{}`, queue `{queue}`, priority {:?}\n",
        c.stage, c.priority
    );
    // The case's history: every event, with the instant it happened at.
    for e in &case.events {
        let when =
            e.at.with_timezone(&policy.timezone())
                .format("%Y-%m-%d %H:%M %:z");
        match &e.kind {
            EventKind::Routed { queue, .. } => println!("{when}  routed to `{queue}`"),
            EventKind::Moved {
                event, from, to, ..
            } => println!("{when}  `{event}`: {from} -> {to}"),
            EventKind::Notified { to, message, .. } => {
                println!(
                    "{when}  notify `{to}`: {}",
                    message.as_deref().unwrap_or("-")
                )
            }
            EventKind::Warned { sla, percent } => {
                println!("{when}  warning: `{sla}` at {percent} %")
            }
            EventKind::Breached { sla, .. } => println!("{when}  breach: `{sla}`"),
            _ => {}
        }
    }

    // Why each deadline is what it is: the explanation a regulator can read.
    println!();
    for (name, clock) in case.case.clocks.iter() {
        let Some(sla) = policy.slas().get(name) else {
            continue;
        };
        let calendar = policy
            .calendar(&sla.calendar)
            .unwrap_or_else(|| policy.default_calendar());
        println!("{}", clock.explain(&sla.rule, calendar)?);
    }
    Ok(())
}

fn at(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    Ok(DateTime::parse_from_rfc3339(text)?.with_timezone(&Utc))
}

fn data(value: serde_json::Value) -> Data {
    match value {
        serde_json::Value::Object(map) => map,
        _ => Data::new(),
    }
}

fn event(name: &str, fields: serde_json::Value) -> Command {
    Command::new(CommandKind::Event {
        name: name.into(),
        data: data(fields),
    })
}
