//! The due index at start-up: read as stored where its stamp says this build
//! computed it, rebuilt where it is stale, in the background once the service is
//! ready, while timers already fire from the stored index.
//!
//! Each policy version's open cases carry one stamp ([`index_stamp`]: the Redress
//! version, the summary format, the time-zone database, the version's hash). A
//! version's hash covers its policy file and every calendar file it includes, and a
//! case stays on its version until it is migrated, so editing a policy or calendar
//! makes a new version (stamped when it is loaded, before it has a case) and leaves
//! the entries of running cases as they were, which is right: their deadlines do not
//! move. What makes entries stale is a build that computes them differently (an
//! upgrade, other time-zone data) or cases written without a stamp (a database from
//! before stamps, cases written by something else): those versions are rebuilt, and
//! stamped once each of their open cases has been recomputed, so a stop half-way
//! rebuilds them again at the next start.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use redress_store::{IndexStamp, SummaryUpdate};

use crate::service::{Service, index_stamp, summarize};

/// Open cases read at a time while rebuilding.
const REBUILD_PAGE: usize = 1000;

/// What start-up found of the stored due index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexCheck {
    /// The store keeps stamps: the versions open cases are pinned to, fresh and stale.
    Stamped {
        /// Versions whose stored entries this build computed: read as they are.
        fresh: Vec<IndexStamp>,
        /// Versions to rebuild.
        stale: Vec<IndexStamp>,
    },
    /// The store keeps no stamps: every open case is recomputed.
    Unstamped,
}

impl IndexCheck {
    /// Open cases whose entries are read as stored.
    pub fn fresh_cases(&self) -> u64 {
        match self {
            IndexCheck::Stamped { fresh, .. } => fresh.iter().map(|v| v.open).sum(),
            IndexCheck::Unstamped => 0,
        }
    }

    /// Open cases whose entries are to be recomputed (`None`: all, count unknown).
    pub fn stale_cases(&self) -> Option<u64> {
        match self {
            IndexCheck::Stamped { stale, .. } => Some(stale.iter().map(|v| v.open).sum()),
            IndexCheck::Unstamped => None,
        }
    }
}

/// Reads the stamps of the stored due index and tells fresh versions from stale.
pub async fn check(service: &Service) -> anyhow::Result<IndexCheck> {
    let Some(stamps) = service.read(|s| s.index_stamps()).await? else {
        service.metrics.index_stale_versions.set(1);
        return Ok(IndexCheck::Unstamped);
    };
    let (fresh, stale): (Vec<_>, Vec<_>) = stamps
        .into_iter()
        .partition(|v| v.stamp.as_deref() == Some(index_stamp(&v.policy_hash).as_str()));
    service.metrics.index_stale_versions.set(stale.len() as i64);
    Ok(IndexCheck::Stamped { fresh, stale })
}

/// Rebuilds what [`check`] found stale; meant to run beside the scheduler. A version
/// that cannot be rebuilt (its policy cannot be loaded) is logged and left stale.
pub async fn rebuild(service: Arc<Service>, check: IndexCheck) {
    let started = std::time::Instant::now();
    let stale = match check {
        IndexCheck::Stamped { stale, .. } => stale,
        IndexCheck::Unstamped => {
            match rebuild_all(&service).await {
                Ok((open, corrected)) => {
                    tracing::info!(
                        open,
                        corrected,
                        "due index rebuilt (this store keeps no stamps)"
                    );
                }
                Err(error) => tracing::error!(%error, "cannot rebuild the due index"),
            }
            service.metrics.index_stale_versions.set(0);
            return;
        }
    };
    for version in stale {
        match rebuild_version(&service, &version).await {
            Ok((open, corrected)) => {
                service.metrics.index_stale_versions.dec();
                tracing::info!(
                    org = version.org,
                    policy = version.policy_hash,
                    open,
                    corrected,
                    seconds = started.elapsed().as_secs_f64(),
                    "stale due index rebuilt"
                );
            }
            Err(error) => tracing::error!(
                org = version.org,
                policy = version.policy_hash,
                %error,
                "cannot rebuild the due index of a policy version; its stored entries stay in use"
            ),
        }
    }
}

/// Recomputes the summary of every open case of one version, corrects those that
/// differ, then stamps the version. Returns how many cases and how many corrected.
async fn rebuild_version(service: &Service, v: &IndexStamp) -> anyhow::Result<(usize, usize)> {
    let policy = service.pinned(&v.org, &v.policy_hash).await?;
    let (mut open, mut corrected) = (0, 0);
    let mut after: Option<String> = None;
    loop {
        let (org, hash, policy) = (v.org.clone(), v.policy_hash.clone(), policy.clone());
        let (cursor, now) = (after.clone(), service.now());
        // Reading and summarising both run off the async runtime: a page is a few
        // milliseconds of parsing snapshots and computing deadlines.
        let (read, last, updates) = service
            .read(move |s| {
                let page = s.open_cases_pinned(&org, &hash, cursor.as_deref(), REBUILD_PAGE)?;
                let updates: Vec<SummaryUpdate> = page
                    .iter()
                    .filter_map(|stored| {
                        let summary = summarize(&policy, &stored.case, now, false);
                        (summary != stored.summary).then(|| SummaryUpdate {
                            org: org.clone(),
                            id: stored.case.id.clone(),
                            version: stored.case.version,
                            summary,
                        })
                    })
                    .collect();
                let last = page.last().map(|c| c.case.id.clone());
                Ok((page.len(), last, updates))
            })
            .await?;
        let Some(last) = last else {
            break;
        };
        after = Some(last);
        open += read;
        service.metrics.index_rebuilt.inc_by(read as u64);
        corrected += correct(service, updates).await?;
    }
    let (org, hash) = (v.org.clone(), v.policy_hash.clone());
    service
        .read(move |s| s.stamp_index(&org, &hash, &index_stamp(&hash), false))
        .await?;
    Ok((open, corrected))
}

/// Writes corrected summaries (each only if its case did not move on meanwhile) and
/// wakes the scheduler when one falls due before it planned to look again.
async fn correct(service: &Service, updates: Vec<SummaryUpdate>) -> anyhow::Result<usize> {
    if updates.is_empty() {
        return Ok(0);
    }
    let earliest = updates
        .iter()
        .filter_map(|u| u.summary.next_due)
        .min()
        .map(|at| at.timestamp_micros());
    let set = service.read(move |s| s.set_summaries(updates)).await?;
    service.metrics.index_corrected.inc_by(set as u64);
    if earliest.is_some_and(|at| at < service.planned_wake.load(Ordering::Relaxed)) {
        service.wake.notify_one();
    }
    Ok(set)
}

/// Recomputes every open case's summary from its snapshot and policy, and corrects
/// the stored ones that differ: for a store that keeps no stamps. Returns how many
/// open cases there are and how many were corrected.
async fn rebuild_all(service: &Service) -> anyhow::Result<(usize, usize)> {
    let (mut open, mut corrected) = (0, 0);
    let mut after: Option<(String, String)> = None;
    loop {
        let cursor = after.clone();
        let page = service
            .read(move |s| {
                let cursor = cursor.as_ref().map(|(o, i)| (o.as_str(), i.as_str()));
                s.open_cases(cursor, REBUILD_PAGE)
            })
            .await?;
        let Some((org, last)) = page.last() else {
            break;
        };
        after = Some((org.clone(), last.case.id.clone()));
        let now = service.now();
        let mut updates = Vec::new();
        service.metrics.index_rebuilt.inc_by(page.len() as u64);
        for (org, stored) in page {
            open += 1;
            let policy = service.pinned(&org, &stored.case.policy).await?;
            let summary = summarize(&policy, &stored.case, now, false);
            if summary != stored.summary {
                let (id, version) = (stored.case.id.clone(), stored.case.version);
                updates.push(SummaryUpdate {
                    org,
                    id,
                    version,
                    summary,
                });
            }
        }
        corrected += correct(service, updates).await?;
    }
    Ok((open, corrected))
}
