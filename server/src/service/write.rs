//! Writing a case: its events, snapshot, summary and webhook messages in one durable
//! append, and the counts kept of what they did.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use chrono::{DateTime, SubsecRound, Utc};
use redress_engine::case::{Case, Event, EventKind};
use redress_engine::policy::Policy;
use redress_engine::report::{CaseFacts, ComplainantKey};
use redress_engine::runtime::next_due;
use redress_engine::sla::{Attention, ClockState};
use redress_store::{Append, ClockSummary, Message, StoreError, Summary};

use super::Service;
use crate::config::Caller;

/// The summary of a case for the store: policy, worst clock state, next due.
pub fn summarize(policy: &Policy, case: &Case, now: DateTime<Utc>, stuck: bool) -> Summary {
    let mut worst = ClockSummary::None;
    for (name, clock) in case.clocks.iter() {
        let Some(sla) = policy.slas().get(name) else {
            continue;
        };
        let calendar = policy.calendar_of(sla);
        let warned = clock
            .runs()
            .last()
            .is_some_and(|r| r.fired.iter().any(|a| matches!(a, Attention::Warning(_))));
        let state = match clock.state(&sla.rule, calendar, now) {
            Ok(ClockState::Breached) => ClockSummary::Breached,
            Ok(ClockState::Running) if warned => ClockSummary::AtRisk,
            Ok(ClockState::Running) => ClockSummary::Running,
            Ok(ClockState::Paused) => ClockSummary::Paused,
            _ => ClockSummary::None,
        };
        worst = worst.max(state);
    }
    Summary {
        policy_id: policy.id().to_string(),
        clock_state: worst,
        // At the store's precision (microseconds), so that a summary read back
        // compares equal to the one computed again.
        next_due: match stuck {
            true => None,
            false => next_due(case, policy).map(|(at, _)| at.trunc_subsecs(6)),
        },
    }
}

/// The format of what [`summarize`] computes: bump it when a change to it (or to the
/// engine's `next_due`) moves the due instant or clock state of a case whose events
/// did not change, so that start-up rebuilds every stored index entry.
pub const INDEX_FORMAT: u32 = 1;

/// The stamp of the due index of a policy version's cases as this build computes it:
/// the Redress version, [`INDEX_FORMAT`], the time-zone database and the version's
/// hash (which covers the policy file and every calendar file it includes). A stored
/// stamp that differs means the stored entries may not be what this build computes.
pub fn index_stamp(policy_hash: &str) -> String {
    format!(
        "redress {} due-index {INDEX_FORMAT} tzdb {} policy {policy_hash}",
        env!("CARGO_PKG_VERSION"),
        redress_engine::policy::TZDB_VERSION,
    )
}

/// What a write records of the request's idempotency key: the intake key (kept
/// with the new case) and the request's fingerprint (kept with the key).
#[derive(Debug, Default)]
pub(super) struct Keyed {
    pub(super) intake: Option<String>,
    pub(super) fingerprint: Option<String>,
}

impl Service {
    /// The organisation's key for complainants' hashes, when it has one.
    pub(crate) fn complainant_key(&self, org: &str) -> Option<ComplainantKey> {
        let config = self.config.organisation(org)?;
        config
            .complainant_key
            .as_deref()
            .map(|k| ComplainantKey::new(k.as_bytes()))
    }

    /// Writes events and the case after them, durably; keeps count of what they did.
    pub(super) async fn commit(
        &self,
        org: &Arc<str>,
        policy: &Policy,
        case: &Case,
        events: Vec<Event>,
        keyed: Keyed,
        stuck: bool,
    ) -> Result<Summary, StoreError> {
        let now = self.now();
        let summary = summarize(policy, case, now, stuck);
        let breaches: Vec<String> = events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Breached { sla, .. } => Some(sla.clone()),
                _ => None,
            })
            .collect();
        let count = events.len() as u64;
        let link = self.notification_link(org, &case.id, &events).await?;
        let outbox = self.messages(org, policy, &case.id, &events, link.as_deref());
        let has_messages = !outbox.is_empty();
        let append = Append {
            org: org.to_string(),
            case: case.clone(),
            summary: summary.clone(),
            events,
            intake_key: keyed.intake,
            fingerprint: keyed.fingerprint,
            recorded_at: now,
            outbox,
            report: CaseFacts::of(policy, case, self.complainant_key(org).as_ref()),
        };
        let started = Instant::now();
        let written = self
            .store
            .append(append)
            .await
            .unwrap_or(Err(StoreError::Closed));
        self.metrics
            .store_write
            .observe(started.elapsed().as_secs_f64());
        if let Err(StoreError::Conflict { .. }) = &written {
            self.metrics.conflicts.with_label_values(&[org]).inc();
        }
        written?;
        if has_messages {
            self.outbox_wake.notify_one();
        }
        self.metrics.events.with_label_values(&[org]).inc_by(count);
        for sla in breaches {
            self.metrics
                .breaches
                .with_label_values(&[org, policy.id(), &sla])
                .inc();
        }
        if let Some(due) = summary.next_due
            && due.timestamp_micros() < self.planned_wake.load(Ordering::Relaxed)
        {
            self.wake.notify_one();
            if self.store.shared() {
                // The other nodes may plan to look later too.
                let announced = self.read(move |s| s.announce_due(due)).await;
                if let Err(error) = announced {
                    tracing::warn!(%error, "cannot tell the other nodes of a due timer");
                }
            }
        }
        Ok(summary)
    }

    /// Whether a webhook of the organisation carries a tracking link with `event`:
    /// a notification to the complainant of a message the webhook names.
    fn carries_link(hook: &crate::config::Webhook, event: &Event) -> bool {
        match &event.kind {
            EventKind::Notified {
                to,
                message: Some(message),
                ..
            } => to == "complainant" && hook.tracking_links.contains(message),
            _ => false,
        }
    }

    /// A new tracking link, saved before the events that tell of it, when one of
    /// the organisation's webhooks carries a link with one of `events`; older
    /// links keep working (the complainant may hold them). Its path is returned.
    async fn notification_link(
        &self,
        org: &str,
        case: &str,
        events: &[Event],
    ) -> Result<Option<String>, StoreError> {
        let wanted = self
            .config
            .webhooks
            .iter()
            .filter(|w| w.org == org)
            .any(|hook| events.iter().any(|e| Self::carries_link(hook, e)));
        if !wanted {
            return Ok(None);
        }
        let (token, link) = super::tracking::new_link(org, case, Utc::now())
            .map_err(|e| StoreError::Database(redress_store::DatabaseError::other(e)))?;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.save_tracking_link(&link))
            .await
            .map_err(|e| StoreError::Database(redress_store::DatabaseError::other(e)))??;
        Ok(Some(super::tracking::link_path(&token)))
    }

    /// The webhook messages for events just decided: one per event of a type each
    /// of the organisation's webhooks receives, personal fields masked unless the
    /// webhook may see them; a notification the webhook carries links with has
    /// `tracking_link` (the status page's path).
    pub(super) fn messages(
        &self,
        org: &str,
        policy: &Policy,
        case: &str,
        events: &[Event],
        link: Option<&str>,
    ) -> Vec<Message> {
        let mut out = Vec::new();
        for hook in self.config.webhooks.iter().filter(|w| w.org == org) {
            let reader = Caller {
                name: hook.name.clone(),
                org: Arc::from(org),
                role: "webhook".into(),
                read_only: true,
                personal_data: hook.personal_data,
                reload_policies: false,
            };
            let wanted = events
                .iter()
                .filter(|e| hook.events.contains(&e.kind.event_type()));
            for event in wanted {
                let mut body = serde_json::json!({
                    "webhook": hook.name,
                    "organisation": org,
                    "case": case,
                    "policy": { "id": policy.id(), "hash": policy.hash() },
                    "event": crate::view::event(policy, event, &reader),
                });
                if let Some(path) = link.filter(|_| Self::carries_link(hook, event)) {
                    body["tracking_link"] = serde_json::json!(path);
                }
                out.push(Message {
                    webhook: hook.name.clone(),
                    body: body.to_string(),
                });
            }
        }
        out
    }
}
