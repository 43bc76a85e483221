//! The `Store` trait over SQLite: appends go to the writer thread, reads run on
//! pooled read-only connections beside it.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::rows::{ROW_COLUMNS, case_row, keys_between, stored_case};
use super::writer::write_append;
use super::{MAX_PAGE, SqliteStore, db, from_json, instant, micros, to_json};
use crate::prepared::Prepared;
use crate::{
    Append, CaseCount, CaseFilter, CaseRow, ClockSummary, Conflict, Due, IndexStamp, Lease,
    OutboxCounts, Page, Pending, PolicyVersion, Receipt, Store, StoreError, StoredCase,
    StoredEvent, Summary, SummaryUpdate, TrackingLink,
};

impl Store for SqliteStore {
    fn storage(&self) -> crate::StorageStats {
        let (bytes, truncations) = self.wal();
        crate::StorageStats {
            wal_bytes: Some(bytes),
            wal_truncations: Some(truncations),
        }
    }

    fn append(&self, append: Append) -> Receipt {
        match Prepared::new(append) {
            Ok(prepared) => self.submit(Box::new(move |conn| write_append(conn, &prepared))),
            Err(e) => {
                let (reply, receipt) = tokio::sync::oneshot::channel();
                let _ = reply.send(Err(e));
                receipt
            }
        }
    }

    fn save_policy_version(&self, org: &str, version: &PolicyVersion) -> Result<(), StoreError> {
        let sources = to_json("policy sources", &version.sources)?;
        let (org, v) = (org.to_string(), version.clone());
        self.write_now(Box::new(move |conn| {
            conn.execute(
                "INSERT OR IGNORE INTO policy_versions
                     (org, hash, policy_id, version, sources, saved_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    org,
                    v.hash,
                    v.policy_id,
                    v.version,
                    sources,
                    micros(Utc::now())
                ],
            )
            .map(|_| ())
            .map_err(db)
        }))
    }

    fn policy_version(&self, org: &str, hash: &str) -> Result<Option<PolicyVersion>, StoreError> {
        let row = self.read(|conn| {
            conn.query_row(
                "SELECT policy_id, version, sources FROM policy_versions
                 WHERE org = ?1 AND hash = ?2",
                params![org, hash],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                },
            )
            .optional()
            .map_err(db)
        })?;
        row.map(|(policy_id, version, sources)| {
            Ok(PolicyVersion {
                hash: hash.to_string(),
                policy_id,
                version,
                sources: from_json("policy sources", &sources)?,
            })
        })
        .transpose()
    }

    fn case(&self, org: &str, id: &str) -> Result<Option<StoredCase>, StoreError> {
        self.read(|conn| {
            let row = conn
                .prepare_cached(
                    "SELECT snapshot, policy_id, clock_state, next_due FROM cases
                     WHERE org = ?1 AND id = ?2",
                )
                .and_then(|mut s| {
                    s.query_row(params![org, id], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, Option<i64>>(3)?,
                        ))
                    })
                    .optional()
                })
                .map_err(db)?;
            let Some((snapshot, policy, clock, due)) = row else {
                return Ok(None);
            };
            let mut stored = stored_case(&snapshot, policy, &clock, due)?;
            let mut keys = keys_between(conn, (org, id), (org, id))?;
            let key = (org.to_string(), id.to_string());
            stored.case.keys = std::sync::Arc::new(keys.remove(&key).unwrap_or_default());
            Ok(Some(stored))
        })
    }

    fn intake_key(
        &self,
        org: &str,
        key: &str,
    ) -> Result<Option<(String, Option<String>)>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT case_id, fingerprint FROM intake_keys WHERE org = ?1 AND key = ?2",
                params![org, key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db)
        })
    }

    fn command_key_fingerprint(
        &self,
        org: &str,
        case: &str,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT fingerprint FROM case_keys WHERE org = ?1 AND case_id = ?2 AND key = ?3",
                params![org, case, key],
                |r| r.get(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(db)
        })
    }

    fn case_by_key(&self, org: &str, key: &str) -> Result<Option<String>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT case_id FROM intake_keys WHERE org = ?1 AND key = ?2",
                params![org, key],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)
        })
    }

    fn events(
        &self,
        org: &str,
        id: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows: Vec<(String, i64)> = self.read(|conn| {
            let mut s = conn
                .prepare_cached(
                    "SELECT event, recorded_at FROM events
                     WHERE org = ?1 AND case_id = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4",
                )
                .map_err(db)?;
            let rows = s
                .query_map(params![org, id, after as i64, limit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })?;
        rows.into_iter()
            .map(|(json, recorded)| {
                Ok(StoredEvent {
                    event: from_json("event", &json)?,
                    recorded_at: instant(recorded)?,
                })
            })
            .collect()
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
        let clock = filter.clock_state.map(ClockSummary::as_str);
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM cases
             WHERE org = ?1 AND row > ?2
               AND (?3 IS NULL OR queue = ?3) AND (?4 IS NULL OR stage = ?4)
               AND (?5 IS NULL OR clock_state = ?5) AND (?6 IS NULL OR policy_id = ?6)
               AND (?7 IS NULL OR closed = ?7) AND (?8 IS NULL OR assignee = ?8)
             ORDER BY row LIMIT ?9"
        );
        let limit = limit.min(MAX_PAGE);
        let rows = self.read(|conn| {
            let mut s = conn.prepare_cached(&sql).map_err(db)?;
            let rows = s
                .query_map(
                    params![
                        org,
                        after,
                        filter.queue,
                        filter.stage,
                        clock,
                        filter.policy,
                        filter.closed,
                        filter.assignee,
                        limit as i64 + 1,
                    ],
                    case_row,
                )
                .map_err(db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db)
        })?;
        let more = rows.len() > limit;
        let mut page: Vec<(CaseRow, i64)> = rows
            .into_iter()
            .take(limit)
            .map(|(row, id, _)| (row, id))
            .collect();
        let next = match more {
            true => page.last().map(|(_, rowid)| rowid.to_string()),
            false => None,
        };
        Ok(Page {
            rows: page.drain(..).map(|(row, _)| row).collect(),
            next,
        })
    }

    fn due(&self, until: DateTime<Utc>, limit: usize) -> Result<Vec<Due>, StoreError> {
        let rows: Vec<(String, String, i64)> = self.read(|conn| {
            let mut s = conn
                .prepare_cached(
                    "SELECT org, id, next_due FROM cases
                     WHERE next_due IS NOT NULL AND next_due <= ?1
                     ORDER BY next_due LIMIT ?2",
                )
                .map_err(db)?;
            let rows = s
                .query_map(params![micros(until), limit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })?;
        rows.into_iter()
            .map(|(org, case, at)| {
                Ok(Due {
                    org,
                    case,
                    at: instant(at)?,
                })
            })
            .collect()
    }

    fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.earliest("SELECT MIN(next_due) FROM cases WHERE next_due IS NOT NULL")
    }

    /// Only this process writes the file, so the due cases are its own: a claim
    /// needs no record.
    fn claim_due(&self, lease: &Lease, limit: usize) -> Result<Vec<Due>, StoreError> {
        self.due(lease.now, limit)
    }

    fn open_cases(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<(String, StoredCase)>, StoreError> {
        let (org, id) = after.unwrap_or(("", ""));
        type Row = (String, String, String, String, Option<i64>);
        self.read(|conn| {
            let mut s = conn
                .prepare_cached(
                    "SELECT org, snapshot, policy_id, clock_state, next_due FROM cases
                     WHERE closed = 0 AND (org, id) > (?1, ?2) ORDER BY org, id LIMIT ?3",
                )
                .map_err(db)?;
            let rows: Vec<Row> = s
                .query_map(params![org, id, limit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .map_err(db)?
                .collect::<Result<_, _>>()
                .map_err(db)?;
            let mut out = Vec::with_capacity(rows.len());
            for (org, snapshot, policy, clock, due) in rows {
                out.push((org, stored_case(&snapshot, policy, &clock, due)?));
            }
            let (Some((o1, c1)), Some((o2, c2))) = (out.first(), out.last()) else {
                return Ok(out);
            };
            let mut keys = keys_between(conn, (o1, &c1.case.id), (o2, &c2.case.id))?;
            for (org, stored) in &mut out {
                let key = (org.clone(), stored.case.id.clone());
                stored.case.keys = std::sync::Arc::new(keys.remove(&key).unwrap_or_default());
            }
            Ok(out)
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
        let outcome = self.write_now(Box::new(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE cases SET clock_state = ?3, next_due = ?4
                     WHERE org = ?1 AND id = ?2 AND version = ?5",
                    params![
                        org,
                        id,
                        s.clock_state.as_str(),
                        s.next_due.map(micros),
                        version as i64
                    ],
                )
                .map_err(db)?;
            match changed {
                0 => Err(StoreError::Conflict {
                    org,
                    case: id,
                    reason: Conflict::Version,
                }),
                _ => Ok(()),
            }
        }));
        match outcome {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn set_summaries(&self, updates: Vec<SummaryUpdate>) -> Result<usize, StoreError> {
        let set = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = set.clone();
        self.write_now(Box::new(move |conn| {
            let mut update = conn
                .prepare_cached(
                    "UPDATE cases SET clock_state = ?3, next_due = ?4
                     WHERE org = ?1 AND id = ?2 AND version = ?5",
                )
                .map_err(db)?;
            for u in &updates {
                let s = &u.summary;
                let changed = update
                    .execute(params![
                        u.org,
                        u.id,
                        s.clock_state.as_str(),
                        s.next_due.map(micros),
                        u.version as i64
                    ])
                    .map_err(db)?;
                count.fetch_add(changed, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        }))?;
        Ok(set.load(std::sync::atomic::Ordering::Relaxed))
    }

    fn index_stamps(&self) -> Result<Option<Vec<IndexStamp>>, StoreError> {
        self.read(|conn| {
            let mut s = conn
                .prepare_cached(
                    "SELECT c.org, c.policy_hash, c.open, s.stamp
                     FROM (SELECT org, policy_hash, COUNT(*) AS open FROM cases
                           WHERE closed = 0 GROUP BY org, policy_hash) AS c
                     LEFT JOIN due_index_stamps AS s
                       ON s.org = c.org AND s.policy_hash = c.policy_hash
                     ORDER BY c.org, c.policy_hash",
                )
                .map_err(db)?;
            let rows = s
                .query_map([], |r| {
                    Ok(IndexStamp {
                        org: r.get(0)?,
                        policy_hash: r.get(1)?,
                        open: r.get::<_, i64>(2)? as u64,
                        stamp: r.get(3)?,
                    })
                })
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map(Some).map_err(db)
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
        let stamped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = stamped.clone();
        self.write_now(Box::new(move |conn| {
            // INVARIANT: checked and written in one transaction on the one write
            // connection, so no case of the version is written in between.
            let open: bool = conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM cases
                     WHERE closed = 0 AND org = ?1 AND policy_hash = ?2)",
                )
                .and_then(|mut s| s.query_row(params![org, hash], |r| r.get(0)))
                .map_err(db)?;
            if open && only_without_open_cases {
                return Ok(());
            }
            conn.prepare_cached(
                "INSERT INTO due_index_stamps (org, policy_hash, stamp, stamped_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (org, policy_hash) DO UPDATE
                     SET stamp = excluded.stamp, stamped_at = excluded.stamped_at",
            )
            .and_then(|mut s| s.execute(params![org, hash, stamp, micros(Utc::now())]))
            .map_err(db)?;
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        }))?;
        Ok(stamped.load(std::sync::atomic::Ordering::Relaxed))
    }

    fn open_cases_pinned(
        &self,
        org: &str,
        policy_hash: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredCase>, StoreError> {
        type Row = (String, String, String, Option<i64>);
        self.read(|conn| {
            let mut s = conn
                .prepare_cached(
                    "SELECT snapshot, policy_id, clock_state, next_due FROM cases
                     WHERE closed = 0 AND org = ?1 AND policy_hash = ?2 AND id > ?3
                     ORDER BY id LIMIT ?4",
                )
                .map_err(db)?;
            let rows: Vec<Row> = s
                .query_map(
                    params![org, policy_hash, after.unwrap_or(""), limit as i64],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .map_err(db)?
                .collect::<Result<_, _>>()
                .map_err(db)?;
            let mut out = Vec::with_capacity(rows.len());
            for (snapshot, policy, clock, due) in rows {
                out.push(stored_case(&snapshot, policy, &clock, due)?);
            }
            with_keys(conn, org, &mut out)?;
            Ok(out)
        })
    }

    fn counts(&self) -> Result<Vec<CaseCount>, StoreError> {
        self.read(|conn| {
            let mut s = conn
                .prepare_cached(
                    "SELECT org, policy_id, stage, clock_state, COUNT(*) FROM cases
                     GROUP BY org, policy_id, stage, clock_state",
                )
                .map_err(db)?;
            let rows = s
                .query_map([], |r| {
                    let clock: String = r.get(3)?;
                    Ok(CaseCount {
                        org: r.get(0)?,
                        policy: r.get(1)?,
                        stage: r.get(2)?,
                        clock_state: ClockSummary::parse(&clock).unwrap_or(ClockSummary::None),
                        count: r.get::<_, i64>(4)? as u64,
                    })
                })
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
    }

    fn outbox_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Pending>, StoreError> {
        self.read(|conn| {
            let mut s = conn
                .prepare_cached(
                    "SELECT id, org, webhook, body, attempts FROM outbox
                     WHERE next_attempt IS NOT NULL AND next_attempt <= ?1
                     ORDER BY next_attempt, id LIMIT ?2",
                )
                .map_err(db)?;
            let rows = s
                .query_map(params![micros(now), limit.min(MAX_PAGE) as i64], pending)
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
    }

    fn claim_outbox(&self, lease: &Lease, limit: usize) -> Result<Vec<Pending>, StoreError> {
        let claimed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let out = claimed.clone();
        let (now, until) = (micros(lease.now), micros(lease.until));
        let limit = limit.min(MAX_PAGE) as i64;
        self.write_now(Box::new(move |conn| {
            let mut s = conn
                .prepare_cached(
                    "SELECT id, org, webhook, body, attempts FROM outbox
                     WHERE next_attempt IS NOT NULL AND next_attempt <= ?1
                     ORDER BY next_attempt, id LIMIT ?2",
                )
                .map_err(db)?;
            let due: Vec<Pending> = s
                .query_map(params![now, limit], pending)
                .map_err(db)?
                .collect::<Result<_, _>>()
                .map_err(db)?;
            let mut claim = conn
                .prepare_cached("UPDATE outbox SET next_attempt = ?2 WHERE id = ?1")
                .map_err(db)?;
            for message in &due {
                claim.execute(params![message.id, until]).map_err(db)?;
            }
            if let Ok(mut out) = out.lock() {
                *out = due;
            }
            Ok(())
        }))?;
        let mut claimed = claimed.lock().map_err(|_| StoreError::Closed)?;
        Ok(std::mem::take(&mut *claimed))
    }

    fn outbox_next(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.earliest("SELECT MIN(next_attempt) FROM outbox WHERE next_attempt IS NOT NULL")
    }

    fn outbox_attempted(
        &self,
        org: &str,
        id: i64,
        delivered: bool,
        error: Option<String>,
        next_attempt: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let now = micros(Utc::now());
        let next = next_attempt.map(micros);
        let org = org.to_string();
        self.write_now(Box::new(move |conn| {
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2,
                     delivered_at = CASE WHEN ?3 THEN ?4 ELSE NULL END,
                     next_attempt = CASE WHEN ?3 THEN NULL ELSE ?5 END,
                     body = CASE WHEN (?3 OR ?5 IS NULL) AND body LIKE '%tracking_link%' AND json_valid(body)
                                 THEN json_remove(body, '$.tracking_link') ELSE body END
                 WHERE id = ?1 AND org = ?6",
                params![id, error, delivered, now, next, org],
            )
            .map(|_| ())
            .map_err(db)
        }))
    }

    fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT COUNT(*) FILTER (WHERE next_attempt IS NOT NULL),
                        COUNT(*) FILTER (WHERE next_attempt IS NULL AND delivered_at IS NULL)
                 FROM outbox",
                [],
                |r| {
                    Ok(OutboxCounts {
                        waiting: r.get::<_, i64>(0)? as u64,
                        dead: r.get::<_, i64>(1)? as u64,
                    })
                },
            )
            .map_err(db)
        })
    }

    fn case_count(&self, org: &str) -> Result<u64, StoreError> {
        self.read(|conn| {
            conn.query_row("SELECT COUNT(*) FROM cases WHERE org = ?1", [org], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(db)
        })
    }

    fn report_facts(
        &self,
        org: &str,
        policy_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        each: &mut dyn FnMut(redress_engine::report::CaseFacts),
    ) -> Result<u64, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT facts FROM case_reports
                     WHERE org = ?1 AND policy_id = ?2 AND closed_at >= ?3 AND received_at < ?4",
                )
                .map_err(db)?;
            let mut rows = statement
                .query(params![org, policy_id, micros(from), micros(to)])
                .map_err(db)?;
            let mut count = 0;
            while let Some(row) = rows.next().map_err(db)? {
                let text = row
                    .get_ref(0)
                    .map_err(db)?
                    .as_str()
                    .map_err(|e| db(e.into()))?;
                each(from_json("report facts", text)?);
                count += 1;
            }
            Ok(count)
        })
    }

    fn save_tracking_link(&self, link: &TrackingLink) -> Result<(), StoreError> {
        let link = link.clone();
        self.write_now(Box::new(move |conn| {
            conn.execute(
                "INSERT INTO tracking_links (token_sha256, org, case_id, issued_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    link.token_sha256,
                    link.org,
                    link.case,
                    micros(link.issued_at)
                ],
            )
            .map(|_| ())
            .map_err(db)
        }))
    }

    fn tracking_link(&self, token_sha256: &str) -> Result<Option<TrackingLink>, StoreError> {
        let row = self.read(|conn| {
            conn.query_row(
                "SELECT org, case_id, issued_at FROM tracking_links
                 WHERE token_sha256 = ?1 AND revoked_at IS NULL",
                params![token_sha256],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )
            .optional()
            .map_err(db)
        })?;
        row.map(|(org, case, issued)| {
            Ok(TrackingLink {
                token_sha256: token_sha256.to_string(),
                org,
                case,
                issued_at: instant(issued)?,
            })
        })
        .transpose()
    }

    fn revoke_tracking_links(
        &self,
        org: &str,
        case: &str,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let (org, case) = (org.to_string(), case.to_string());
        let revoked = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let count = revoked.clone();
        self.write_now(Box::new(move |conn| {
            let n = conn
                .execute(
                    "UPDATE tracking_links SET revoked_at = ?3
                     WHERE org = ?1 AND case_id = ?2 AND revoked_at IS NULL",
                    params![org, case, micros(at)],
                )
                .map_err(db)?;
            count.store(n as u64, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        }))?;
        Ok(revoked.load(std::sync::atomic::Ordering::Relaxed))
    }
}

fn pending(r: &rusqlite::Row<'_>) -> rusqlite::Result<Pending> {
    Ok(Pending {
        id: r.get(0)?,
        org: r.get(1)?,
        webhook: r.get(2)?,
        body: r.get(3)?,
        attempts: r.get(4)?,
    })
}

/// Gives each of one organisation's cases (in id order) its idempotency keys, read
/// in one query for the range they span.
fn with_keys(
    conn: &rusqlite::Connection,
    org: &str,
    cases: &mut [StoredCase],
) -> Result<(), StoreError> {
    let (Some(first), Some(last)) = (cases.first(), cases.last()) else {
        return Ok(());
    };
    let mut keys = keys_between(conn, (org, &first.case.id), (org, &last.case.id))?;
    for stored in cases {
        let key = (org.to_string(), stored.case.id.clone());
        stored.case.keys = std::sync::Arc::new(keys.remove(&key).unwrap_or_default());
    }
    Ok(())
}
