//! The writer thread: owns the write connection, takes every write queued while
//! the previous commit was syncing, runs each in its own savepoint and commits them
//! together (group commit).

use std::sync::mpsc;

use rusqlite::{Connection, TransactionBehavior, params};

use super::{Job, MAX_BATCH, db, is_constraint, micros, to_json};
use crate::{Append, Conflict, StoreError};

pub(super) fn run_writer(mut conn: Connection, queue: mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&mut conn, batch);
    }
}

/// Runs each job in its own savepoint inside one transaction, then commits once and
/// tells each job its outcome. A failed commit fails every job in the batch.
pub(super) fn commit_batch(conn: &mut Connection, batch: Vec<Job>) {
    let size = batch.len();
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let error = db(e);
            for job in batch {
                let _ = job.reply.send(Err(error.clone()));
            }
            return;
        }
    };
    let mut outcomes = Vec::with_capacity(size);
    for job in batch {
        let outcome = match tx.savepoint() {
            Ok(sp) => match (job.work)(&sp) {
                Ok(()) => sp.commit().map_err(db),
                Err(e) => Err(e), // dropping the savepoint rolls it back
            },
            Err(e) => Err(db(e)),
        };
        outcomes.push((outcome, job.reply));
    }
    let committed = tx.commit().map_err(db);
    tracing::trace!(size, "store batch committed");
    for (outcome, reply) in outcomes {
        let outcome = match &committed {
            Ok(()) => outcome,
            Err(e) => Err(e.clone()),
        };
        let _ = reply.send(outcome);
    }
}

/// An [`Append`] turned into what the writer binds: serialised on the caller's
/// thread, so the single writer spends its time writing.
pub(super) struct Prepared {
    org: String,
    id: String,
    before: u64,
    version: i64,
    policy_id: String,
    policy_hash: String,
    stage: String,
    queue: Option<String>,
    priority: Option<i64>,
    assignee: Option<String>,
    closed: bool,
    clock_state: &'static str,
    received_at: i64,
    updated_at: i64,
    next_due: Option<i64>,
    snapshot: String,
    /// Sequence, instant, type and JSON of each event.
    events: Vec<(i64, i64, &'static str, String)>,
    /// Each command idempotency key the events carry: first and last version.
    keys: Vec<(String, i64, i64)>,
    intake_key: Option<String>,
    recorded_at: i64,
    outbox: Vec<crate::Message>,
}

impl Prepared {
    pub(super) fn new(a: Append) -> Result<Self, StoreError> {
        let c = &a.case;
        let count = a.events.len() as u64;
        let conflict = |reason| StoreError::Conflict {
            org: a.org.clone(),
            case: c.id.clone(),
            reason,
        };
        let before = c
            .version
            .checked_sub(count)
            .ok_or(conflict(Conflict::Version))?;
        let mut keys: Vec<(String, i64, i64)> = Vec::new();
        let mut events = Vec::with_capacity(a.events.len());
        for (i, event) in a.events.iter().enumerate() {
            if event.seq != before + 1 + i as u64 {
                return Err(conflict(Conflict::Version));
            }
            let seq = event.seq as i64;
            if let Some(key) = &event.key {
                match keys.iter_mut().find(|(k, _, _)| k == key) {
                    Some(entry) => entry.2 = seq,
                    None => keys.push((key.clone(), seq, seq)),
                }
            }
            let json = to_json("event", event)?;
            events.push((seq, micros(event.at), event.kind.type_name(), json));
        }
        // The keys live in their own table: a snapshot does not grow with them.
        let mut snapshot = c.clone();
        snapshot.keys = Default::default();
        Ok(Prepared {
            snapshot: to_json("case", &snapshot)?,
            id: snapshot.id,
            before,
            version: c.version as i64,
            policy_id: a.summary.policy_id,
            policy_hash: c.policy.to_string(),
            stage: snapshot.stage,
            queue: snapshot.queue,
            priority: snapshot.priority,
            assignee: snapshot.assignee,
            closed: snapshot.closed,
            clock_state: a.summary.clock_state.as_str(),
            received_at: micros(snapshot.received_at),
            updated_at: micros(snapshot.updated_at),
            next_due: a.summary.next_due.map(micros),
            events,
            keys,
            intake_key: a.intake_key,
            recorded_at: micros(a.recorded_at),
            outbox: a.outbox,
            org: a.org,
        })
    }
}

pub(super) fn write_append(conn: &Connection, a: &Prepared) -> Result<(), StoreError> {
    let conflict = |reason| StoreError::Conflict {
        org: a.org.clone(),
        case: a.id.clone(),
        reason,
    };
    if let Some(key) = &a.intake_key {
        conn.prepare_cached("INSERT INTO intake_keys (org, key, case_id) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![a.org, key, a.id]))
            .map_err(|e| match is_constraint(&e) {
                true => conflict(Conflict::KeyTaken),
                false => db(e),
            })?;
    }
    if a.before == 0 {
        conn.prepare_cached(
            "INSERT INTO cases (org, id, policy_id, policy_hash, version, stage, queue, priority,
                 assignee, closed, clock_state, received_at, updated_at, next_due, snapshot)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )
        .and_then(|mut s| {
            s.execute(params![
                a.org,
                a.id,
                a.policy_id,
                a.policy_hash,
                a.version,
                a.stage,
                a.queue,
                a.priority,
                a.assignee,
                a.closed,
                a.clock_state,
                a.received_at,
                a.updated_at,
                a.next_due,
                a.snapshot,
            ])
        })
        .map_err(|e| match is_constraint(&e) {
            true => conflict(Conflict::CaseExists),
            false => db(e),
        })?;
    } else {
        let changed = conn
            .prepare_cached(
                "UPDATE cases SET version = ?3, stage = ?4, queue = ?5, priority = ?6,
                     assignee = ?7, closed = ?8, clock_state = ?9, updated_at = ?10,
                     next_due = ?11, snapshot = ?12
                 WHERE org = ?1 AND id = ?2 AND version = ?13",
            )
            .and_then(|mut s| {
                s.execute(params![
                    a.org,
                    a.id,
                    a.version,
                    a.stage,
                    a.queue,
                    a.priority,
                    a.assignee,
                    a.closed,
                    a.clock_state,
                    a.updated_at,
                    a.next_due,
                    a.snapshot,
                    a.before as i64,
                ])
            })
            .map_err(db)?;
        if changed == 0 {
            return Err(conflict(Conflict::Version));
        }
    }
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO events (org, case_id, seq, at, kind, event, recorded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(db)?;
    for (seq, at, kind, json) in &a.events {
        insert
            .execute(params![a.org, a.id, seq, at, kind, json, a.recorded_at])
            .map_err(|e| match is_constraint(&e) {
                true => conflict(Conflict::Version),
                false => db(e),
            })?;
    }
    let mut keys = conn
        .prepare_cached(
            "INSERT INTO case_keys (org, case_id, key, first, last) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (org, case_id, key) DO UPDATE SET last = excluded.last",
        )
        .map_err(db)?;
    for (key, first, last) in &a.keys {
        keys.execute(params![a.org, a.id, key, first, last])
            .map_err(db)?;
    }
    if !a.outbox.is_empty() {
        let mut outbox = conn
            .prepare_cached(
                "INSERT INTO outbox (org, webhook, body, created_at, next_attempt)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
            )
            .map_err(db)?;
        for message in &a.outbox {
            outbox
                .execute(params![a.org, message.webhook, message.body, a.recorded_at])
                .map_err(db)?;
        }
    }
    Ok(())
}
