//! The writer thread: owns the write connection, takes every write queued while
//! the previous commit was syncing, runs each in its own savepoint and commits them
//! together (group commit).

use std::sync::mpsc;

use rusqlite::{Connection, TransactionBehavior, params};

use super::{Job, MAX_BATCH, db, is_constraint};
use crate::prepared::Prepared;
use crate::{Conflict, StoreError};

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

pub(super) fn write_append(conn: &Connection, a: &Prepared) -> Result<(), StoreError> {
    let conflict = |reason| StoreError::Conflict {
        org: a.org.clone(),
        case: a.id.clone(),
        reason,
    };
    if let Some(key) = &a.intake_key {
        conn.prepare_cached(
            "INSERT INTO intake_keys (org, key, case_id, fingerprint) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut s| s.execute(params![a.org, key, a.id, a.fingerprint]))
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
                // The policy hash changes when a case is migrated to another version.
                "UPDATE cases SET version = ?3, stage = ?4, queue = ?5, priority = ?6,
                     assignee = ?7, closed = ?8, clock_state = ?9, updated_at = ?10,
                     next_due = ?11, snapshot = ?12, policy_hash = ?14
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
                    a.policy_hash,
                ])
            })
            .map_err(db)?;
        if changed == 0 {
            return Err(conflict(Conflict::Version));
        }
    }
    if let Some((received_at, closed_at, facts)) = &a.report {
        conn.prepare_cached(
            "INSERT INTO case_reports (org, case_id, policy_id, received_at, closed_at, facts)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (org, case_id) DO UPDATE SET policy_id = excluded.policy_id,
                 received_at = excluded.received_at, closed_at = excluded.closed_at,
                 facts = excluded.facts",
        )
        .and_then(|mut s| {
            s.execute(params![
                a.org,
                a.id,
                a.policy_id,
                received_at,
                closed_at,
                facts
            ])
        })
        .map_err(db)?;
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
            "INSERT INTO case_keys (org, case_id, key, first, last, fingerprint)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (org, case_id, key) DO UPDATE SET last = excluded.last",
        )
        .map_err(db)?;
    for (key, first, last) in &a.keys {
        keys.execute(params![a.org, a.id, key, first, last, a.fingerprint])
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
