//! An [`Append`] checked and serialised on the caller's thread into what a store
//! binds, so that the store's writer spends its time writing. Shared by both
//! stores.

use crate::codec::{micros, to_json};
use crate::{Append, Conflict, StoreError};

/// An [`Append`] turned into what the writer binds: serialised on the caller's
/// thread, so the single writer spends its time writing.
pub(crate) struct Prepared {
    pub(crate) org: String,
    pub(crate) id: String,
    pub(crate) before: u64,
    pub(crate) version: i64,
    pub(crate) policy_id: String,
    pub(crate) policy_hash: String,
    pub(crate) stage: String,
    pub(crate) queue: Option<String>,
    pub(crate) priority: Option<i64>,
    pub(crate) assignee: Option<String>,
    pub(crate) closed: bool,
    pub(crate) clock_state: &'static str,
    pub(crate) received_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) next_due: Option<i64>,
    pub(crate) snapshot: String,
    /// Sequence, instant, type and JSON of each event.
    pub(crate) events: Vec<(i64, i64, &'static str, String)>,
    /// Each command idempotency key the events carry: first and last version.
    pub(crate) keys: Vec<(String, i64, i64)>,
    pub(crate) intake_key: Option<String>,
    pub(crate) fingerprint: Option<String>,
    pub(crate) recorded_at: i64,
    pub(crate) outbox: Vec<crate::Message>,
    /// The report facts: received and closed instants (closed: `i64::MAX` while open), JSON.
    pub(crate) report: Option<(i64, i64, String)>,
}

impl Prepared {
    pub(crate) fn new(a: Append) -> Result<Self, StoreError> {
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
            fingerprint: a.fingerprint,
            recorded_at: micros(a.recorded_at),
            outbox: a.outbox,
            report: match &a.report {
                Some(f) => Some((
                    micros(f.received_at),
                    f.closed_at.map_or(i64::MAX, micros),
                    to_json("report facts", f)?,
                )),
                None => None,
            },
            org: a.org,
        })
    }
}
