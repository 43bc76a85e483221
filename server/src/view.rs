//! How cases, events and policies look in the API: typed response bodies (each a
//! schema of the OpenAPI description, `ToSchema`), with personal fields masked for
//! callers who may not see them. Every instant is written by
//! [`redress_engine::instant`]. One module per resource: `case` (a case, its
//! clocks, lists, outcomes of commands, history), `event`, `policy`, and
//! `operations` (health, tracking links).

mod case;
mod event;
mod operations;
mod policy;

use redress_engine::policy::Policy;
use redress_engine::value::{Fields, Value};

use crate::config::Caller;

pub use case::{
    CaseAnswer, CaseList, CaseSummary, CaseView, ClockView, FailedClock, FailedTimer, GuardView,
    History, NextDue, NextEvent, Outcome, PolicyRef, RepeatOf, StartedClock, UnstartedClock, case,
    case_summary, policy_ref,
};
pub use event::{EventView, StoredEventView, event, stored_event};
pub use operations::{Health, HealthStatus, IssuedLinkView, NotLoadedView, RevokedLinks};
pub use policy::{
    FieldView, PolicyChange, PolicyDetail, PolicyList, PolicySummary, ReloadResult, SlaView,
    StageView, TransitionView, policy_detail, policy_summary,
};

/// What a masked personal field shows.
pub const MASK: &str = "***";

/// Field values as the caller may see them: personal ones masked unless the
/// caller may see personal data.
pub fn fields(policy: &Policy, fields: &Fields, caller: &Caller) -> Fields {
    fields
        .iter()
        .map(|(name, value)| {
            let personal = policy.fields().get(name).is_some_and(|f| f.personal);
            let shown = match personal && !caller.personal_data {
                true => Value::Text(MASK.to_string()),
                false => value.clone(),
            };
            (name.clone(), shown)
        })
        .collect()
}
