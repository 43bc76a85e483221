//! Commands on a case: fire its due timers, decide, write. A write that loses the
//! version race (another node wrote the case since this one last read it) is
//! decided once more on the case as stored, and only then answered.

use redress_engine::runtime::{Command, CommandKind, Refusal, decide_and_apply, fire_due};

use super::write::Keyed;
use super::{
    Outcome, Service, ServiceError, ServiceResult, Slot, actor, fingerprint, raced, read_only,
};
use crate::config::Caller;

impl Service {
    /// Runs a command on a case: fires its due timers, decides, writes. A refused
    /// command writes nothing of its own (the timers that fell due are kept). A
    /// write that lost the version race reloads the case and decides again, once.
    pub async fn command(
        &self,
        caller: &Caller,
        id: &str,
        kind: CommandKind,
        key: Option<String>,
        expected_version: Option<u64>,
    ) -> ServiceResult<Outcome> {
        if caller.read_only {
            return Err(read_only(caller));
        }
        let first = self
            .decide(caller, id, kind.clone(), key.clone(), expected_version)
            .await;
        match first {
            Err(e) if raced(&e) => {
                tracing::debug!(case = id, "lost the version race; deciding again");
                self.decide(caller, id, kind, key, expected_version).await
            }
            other => other,
        }
    }

    /// One attempt at a command, on the case as this node holds it (reloaded from
    /// the store after a lost race).
    async fn decide(
        &self,
        caller: &Caller,
        id: &str,
        kind: CommandKind,
        key: Option<String>,
        expected_version: Option<u64>,
    ) -> ServiceResult<Outcome> {
        let org = &caller.org;
        let fingerprint = key.as_ref().map(|_| fingerprint::of_command(id, &kind));
        let (mut slot, current) = self.locked(org, id).await?;
        if let Some(key) = key.as_ref().filter(|k| current.case.keys.contains_key(*k)) {
            let (o, i, k) = (org.to_string(), id.to_string(), key.clone());
            let first = self
                .read(move |s| s.command_key_fingerprint(&o, &i, &k))
                .await?;
            if first.is_some() && first != fingerprint {
                return Err(ServiceError::KeyReused(key.clone()));
            }
        }
        if let Some(expected) = expected_version
            && expected != current.case.version
        {
            return Err(Refusal::StaleVersion {
                expected,
                actual: current.case.version,
            }
            .into());
        }
        let now = self.now().max(current.case.updated_at);
        // The case is moved out of the slot (whose lock is held, and which every
        // path below fills again or empties), so that the command folds into it in
        // place: a copy shared with the slot would have its maps copied whole on
        // the first change, the idempotency keys (one more per keyed command)
        // among them, making each command slower than the last.
        *slot = None;
        let Slot {
            mut case,
            policy,
            summary: before,
        } = current;
        let fired = fire_due(&policy, &mut case, now);
        self.observe(&fired, org, id, false);
        let stuck = fired.stuck.is_some();
        let command = Command {
            kind,
            actor: Some(actor(caller)),
            key,
            expected_version: None,
        };
        let decided = decide_and_apply(&policy, &mut case, &command, now);
        let mut events = fired.events;
        let (own, repeat_of) = match &decided {
            Ok(decision) => (decision.events.clone(), decision.repeat_of),
            Err(_) => (Vec::new(), None),
        };
        events.extend(own.iter().cloned());
        // Nothing changed (a refusal puts the case back), or the change is durable:
        // the slot holds the case again; a failed write leaves the slot empty, so
        // that the case is read again from the store.
        let summary = match events.is_empty() {
            true => before,
            false => {
                let keyed = Keyed {
                    intake: None,
                    fingerprint,
                };
                self.commit(org, &policy, &case, events, keyed, stuck)
                    .await?
            }
        };
        let after = Slot {
            case,
            policy,
            summary,
        };
        *slot = Some(after.clone());
        if after.case.closed {
            drop(slot);
            self.forget(org, id);
        }
        decided?;
        Ok(Outcome {
            slot: after,
            events: own,
            repeat_of,
            created: false,
        })
    }
}
