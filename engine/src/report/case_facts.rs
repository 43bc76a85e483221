//! [`CaseFacts`]: what a report needs of one case, computed once from the case and
//! its policy (when the case is written, or at the end of a replay). It holds the
//! dimensions' values, the outcome, the clocks' ends and deadlines, and only a keyed
//! hash of the complainant's identity, never personal data itself.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::case::Case;
use crate::policy::{Dimension, Outcome, Policy};
use crate::sla::ClockState;

/// The secret a complainant's identity is hashed with (HMAC-SHA256), so that the
/// same person is recognised across complaints without their data being kept: the
/// hash cannot be reversed, nor recomputed, without the key.
#[derive(Clone)]
pub struct ComplainantKey(Vec<u8>);

impl ComplainantKey {
    /// A key from its secret bytes.
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        ComplainantKey(secret.into())
    }

    /// The keyed hash of an identity (trimmed, lowercase, without spaces, so that
    /// `Li.Wei@Example.com ` and `li.wei@example.com` are the same person): the
    /// first 16 bytes of HMAC-SHA256, in hex.
    pub fn hash(&self, identity: &str) -> String {
        let normal: String = identity
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect();
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(normal.as_bytes());
        let digest = mac.finalize().into_bytes();
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for ComplainantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ComplainantKey(…)")
    }
}

/// How a clock ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClockEnd {
    /// Stopped before its deadline.
    Met,
    /// Stopped at or after its deadline.
    Missed,
    /// Stopped because the complaint was withdrawn.
    Withdrawn,
    /// Still running or paused.
    Open,
}

/// One SLA's clock on a case, as a report counts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockFacts {
    /// How it ended.
    pub end: ClockEnd,
    /// When it stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<DateTime<Utc>>,
    /// Its deadline; `None` while a pause that counts moves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    /// Extensions granted on its current run.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub extensions: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What a report needs of one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFacts {
    /// The policy's id.
    pub policy: String,
    /// When the complaint was received.
    pub received_at: DateTime<Utc>,
    /// When it closed (its last closing, for a reopened case); `None` while open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    /// It closed because the complainant withdrew.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub withdrawn: bool,
    /// How many times it was reopened.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reopened: u32,
    /// Each dimension's value, when the case has one.
    pub values: BTreeMap<Dimension, String>,
    /// Its outcome, when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// The redress paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redress: Option<Decimal>,
    /// The satisfaction score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<i64>,
    /// The keyed hash of the complainant's identity ([`ComplainantKey::hash`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complainant: Option<String>,
    /// Closed: local days from the day of receipt to the day of closing (0 when
    /// closed the day it came), in the policy's time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i64>,
    /// Closed: working days after the day of receipt up to the day of closing, on
    /// the policy's calendar; `None` when a day lies outside the calendar's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_days: Option<i64>,
    /// Each started SLA's clock.
    pub clocks: BTreeMap<String, ClockFacts>,
}

impl CaseFacts {
    /// The facts of a received case on its policy; `None` before intake. The
    /// complainant is hashed with `key` (and left out without one).
    pub fn of(policy: &Policy, case: &Case, key: Option<&ComplainantKey>) -> Option<CaseFacts> {
        if !case.is_received() {
            return None;
        }
        let reporting = policy.reporting();
        let closed_at = closed_at(policy, case);
        let withdrawn = closed_at.is_some() && is_withdrawn(policy, case);
        let calendar = policy.default_calendar();
        let local = |at| calendar.local_date(at);
        let days = closed_at.map(|c| (local(c) - local(case.received_at)).num_days());
        let business_days =
            closed_at.and_then(|c| calendar.business_days_between(case.received_at, c).ok());
        let values = reporting
            .dimensions()
            .filter_map(|d| reporting.value(d, case).map(|v| (d, v)))
            .collect();
        Some(CaseFacts {
            policy: policy.id().to_string(),
            received_at: case.received_at,
            closed_at,
            withdrawn,
            reopened: case.reopen_count,
            values,
            outcome: reporting.outcome(case),
            redress: reporting.redress(case),
            satisfaction: reporting.satisfaction(case),
            complainant: key
                .zip(reporting.complainant(case))
                .map(|(k, who)| k.hash(who)),
            days,
            business_days,
            clocks: clocks(policy, case, closed_at.filter(|_| withdrawn)),
        })
    }

    /// Whether the case was open at `at`: received before it, not closed by it.
    pub fn open_at(&self, at: DateTime<Utc>) -> bool {
        self.received_at < at && self.closed_at.is_none_or(|c| c >= at)
    }
}

/// When a closed case closed: when it entered its terminal stage, or when it was
/// withdrawn without one (its last event).
fn closed_at(policy: &Policy, case: &Case) -> Option<DateTime<Utc>> {
    if !case.closed {
        return None;
    }
    let terminal = policy.stages().get(&case.stage).is_some_and(|s| s.terminal);
    Some(if terminal {
        case.stage_since
    } else {
        case.updated_at
    })
}

/// A closed case was withdrawn when it closed without reaching a terminal stage (a
/// policy without a `withdraw` transition), or in a stage a `withdraw` enters.
fn is_withdrawn(policy: &Policy, case: &Case) -> bool {
    let terminal = policy.stages().get(&case.stage).is_some_and(|s| s.terminal);
    !terminal
        || policy
            .transitions()
            .iter()
            .any(|t| t.event == "withdraw" && t.to == case.stage)
}

/// Every started clock's end, deadline and extensions; a clock stopped at the
/// instant of a withdrawal (`withdrawn_at`) ended by the withdrawal.
fn clocks(
    policy: &Policy,
    case: &Case,
    withdrawn_at: Option<DateTime<Utc>>,
) -> BTreeMap<String, ClockFacts> {
    let mut out = BTreeMap::new();
    for (name, clock) in case.clocks.iter() {
        let (Some(sla), Some(run)) = (policy.slas().get(name), clock.runs().last()) else {
            continue;
        };
        let cal = policy.calendar_of(sla);
        let (deadline, state) = match clock.deadline_and_state(&sla.rule, cal, case.updated_at) {
            Ok((deadline, state)) => (deadline, Some(state)),
            Err(_) => (None, None),
        };
        let end = match (run.stopped_at, state) {
            (Some(at), _) if Some(at) == withdrawn_at => ClockEnd::Withdrawn,
            (Some(_), Some(ClockState::Met)) => ClockEnd::Met,
            (Some(_), _) => ClockEnd::Missed,
            (None, _) => ClockEnd::Open,
        };
        let facts = ClockFacts {
            end,
            stopped_at: run.stopped_at,
            deadline,
            extensions: u32::try_from(run.extensions.len()).unwrap_or(u32::MAX),
        };
        out.insert(name.clone(), facts);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_complainant_hash_is_keyed_and_ignores_case_and_spaces() {
        let key = ComplainantKey::new(*b"a secret");
        let other = ComplainantKey::new(*b"another secret");
        let h = key.hash("Li.Wei@Example.com ");
        assert_eq!(h, key.hash("li.wei@example.com"));
        assert_eq!(h.len(), 32);
        assert_ne!(h, other.hash("li.wei@example.com"));
        assert_ne!(h, key.hash("wang.fang@example.com"));
        assert!(!h.contains("li"));
    }
}
