//! Taking a complaint in: a case number, the intake decided once on a scratch case,
//! then written; a repeated idempotency key answers with the case it created.

use std::sync::Arc;

use redress_engine::case::Case;
use redress_engine::runtime::{Command, CommandKind, decide_and_apply, fire_due};
use redress_store::{Conflict, StoreError};

use super::write::Keyed;
use super::{
    Intake, Outcome, Service, ServiceError, ServiceResult, Slot, actor, case_exists, fingerprint,
    read_only,
};
use crate::config::Caller;

impl Service {
    /// The next case number of an organisation, from its count of cases.
    async fn next_id(&self, org: &Arc<str>) -> ServiceResult<String> {
        let mut numbers = self.numbers.lock().await;
        let next = match numbers.get(org) {
            Some(n) => n + 1,
            None => {
                let o = org.to_string();
                self.read(move |s| s.case_count(&o)).await? + 1
            }
        };
        numbers.insert(org.clone(), next);
        Ok(format!("C-{next:06}"))
    }

    /// Takes a complaint in. With an idempotency key already used, returns the case
    /// it created and adds nothing.
    pub async fn intake(
        &self,
        caller: &Caller,
        intake: Intake,
        key: Option<String>,
    ) -> ServiceResult<Outcome> {
        if caller.read_only {
            return Err(read_only(caller));
        }
        let org = &caller.org;
        let fingerprint = key.as_ref().map(|_| fingerprint::of_intake(&intake));
        let sent = fingerprint.as_deref();
        if let Some(existing) = self.case_of_key(org, key.as_deref(), sent).await? {
            return Ok(existing);
        }
        let policy = self.policy_of(org, &intake.policy)?;
        let received_at = intake.received_at.unwrap_or_else(|| self.now());
        let command = |now| Command {
            kind: CommandKind::Intake {
                received_at: intake.received_at.unwrap_or(now),
                data: intake.data.clone(),
            },
            actor: Some(actor(caller)),
            key: key.clone(),
            expected_version: None,
        };
        // Decided once on a scratch case first, so that a refused complaint does not
        // use up a case number.
        decide_and_apply(
            &policy,
            &mut Case::new(""),
            &command(received_at),
            self.now(),
        )?;
        for _ in 0..16 {
            let id = match &intake.id {
                Some(id) => id.clone(),
                None => self.next_id(org).await?,
            };
            let shared = self.shared(org, &id);
            let mut slot = shared.lock().await;
            if slot.is_some() {
                match intake.id {
                    Some(_) => return Err(case_exists(&id)),
                    None => continue,
                }
            }
            // A back-dated complaint is taken in at its receipt, so that timers
            // already due fire stamped with their due instants, in order.
            let now = self.now();
            let at = intake.received_at.map_or(now, |r| r.min(now));
            let mut case = Case::new(&id);
            let decision = decide_and_apply(&policy, &mut case, &command(at), at)?;
            let fired = fire_due(&policy, &mut case, now);
            self.observe(&fired, org, &id, false);
            let mut events = decision.events.clone();
            events.extend(fired.events);
            let stuck = fired.stuck.is_some();
            match self
                .commit(
                    org,
                    &policy,
                    &case,
                    events,
                    Keyed {
                        intake: key.clone(),
                        fingerprint: fingerprint.clone(),
                    },
                    stuck,
                )
                .await
            {
                Ok(summary) => {
                    let new = Slot {
                        case,
                        policy: policy.clone(),
                        summary,
                    };
                    *slot = Some(new.clone());
                    return Ok(Outcome {
                        slot: new,
                        events: decision.events,
                        repeat_of: None,
                        created: true,
                    });
                }
                Err(StoreError::Conflict { reason, .. }) => {
                    drop(slot);
                    self.forget(org, &id);
                    match (reason, &intake.id) {
                        (Conflict::CaseExists, None) => {
                            // Another node numbered a case meanwhile: count again.
                            self.numbers.lock().await.remove(org);
                            continue;
                        }
                        (Conflict::CaseExists, Some(_)) => return Err(case_exists(&id)),
                        _ => {
                            if let Some(existing) =
                                self.case_of_key(org, key.as_deref(), sent).await?
                            {
                                return Ok(existing);
                            }
                            return Err(StoreError::Conflict {
                                org: org.to_string(),
                                case: id,
                                reason,
                            }
                            .into());
                        }
                    }
                }
                Err(e) => {
                    drop(slot);
                    self.forget(org, &id);
                    return Err(e.into());
                }
            }
        }
        Err(ServiceError::internal("no free case number after 16 tries"))
    }

    /// The case an intake key created; refused when the key came with a different
    /// request (its fingerprint is not `sent`).
    async fn case_of_key(
        &self,
        org: &Arc<str>,
        key: Option<&str>,
        sent: Option<&str>,
    ) -> ServiceResult<Option<Outcome>> {
        let Some(key) = key else { return Ok(None) };
        let (o, k) = (org.to_string(), key.to_string());
        let Some((id, first)) = self.read(move |s| s.intake_key(&o, &k)).await? else {
            return Ok(None);
        };
        if first.is_some() && first.as_deref() != sent {
            return Err(ServiceError::KeyReused(key.to_string()));
        }
        let slot = self.get(org, &id).await?;
        let first = slot.case.keys.get(key).copied();
        Ok(Some(Outcome {
            slot,
            events: Vec::new(),
            repeat_of: first,
            created: false,
        }))
    }
}
