//! The signed-in pages: the queue, a case (fields, clocks, trail, next steps as
//! forms), a new complaint, the policies. Each handler reads or commands through
//! the service exactly as the API does, and renders through `present`.

use std::collections::BTreeSet;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use redress_engine::policy::field::FieldError;
use redress_engine::policy::{FieldType, Policy};
use redress_engine::runtime::{CommandKind, Refusal};
use redress_store::{CaseFilter, CaseRow, ClockSummary};
use serde::Deserialize;

use super::i18n::Texts;
use super::present::{self, ClockRow, FieldRow, FormField, TrailRow};
use super::{Chrome, Console, Ctx, Signed, check_csrf, html, service_error, url_encode};
use crate::config::random_hex;
use crate::service::{Intake, ServiceError};
use crate::slot::Slot;
use crate::view;

/// Rows on one page of the queue.
const PAGE: usize = 25;
/// The most open cases the queue sorts (a filter narrows it).
const QUEUE_CAP: usize = 5_000;

/// A form input's values, as sent.
type Inputs = Vec<(String, String)>;

fn input<'a>(inputs: &'a Inputs, name: &str) -> Option<&'a str> {
    inputs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// One select of the queue's filters.
pub struct Filter {
    /// The query parameter it sets (`queue`, `stage`, ...).
    pub name: &'static str,
    /// Its label, in the page's language.
    pub label: &'static str,
    /// Each choice: value, text, and whether it is the chosen one.
    pub options: Vec<(String, String, bool)>,
}

/// A row of the queue.
pub struct QueueRow {
    /// The case's id.
    pub id: String,
    /// Its policy's id.
    pub policy: String,
    /// Its stage, by the policy's label.
    pub stage: String,
    /// Its queue (empty when unrouted).
    pub queue: String,
    /// Who it is assigned to (empty when nobody).
    pub assignee: String,
    /// The CSS class of its worst clock state.
    pub class: &'static str,
    /// That state, in words.
    pub state: &'static str,
    /// Time left to its nearest live deadline (`2d 3h`), empty without one.
    pub left: String,
    /// When its next timer falls due, in the policy's zone.
    pub next_due: String,
    /// When it was received, in the policy's zone.
    pub received: String,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    chrome: Chrome,
    filters: Vec<Filter>,
    assignee: String,
    rows: Vec<QueueRow>,
    page: usize,
    pages: usize,
    previous: Option<String>,
    next: Option<String>,
    capped: bool,
}

/// The queue's filters and page.
#[derive(Debug, Deserialize, Default)]
pub struct QueueQuery {
    queue: Option<String>,
    stage: Option<String>,
    clock: Option<String>,
    assignee: Option<String>,
    page: Option<usize>,
    lang: Option<String>,
}

fn nonempty(value: &Option<String>) -> Option<String> {
    value.as_ref().filter(|v| !v.trim().is_empty()).cloned()
}

fn select(
    name: &'static str,
    label: &'static str,
    t: &'static Texts,
    values: impl IntoIterator<Item = (String, String)>,
    chosen: &Option<String>,
) -> Filter {
    let mut options = vec![(String::new(), t.any.to_string(), chosen.is_none())];
    options.extend(values.into_iter().map(|(value, text)| {
        let on = chosen.as_deref() == Some(value.as_str());
        (value, text, on)
    }));
    Filter {
        name,
        label,
        options,
    }
}

/// The open cases of the caller's organisation, breached first, then by next due
/// instant (soonest first, those with nothing due last), filtered, a page at a time.
pub async fn queue(State(app): Ctx, signed: Signed, Query(q): Query<QueueQuery>) -> Response {
    let t = signed.lang.texts();
    let caller = signed.caller().clone();
    let clock = nonempty(&q.clock).and_then(|c| ClockSummary::parse(&c));
    let filter = CaseFilter {
        queue: nonempty(&q.queue),
        stage: nonempty(&q.stage),
        clock_state: clock,
        policy: None,
        closed: Some(false),
        assignee: nonempty(&q.assignee),
    };
    let mut rows: Vec<CaseRow> = Vec::new();
    let mut after: Option<String> = None;
    let mut capped = false;
    loop {
        let (org, f, a) = (caller.org.to_string(), filter.clone(), after.clone());
        let page = match app
            .service
            .read(move |s| s.list(&org, &f, a.as_deref(), 500))
            .await
        {
            Ok(page) => page,
            Err(e) => return service_error(&signed, e),
        };
        rows.extend(page.rows);
        if rows.len() >= QUEUE_CAP {
            capped = page.next.is_some();
            break;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    // Breached cases first (their deadline has passed), then by the next instant
    // something falls due (a warning, a deadline), those with nothing due last.
    rows.sort_by_key(|r| {
        let breached = r.clock_state == ClockSummary::Breached;
        (!breached, r.next_due.is_none(), r.next_due, r.received_at)
    });
    let pages = rows.len().div_ceil(PAGE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let now = Utc::now();
    let mut shown = Vec::new();
    for row in rows.iter().skip((page - 1) * PAGE).take(PAGE) {
        shown.push(queue_row(&app, &caller.org, row, now, t).await);
    }
    let policies = app.service.policies_of(&caller.org);
    let queues: BTreeSet<String> = policies
        .iter()
        .flat_map(|p| p.queues().keys().cloned())
        .chain(policies.iter().flat_map(|p| {
            p.routing()
                .router
                .rules()
                .iter()
                .map(|r| r.queue.clone())
                .collect::<Vec<_>>()
        }))
        .collect();
    let mut stages: Vec<(String, String)> = Vec::new();
    for s in policies.iter().flat_map(|p| p.stages().values()) {
        if !s.terminal && !stages.iter().any(|(n, _)| *n == s.name) {
            stages.push((
                s.name.clone(),
                s.label.clone().unwrap_or_else(|| s.name.clone()),
            ));
        }
    }
    let states = [
        ClockSummary::Running,
        ClockSummary::AtRisk,
        ClockSummary::Breached,
        ClockSummary::Paused,
    ];
    let clock_choice = clock.map(|c| c.as_str().to_string());
    let filters = vec![
        select(
            "queue",
            t.queue,
            t,
            queues.into_iter().map(|q| (q.clone(), q)),
            &nonempty(&q.queue),
        ),
        select("stage", t.stage, t, stages, &nonempty(&q.stage)),
        select(
            "clock",
            t.clock,
            t,
            states.map(|s| {
                (
                    s.as_str().to_string(),
                    present::state(t, s.as_str()).1.to_string(),
                )
            }),
            &clock_choice,
        ),
    ];
    let link = |n: usize| {
        let mut query = format!("?page={n}");
        for (k, v) in [
            ("queue", &q.queue),
            ("stage", &q.stage),
            ("clock", &q.clock),
            ("assignee", &q.assignee),
            ("lang", &q.lang),
        ] {
            if let Some(v) = nonempty(v) {
                query.push_str(&format!("&{k}={}", url_encode(&v)));
            }
        }
        format!("/{query}")
    };
    let body = QueuePage {
        chrome: Chrome::signed(&signed, t.queue_title),
        filters,
        assignee: nonempty(&q.assignee).unwrap_or_default(),
        rows: shown,
        page,
        pages,
        previous: (page > 1).then(|| link(page - 1)),
        next: (page < pages).then(|| link(page + 1)),
        capped,
    };
    html(StatusCode::OK, &body)
}

/// A queue row, with the time left to the case's nearest live deadline.
async fn queue_row(
    app: &Console,
    org: &Arc<str>,
    row: &CaseRow,
    now: DateTime<Utc>,
    t: &'static Texts,
) -> QueueRow {
    let (class, state) = present::state(t, row.clock_state.as_str());
    let mut out = QueueRow {
        id: row.id.clone(),
        policy: row.policy.clone(),
        stage: row.stage.clone(),
        queue: row.queue.clone().unwrap_or_default(),
        assignee: row.assignee.clone().unwrap_or_default(),
        class,
        state,
        left: String::new(),
        next_due: String::new(),
        received: row.received_at.format("%Y-%m-%d").to_string(),
    };
    let Ok(slot) = app.service.get(org, &row.id).await else {
        return out;
    };
    let policy = &slot.policy;
    let tz = policy.timezone();
    out.received = present::local(row.received_at, tz);
    out.next_due = row
        .next_due
        .map(|d| present::local(d, tz))
        .unwrap_or_default();
    if let Some(s) = policy.stages().get(&row.stage) {
        out.stage = s.label.clone().unwrap_or_else(|| s.name.clone());
    }
    if let Some((sla, deadline)) = nearest_deadline(&slot, now) {
        out.left = present::time_left(policy, &sla, deadline, now, t);
    }
    out
}

/// The earliest deadline among a case's running, paused or breached clocks.
pub fn nearest_deadline(slot: &Slot, now: DateTime<Utc>) -> Option<(String, DateTime<Utc>)> {
    use redress_engine::sla::ClockState;
    let policy = &slot.policy;
    slot.case
        .clocks
        .iter()
        .filter_map(|(name, clock)| {
            let sla = policy.slas().get(name)?;
            let calendar = policy.calendar_of(sla);
            let live = matches!(
                clock.state(&sla.rule, calendar, now).ok()?,
                ClockState::Running | ClockState::Paused | ClockState::Breached
            );
            let deadline = clock.deadline(&sla.rule, calendar).ok().flatten()?;
            live.then(|| (name.clone(), deadline))
        })
        .min_by_key(|(_, d)| *d)
}

/// A form for one next event.
pub struct ActionForm {
    /// The event the form sends.
    pub event: String,
    /// The stage it moves the case to, by its label.
    pub to: String,
    /// Whether the caller may send it now.
    pub allowed: bool,
    /// Its condition as written (empty without one).
    pub guard: String,
    /// The inputs for the data it requires.
    pub fields: Vec<FormField>,
    /// Shown unfolded: it was just refused.
    pub open: bool,
    /// Why it was refused, when it was.
    pub error: String,
}

/// What a refused form was: which form, why, what it held.
pub struct Refused {
    form: String,
    message: String,
    inputs: Inputs,
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    chrome: Chrome,
    id: String,
    version: u64,
    policy_id: String,
    policy_name: String,
    stage: String,
    closed: bool,
    queue: String,
    assignee: String,
    priority: String,
    received: String,
    fields: Vec<FieldRow>,
    clocks: Vec<ClockRow>,
    trail: Vec<TrailRow>,
    actions: Vec<ActionForm>,
    can_write: bool,
    refused: Option<(String, String)>,
    done: bool,
    flash: Option<String>,
    revoked: Option<u64>,
    key: String,
    update_fields: Vec<FormField>,
    extendable: Vec<(String, String, String)>,
    graph: String,
    tz: String,
}

impl CasePage {
    fn refused_here(&self, form: &str) -> Option<&str> {
        self.refused
            .as_ref()
            .filter(|(f, _)| f == form)
            .map(|(_, m)| m.as_str())
    }
}

/// Query of the case page.
#[derive(Debug, Deserialize, Default)]
pub struct CaseQuery {
    done: Option<String>,
    revoked: Option<u64>,
}

/// A case: fields, clocks with their explanation, the trail, the next steps.
pub async fn case(
    State(app): Ctx,
    signed: Signed,
    Path(id): Path<String>,
    Query(q): Query<CaseQuery>,
) -> Response {
    let flash = app
        .sessions
        .take_flash(&signed.id)
        .filter(|(case, _)| *case == id)
        .map(|(_, link)| link);
    render_case(&app, &signed, &id, None, q.done.is_some(), flash, q.revoked).await
}

/// Renders a case page; a refusal is shown beside the form it came from, with
/// the values the form held.
pub async fn render_case(
    app: &Console,
    signed: &Signed,
    id: &str,
    refused: Option<Refused>,
    done: bool,
    flash: Option<String>,
    revoked: Option<u64>,
) -> Response {
    let t = signed.lang.texts();
    let caller = signed.caller();
    let slot = match app.service.get(&caller.org, id).await {
        Ok(slot) => slot,
        Err(e) => return service_error(signed, e),
    };
    let now = Utc::now();
    // The templates read the case as the API's JSON shows it.
    let view = serde_json::to_value(view::case(&slot, caller, now)).unwrap_or_default();
    let (org, case_id) = (caller.org.to_string(), id.to_string());
    let events = match app
        .service
        .read(move |s| s.events(&org, &case_id, 0, 5000))
        .await
    {
        Ok(events) => events,
        Err(e) => return service_error(signed, e),
    };
    let policy = &slot.policy;
    let trail: Vec<TrailRow> = events
        .iter()
        .rev()
        .map(|e| {
            let event = serde_json::to_value(view::stored_event(policy, e, caller));
            present::trail_row(policy, &event.unwrap_or_default())
        })
        .collect();
    let inputs = refused
        .as_ref()
        .map(|r| r.inputs.clone())
        .unwrap_or_default();
    let value_of = |form: &str, field: &str| -> String {
        match refused.as_ref().filter(|r| r.form == form) {
            Some(_) => input(&inputs, &format!("f.{field}"))
                .unwrap_or("")
                .to_string(),
            None => String::new(),
        }
    };
    let actions: Vec<ActionForm> = view["next_events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let event = e["event"].as_str().unwrap_or("").to_string();
            let form = format!("event-{event}");
            let fields = e["requires"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| policy.fields().get(f.as_str()?))
                .map(|def| present::form_field(&form, def, &value_of(&form, &def.name), ""))
                .collect();
            let to = e["to"].as_str().unwrap_or("");
            let to = policy
                .stages()
                .get(to)
                .and_then(|s| s.label.clone())
                .unwrap_or_else(|| to.to_string());
            let error = refused
                .as_ref()
                .filter(|r| r.form == form)
                .map(|r| r.message.clone())
                .unwrap_or_default();
            ActionForm {
                open: !error.is_empty(),
                allowed: e["allowed"].as_bool().unwrap_or(false),
                guard: e["guard"]["condition"].as_str().unwrap_or("").to_string(),
                event,
                to,
                fields,
                error,
            }
        })
        .collect();
    let clocks = present::clocks(policy, &view, now, t);
    let extendable = clocks
        .iter()
        .filter(|c| c.running)
        .flat_map(|c| {
            c.offers
                .iter()
                .map(|(name, to)| {
                    (
                        format!("{}:{name}", c.sla),
                        c.sla.clone(),
                        format!("{name} → {to}"),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let current = |name: &str| present::input_text(&view["data"][name]);
    let update_fields = policy
        .fields()
        .values()
        .filter(|f| !f.personal || caller.personal_data)
        .map(|def| {
            let value = match refused.as_ref().filter(|r| r.form == "update") {
                Some(_) => value_of("update", &def.name),
                None => current(&def.name),
            };
            FormField {
                required: false,
                ..present::form_field("update", def, &value, "")
            }
        })
        .collect();
    // A refusal of a form the page does not show (an event not offered to this
    // role, say) is shown at the top of the next steps.
    let shown: BTreeSet<String> = actions
        .iter()
        .filter(|a| a.allowed)
        .map(|a| format!("event-{}", a.event))
        .chain(["extend", "update", "note", "assign"].map(String::from))
        .collect();
    let refused = refused.map(|mut r| {
        if !shown.contains(&r.form) {
            r.form = String::new();
        }
        r
    });
    let stage_label = view["stage_label"]
        .as_str()
        .unwrap_or(&slot.case.stage)
        .to_string();
    let page = CasePage {
        chrome: Chrome::signed(signed, &format!("{id} — {stage_label}")),
        id: id.to_string(),
        version: slot.case.version,
        policy_id: policy.id().to_string(),
        policy_name: policy.name().to_string(),
        stage: stage_label,
        closed: slot.case.closed,
        queue: slot.case.queue.clone().unwrap_or_default(),
        assignee: slot.case.assignee.clone().unwrap_or_default(),
        priority: slot
            .case
            .priority
            .map(|p| p.to_string())
            .unwrap_or_default(),
        received: present::local(slot.case.received_at, policy.timezone()),
        fields: present::fields(policy, &view),
        clocks,
        trail,
        actions,
        can_write: !caller.read_only && !slot.case.closed,
        refused: refused.map(|r| (r.form, r.message)),
        done,
        flash,
        revoked,
        key: random_hex(16).unwrap_or_default(),
        update_fields,
        extendable,
        graph: super::stage_svg::draw(policy, Some(&slot.case.stage), t.graph_any_stage),
        tz: policy.timezone().name().to_string(),
    };
    let status = match &page.refused {
        Some(_) => StatusCode::CONFLICT,
        None => StatusCode::OK,
    };
    html(status, &page)
}

/// The command a case form asks for, or why it is not one.
fn command_of(
    policy: &Policy,
    inputs: &Inputs,
    t: &'static Texts,
) -> Result<(String, CommandKind), String> {
    let action = input(inputs, "action").unwrap_or("");
    let text = |name: &str| input(inputs, name).unwrap_or("").trim().to_string();
    Ok(match action {
        "event" => {
            let name = text("event");
            (
                format!("event-{name}"),
                CommandKind::Event {
                    name,
                    data: present::form_data(policy, inputs),
                },
            )
        }
        "note" => ("note".into(), CommandKind::Note { text: text("note") }),
        "assign" => (
            "assign".into(),
            CommandKind::Assign {
                assignee: text("assignee"),
            },
        ),
        "update" => (
            "update".into(),
            CommandKind::Update {
                data: present::form_data(policy, inputs),
            },
        ),
        "extend" => {
            let chosen = text("extension");
            let (sla, extension) = chosen.split_once(':').unwrap_or((chosen.as_str(), ""));
            (
                "extend".into(),
                CommandKind::Extend {
                    sla: sla.to_string(),
                    extension: (!extension.is_empty()).then(|| extension.to_string()),
                },
            )
        }
        other => return Err(Texts::fill(t.unknown_action, other)),
    })
}

/// A form on a case page: an event with its fields, a note, an assignment, a
/// field update, an extension. Refused: the page again with the reason beside the
/// form, nothing changed; done: back to the case (POST, redirect, GET).
pub async fn command(
    State(app): Ctx,
    signed: Signed,
    Path(id): Path<String>,
    axum::Form(inputs): axum::Form<Inputs>,
) -> Response {
    if let Some(refused) = check_csrf(&signed, input(&inputs, "csrf")) {
        return refused;
    }
    let caller = signed.caller().clone();
    let slot = match app.service.get(&caller.org, &id).await {
        Ok(slot) => slot,
        Err(e) => return service_error(&signed, e),
    };
    let (form, kind) = match command_of(&slot.policy, &inputs, signed.lang.texts()) {
        Ok(c) => c,
        Err(message) => {
            let refused = Refused {
                form: String::new(),
                message,
                inputs,
            };
            return render_case(&app, &signed, &id, Some(refused), false, None, None).await;
        }
    };
    // An update sends only the fields the handler changed.
    let kind = match kind {
        CommandKind::Update { mut data } => {
            let shown =
                serde_json::to_value(view::fields(&slot.policy, &slot.case.fields, &caller))
                    .unwrap_or_default();
            data.retain(|name, value| {
                present::input_text(value) != present::input_text(&shown[name.as_str()])
            });
            CommandKind::Update { data }
        }
        other => other,
    };
    let expected = input(&inputs, "version").and_then(|v| v.parse::<u64>().ok());
    let key = input(&inputs, "key")
        .filter(|k| !k.is_empty() && k.len() <= 64 && k.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(|k| format!("console-{k}"));
    match app.service.command(&caller, &id, kind, key, expected).await {
        Ok(_) => Redirect::to(&format!("/cases/{}?done=1", url_encode(&id))).into_response(),
        Err(ServiceError::Refused(refusal)) => {
            let refused = Refused {
                form,
                message: super::refusal::text(signed.lang, &refusal),
                inputs,
            };
            render_case(&app, &signed, &id, Some(refused), false, None, None).await
        }
        Err(ServiceError::ReadOnly { .. }) => {
            let t = signed.lang.texts();
            let refused = Refused {
                form,
                message: t.read_only_note.to_string(),
                inputs,
            };
            render_case(&app, &signed, &id, Some(refused), false, None, None).await
        }
        Err(e) => service_error(&signed, e),
    }
}

#[derive(Template)]
#[template(path = "new.html")]
struct NewPage {
    chrome: Chrome,
    policies: Vec<(String, String, bool)>,
    policy: String,
    fields: Vec<FormField>,
    received_at: String,
    error: String,
    tz: String,
}

/// Query of the new-complaint page.
#[derive(Debug, Deserialize, Default)]
pub struct NewQuery {
    policy: Option<String>,
}

/// The fields a complaint is filed with: every field but those only later steps
/// fill in (named by a transition's or extension's `requires` and not required).
fn intake_fields(policy: &Policy) -> Vec<&redress_engine::policy::FieldDef> {
    let later: BTreeSet<&str> = policy
        .transitions()
        .iter()
        .flat_map(|t| t.requires.iter())
        .chain(
            policy
                .slas()
                .values()
                .flat_map(|s| s.extensions.iter().flat_map(|e| e.requires.iter())),
        )
        .map(String::as_str)
        .collect();
    policy
        .fields()
        .values()
        .filter(|f| f.required || !later.contains(f.name.as_str()))
        .collect()
}

/// The organisation's policies as a select's options: id, name, chosen.
pub fn policy_choices(policies: &[Arc<Policy>], chosen: &Policy) -> Vec<(String, String, bool)> {
    policies
        .iter()
        .map(|p| {
            let on = p.id() == chosen.id();
            (p.id().to_string(), p.name().to_string(), on)
        })
        .collect()
}

fn new_page(
    signed: &Signed,
    policies: &[Arc<Policy>],
    policy: &Policy,
    inputs: &Inputs,
    field_error: Option<(String, String)>,
    error: String,
) -> NewPage {
    let t = signed.lang.texts();
    let fields = intake_fields(policy)
        .into_iter()
        .map(|def| {
            let value = input(inputs, &format!("f.{}", def.name))
                .map(str::to_string)
                .or_else(|| match (inputs.is_empty(), &def.default) {
                    (true, Some(v)) if def.kind != FieldType::Bool => {
                        Some(v.to_string().trim_matches('"').to_string())
                    }
                    (true, Some(v)) => Some(v.to_string()),
                    _ => None,
                })
                .unwrap_or_default();
            let error = field_error
                .as_ref()
                .filter(|(f, _)| *f == def.name)
                .map(|(_, m)| m.as_str())
                .unwrap_or("");
            present::form_field("new", def, &value, error)
        })
        .collect();
    NewPage {
        chrome: Chrome::signed(signed, t.new_title),
        policies: policy_choices(policies, policy),
        policy: policy.id().to_string(),
        fields,
        received_at: input(inputs, "received_at").unwrap_or("").to_string(),
        error,
        tz: policy.timezone().name().to_string(),
    }
}

/// The new-complaint form, generated from the chosen policy's fields.
pub async fn new_form(State(app): Ctx, signed: Signed, Query(q): Query<NewQuery>) -> Response {
    let policies = app.service.policies_of(&signed.caller().org);
    let chosen = match q.policy.as_deref() {
        Some(id) => policies.iter().find(|p| p.id() == id),
        None => policies.first(),
    };
    let Some(policy) = chosen else {
        return service_error(&signed, ServiceError::CaseNotFound(String::new()));
    };
    html(
        StatusCode::OK,
        &new_page(&signed, &policies, policy, &Vec::new(), None, String::new()),
    )
}

/// The field a refusal of an intake is about.
fn refused_field(refusal: &Refusal) -> Option<String> {
    match refusal {
        Refusal::InvalidValue { error } | Refusal::UnknownField { error } => Some(match error {
            FieldError::WrongType { field, .. }
            | FieldError::NotAllowed { field, .. }
            | FieldError::OutOfRange { field, .. }
            | FieldError::Unknown { field } => field.clone(),
        }),
        Refusal::MissingFields { fields, .. } => fields.first().cloned(),
        _ => None,
    }
}

/// Files a complaint: on success a tracking link is issued for it and shown once
/// on its page; refused, the form again with the message at the field.
pub async fn file(
    State(app): Ctx,
    signed: Signed,
    axum::Form(inputs): axum::Form<Inputs>,
) -> Response {
    if let Some(refused) = check_csrf(&signed, input(&inputs, "csrf")) {
        return refused;
    }
    let caller = signed.caller().clone();
    let policies = app.service.policies_of(&caller.org);
    let id = input(&inputs, "policy").unwrap_or("");
    let policy = match app.service.policy_of(&caller.org, id) {
        Ok(p) => p,
        Err(e) => return service_error(&signed, e),
    };
    let received_at = match input(&inputs, "received_at").map(str::trim) {
        None | Some("") => None,
        Some(raw) => {
            let text = present::local_to_rfc3339(raw, policy.timezone());
            match DateTime::parse_from_rfc3339(&text) {
                Ok(at) => Some(at.with_timezone(&Utc)),
                Err(_) => {
                    let page = new_page(
                        &signed,
                        &policies,
                        &policy,
                        &inputs,
                        None,
                        Texts::fill(signed.lang.texts().not_a_datetime, raw),
                    );
                    return html(StatusCode::UNPROCESSABLE_ENTITY, &page);
                }
            }
        }
    };
    let intake = Intake {
        policy: policy.id().to_string(),
        data: present::form_data(&policy, &inputs),
        received_at,
        id: None,
    };
    let key = input(&inputs, "key")
        .filter(|k| !k.is_empty() && k.len() <= 64 && k.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(|k| format!("console-{k}"));
    match app.service.intake(&caller, intake, key).await {
        Ok(outcome) => {
            let case = outcome.slot.case.id.clone();
            if outcome.created
                && let Ok(link) = super::tracking::issue_link(&app, &caller, &case).await
            {
                app.sessions.set_flash(&signed.id, (case.clone(), link));
            }
            Redirect::to(&format!("/cases/{}", url_encode(&case))).into_response()
        }
        Err(ServiceError::Refused(refusal)) => {
            let t = signed.lang.texts();
            let said = super::refusal::text(signed.lang, &refusal);
            let field = refused_field(&refusal).map(|f| (f, said.clone()));
            let general = match field {
                Some(_) => t.fix_fields.to_string(),
                None => said,
            };
            let page = new_page(&signed, &policies, &policy, &inputs, field, general);
            html(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => service_error(&signed, e),
    }
}

#[derive(Template)]
#[template(path = "policies.html")]
struct PoliciesPage {
    chrome: Chrome,
    policies: Vec<(String, String, String)>,
}

/// The organisation's policies.
pub async fn policies(State(app): Ctx, signed: Signed) -> Response {
    let t = signed.lang.texts();
    let policies = app
        .service
        .policies_of(&signed.caller().org)
        .iter()
        .map(|p| {
            (
                p.id().to_string(),
                p.name().to_string(),
                p.version().to_string(),
            )
        })
        .collect();
    html(
        StatusCode::OK,
        &PoliciesPage {
            chrome: Chrome::signed(&signed, t.policies_title),
            policies,
        },
    )
}

/// A transition as the policy page lists it.
pub struct TransitionRow {
    /// The event that takes it.
    pub event: String,
    /// The stages it leaves, by their labels.
    pub from: String,
    /// The stage it enters.
    pub to: String,
    /// The roles that may send it (`any`).
    pub roles: String,
    /// Its condition as written.
    pub condition: String,
    /// The fields it requires.
    pub requires: String,
}

/// An SLA as the policy page lists it.
pub struct SlaRow {
    /// The SLA's name.
    pub name: String,
    /// Its target (`15 days`).
    pub target: String,
    /// The regulation it implements.
    pub regulation: String,
    /// The calendar it counts on.
    pub calendar: String,
    /// Its warning thresholds, `50%, 80%`.
    pub warn: String,
    /// The extensions it offers: name, target and condition.
    pub extensions: Vec<String>,
}

/// A routing rule as the policy page lists it.
pub struct RouteRow {
    /// Its position, from 1.
    pub number: usize,
    /// Its condition as written (`always` for a default).
    pub condition: String,
    /// The queue it routes to.
    pub queue: String,
    /// The priority it sets (empty when none).
    pub priority: String,
}

#[derive(Template)]
#[template(path = "policy.html")]
struct PolicyPage {
    chrome: Chrome,
    id: String,
    name: String,
    version: String,
    timezone: String,
    regulation: String,
    description: String,
    graph: String,
    transitions: Vec<TransitionRow>,
    slas: Vec<SlaRow>,
    routes: Vec<RouteRow>,
    script: bool,
}

/// A policy: its graph as SVG, its transitions, SLAs with citations, routing rules.
pub async fn policy(State(app): Ctx, signed: Signed, Path(id): Path<String>) -> Response {
    let t = signed.lang.texts();
    let policy = match app.service.policy_of(&signed.caller().org, &id) {
        Ok(p) => p,
        Err(e) => return service_error(&signed, e),
    };
    let transitions = policy
        .transitions()
        .iter()
        .map(|tr| TransitionRow {
            event: tr.event.clone(),
            from: match tr.from_any {
                true => "*".to_string(),
                false => tr.from.join(", "),
            },
            to: tr.to.clone(),
            roles: tr.roles.join(", "),
            condition: match (&tr.guard, &tr.after) {
                (_, Some(after)) => format!("after {after}"),
                (Some(g), None) => g.source().to_string(),
                (None, None) => String::new(),
            },
            requires: tr.requires.join(", "),
        })
        .collect();
    let slas = policy
        .slas()
        .values()
        .map(|s| SlaRow {
            name: s.name.clone(),
            target: s.rule.target.to_string(),
            regulation: s.regulation.clone().unwrap_or_default(),
            calendar: s.calendar.clone(),
            warn: s
                .rule
                .warn
                .iter()
                .map(|w| format!("{w}%"))
                .collect::<Vec<_>>()
                .join(", "),
            extensions: s
                .extensions
                .iter()
                .map(|e| {
                    let role = e
                        .role
                        .as_deref()
                        .map(|r| format!(", {r}"))
                        .unwrap_or_default();
                    format!("{} → {}{role}", e.name, e.to)
                })
                .collect(),
        })
        .collect();
    let routes = policy
        .routing()
        .router
        .rules()
        .iter()
        .enumerate()
        .map(|(i, r)| RouteRow {
            number: i + 1,
            condition: r
                .condition
                .as_ref()
                .map_or(t.otherwise.to_string(), |c| c.source().to_string()),
            queue: r.queue.clone(),
            priority: r.priority.map(|p| p.to_string()).unwrap_or_default(),
        })
        .collect();
    let page = PolicyPage {
        chrome: Chrome::signed(&signed, policy.name()),
        id: policy.id().to_string(),
        name: policy.name().to_string(),
        version: policy.version().to_string(),
        timezone: policy.timezone().name().to_string(),
        regulation: policy.regulation().join("; "),
        description: policy.description().unwrap_or("").to_string(),
        graph: super::stage_svg::draw(&policy, None, t.graph_any_stage),
        transitions,
        slas,
        routes,
        script: policy.routing().router.script().is_some(),
    };
    html(StatusCode::OK, &page)
}
