//! `redress migrate` over a real store: cases of the UK bank policy are taken in
//! through the service, a new version of the policy closes one more day, and the
//! command's dry run says which deadline moves and why, writes nothing, and its
//! `--apply` writes one `migrated` event per case with the new snapshot.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use assert_cmd::Command;
use chrono::{DateTime, Days, NaiveDate, Utc};
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

/// The UK bank policy in the policies folder `dir`.
fn bank_uk(dir: &Path) -> redress_engine::policy::Policy {
    redress_engine::policy::load_policy(&dir.join("bank-uk.toml")).unwrap()
}

/// The deadline of a payment-services complaint received at `received` on the
/// policy in `dir`, as the engine's calendar works it out.
fn deadline(dir: &Path, received: DateTime<Utc>) -> DateTime<Utc> {
    let policy = bank_uk(dir);
    let sla = policy.slas().get("payment_services").unwrap();
    let cal = policy.calendar_of(sla);
    cal.deadline_with(received, &sla.rule.target, sla.rule.options(), &[])
        .unwrap()
        .at
}

/// The last working day (of the policy in `dir`) before `day`.
fn working_day_before(dir: &Path, day: NaiveDate) -> NaiveDate {
    let policy = bank_uk(dir);
    let cal = policy.calendar_of(policy.slas().get("payment_services").unwrap());
    let mut day = day - Days::new(1);
    while !cal.is_working_day(day).unwrap() {
        day = day - Days::new(1);
    }
    day
}

fn at_ten(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(10, 0, 0).unwrap().and_utc()
}

fn json_instant(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Takes in two payment-services complaints on the policies in `dir`: `C-RUN`
/// (received at `run`, its deadline still to come) and `C-LATE` (received at
/// `late`, breached), each moved to investigation.
fn take_in(dir: &Path, database: &str, run: DateTime<Utc>, late: DateTime<Utc>) {
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
        for (id, received) in [("C-RUN", run), ("C-LATE", late)] {
            let data = json!({"category": "payments", "payment_service": true, "summary": "a payment taken twice"});
            let intake = Intake {
                policy: "bank-uk".into(),
                data: data.as_object().unwrap().clone(),
                received_at: Some(received),
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
    // The service runs on the real clock, so the cases are received at dates
    // relative to today: C-LATE five weeks ago (its deadline has passed), the
    // company closes on the working day before that deadline, and C-RUN comes in
    // the working day before the closure (its deadline is still to come). The
    // closure falls inside both clocks' spans.
    let late = at_ten(working_day_before(
        &v1,
        Utc::now().date_naive() - Days::new(35),
    ));
    let closed = working_day_before(&v1, deadline(&v1, late).date_naive());
    let run = at_ten(working_day_before(&v1, closed));
    take_in(&v1, &database, run, late);
    let closure =
        format!("{HOURS}\nholidays = [{{ name = \"Company closure\", date = \"{closed}\" }}]");
    let v2 = policies(&tmp.path().join("v2"), Some((HOURS, &closure)));
    let (old, new) = (deadline(&v1, run), deadline(&v2, run));
    assert!(deadline(&v1, late) < Utc::now(), "C-LATE is breached");
    assert!(
        Utc::now() < old && old < new,
        "C-RUN is running: {old} {new}"
    );
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
    assert_eq!(psd["old"], json_instant(old));
    assert_eq!(psd["new"], json_instant(new));
    assert!(
        psd["why"].as_array().unwrap().contains(&json!(format!(
            "{closed} is now a non-working day (Company closure)"
        ))),
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
            assert_eq!((psd.old, psd.new), (Some(old), Some(new)));
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
