//! The writer thread: owns the write connection, takes every write queued while
//! the previous commit was syncing, runs each in its own savepoint and commits them
//! together (group commit).

use std::sync::mpsc;

use rusqlite::{
    Connection, OptionalExtension, ToSql, TransactionBehavior, params, params_from_iter,
};

use super::checkpointer::{WalStats, truncate_in_writer};
use super::{Job, MAX_BATCH, db, is_constraint};
use crate::prepared::Prepared;
use crate::{Conflict, StoreError};

pub(super) fn run_writer(
    mut conn: Connection,
    queue: mpsc::Receiver<Job>,
    wal: std::sync::Arc<WalStats>,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&mut conn, batch);
        truncate_in_writer(&conn, &wal);
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
        update_case(conn, a)
            .map_err(db)?
            .ok_or(conflict(Conflict::Version))?;
    }
    if let Some(report) = &a.report {
        write_report(conn, a, report).map_err(db)?;
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

/// The `cases` columns that an index holds (besides `org` and `id`), in the order of
/// [`update_case`]'s bit mask.
const INDEXED: [&str; 5] = ["stage", "queue", "closed", "clock_state", "next_due"];

/// Rewrites the case's row at its expected version (`None`: the row is not at it),
/// setting each indexed column only when its value changed. SQLite rewrites an
/// index's entry for every indexed column an `UPDATE` names, changed or not, and most
/// events change none of them (a note, an assignment, a field), so naming only the
/// changed ones cuts the pages each write touches (and the write-ahead log's bytes).
fn update_case(conn: &Connection, a: &Prepared) -> rusqlite::Result<Option<()>> {
    let old = conn
        .prepare_cached(
            "SELECT stage, queue, closed, clock_state, next_due FROM cases
             WHERE org = ?1 AND id = ?2 AND version = ?3",
        )?
        .query_row(params![a.org, a.id, a.before as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<i64>>(4)?,
            ))
        })
        .optional()?;
    let Some((stage, queue, closed, clock_state, next_due)) = old else {
        return Ok(None);
    };
    let new: [&dyn ToSql; 5] = [&a.stage, &a.queue, &a.closed, &a.clock_state, &a.next_due];
    let changed = [
        stage != a.stage,
        queue != a.queue,
        closed != a.closed,
        clock_state != a.clock_state,
        next_due != a.next_due,
    ];
    // The policy hash changes when a case is migrated to another version.
    let mut sql = String::from(
        "UPDATE cases SET version = ?4, priority = ?5, assignee = ?6, updated_at = ?7,
             snapshot = ?8, policy_hash = ?9",
    );
    let before = a.before as i64;
    let mut values: Vec<&dyn ToSql> = vec![
        &a.org,
        &a.id,
        &before,
        &a.version,
        &a.priority,
        &a.assignee,
        &a.updated_at,
        &a.snapshot,
        &a.policy_hash,
    ];
    for (i, column) in INDEXED.iter().enumerate() {
        if changed[i] {
            values.push(new[i]);
            sql.push_str(&format!(", {column} = ?{}", values.len()));
        }
    }
    sql.push_str(" WHERE org = ?1 AND id = ?2 AND version = ?3");
    let n = conn
        .prepare_cached(&sql)?
        .execute(params_from_iter(values))?;
    Ok((n > 0).then_some(()))
}

/// Writes the case's report facts: only the facts when the period index's columns
/// are as stored (as after most events), else the whole row.
fn write_report(
    conn: &Connection,
    a: &Prepared,
    (received_at, closed_at, facts): &(i64, i64, String),
) -> rusqlite::Result<()> {
    // The same six values, numbered the same, in both statements.
    let values = params![a.org, a.id, a.policy_id, received_at, closed_at, facts];
    let same = conn
        .prepare_cached(
            "UPDATE case_reports SET facts = ?6
             WHERE org = ?1 AND case_id = ?2 AND policy_id = ?3 AND received_at = ?4
                 AND closed_at = ?5",
        )?
        .execute(values)?;
    if same == 0 {
        conn.prepare_cached(
            "INSERT INTO case_reports (org, case_id, policy_id, received_at, closed_at, facts)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (org, case_id) DO UPDATE SET policy_id = excluded.policy_id,
                 received_at = excluded.received_at, closed_at = excluded.closed_at,
                 facts = excluded.facts",
        )?
        .execute(values)?;
    }
    Ok(())
}
