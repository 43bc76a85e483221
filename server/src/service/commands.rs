//! Commands on a case: fire its due timers, decide, write.

use chrono::Utc;
use redress_engine::runtime::{Command, CommandKind, Refusal, decide_and_apply, fire_due};

use super::{Outcome, Service, ServiceResult, Slot, actor, read_only};
use crate::config::Caller;

impl Service {
    /// Runs a command on a case: fires its due timers, decides, writes. A refused
    /// command writes nothing of its own (the timers that fell due are kept).
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
        let org = &caller.org;
        let (mut slot, current) = self.locked(org, id).await?;
        if let Some(expected) = expected_version
            && expected != current.case.version
        {
            return Err(Refusal::StaleVersion {
                expected,
                actual: current.case.version,
            }
            .into());
        }
        let now = Utc::now().max(current.case.updated_at);
        let mut case = current.case.clone();
        let fired = fire_due(&current.policy, &mut case, now);
        self.observe(&fired, org, id, false);
        let stuck = fired.stuck.is_some();
        let command = Command {
            kind,
            actor: Some(actor(caller)),
            key,
            expected_version: None,
        };
        let decided = decide_and_apply(&current.policy, &mut case, &command, now);
        let mut events = fired.events;
        let (own, repeat_of) = match &decided {
            Ok(decision) => (decision.events.clone(), decision.repeat_of),
            Err(_) => (Vec::new(), None),
        };
        events.extend(own.iter().cloned());
        let mut after = current.clone();
        if !events.is_empty() {
            match self
                .commit(org, &current.policy, &case, events, None, stuck)
                .await
            {
                Ok(summary) => {
                    after = Slot {
                        case,
                        policy: current.policy.clone(),
                        summary,
                    };
                    *slot = Some(after.clone());
                }
                Err(e) => {
                    *slot = None;
                    return Err(e.into());
                }
            }
        }
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
