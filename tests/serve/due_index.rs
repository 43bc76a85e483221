//! The due index across restarts: read as stored when its stamp is this build's
//! (also after the policy files changed: running cases stay on their version),
//! rebuilt when it is stale (another build's stamp, or none), and in every case the
//! timers that fell due while the service was down fire once it is back.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::harness::*;

/// A metric's value as `/metrics` shows it (a metric without labels).
fn metric(server: &Server, name: &str) -> f64 {
    let answer = server.send(server.request("GET", "/metrics", None));
    let text = answer.body.as_str().unwrap().to_string();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no `{name}` in /metrics:\n{text}"))
}

/// The due index's metrics: stale versions, cases rebuilt, cases corrected.
fn index_metrics(server: &Server) -> [f64; 3] {
    [
        "redress_due_index_stale_versions",
        "redress_due_index_rebuilt_cases_total",
        "redress_due_index_corrected_cases_total",
    ]
    .map(|name| metric(server, name))
}

/// Waits until no version is stale, then gives the due index's metrics.
fn rebuilt(server: &Server) -> [f64; 3] {
    assert!(eventually(15, || index_metrics(server)[0] == 0.0));
    index_metrics(server)
}

fn deadline(case: &Value) -> DateTime<Utc> {
    clock(case, "respond")["deadline"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn wait_past(instant: DateTime<Utc>) {
    while Utc::now() < instant + chrono::Duration::milliseconds(500) {
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn breached(server: &Server, id: &str) -> bool {
    eventually(15, || {
        server.case(id, BANK_AGENT)["clock_state"] == "breached"
    })
}

/// Runs SQL on the site's database while no server runs on it.
fn sql(site: &Site, statements: &str) {
    let conn = rusqlite::Connection::open(site.path("cases.db")).unwrap();
    conn.execute_batch(statements).unwrap();
}

#[test]
fn a_fresh_index_is_read_as_stored_even_after_the_policy_changed_and_overdue_timers_fire() {
    let site = Site::new();
    let server = site.start();
    let case = server.file(BANK_AGENT, quick("fees", 57));
    let id = case["id"].as_str().unwrap().to_string();
    server.file(BANK_AGENT, quick("fees", 0));
    server.stop();

    // A changed policy file is a new version; the running cases stay on theirs, so
    // their stored entries are still right and are read as they are.
    let file = site.path("policies/quick.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace(r#"target = "1 minute""#, r#"target = "2 minutes""#),
    )
    .unwrap();
    wait_past(deadline(&case));
    let server = site.start();
    assert_eq!(metric(&server, "redress_due_index_stale_versions"), 0.0);
    assert!(
        breached(&server, &id),
        "the overdue breach did not fire:\n{}",
        site.log()
    );
    let history = server.history(&id, BANK_AGENT);
    let breach = of_type(&history, "breached");
    assert_eq!(breach.len(), 1);
    assert_eq!(
        breach[0]["at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        deadline(&case)
    );
    assert_eq!(
        metric(&server, "redress_due_index_rebuilt_cases_total"),
        0.0
    );

    // The new version was stamped before it had a case: its cases are read as
    // stored at the next start too.
    let new = server.file(BANK_AGENT, quick("fees", 0));
    assert_eq!(
        deadline(&new)
            - new["received_at"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap(),
        chrono::Duration::minutes(2)
    );
    server.stop();
    let server = site.start();
    assert_eq!(index_metrics(&server)[..2], [0.0, 0.0]);
    assert!(
        site.log().contains("due index read as stored"),
        "{}",
        site.log()
    );
}

#[test]
fn a_stale_index_is_rebuilt_and_a_case_due_while_down_still_fires() {
    let site = Site::new();
    let server = site.start();
    let case = server.file(BANK_AGENT, quick("fees", 57));
    let id = case["id"].as_str().unwrap().to_string();
    let bank = server.file(
        BANK_AGENT,
        serde_json::json!({"policy": "bank-cn", "data": {"category": "fees", "summary": "charged twice"}}),
    );
    server.stop();

    // As another build left it: its own stamp on the quick version, and an entry
    // this build computes differently (none at all).
    sql(
        &site,
        &format!(
            "UPDATE due_index_stamps SET stamp = 'redress 0.0.1 due-index 0'
               WHERE policy_hash = (SELECT policy_hash FROM cases WHERE id = '{id}');
             UPDATE cases SET next_due = NULL WHERE id = '{id}';"
        ),
    );
    wait_past(deadline(&case));
    let server = site.start();
    assert!(
        breached(&server, &id),
        "the stale entry was not rebuilt:\n{}",
        site.log()
    );
    // Only the stale version's open case was recomputed, and corrected.
    assert_eq!(rebuilt(&server), [0.0, 1.0, 1.0]);
    server.stop();

    // No stamps at all (a database from before them): every version is rebuilt once,
    // then read as stored.
    sql(&site, "DELETE FROM due_index_stamps;");
    let server = site.start();
    assert_eq!(rebuilt(&server), [0.0, 2.0, 0.0]);
    let bank_id = bank["id"].as_str().unwrap();
    assert_eq!(
        server.case(bank_id, BANK_AGENT)["next_due"],
        bank["next_due"]
    );
    server.stop();
    let server = site.start();
    assert_eq!(index_metrics(&server)[..2], [0.0, 0.0]);
    let history = server.history(&id, BANK_AGENT);
    assert_eq!(of_type(&history, "breached").len(), 1, "{history:#?}");
}
