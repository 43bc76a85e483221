//! Several `redress serve` nodes on one PostgreSQL (`REDRESS_TEST_POSTGRES`; each
//! test on a database of its own, skipped loudly when the variable is unset): a
//! node killed mid-burst loses no acknowledged write and doubles none, timers that
//! fell due while every node was down fire once each across three nodes, and a
//! claim held by a dead node passes to another when its lease ends, and expected
//! versions, idempotency keys (with the requests they were first used with) and
//! reports mean the same whichever node a request reaches.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use redress_store::{Lease, PostgresStore, Store};
use serde_json::{Value, json};

use crate::harness::*;

/// An organisation on the `ticks` policy, and a short lease.
const TICKS: &str = r#"
[[organisations]]
id = "clinic"
policies = ["ticks"]

[[tokens]]
name = "tia"
organisation = "clinic"
role = "agent"
token = "clinic-agent-token-0001"

[cluster]
lease_seconds = 2
"#;
const CLINIC_AGENT: &str = "clinic-agent-token-0001";

fn at(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

/// Sends a note with `key` to `id`, on `url`; whether it was acknowledged, and
/// whether the node answered at all.
fn note(client: &reqwest::blocking::Client, url: &str, id: &str, key: &str) -> Option<bool> {
    let sent = client
        .post(format!("{url}/v1/cases/{id}/events"))
        .bearer_auth(BANK_AGENT)
        .header("Idempotency-Key", key)
        .json(&json!({"note": format!("note {key}")}))
        .send();
    match sent {
        Ok(r) if r.status() == 200 => Some(true),
        Ok(r) if r.status() == 409 || r.status().is_server_error() => Some(false),
        Ok(r) => panic!("unexpected answer {} to {key}", r.status()),
        Err(_) => None, // the node is gone
    }
}

/// One burst over two nodes; node A is killed in the middle, and every write it
/// did not answer is sent again, with the same key, to node B.
fn burst_with_a_kill(round: usize) {
    let Some(pg) = Postgres::new("two nodes, one killed mid-burst") else {
        return;
    };
    let site = Site::with_config("");
    let (a, b) = (site.start_on(&pg.url), site.start_on(&pg.url));
    let ids: Vec<String> = (0..8)
        .map(|i| {
            let node = if i % 2 == 0 { &a } else { &b };
            node.file(BANK_AGENT, quick("fees", 0))["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique.len(), 8, "two nodes numbered cases apart: {ids:?}");
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let urls = [a.url.clone(), b.url.clone()];
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (ids, acknowledged, stop, urls) = (
                ids.clone(),
                acknowledged.clone(),
                stop.clone(),
                urls.clone(),
            );
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                let mut node = w % 2;
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let id = &ids[(w + n) % ids.len()];
                    let key = format!("r{round}-w{w}-n{n}");
                    // the same write until a node acknowledges it
                    for _ in 0..50 {
                        match note(&client, &urls[node], id, &key) {
                            Some(true) => {
                                acknowledged.lock().unwrap().push(key.clone());
                                break;
                            }
                            Some(false) => continue,
                            None => node = 1, // A is gone: B from now on
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1000));
    a.kill9();
    std::thread::sleep(Duration::from_millis(700));
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 20,
        "round {round}: too few writes: {}",
        acknowledged.len()
    );

    let mut stored: BTreeMap<String, usize> = BTreeMap::new();
    for id in &ids {
        let history = b.history(id, BANK_AGENT);
        let seqs: Vec<u64> = history.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as u64).collect::<Vec<_>>(),
            "round {round}: gaps in {id}"
        );
        for noted in of_type(&history, "noted") {
            *stored
                .entry(noted["key"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|k| !stored.contains_key(*k))
        .collect();
    let doubled: Vec<_> = stored.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        lost.is_empty(),
        "round {round}: acknowledged but lost: {lost:?}"
    );
    assert!(doubled.is_empty(), "round {round}: doubled: {doubled:?}");
}

#[test]
fn two_nodes_lose_no_acknowledged_write_and_double_none_when_one_is_killed() {
    for round in 0..3 {
        burst_with_a_kill(round);
    }
}

/// Takes `count` `ticks` complaints in, received at `received`, straight into the
/// store with no node running: the engine decides each intake and the store keeps
/// it, as a node would (through the HTTP API this takes longer than the
/// warnings' 6 s on a loaded machine).
fn store_cases(pg: &Postgres, site: &Site, count: usize, received: DateTime<Utc>) -> Vec<String> {
    use redress_engine::case::Case;
    use redress_engine::runtime::{Command, CommandKind, decide_and_apply};
    let policy = redress_engine::policy::load_policy(&site.path("policies/ticks.toml")).unwrap();
    let store = PostgresStore::connect(&pg.url).unwrap();
    let data = json!({"category": "fees", "amount": "10"});
    let mut receipts = Vec::new();
    let ids: Vec<String> = (0..count).map(|i| format!("T-{i:04}")).collect();
    for id in &ids {
        let mut case = Case::new(id);
        let command = Command::new(CommandKind::Intake {
            received_at: received,
            data: data.as_object().unwrap().clone(),
        });
        let events = decide_and_apply(&policy, &mut case, &command, received)
            .unwrap()
            .events;
        let summary = redress_server::service::summarize(&policy, &case, received, false);
        let report = redress_engine::report::CaseFacts::of(&policy, &case, None);
        receipts.push(store.append(redress_store::Append {
            org: "clinic".into(),
            case,
            summary,
            events,
            intake_key: None,
            fingerprint: None,
            recorded_at: received,
            outbox: Vec::new(),
            report,
        }));
    }
    for r in receipts {
        r.blocking_recv().unwrap().unwrap();
    }
    ids
}

#[test]
fn timers_due_while_every_node_was_down_fire_once_each_across_three_nodes() {
    let Some(pg) = Postgres::new("timers across three nodes") else {
        return;
    };
    let site = Site::with_config(TICKS);
    // Received 13 s ago: both warnings of every case (6 s and 12 s) fell due while
    // no node was running.
    let received = Utc::now() - chrono::Duration::seconds(13);
    let ids = store_cases(&pg, &site, 1000, received);
    let nodes: Vec<Server> = (0..3).map(|_| site.start_on(&pg.url)).collect();
    let warned = || {
        pg.query("SELECT COUNT(*) FROM events WHERE org = 'clinic' AND kind = 'warned'")
            .parse::<usize>()
            .unwrap()
    };
    assert!(
        eventually(30, || warned() >= 2000),
        "{} of 2000 warnings fired:\n{}",
        warned(),
        site.log()
    );
    std::thread::sleep(Duration::from_millis(500)); // nothing fires twice later
    assert_eq!(warned(), 2000, "a warning fired twice");
    let not_twice = pg.query(
        "SELECT COUNT(*) FROM (SELECT case_id FROM events WHERE org = 'clinic' AND kind = 'warned'
         GROUP BY case_id HAVING COUNT(*) <> 2) AS c",
    );
    assert_eq!(not_twice, "0", "cases without exactly two warnings");
    let out_of_order = pg.query(
        "SELECT COUNT(*) FROM (SELECT at, lag(at) OVER (PARTITION BY case_id ORDER BY seq) AS before
         FROM events WHERE org = 'clinic' AND kind = 'warned') AS w WHERE before >= at",
    );
    assert_eq!(out_of_order, "0", "warnings stored out of due order");
    // and as the API shows them, on every node
    for (i, id) in ids.iter().enumerate().step_by(97) {
        let history = nodes[i % 3].history(id, CLINIC_AGENT);
        let warnings = of_type(&history, "warned");
        assert_eq!(warnings.len(), 2, "{id}: {warnings:#?}");
        let due: Vec<DateTime<Utc>> = warnings.iter().map(|w| at(&w["at"])).collect();
        assert!(due[0] < due[1], "{id}: warnings out of due order: {due:?}");
    }
}

#[test]
fn a_dead_nodes_claim_passes_to_another_node_when_its_lease_ends() {
    let Some(pg) = Postgres::new("a dead node's claim") else {
        return;
    };
    let site = Site::with_config(TICKS);
    // Their first warnings fall due in 1 s. To the microsecond, as stored events
    // keep instants (see `redress_engine::instant`), so `due` equals the events' `at`.
    let received = (Utc::now() - chrono::Duration::seconds(5)).trunc_subsecs(6);
    let ids = store_cases(&pg, &site, 20, received);
    // A node claims them all and dies without firing any; its lease ends 4 s
    // after they fall due.
    let due = received + chrono::Duration::seconds(6);
    let lease_end = due + chrono::Duration::seconds(4);
    let dead = PostgresStore::connect(&pg.url).unwrap();
    let claimed = dead
        .claim_due(
            &Lease {
                node: "dead".into(),
                now: due,
                until: lease_end,
            },
            100,
        )
        .unwrap();
    assert_eq!(claimed.len(), 20);
    drop(dead);
    let node = site.start_on(&pg.url);
    // on a loaded machine the node may come up after the lease ended
    let ready = Utc::now().max(lease_end);
    assert!(
        eventually(20, || {
            pg.query("SELECT COUNT(*) FROM events WHERE org = 'clinic' AND kind = 'warned'") != "0"
        }),
        "no warning fired:\n{}",
        site.log()
    );
    assert!(eventually(5, || {
        pg.query("SELECT COUNT(*) FROM events WHERE org = 'clinic' AND kind = 'warned'")
            .parse::<usize>()
            .unwrap()
            >= 20
    }));
    for id in &ids {
        let history = node.history(id, CLINIC_AGENT);
        // the first warning (the second falls due 2 s after the lease ends)
        let warned: Vec<&Value> = of_type(&history, "warned")
            .into_iter()
            .filter(|w| at(&w["at"]) == due)
            .collect();
        assert_eq!(warned.len(), 1, "{id}");
        let fired = at(&warned[0]["recorded_at"]);
        assert_eq!(
            at(&warned[0]["at"]),
            due,
            "{id}: a timer's event is at its due instant"
        );
        assert!(
            fired >= lease_end,
            "{id} fired at {fired}, inside the dead node's lease"
        );
        assert!(
            fired <= ready + chrono::Duration::seconds(1),
            "{id} fired at {fired}, more than 1 s after the lease ended (or the node \
             was up) at {ready}"
        );
    }
}

/// Sends `body` as an event on `server` with an idempotency key.
fn send(server: &Server, id: &str, key: &str, body: Value) -> Answer {
    server.send(
        server
            .request("POST", &format!("/v1/cases/{id}/events"), Some(BANK_AGENT))
            .header("Idempotency-Key", key)
            .json(&body),
    )
}

#[test]
fn expected_versions_idempotency_keys_and_reports_mean_the_same_on_every_node() {
    let Some(pg) = Postgres::new("expected versions and keys across nodes") else {
        return;
    };
    let site = Site::with_config("");
    let (a, b) = (site.start_on(&pg.url), site.start_on(&pg.url));
    let case = a.file(BANK_AGENT, quick("fees", 0));
    let id = case["id"].as_str().unwrap().to_string();
    let v0 = case["version"].as_u64().unwrap();
    assert_eq!(b.case(&id, BANK_AGENT)["version"], v0, "B reads A's write");

    let one = send(
        &a,
        &id,
        "k-1",
        json!({"note": "one", "expected_version": v0}),
    );
    assert_eq!(one.status, 200, "{one:?}");
    let v1 = one.body["case"]["version"].as_u64().unwrap();
    // the retry reaches B: the first outcome, nothing added
    let again = send(&b, &id, "k-1", json!({"note": "one"}));
    assert_eq!(
        (again.status, again.body["case"]["version"].as_u64()),
        (200, Some(v1)),
        "{again:?}"
    );
    // a stale view is refused on B as it would be on A
    let stale = send(
        &b,
        &id,
        "k-2",
        json!({"note": "two", "expected_version": v0}),
    );
    assert_eq!(
        (stale.status, stale.code()),
        (409, "stale-version"),
        "{stale:?}"
    );
    // B writes; A, whose memory holds the case at v1, loses the version race and
    // decides again on the case as stored
    let three = send(
        &b,
        &id,
        "k-3",
        json!({"note": "three", "expected_version": v1}),
    );
    assert_eq!(three.status, 200, "{three:?}");
    let four = send(&a, &id, "k-4", json!({"note": "four"}));
    assert_eq!(four.status, 200, "{four:?}");
    assert_eq!(four.body["case"]["version"].as_u64(), Some(v1 + 2));

    let history = b.history(&id, BANK_AGENT);
    let keys: Vec<&str> = of_type(&history, "noted")
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["k-1", "k-3", "k-4"]);
    let seqs: Vec<u64> = history.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());

    // a key reused with another request is refused on the other node too
    let reused = send(&a, &id, "k-3", json!({"note": "not three"}));
    assert_eq!(
        (reused.status, reused.code()),
        (422, "idempotency-key-reused"),
        "{reused:?}"
    );
    let intake = |server: &Server, letter: &Value| {
        server.send(
            server
                .request("POST", "/v1/cases", Some(BANK_AGENT))
                .header("Idempotency-Key", "letter-9")
                .json(letter),
        )
    };
    let letter = quick("fees", 0);
    let first = intake(&a, &letter);
    assert_eq!(first.status, 201, "{first:?}");
    let retried = intake(&b, &letter);
    assert_eq!(
        (retried.status, &retried.body["case"]["id"]),
        (200, &first.body["case"]["id"]),
        "{retried:?}"
    );
    let other = intake(&b, &quick("fraud", 0));
    assert_eq!(
        (other.status, other.code()),
        (422, "idempotency-key-reused"),
        "{other:?}"
    );

    // a report read on either node counts the cases written through both
    b.file(BANK_AGENT, quick("fraud", 0));
    let today = Utc::now().date_naive();
    let (from, to) = (today.pred_opt().unwrap(), today.succ_opt().unwrap());
    let path = format!("/v1/reports?policy=quick&from={from}&to={to}&by=category");
    for node in [&a, &b] {
        let report = node.get(&path, BANK_AUDITOR);
        assert_eq!(report.status, 200, "{report:?}");
        assert_eq!(report.body["total"]["received"], 3, "{report:?}");
        let groups: Vec<(&str, u64)> = report.body["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                let key = g["key"]["category"].as_str().unwrap();
                (key, g["figures"]["received"].as_u64().unwrap())
            })
            .collect();
        assert_eq!(groups, [("fees", 2), ("fraud", 1)]);
    }
}
