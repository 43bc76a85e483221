//! Row mapping: the columns of a case row, snapshots and idempotency keys read
//! back into the store's types.

use chrono::{DateTime, Utc};
use redress_engine::case::Case;
use rusqlite::{Connection, params};

use super::{db, from_json, instant};
use crate::{CaseRow, ClockSummary, StoreError, StoredCase, Summary};

pub(super) type Keys = std::collections::BTreeMap<String, (u64, u64)>;

/// The command idempotency keys of the cases from `(org, id)` `first` to `last`
/// (inclusive, in key order), by case: one query for a whole page of cases.
pub(super) fn keys_between(
    conn: &Connection,
    first: (&str, &str),
    last: (&str, &str),
) -> Result<std::collections::HashMap<(String, String), Keys>, StoreError> {
    let mut s = conn
        .prepare_cached(
            "SELECT org, case_id, key, first, last FROM case_keys
             WHERE (org, case_id) >= (?1, ?2) AND (org, case_id) <= (?3, ?4)",
        )
        .map_err(db)?;
    let rows = s
        .query_map(params![first.0, first.1, last.0, last.1], |r| {
            Ok((
                (r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .map_err(db)?;
    let mut out: std::collections::HashMap<(String, String), Keys> = Default::default();
    for row in rows {
        let (case, key, first, last) = row.map_err(db)?;
        out.entry(case)
            .or_default()
            .insert(key, (first as u64, last as u64));
    }
    Ok(out)
}

pub(super) const ROW_COLUMNS: &str =
    "id, policy_id, policy_hash, version, stage, queue, priority, assignee,
     closed, clock_state, received_at, updated_at, next_due, row";

pub(super) fn case_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(CaseRow, i64, String)> {
    let clock: String = r.get(9)?;
    let at = |i: usize| -> rusqlite::Result<DateTime<Utc>> {
        let m: i64 = r.get(i)?;
        Ok(DateTime::from_timestamp_micros(m).unwrap_or_default())
    };
    let next_due: Option<i64> = r.get(12)?;
    Ok((
        CaseRow {
            id: r.get(0)?,
            policy: r.get(1)?,
            policy_hash: r.get(2)?,
            version: r.get::<_, i64>(3)? as u64,
            stage: r.get(4)?,
            queue: r.get(5)?,
            priority: r.get(6)?,
            assignee: r.get(7)?,
            closed: r.get(8)?,
            clock_state: ClockSummary::parse(&clock).unwrap_or(ClockSummary::None),
            received_at: at(10)?,
            updated_at: at(11)?,
            next_due: next_due.and_then(DateTime::from_timestamp_micros),
        },
        r.get(13)?,
        clock,
    ))
}

pub(super) fn stored_case(
    snapshot: &str,
    policy_id: String,
    clock: &str,
    next_due: Option<i64>,
) -> Result<StoredCase, StoreError> {
    Ok(StoredCase {
        case: from_json::<Case>("case", snapshot)?,
        summary: Summary {
            policy_id,
            clock_state: ClockSummary::parse(clock).unwrap_or(ClockSummary::None),
            next_due: next_due.map(instant).transpose()?,
        },
    })
}
