//! A policy as the API shows it: in a list, in full (what a client needs to build a
//! form and show a procedure), and what a reload changed.

use indexmap::IndexMap;
use redress_engine::policy::{FieldType, Policy};
use serde::Serialize;
use utoipa::ToSchema;

/// A policy in a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicySummary {
    /// Its id (`bank-cn`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its version label.
    pub version: String,
    /// The current version's hash: new cases are pinned to it.
    pub hash: String,
    /// The IANA time zone its local dates and times are in.
    pub timezone: String,
    /// The regulations it cites.
    pub regulation: Vec<String>,
}

/// A field a case of the policy has.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldView {
    /// Its name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// Whether intake needs it.
    pub required: bool,
    /// The allowed words of an enum field.
    pub values: Vec<String>,
    /// Whether it holds personal data (masked for callers who may not see it).
    pub personal: bool,
    /// Its label, for forms.
    pub label: Option<String>,
}

/// A stage of the policy.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageView {
    /// Its name.
    pub name: String,
    /// Its label, for people.
    pub label: Option<String>,
    /// Whether cases start in it.
    pub start: bool,
    /// Whether it closes a case.
    pub terminal: bool,
}

/// A transition between stages.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionView {
    /// The event that takes it.
    pub event: String,
    /// The stages it leaves.
    pub from: Vec<String>,
    /// The stage it enters.
    pub to: String,
    /// The roles that may send it (empty: any).
    pub roles: Vec<String>,
    /// Its condition as written.
    pub guard: Option<String>,
    /// The fields it requires.
    pub requires: Vec<String>,
    /// Its delay (`5 days`): the runtime takes it when the delay passes.
    pub after: Option<String>,
    /// Taken by the runtime as soon as its condition holds.
    pub automatic: bool,
}

/// A service-level rule.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaView {
    /// Its name.
    pub name: String,
    /// Its target (`15 days`).
    pub target: String,
    /// Warning thresholds, percent of the target.
    pub warn: Vec<u8>,
    /// The calendar it counts on.
    pub calendar: String,
    /// The regulation it implements.
    pub regulation: Option<String>,
}

/// A policy in full.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyDetail {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its version label.
    pub version: String,
    /// The current version's hash.
    pub hash: String,
    /// Its IANA time zone.
    pub timezone: String,
    /// The regulations it cites.
    pub regulation: Vec<String>,
    /// What it is for.
    pub description: Option<String>,
    /// Its roles, each with what it is for.
    pub roles: IndexMap<String, String>,
    /// Its queues, each with what it is for.
    pub queues: IndexMap<String, String>,
    /// Its fields.
    pub fields: Vec<FieldView>,
    /// Its stages.
    pub stages: Vec<StageView>,
    /// Its transitions, in order.
    pub transitions: Vec<TransitionView>,
    /// Its SLAs.
    pub slas: Vec<SlaView>,
}

/// The organisation's current policies.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyList {
    /// One per policy.
    pub policies: Vec<PolicySummary>,
}

/// What a reload changed in one policy.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyChange {
    /// The policy's id.
    pub policy: String,
    /// The hash of the version it replaced (`null`: a new policy).
    pub from: Option<String>,
    /// The new version's hash (`null`: the policy was removed).
    pub to: Option<String>,
}

/// What a reload answers: the changes, and the policies now current.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReloadResult {
    /// The policies that changed.
    pub changes: Vec<PolicyChange>,
    /// The organisation's current policies.
    pub policies: Vec<PolicySummary>,
}

/// A policy in a list.
pub fn policy_summary(policy: &Policy) -> PolicySummary {
    PolicySummary {
        id: policy.id().to_string(),
        name: policy.name().to_string(),
        version: policy.version().to_string(),
        hash: policy.hash().to_string(),
        timezone: policy.timezone().name().to_string(),
        regulation: policy.regulation().to_vec(),
    }
}

/// A policy in full.
pub fn policy_detail(policy: &Policy) -> PolicyDetail {
    let summary = policy_summary(policy);
    PolicyDetail {
        id: summary.id,
        name: summary.name,
        version: summary.version,
        hash: summary.hash,
        timezone: summary.timezone,
        regulation: summary.regulation,
        description: policy.description().map(str::to_string),
        roles: policy.roles().clone(),
        queues: policy.queues().clone(),
        fields: policy
            .fields()
            .values()
            .map(|f| FieldView {
                name: f.name.clone(),
                kind: f.kind,
                required: f.required,
                values: f.values.clone(),
                personal: f.personal,
                label: f.label.clone(),
            })
            .collect(),
        stages: policy
            .stages()
            .values()
            .map(|s| StageView {
                name: s.name.clone(),
                label: s.label.clone(),
                start: s.start,
                terminal: s.terminal,
            })
            .collect(),
        transitions: policy
            .transitions()
            .iter()
            .map(|t| TransitionView {
                event: t.event.clone(),
                from: t.from.clone(),
                to: t.to.clone(),
                roles: t.roles.clone(),
                guard: t.guard.as_ref().map(|g| g.source().to_string()),
                requires: t.requires.clone(),
                after: t.after.as_ref().map(|a| a.to_string()),
                automatic: t.automatic,
            })
            .collect(),
        slas: policy
            .slas()
            .values()
            .map(|s| SlaView {
                name: s.name.clone(),
                target: s.rule.target.to_string(),
                warn: s.rule.warn.clone(),
                calendar: s.calendar.clone(),
                regulation: s.regulation.clone(),
            })
            .collect(),
    }
}
