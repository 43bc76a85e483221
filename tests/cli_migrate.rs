//! `redress migrate` over a real store: cases of the UK bank policy are taken in
//! through the service, a new version of the policy closes one more day, and the
//! command's dry run says which deadline moves and why, writes nothing, and its
//! `--apply` writes one `migrated` event per case with the new snapshot.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use assert_cmd::Command;
use chrono::{DateTime, Utc};
use redress_engine::case::EventKind;
use redress_engine::runtime::CommandKind;
use redress_server::config::{Caller, Config};
use redress_server::metrics::Metrics;
use redress_server::registry::Registry;
use redress_server::service::{Intake, Service};
use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A policies folder holding the UK bank policy (with `change` made) and the
/// calendars.
fn policies(dir: &Path, change: Option<(&str, &str)>) -> PathBuf {
    let to = dir.to_path_buf();
    std::fs::create_dir_all(to.join("calendars")).unwrap();
    for entry in std::fs::read_dir(root().join("policies/calendars")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join("calendars").join(entry.file_name())).unwrap();
    }
    let mut text = std::fs::read_to_string(root().join("policies/bank-uk.toml")).unwrap();
    if let Some((from, with)) = change {
        assert!(
            text.contains(from),
            "bank-uk.toml no longer contains {from:?}"
        );
        text = text.replacen(from, with, 1);
    }
    std::fs::write(to.join("bank-uk.toml"), text).unwrap();
    to
}

const HOURS: &str = "hours = [\"09:00-17:00\"]";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Takes in two payment-services complaints on the policies in `dir`: `C-RUN`
/// (deadline 7 December 2026, running) and `C-LATE` (deadline 23 November,
/// breached), each moved to investigation.
fn take_in(dir: &Path, database: &str) {
    let store = redress_server::open_store(database).unwrap();
    let config = Config::for_organisation("demo").unwrap();
    let registry = Registry::load(dir, &config.organisations).unwrap();
    let service = Service::new(store, registry, config, Metrics::new().unwrap());
    let agent = Caller {
        name: "a1".into(),
        org: Arc::from("demo"),
        role: "agent".into(),
        read_only: false,
        personal_data: true,
        reload_policies: false,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        service.save_policy_versions().await.unwrap();
        for (id, received) in [("C-RUN", "2026-11-16T10:00:00Z"), ("C-LATE", "2026-11-02T10:00:00Z")] {
            let data = json!({"category": "payments", "payment_service": true, "summary": "a payment taken twice"});
            let intake = Intake {
                policy: "bank-uk".into(),
                data: data.as_object().unwrap().clone(),
                received_at: Some(at(received)),
                id: Some(id.into()),
            };
            service.intake(&agent, intake, None).await.unwrap();
            let start = CommandKind::Event {
                name: "start_investigation".into(),
                data: Default::default(),
            };
            service.command(&agent, id, start, None, None).await.unwrap();
        }
    });
}

fn migrate(policies: &Path, database: &str, apply: bool) -> (i32, Value) {
    let mut command = Command::cargo_bin("redress").unwrap();
    command.args([
        "migrate", "--policy", "bank-uk", "--to", "current", "--format", "json",
    ]);
    command
        .args(["--database", database])
        .arg("--policies")
        .arg(policies);
    if apply {
        command.arg("--apply");
    }
    let out = command.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), json)
}

fn events(database: &str, id: &str) -> Vec<redress_engine::case::Event> {
    let store = redress_server::open_store(database).unwrap();
    let events = store.events("demo", id, 0, 1000).unwrap();
    events.into_iter().map(|e| e.event).collect()
}

#[test]
fn a_dry_run_says_what_moves_and_why_then_apply_writes_one_migrated_event_per_case() {
    let tmp = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", tmp.path().join("redress.db").display());
    let v1 = policies(&tmp.path().join("v1"), None);
    take_in(&v1, &database);
    let closure =
        format!("{HOURS}\nholidays = [{{ name = \"Company closure\", date = \"2026-11-20\" }}]");
    let v2 = policies(&tmp.path().join("v2"), Some((HOURS, &closure)));
    let before = events(&database, "C-RUN").len();

    let (code, dry) = migrate(&v2, &database, false);
    assert_eq!(code, 0, "{dry:#}");
    assert_eq!(dry["applied"], false);
    assert_eq!(
        (dry["moves"].as_u64(), dry["refused"].as_u64()),
        (Some(1), Some(0)),
        "{dry:#}"
    );
    let run = dry["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["case"] == "C-RUN")
        .unwrap();
    let psd = run["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["sla"] == "payment_services")
        .unwrap();
    assert_eq!(psd["old"], "2026-12-07T17:00:00.000000Z");
    assert_eq!(psd["new"], "2026-12-08T17:00:00.000000Z");
    assert!(
        psd["why"].as_array().unwrap().contains(&json!(
            "2026-11-20 is now a non-working day (Company closure)"
        )),
        "{psd}"
    );
    let late = dry["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["case"] == "C-LATE")
        .unwrap();
    assert_eq!(
        late["outcome"], "unchanged",
        "a breached clock keeps its deadline: {late}"
    );
    let kept = late["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["sla"] == "payment_services")
        .unwrap();
    assert_eq!(
        (kept["kept"].as_bool(), &kept["old"]),
        (Some(true), &kept["new"])
    );
    assert_eq!(
        events(&database, "C-RUN").len(),
        before,
        "a dry run writes nothing"
    );

    let (code, applied) = migrate(&v2, &database, true);
    assert_eq!(code, 0, "{applied:#}");
    assert_eq!(applied["applied"], true);
    let written = events(&database, "C-RUN");
    assert_eq!(written.len(), before + 1);
    let last = written.last().unwrap();
    match &last.kind {
        EventKind::Migrated {
            from, to, clocks, ..
        } => {
            assert_eq!(to, applied["to"].as_str().unwrap());
            assert_ne!(from, to);
            assert_eq!(&*last.policy, to.as_str());
            let psd = clocks.iter().find(|c| c.sla == "payment_services").unwrap();
            assert_eq!(
                (psd.old, psd.new),
                (
                    Some(at("2026-12-07T17:00:00Z")),
                    Some(at("2026-12-08T17:00:00Z"))
                )
            );
        }
        other => panic!("{other:?}"),
    }
    let store = redress_server::open_store(&database).unwrap();
    let stored = store.case("demo", "C-RUN").unwrap().unwrap();
    assert_eq!(&*stored.case.policy, applied["to"].as_str().unwrap());
    let late = events(&database, "C-LATE");
    let breaches = late
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Breached { sla, .. } if sla == "payment_services"))
        .count();
    assert_eq!(breaches, 1, "the breach fired before the migration, once");
    drop(store);

    let (code, again) = migrate(&v2, &database, false);
    assert_eq!(
        (code, again["cases"].as_array().map(Vec::len)),
        (0, Some(0)),
        "{again:#}"
    );
}
