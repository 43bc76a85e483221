//! One append, one transaction: `BEGIN`, the intake key, the case row (inserted,
//! or updated where its version is still the one the write started from), the
//! report facts, the events, the command keys and the outbox messages, all sent at once on one
//! connection (pipelined), then `COMMIT` once every answer is in, or `ROLLBACK`
//! and the conflict that refused it.

use deadpool_postgres::Object;
use futures_util::future::join;

use super::{db, unique_violation};
use crate::prepared::Prepared;
use crate::{Conflict, StoreError};

const INSERT_KEY: &str =
    "INSERT INTO intake_keys (org, key, case_id, fingerprint) VALUES ($1, $2, $3, $4)";

const INSERT_CASE: &str = "INSERT INTO cases (org, id, policy_id, policy_hash, version, stage,
     queue, priority, assignee, closed, clock_state, received_at, updated_at, next_due, snapshot)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

// The policy hash changes when a case is migrated to another version.
const UPDATE_CASE: &str = "UPDATE cases SET version = $3, stage = $4, queue = $5, priority = $6,
     assignee = $7, closed = $8, clock_state = $9, updated_at = $10, next_due = $11,
     snapshot = $12, policy_hash = $14, claimed_by = NULL, claimed_until = NULL
     WHERE org = $1 AND id = $2 AND version = $13";

const UPSERT_REPORT: &str = "INSERT INTO case_reports
         (org, case_id, policy_id, received_at, closed_at, facts)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (org, case_id) DO UPDATE SET policy_id = excluded.policy_id,
         received_at = excluded.received_at, closed_at = excluded.closed_at,
         facts = excluded.facts";

const INSERT_EVENTS: &str = "INSERT INTO events (org, case_id, seq, at, kind, event, recorded_at)
     SELECT $1, $2, seq, at, kind, event, $7
     FROM unnest($3::bigint[], $4::bigint[], $5::text[], $6::text[]) AS e (seq, at, kind, event)";

// A key's fingerprint is the request it was first used with: never updated.
const UPSERT_KEYS: &str = "INSERT INTO case_keys (org, case_id, key, first, last, fingerprint)
     SELECT $1, $2, key, first, last, $6
     FROM unnest($3::text[], $4::bigint[], $5::bigint[]) AS k (key, first, last)
     ON CONFLICT (org, case_id, key) DO UPDATE SET last = excluded.last";

const INSERT_OUTBOX: &str = "INSERT INTO outbox (org, webhook, body, created_at, next_attempt)
     SELECT $1, webhook, body, $4, $4 FROM unnest($2::text[], $3::text[]) AS m (webhook, body)";

const STATEMENT_COUNT: usize = 7;

/// Every statement an append may send, for tests that read them.
#[cfg(test)]
pub(super) const STATEMENTS: &[(&str, &str)] = &[
    ("insert_key", INSERT_KEY),
    ("insert_case", INSERT_CASE),
    ("update_case", UPDATE_CASE),
    ("upsert_report", UPSERT_REPORT),
    ("insert_events", INSERT_EVENTS),
    ("upsert_keys", UPSERT_KEYS),
    ("insert_outbox", INSERT_OUTBOX),
];

/// What a statement's failure means for the write.
fn refused(a: &Prepared, e: tokio_postgres::Error) -> StoreError {
    let reason = match unique_violation(&e) {
        Some("intake_keys_pkey") => Conflict::KeyTaken,
        Some("cases_pkey") => Conflict::CaseExists,
        Some("events_pkey") => Conflict::Version,
        _ => return db(e),
    };
    StoreError::Conflict {
        org: a.org.clone(),
        case: a.id.clone(),
        reason,
    }
}

/// Writes one append in its own transaction; `Ok` only once it is committed.
pub(super) async fn write(client: Object, a: &Prepared) -> Result<(), StoreError> {
    let outcome = statements(&client, a).await;
    match outcome {
        Ok(()) => client.batch_execute("COMMIT").await.map_err(db),
        Err(e) => {
            if client.batch_execute("ROLLBACK").await.is_err() {
                // A connection left inside a transaction must not go back to the pool.
                drop(Object::take(client));
            }
            Err(e)
        }
    }
}

/// Sends every statement of the append before reading any answer; the first
/// failure (in the order sent) is the write's.
async fn statements(client: &Object, a: &Prepared) -> Result<(), StoreError> {
    // Prepared first (once per connection, then cached), so that each statement
    // below goes out on its first poll, in order: an insert of events sent before
    // its case's update could deadlock with a racing write of the same case.
    let mut prepared = Vec::with_capacity(STATEMENT_COUNT);
    for sql in [
        INSERT_KEY,
        INSERT_CASE,
        UPDATE_CASE,
        UPSERT_REPORT,
        INSERT_EVENTS,
        UPSERT_KEYS,
        INSERT_OUTBOX,
    ] {
        prepared.push(client.prepare_cached(sql).await.map_err(db)?);
    }
    let [
        s_key,
        s_insert,
        s_update,
        s_report,
        s_events,
        s_keys,
        s_outbox,
    ] = &prepared[..]
    else {
        return Err(StoreError::Database(crate::DatabaseError::described(
            "statements not prepared",
        )));
    };
    let key = async {
        match &a.intake_key {
            Some(key) => {
                client
                    .execute(s_key, &[&a.org, key, &a.id, &a.fingerprint])
                    .await
            }
            None => Ok(0),
        }
    };
    let case = async {
        if a.before == 0 {
            let s = s_insert;
            client
                .execute(
                    s,
                    &[
                        &a.org,
                        &a.id,
                        &a.policy_id,
                        &a.policy_hash,
                        &a.version,
                        &a.stage,
                        &a.queue,
                        &a.priority,
                        &a.assignee,
                        &a.closed,
                        &a.clock_state,
                        &a.received_at,
                        &a.updated_at,
                        &a.next_due,
                        &a.snapshot,
                    ],
                )
                .await
        } else {
            let s = s_update;
            client
                .execute(
                    s,
                    &[
                        &a.org,
                        &a.id,
                        &a.version,
                        &a.stage,
                        &a.queue,
                        &a.priority,
                        &a.assignee,
                        &a.closed,
                        &a.clock_state,
                        &a.updated_at,
                        &a.next_due,
                        &a.snapshot,
                        &(a.before as i64),
                        &a.policy_hash,
                    ],
                )
                .await
        }
    };
    let report = async {
        match &a.report {
            Some((received_at, closed_at, facts)) => {
                client
                    .execute(
                        s_report,
                        &[&a.org, &a.id, &a.policy_id, received_at, closed_at, facts],
                    )
                    .await
            }
            None => Ok(0),
        }
    };
    let seqs: Vec<i64> = a.events.iter().map(|e| e.0).collect();
    let ats: Vec<i64> = a.events.iter().map(|e| e.1).collect();
    let kinds: Vec<&str> = a.events.iter().map(|e| e.2).collect();
    let jsons: Vec<&str> = a.events.iter().map(|e| e.3.as_str()).collect();
    let events = async {
        client
            .execute(
                s_events,
                &[&a.org, &a.id, &seqs, &ats, &kinds, &jsons, &a.recorded_at],
            )
            .await
    };
    let names: Vec<&str> = a.keys.iter().map(|k| k.0.as_str()).collect();
    let firsts: Vec<i64> = a.keys.iter().map(|k| k.1).collect();
    let lasts: Vec<i64> = a.keys.iter().map(|k| k.2).collect();
    let keys = async {
        if names.is_empty() {
            return Ok(0);
        }
        client
            .execute(
                s_keys,
                &[&a.org, &a.id, &names, &firsts, &lasts, &a.fingerprint],
            )
            .await
    };
    let hooks: Vec<&str> = a.outbox.iter().map(|m| m.webhook.as_str()).collect();
    let bodies: Vec<&str> = a.outbox.iter().map(|m| m.body.as_str()).collect();
    let outbox = async {
        if hooks.is_empty() {
            return Ok(0);
        }
        client
            .execute(s_outbox, &[&a.org, &hooks, &bodies, &a.recorded_at])
            .await
    };
    // `join` polls its left side first: the statements go out in this order.
    let (begin, (key, (case, (report, (events, (keys, outbox)))))) = join(
        client.batch_execute("BEGIN"),
        join(
            key,
            join(case, join(report, join(events, join(keys, outbox)))),
        ),
    )
    .await;
    begin.map_err(db)?;
    key.map_err(|e| refused(a, e))?;
    let changed = case.map_err(|e| refused(a, e))?;
    if changed == 0 {
        return Err(StoreError::Conflict {
            org: a.org.clone(),
            case: a.id.clone(),
            reason: Conflict::Version,
        });
    }
    report.map_err(db)?;
    events.map_err(|e| refused(a, e))?;
    keys.map_err(db)?;
    outbox.map_err(db)?;
    Ok(())
}
