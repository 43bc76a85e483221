//! Migration of a policy's running cases onto one of its versions: each case under
//! its slot's lock, decided by the engine (`runtime::migrate`), written with the new
//! snapshot in one append; the slot then holds the migrated case, so its timers are
//! re-armed from the new deadlines.

use std::sync::Arc;

use redress_engine::policy::Policy;
use redress_engine::runtime::migrate::{CasePlan, MigrationReport, migrate_case};
use redress_store::CaseFilter;

use super::write::Keyed;
use super::{Service, ServiceResult, Slot, actor, read_only};
use crate::config::Caller;
use crate::service::ServiceError;

/// Cases read from the store per page.
const PAGE: usize = 500;

impl Service {
    /// Moves every open case of policy `id` onto version `to` (a hash; `None`: the
    /// current version), or with `apply` false only says what would happen.
    pub async fn migrate(
        &self,
        caller: &Caller,
        id: &str,
        to: Option<&str>,
        apply: bool,
    ) -> ServiceResult<MigrationReport> {
        if apply && caller.read_only {
            return Err(read_only(caller));
        }
        let target = self.target(caller, id, to).await?;
        let mut report = MigrationReport::new(&target, apply);
        let mut after: Option<String> = None;
        loop {
            let (org, filter) = (caller.org.to_string(), open_cases_of(id));
            let cursor = after.clone();
            let page = self
                .read(move |s| s.list(&org, &filter, cursor.as_deref(), PAGE))
                .await?;
            for row in page.rows.iter().filter(|r| r.policy_hash != target.hash()) {
                let plan = self.migrate_one(caller, &row.id, &target, apply).await?;
                report.push(plan);
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        tracing::info!(
            by = caller.name,
            policy = id,
            to = target.hash(),
            applied = apply,
            moves = report.moves,
            refused = report.refused,
            "migration"
        );
        Ok(report)
    }

    /// The version to migrate to: the current one, or a known version of the same
    /// policy.
    async fn target(
        &self,
        caller: &Caller,
        id: &str,
        to: Option<&str>,
    ) -> ServiceResult<Arc<Policy>> {
        let current = self.policy_of(&caller.org, id)?;
        let Some(hash) = to.filter(|h| *h != "current" && *h != current.hash()) else {
            return Ok(current);
        };
        let unknown = || ServiceError::UnknownVersion {
            policy: id.to_string(),
            hash: hash.to_string(),
        };
        let target = self
            .pinned(&caller.org, hash)
            .await
            .map_err(|_| unknown())?;
        match target.id() == id {
            true => Ok(target),
            false => Err(unknown()),
        }
    }

    async fn migrate_one(
        &self,
        caller: &Caller,
        id: &str,
        target: &Arc<Policy>,
        apply: bool,
    ) -> ServiceResult<CasePlan> {
        let org = &caller.org;
        let (mut slot, current) = self.locked(org, id).await?;
        let now = self.now().max(current.case.updated_at);
        let outcome = migrate_case(
            &current.policy,
            target,
            &current.case,
            now,
            Some(actor(caller)),
        );
        let plan = CasePlan::of(&current.case, &outcome);
        let Ok(migration) = outcome else {
            return Ok(plan);
        };
        if apply {
            let written = self
                .commit(
                    org,
                    target,
                    &migration.case,
                    vec![migration.event],
                    Keyed {
                        intake: None,
                        fingerprint: None,
                    },
                    false,
                )
                .await;
            match written {
                Ok(summary) => {
                    *slot = Some(Slot {
                        case: migration.case,
                        policy: target.clone(),
                        summary,
                    });
                }
                Err(e) => {
                    *slot = None;
                    return Err(e.into());
                }
            }
        }
        Ok(plan)
    }
}

fn open_cases_of(policy: &str) -> CaseFilter {
    CaseFilter {
        policy: Some(policy.to_string()),
        closed: Some(false),
        ..CaseFilter::default()
    }
}
