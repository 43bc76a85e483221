//! The `Store` trait over PostgreSQL: appends on the store's runtime, answered
//! by their receipt once committed; reads and small writes on pooled
//! connections, waited for on the caller's thread.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::Object;
use futures_util::future::join;
use tokio_postgres::Row;

use super::{DUE_CHANNEL, Flying, MAX_PAGE, PostgresStore, db, listen, writer};
use crate::codec::{from_json, instant, micros, to_json};
use crate::prepared::Prepared;
use crate::{
    Append, CaseCount, CaseFilter, CaseRow, ClockSummary, Due, IndexStamp, Lease, OutboxCounts,
    Page, Pending, PolicyVersion, Receipt, Store, StoreError, StoredCase, StoredEvent, Summary,
    SummaryUpdate, TrackingLink,
};
use redress_engine::report::CaseFacts;

type Keys = std::collections::BTreeMap<String, (u64, u64)>;

/// Every query the store reads or writes with outside an append, for tests that
/// check each filters on the organisation or is a named cross-organisation scan.
#[cfg(test)]
pub(super) const QUERIES: &[(&str, &str)] = &[
    ("save_policy", SAVE_POLICY),
    ("policy", POLICY),
    ("case", CASE),
    ("case_keys", CASE_KEYS),
    ("case_by_key", CASE_BY_KEY),
    ("events", EVENTS),
    ("list", LIST),
    ("due", DUE),
    ("next_due", NEXT_DUE),
    ("claim_due", CLAIM_DUE),
    ("open_cases", OPEN_CASES),
    ("keys_between", KEYS_BETWEEN),
    ("set_summary", SET_SUMMARY),
    ("index_stamps", INDEX_STAMPS),
    ("stamp_index", STAMP_INDEX),
    ("open_cases_pinned", OPEN_CASES_PINNED),
    ("counts", COUNTS),
    ("case_count", CASE_COUNT),
    ("outbox_due", OUTBOX_DUE),
    ("claim_outbox", CLAIM_OUTBOX),
    ("outbox_next", OUTBOX_NEXT),
    ("outbox_attempted", OUTBOX_ATTEMPTED),
    ("outbox_counts", OUTBOX_COUNTS),
    ("announce_due", ANNOUNCE_DUE),
    ("intake_key", INTAKE_KEY),
    ("command_key_fingerprint", COMMAND_KEY_FINGERPRINT),
    ("report_facts", REPORT_FACTS),
    ("save_tracking_link", SAVE_TRACKING_LINK),
    ("tracking_link", TRACKING_LINK),
    ("revoke_tracking_links", REVOKE_TRACKING_LINKS),
];

const SAVE_POLICY: &str =
    "INSERT INTO policy_versions (org, hash, policy_id, version, sources, saved_at)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org, hash) DO NOTHING";
const POLICY: &str =
    "SELECT policy_id, version, sources FROM policy_versions WHERE org = $1 AND hash = $2";
const CASE: &str = "SELECT snapshot, policy_id, clock_state, next_due FROM cases
     WHERE org = $1 AND id = $2";
const CASE_KEYS: &str = "SELECT key, first, last FROM case_keys WHERE org = $1 AND case_id = $2";
const CASE_BY_KEY: &str = "SELECT case_id FROM intake_keys WHERE org = $1 AND key = $2";
const EVENTS: &str = "SELECT event, recorded_at FROM events
     WHERE org = $1 AND case_id = $2 AND seq > $3 ORDER BY seq LIMIT $4";
const LIST: &str = "SELECT id, policy_id, policy_hash, version, stage, queue, priority, assignee,
         closed, clock_state, received_at, updated_at, next_due, row
     FROM cases
     WHERE org = $1 AND row > $2
       AND ($3::text IS NULL OR queue = $3) AND ($4::text IS NULL OR stage = $4)
       AND ($5::text IS NULL OR clock_state = $5) AND ($6::text IS NULL OR policy_id = $6)
       AND ($7::boolean IS NULL OR closed = $7) AND ($8::text IS NULL OR assignee = $8)
     ORDER BY row LIMIT $9";
/// Cross-organisation: the due scan.
const DUE: &str = "SELECT org, id, next_due FROM cases
     WHERE next_due IS NOT NULL AND next_due <= $1 ORDER BY next_due LIMIT $2";
/// Cross-organisation: the due scan.
const NEXT_DUE: &str = "SELECT LEAST(
         (SELECT MIN(next_due) FROM cases
          WHERE next_due IS NOT NULL AND claimed_until IS NULL),
         (SELECT MIN(GREATEST(next_due, claimed_until)) FROM cases
          WHERE next_due IS NOT NULL AND claimed_until IS NOT NULL))";
/// Cross-organisation: the due scan.
const CLAIM_DUE: &str = "UPDATE cases AS c SET claimed_by = $1, claimed_until = $3
     FROM (SELECT org, id FROM cases
           WHERE next_due IS NOT NULL AND next_due <= $2
             AND (claimed_until IS NULL OR claimed_until <= $2)
           ORDER BY next_due LIMIT $4
           FOR UPDATE SKIP LOCKED) AS d
     WHERE c.org = d.org AND c.id = d.id
     RETURNING c.org, c.id, c.next_due";
/// Cross-organisation: start-up's rebuild of the due index, page by page.
const OPEN_CASES: &str = "SELECT org, snapshot, policy_id, clock_state, next_due FROM cases
     WHERE NOT closed AND (org, id) > ($1, $2) ORDER BY org, id LIMIT $3";
/// Cross-organisation: the keys of a page of `OPEN_CASES`.
const KEYS_BETWEEN: &str = "SELECT org, case_id, key, first, last FROM case_keys
     WHERE (org, case_id) >= ($1, $2) AND (org, case_id) <= ($3, $4)";
const SET_SUMMARY: &str = "UPDATE cases SET clock_state = $3, next_due = $4
     WHERE org = $1 AND id = $2 AND version = $5";
/// Cross-organisation: start-up's check of the stored due index.
const INDEX_STAMPS: &str = "SELECT c.org, c.policy_hash, c.open, s.stamp
     FROM (SELECT org, policy_hash, COUNT(*) AS open FROM cases
           WHERE NOT closed GROUP BY org, policy_hash) AS c
     LEFT JOIN due_index_stamps AS s ON s.org = c.org AND s.policy_hash = c.policy_hash
     ORDER BY c.org, c.policy_hash";
/// One statement, so that the check for open cases and the stamp are one snapshot;
/// `$5`: stamp only when no open case is pinned to the version.
const STAMP_INDEX: &str = "INSERT INTO due_index_stamps (org, policy_hash, stamp, stamped_at)
     SELECT $1, $2, $3, $4
     WHERE NOT ($5 AND EXISTS (SELECT 1 FROM cases
                               WHERE org = $1 AND policy_hash = $2 AND NOT closed))
     ON CONFLICT (org, policy_hash) DO UPDATE
         SET stamp = excluded.stamp, stamped_at = excluded.stamped_at";
const OPEN_CASES_PINNED: &str = "SELECT org, snapshot, policy_id, clock_state, next_due FROM cases
     WHERE org = $1 AND policy_hash = $2 AND NOT closed AND id > $3 ORDER BY id LIMIT $4";
/// Cross-organisation: metrics.
const COUNTS: &str = "SELECT org, policy_id, stage, clock_state, COUNT(*) FROM cases
     GROUP BY org, policy_id, stage, clock_state";
const CASE_COUNT: &str = "SELECT COUNT(*) FROM cases WHERE org = $1";
/// Cross-organisation: the outbox.
const OUTBOX_DUE: &str = "SELECT id, org, webhook, body, attempts FROM outbox
     WHERE next_attempt IS NOT NULL AND next_attempt <= $1
     ORDER BY next_attempt, id LIMIT $2";
/// Cross-organisation: the outbox.
const CLAIM_OUTBOX: &str = "UPDATE outbox AS o SET next_attempt = $2
     FROM (SELECT org, id FROM outbox
           WHERE next_attempt IS NOT NULL AND next_attempt <= $1
           ORDER BY next_attempt, id LIMIT $3
           FOR UPDATE SKIP LOCKED) AS d
     WHERE o.org = d.org AND o.id = d.id
     RETURNING o.id, o.org, o.webhook, o.body, o.attempts";
/// Cross-organisation: the outbox.
const OUTBOX_NEXT: &str = "SELECT MIN(next_attempt) FROM outbox WHERE next_attempt IS NOT NULL";
const OUTBOX_ATTEMPTED: &str = "UPDATE outbox SET attempts = attempts + 1, last_error = $3,
         delivered_at = CASE WHEN $4 THEN $5::bigint ELSE NULL END,
         next_attempt = CASE WHEN $4 THEN NULL ELSE $6::bigint END,
         body = CASE WHEN ($4 OR $6::bigint IS NULL) AND body LIKE '%tracking_link%'
                     THEN (body::jsonb - 'tracking_link')::text ELSE body END
     WHERE org = $1 AND id = $2";
/// Cross-organisation: metrics.
const OUTBOX_COUNTS: &str = "SELECT COUNT(*) FILTER (WHERE next_attempt IS NOT NULL),
         COUNT(*) FILTER (WHERE next_attempt IS NULL AND delivered_at IS NULL)
     FROM outbox";
/// No table: tells the other nodes.
const ANNOUNCE_DUE: &str = "SELECT pg_notify($1, $2)";
const INTAKE_KEY: &str = "SELECT case_id, fingerprint FROM intake_keys WHERE org = $1 AND key = $2";
const COMMAND_KEY_FINGERPRINT: &str =
    "SELECT fingerprint FROM case_keys WHERE org = $1 AND case_id = $2 AND key = $3";
const REPORT_FACTS: &str = "SELECT facts FROM case_reports
     WHERE org = $1 AND policy_id = $2 AND closed_at >= $3 AND received_at < $4";
const SAVE_TRACKING_LINK: &str =
    "INSERT INTO tracking_links (token_sha256, org, case_id, issued_at) VALUES ($1, $2, $3, $4)";
/// By the token's hash alone: a complainant's link names no organisation (on
/// Citus the table is distributed by the hash, so this is one shard).
const TRACKING_LINK: &str = "SELECT org, case_id, issued_at FROM tracking_links
     WHERE token_sha256 = $1 AND revoked_at IS NULL";
const REVOKE_TRACKING_LINKS: &str = "UPDATE tracking_links SET revoked_at = $3
     WHERE org = $1 AND case_id = $2 AND revoked_at IS NULL";

/// Report facts sent from the store's runtime to the caller's thread at most this
/// many ahead of it.
const FACTS_AHEAD: usize = 256;

/// The queries that read every organisation's rows, each for a reason
/// docs/scaling.md gives; every other query filters on `org`.
#[cfg(test)]
pub(super) const CROSS_ORGANISATION: &[&str] = &[
    "due",
    "next_due",
    "claim_due",
    "open_cases",
    "keys_between",
    "index_stamps",
    "counts",
    "outbox_due",
    "claim_outbox",
    "outbox_next",
    "outbox_counts",
    "announce_due",
    "save_tracking_link",
    "tracking_link",
];

fn clock_of(name: &str) -> ClockSummary {
    ClockSummary::parse(name).unwrap_or(ClockSummary::None)
}

fn stored_case(row: &Row, keys: Keys) -> Result<StoredCase, StoreError> {
    let mut case: redress_engine::case::Case = from_json("case", row.get::<_, &str>(0))?;
    case.keys = std::sync::Arc::new(keys);
    Ok(StoredCase {
        case,
        summary: Summary {
            policy_id: row.get(1),
            clock_state: clock_of(row.get(2)),
            next_due: row.get::<_, Option<i64>>(3).map(instant).transpose()?,
        },
    })
}

fn case_row(r: &Row) -> Result<(CaseRow, i64), StoreError> {
    let at = |i: usize| instant(r.get(i));
    Ok((
        CaseRow {
            id: r.get(0),
            policy: r.get(1),
            policy_hash: r.get(2),
            version: r.get::<_, i64>(3) as u64,
            stage: r.get(4),
            queue: r.get(5),
            priority: r.get(6),
            assignee: r.get(7),
            closed: r.get(8),
            clock_state: clock_of(r.get(9)),
            received_at: at(10)?,
            updated_at: at(11)?,
            next_due: r.get::<_, Option<i64>>(12).map(instant).transpose()?,
        },
        r.get(13),
    ))
}

fn pending(r: &Row) -> Pending {
    Pending {
        id: r.get(0),
        org: r.get(1),
        webhook: r.get(2),
        body: r.get(3),
        attempts: r.get::<_, i32>(4) as u32,
    }
}

fn due_of(r: &Row) -> Result<Due, StoreError> {
    Ok(Due {
        org: r.get(0),
        case: r.get(1),
        at: instant(r.get(2))?,
    })
}

/// The earliest instant a `SELECT MIN(...)` query gives.
async fn earliest(client: Object, sql: &'static str) -> Result<Option<DateTime<Utc>>, StoreError> {
    let s = client.prepare_cached(sql).await.map_err(db)?;
    let row = client.query_one(&s, &[]).await.map_err(db)?;
    row.get::<_, Option<i64>>(0).map(instant).transpose()
}

impl Store for PostgresStore {
    fn append(&self, append: Append) -> Receipt {
        let (reply, receipt) = tokio::sync::oneshot::channel();
        match Prepared::new(append) {
            Ok(prepared) => {
                let (pool, flying) = (self.pool.clone(), Flying::new(&self.in_flight));
                self.handle.spawn(async move {
                    let outcome = match pool.get().await {
                        Ok(client) => writer::write(client, &prepared).await,
                        Err(e) => Err(super::pool_error(e)),
                    };
                    let _ = reply.send(outcome);
                    drop(flying);
                });
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
        receipt
    }

    fn save_policy_version(&self, org: &str, version: &PolicyVersion) -> Result<(), StoreError> {
        let sources = to_json("policy sources", &version.sources)?;
        let (org, v) = (org.to_string(), version.clone());
        self.with_client(move |c| async move {
            let s = c.prepare_cached(SAVE_POLICY).await.map_err(db)?;
            let saved = micros(Utc::now());
            c.execute(
                &s,
                &[&org, &v.hash, &v.policy_id, &v.version, &sources, &saved],
            )
            .await
            .map(drop)
            .map_err(db)
        })
    }

    fn policy_version(&self, org: &str, hash: &str) -> Result<Option<PolicyVersion>, StoreError> {
        let (org, hash) = (org.to_string(), hash.to_string());
        self.with_client(move |c| async move {
            let s = c.prepare_cached(POLICY).await.map_err(db)?;
            let Some(row) = c.query_opt(&s, &[&org, &hash]).await.map_err(db)? else {
                return Ok(None);
            };
            Ok(Some(PolicyVersion {
                hash,
                policy_id: row.get(0),
                version: row.get(1),
                sources: from_json("policy sources", row.get::<_, &str>(2))?,
            }))
        })
    }

    fn case(&self, org: &str, id: &str) -> Result<Option<StoredCase>, StoreError> {
        let (org, id) = (org.to_string(), id.to_string());
        self.with_client(move |c| async move {
            let (s_case, s_keys) = (
                c.prepare_cached(CASE).await.map_err(db)?,
                c.prepare_cached(CASE_KEYS).await.map_err(db)?,
            );
            let (row, keys) = join(
                c.query_opt(&s_case, &[&org, &id]),
                c.query(&s_keys, &[&org, &id]),
            )
            .await;
            let Some(row) = row.map_err(db)? else {
                return Ok(None);
            };
            let keys: Keys = keys
                .map_err(db)?
                .iter()
                .map(|k| {
                    let (first, last): (i64, i64) = (k.get(1), k.get(2));
                    (k.get::<_, String>(0), (first as u64, last as u64))
                })
                .collect();
            stored_case(&row, keys).map(Some)
        })
    }

    fn case_by_key(&self, org: &str, key: &str) -> Result<Option<String>, StoreError> {
        let (org, key) = (org.to_string(), key.to_string());
        self.with_client(move |c| async move {
            let s = c.prepare_cached(CASE_BY_KEY).await.map_err(db)?;
            let row = c.query_opt(&s, &[&org, &key]).await.map_err(db)?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    fn events(
        &self,
        org: &str,
        id: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let (org, id) = (org.to_string(), id.to_string());
        let (after, limit) = (after as i64, limit.min(i64::MAX as usize) as i64);
        self.with_client(move |c| async move {
            let s = c.prepare_cached(EVENTS).await.map_err(db)?;
            let rows = c
                .query(&s, &[&org, &id, &after, &limit])
                .await
                .map_err(db)?;
            rows.iter()
                .map(|r| {
                    Ok(StoredEvent {
                        event: from_json("event", r.get::<_, &str>(0))?,
                        recorded_at: instant(r.get(1))?,
                    })
                })
                .collect()
        })
    }

    fn list(
        &self,
        org: &str,
        filter: &CaseFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let after: i64 = match after {
            None => 0,
            Some(cursor) => cursor.parse().map_err(|_| StoreError::Corrupt {
                what: "page cursor",
                detail: format!("`{cursor}` is not a cursor this store gave"),
            })?,
        };
        let (org, f) = (org.to_string(), filter.clone());
        let limit = limit.min(MAX_PAGE);
        let rows = self.with_client(move |c| async move {
            let s = c.prepare_cached(LIST).await.map_err(db)?;
            let clock = f.clock_state.map(ClockSummary::as_str);
            let rows = c
                .query(
                    &s,
                    &[
                        &org,
                        &after,
                        &f.queue,
                        &f.stage,
                        &clock,
                        &f.policy,
                        &f.closed,
                        &f.assignee,
                        &(limit as i64 + 1),
                    ],
                )
                .await
                .map_err(db)?;
            rows.iter().map(case_row).collect::<Result<Vec<_>, _>>()
        })?;
        let more = rows.len() > limit;
        let page: Vec<(CaseRow, i64)> = rows.into_iter().take(limit).collect();
        let next = match more {
            true => page.last().map(|(_, row)| row.to_string()),
            false => None,
        };
        Ok(Page {
            rows: page.into_iter().map(|(row, _)| row).collect(),
            next,
        })
    }

    fn due(&self, until: DateTime<Utc>, limit: usize) -> Result<Vec<Due>, StoreError> {
        let (until, limit) = (micros(until), limit.min(MAX_PAGE) as i64);
        self.with_client(move |c| async move {
            let s = c.prepare_cached(DUE).await.map_err(db)?;
            let rows = c.query(&s, &[&until, &limit]).await.map_err(db)?;
            rows.iter().map(due_of).collect()
        })
    }

    fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.with_client(|c| earliest(c, NEXT_DUE))
    }

    fn claim_due(&self, lease: &Lease, limit: usize) -> Result<Vec<Due>, StoreError> {
        let (node, now, until) = (lease.node.clone(), micros(lease.now), micros(lease.until));
        let limit = limit.min(MAX_PAGE) as i64;
        let mut claimed = self.with_client(move |c| async move {
            let s = c.prepare_cached(CLAIM_DUE).await.map_err(db)?;
            let rows = c
                .query(&s, &[&node, &now, &until, &limit])
                .await
                .map_err(db)?;
            rows.iter().map(due_of).collect::<Result<Vec<_>, _>>()
        })?;
        claimed.sort_by(|a, b| (a.at, &a.org, &a.case).cmp(&(b.at, &b.org, &b.case)));
        Ok(claimed)
    }

    fn shared(&self) -> bool {
        true
    }

    fn announce_due(&self, at: DateTime<Utc>) -> Result<(), StoreError> {
        let payload = micros(at).to_string();
        self.with_client(move |c| async move {
            let s = c.prepare_cached(ANNOUNCE_DUE).await.map_err(db)?;
            c.execute(&s, &[&DUE_CHANNEL, &payload])
                .await
                .map(drop)
                .map_err(db)
        })
    }

    fn listen_due(&self, wake: Box<dyn Fn() + Send + Sync>) -> Result<(), StoreError> {
        let (config, connector) = (self.config.clone(), self.connector.clone());
        self.handle.spawn(listen::listen(
            config,
            connector,
            std::sync::Arc::from(wake),
        ));
        Ok(())
    }

    fn open_cases(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<(String, StoredCase)>, StoreError> {
        let (org, id) = after.unwrap_or(("", ""));
        let (org, id, limit) = (org.to_string(), id.to_string(), limit.min(MAX_PAGE) as i64);
        self.with_client(move |c| async move {
            let s = c.prepare_cached(OPEN_CASES).await.map_err(db)?;
            let rows = c.query(&s, &[&org, &id, &limit]).await.map_err(db)?;
            stored_cases(&c, &rows).await
        })
    }

    fn open_cases_pinned(
        &self,
        org: &str,
        policy_hash: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredCase>, StoreError> {
        let (org, hash) = (org.to_string(), policy_hash.to_string());
        let (after, limit) = (after.unwrap_or("").to_string(), limit.min(MAX_PAGE) as i64);
        self.with_client(move |c| async move {
            let s = c.prepare_cached(OPEN_CASES_PINNED).await.map_err(db)?;
            let rows = c
                .query(&s, &[&org, &hash, &after, &limit])
                .await
                .map_err(db)?;
            let cases = stored_cases(&c, &rows).await?;
            Ok(cases.into_iter().map(|(_, stored)| stored).collect())
        })
    }

    fn index_stamps(&self) -> Result<Option<Vec<IndexStamp>>, StoreError> {
        self.with_client(|c| async move {
            let s = c.prepare_cached(INDEX_STAMPS).await.map_err(db)?;
            let rows = c.query(&s, &[]).await.map_err(db)?;
            Ok(Some(
                rows.iter()
                    .map(|r| IndexStamp {
                        org: r.get(0),
                        policy_hash: r.get(1),
                        open: r.get::<_, i64>(2) as u64,
                        stamp: r.get(3),
                    })
                    .collect(),
            ))
        })
    }

    fn stamp_index(
        &self,
        org: &str,
        policy_hash: &str,
        stamp: &str,
        only_without_open_cases: bool,
    ) -> Result<bool, StoreError> {
        let (org, hash, stamp) = (org.to_string(), policy_hash.to_string(), stamp.to_string());
        self.with_client(move |c| async move {
            let s = c.prepare_cached(STAMP_INDEX).await.map_err(db)?;
            let at = micros(Utc::now());
            let stamped = c
                .execute(&s, &[&org, &hash, &stamp, &at, &only_without_open_cases])
                .await
                .map_err(db)?;
            Ok(stamped > 0)
        })
    }

    fn set_summaries(&self, updates: Vec<SummaryUpdate>) -> Result<usize, StoreError> {
        if updates.is_empty() {
            return Ok(0);
        }
        self.with_client(move |mut c| async move {
            let tx = c.transaction().await.map_err(db)?;
            let st = tx.prepare_cached(SET_SUMMARY).await.map_err(db)?;
            let mut set = 0;
            for u in &updates {
                let s = &u.summary;
                set += tx
                    .execute(
                        &st,
                        &[
                            &u.org,
                            &u.id,
                            &s.clock_state.as_str(),
                            &s.next_due.map(micros),
                            &(u.version as i64),
                        ],
                    )
                    .await
                    .map_err(db)? as usize;
            }
            tx.commit().await.map_err(db)?;
            Ok(set)
        })
    }

    fn set_summary(
        &self,
        org: &str,
        id: &str,
        version: u64,
        summary: &Summary,
    ) -> Result<bool, StoreError> {
        let (org, id, s) = (org.to_string(), id.to_string(), summary.clone());
        self.with_client(move |c| async move {
            let st = c.prepare_cached(SET_SUMMARY).await.map_err(db)?;
            let changed = c
                .execute(
                    &st,
                    &[
                        &org,
                        &id,
                        &s.clock_state.as_str(),
                        &s.next_due.map(micros),
                        &(version as i64),
                    ],
                )
                .await
                .map_err(db)?;
            Ok(changed > 0)
        })
    }

    fn counts(&self) -> Result<Vec<CaseCount>, StoreError> {
        self.with_client(|c| async move {
            let s = c.prepare_cached(COUNTS).await.map_err(db)?;
            let rows = c.query(&s, &[]).await.map_err(db)?;
            Ok(rows
                .iter()
                .map(|r| CaseCount {
                    org: r.get(0),
                    policy: r.get(1),
                    stage: r.get(2),
                    clock_state: clock_of(r.get(3)),
                    count: r.get::<_, i64>(4) as u64,
                })
                .collect())
        })
    }

    fn case_count(&self, org: &str) -> Result<u64, StoreError> {
        let org = org.to_string();
        self.with_client(move |c| async move {
            let s = c.prepare_cached(CASE_COUNT).await.map_err(db)?;
            let row = c.query_one(&s, &[&org]).await.map_err(db)?;
            Ok(row.get::<_, i64>(0) as u64)
        })
    }

    fn outbox_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Pending>, StoreError> {
        let (now, limit) = (micros(now), limit.min(MAX_PAGE) as i64);
        self.with_client(move |c| async move {
            let s = c.prepare_cached(OUTBOX_DUE).await.map_err(db)?;
            let rows = c.query(&s, &[&now, &limit]).await.map_err(db)?;
            Ok(rows.iter().map(pending).collect())
        })
    }

    fn claim_outbox(&self, lease: &Lease, limit: usize) -> Result<Vec<Pending>, StoreError> {
        let (now, until) = (micros(lease.now), micros(lease.until));
        let limit = limit.min(MAX_PAGE) as i64;
        let mut claimed = self.with_client(move |c| async move {
            let s = c.prepare_cached(CLAIM_OUTBOX).await.map_err(db)?;
            let rows = c.query(&s, &[&now, &until, &limit]).await.map_err(db)?;
            Ok(rows.iter().map(pending).collect::<Vec<_>>())
        })?;
        claimed.sort_by_key(|m| m.id);
        Ok(claimed)
    }

    fn outbox_next(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.with_client(|c| earliest(c, OUTBOX_NEXT))
    }

    fn outbox_attempted(
        &self,
        org: &str,
        id: i64,
        delivered: bool,
        error: Option<String>,
        next_attempt: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let (org, now, next) = (
            org.to_string(),
            micros(Utc::now()),
            next_attempt.map(micros),
        );
        self.with_client(move |c| async move {
            let s = c.prepare_cached(OUTBOX_ATTEMPTED).await.map_err(db)?;
            c.execute(&s, &[&org, &id, &error, &delivered, &now, &next])
                .await
                .map(drop)
                .map_err(db)
        })
    }

    fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        self.with_client(|c| async move {
            let s = c.prepare_cached(OUTBOX_COUNTS).await.map_err(db)?;
            let row = c.query_one(&s, &[]).await.map_err(db)?;
            Ok(OutboxCounts {
                waiting: row.get::<_, i64>(0) as u64,
                dead: row.get::<_, i64>(1) as u64,
            })
        })
    }
    fn intake_key(
        &self,
        org: &str,
        key: &str,
    ) -> Result<Option<(String, Option<String>)>, StoreError> {
        let (org, key) = (org.to_string(), key.to_string());
        self.with_client(move |c| async move {
            let s = c.prepare_cached(INTAKE_KEY).await.map_err(db)?;
            let row = c.query_opt(&s, &[&org, &key]).await.map_err(db)?;
            Ok(row.map(|r| (r.get(0), r.get(1))))
        })
    }

    fn command_key_fingerprint(
        &self,
        org: &str,
        case: &str,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        let (org, case, key) = (org.to_string(), case.to_string(), key.to_string());
        self.with_client(move |c| async move {
            let s = c
                .prepare_cached(COMMAND_KEY_FINGERPRINT)
                .await
                .map_err(db)?;
            let row = c.query_opt(&s, &[&org, &case, &key]).await.map_err(db)?;
            Ok(row.and_then(|r| r.get(0)))
        })
    }

    /// The rows stream from the store's runtime through a bounded channel to the
    /// caller's thread, which decodes and counts them one at a time: no list of
    /// them is held on either side.
    fn report_facts(
        &self,
        org: &str,
        policy_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        each: &mut dyn FnMut(CaseFacts),
    ) -> Result<u64, StoreError> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<String, StoreError>>(FACTS_AHEAD);
        let (org, policy_id, from, to) = (
            org.to_string(),
            policy_id.to_string(),
            micros(from),
            micros(to),
        );
        let pool = self.pool.clone();
        self.handle.spawn(async move {
            if let Err(e) = stream_facts(pool, &tx, [org, policy_id], [from, to]).await {
                let _ = tx.send(Err(e)).await;
            }
        });
        let mut count = 0;
        while let Some(text) = rx.blocking_recv() {
            each(from_json("report facts", &text?)?);
            count += 1;
        }
        Ok(count)
    }

    fn save_tracking_link(&self, link: &TrackingLink) -> Result<(), StoreError> {
        let link = link.clone();
        self.with_client(move |c| async move {
            let s = c.prepare_cached(SAVE_TRACKING_LINK).await.map_err(db)?;
            let issued = micros(link.issued_at);
            c.execute(&s, &[&link.token_sha256, &link.org, &link.case, &issued])
                .await
                .map(drop)
                .map_err(db)
        })
    }

    fn tracking_link(&self, token_sha256: &str) -> Result<Option<TrackingLink>, StoreError> {
        let token = token_sha256.to_string();
        self.with_client(move |c| async move {
            let s = c.prepare_cached(TRACKING_LINK).await.map_err(db)?;
            let Some(r) = c.query_opt(&s, &[&token]).await.map_err(db)? else {
                return Ok(None);
            };
            Ok(Some(TrackingLink {
                org: r.get(0),
                case: r.get(1),
                issued_at: instant(r.get(2))?,
                token_sha256: token,
            }))
        })
    }

    fn revoke_tracking_links(
        &self,
        org: &str,
        case: &str,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let (org, case, at) = (org.to_string(), case.to_string(), micros(at));
        self.with_client(move |c| async move {
            let s = c.prepare_cached(REVOKE_TRACKING_LINKS).await.map_err(db)?;
            c.execute(&s, &[&org, &case, &at]).await.map_err(db)
        })
    }
}

/// Sends the facts of `REPORT_FACTS` to `tx` as the rows arrive; stops early when
/// the receiver is gone.
async fn stream_facts(
    pool: deadpool_postgres::Pool,
    tx: &tokio::sync::mpsc::Sender<Result<String, StoreError>>,
    [org, policy_id]: [String; 2],
    [from, to]: [i64; 2],
) -> Result<(), StoreError> {
    use futures_util::TryStreamExt;
    let c = pool.get().await.map_err(super::pool_error)?;
    let s = c.prepare_cached(REPORT_FACTS).await.map_err(db)?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [&org, &policy_id, &from, &to];
    let rows = c.query_raw(&s, params).await.map_err(db)?;
    let mut rows = std::pin::pin!(rows);
    while let Some(row) = rows.try_next().await.map_err(db)? {
        if tx.send(Ok(row.get::<_, String>(0))).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// The cases of rows read as `OPEN_CASES` reads them (organisation, snapshot,
/// policy, clock state, next due), each with its idempotency keys, read in one query
/// for the range the rows span.
async fn stored_cases(c: &Object, rows: &[Row]) -> Result<Vec<(String, StoredCase)>, StoreError> {
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok(Vec::new());
    };
    let ids = |r: &Row| -> Result<(String, String), StoreError> {
        let case: redress_engine::case::Case = from_json("case", r.get::<_, &str>(1))?;
        Ok((r.get(0), case.id))
    };
    let (from, to) = (ids(first)?, ids(last)?);
    let s = c.prepare_cached(KEYS_BETWEEN).await.map_err(db)?;
    let key_rows = c
        .query(&s, &[&from.0, &from.1, &to.0, &to.1])
        .await
        .map_err(db)?;
    let mut keys: HashMap<(String, String), Keys> = HashMap::new();
    for k in &key_rows {
        let (first, last): (i64, i64) = (k.get(3), k.get(4));
        keys.entry((k.get(0), k.get(1)))
            .or_default()
            .insert(k.get(2), (first as u64, last as u64));
    }
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let org: String = r.get(0);
        let mut stored = StoredCase {
            case: from_json("case", r.get::<_, &str>(1))?,
            summary: Summary {
                policy_id: r.get(2),
                clock_state: clock_of(r.get(3)),
                next_due: r.get::<_, Option<i64>>(4).map(instant).transpose()?,
            },
        };
        let key = (org.clone(), stored.case.id.clone());
        stored.case.keys = std::sync::Arc::new(keys.remove(&key).unwrap_or_default());
        out.push((org, stored));
    }
    Ok(out)
}
