//! Simulation: realistic complaints and event streams drawn from a [`Profile`] for any
//! policy, deterministic for a seed. Each case walks the policy's stage graph: at
//! every stage it picks one of the events allowed there (or waits for a timer), after
//! a drawn delay, filling the fields the event requires; the engine decides each
//! event, so a refused one (a missing field, a false guard) leaves the case where it
//! was, as in life. The streams are then replayed like recorded events.

mod profile;
mod rng;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value as Json;

use super::replay::{Line, Numbered, ReplayOptions, Summary, replay};
use super::{Data, VirtualCase};
use crate::case::Actor;
use crate::policy::{FieldDef, FieldType, Policy, Transition};

pub use profile::{LogNormal, Profile};
pub use rng::Rng;

/// Words a generated complaint's text may contain, a few of them routing keywords.
const PHRASES: &[&str] = &[
    "charged twice for a transfer",
    "the branch was rude",
    "card declined abroad",
    "我的信用卡被盗刷了",
    "loan rate changed without notice",
    "possible scam call",
    "app login fails",
    "interest not paid on time",
];

/// Generates `cases` complaints and their events, in time order, over `threads`
/// threads; `progress` is told how many cases are done now and then.
pub fn generate(
    policy: &Policy,
    profile: &Profile,
    cases: usize,
    seed: u64,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<Line> {
    let threads = threads.max(1);
    let chunk = cases.div_ceil(threads).max(1);
    let done = std::sync::atomic::AtomicU64::new(0);
    let mut lines: Vec<(DateTime<Utc>, usize, Line)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..cases)
            .step_by(chunk)
            .map(|from| {
                let done = &done;
                scope.spawn(move || {
                    let mut out = Vec::new();
                    for i in from..(from + chunk).min(cases) {
                        let mut rng = Rng::for_item(seed, i as u64);
                        let case = generate_case(policy, profile, i, &mut rng);
                        out.extend(case.into_iter().map(|l| (l.instant(), i, l)));
                        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if n.is_multiple_of(1024) {
                            progress(n);
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok())
            .flatten()
            .collect()
    });
    // Stable: a case's own lines keep their order at equal instants.
    lines.sort_by_key(|(at, case, _)| (*at, *case));
    lines.into_iter().map(|(_, _, l)| l).collect()
}

/// Generates `cases` complaints one after the other, each case's lines in time order
/// (the same lines as [`generate`], not sorted across cases). Replay needs time order
/// only within a case, so replaying these gives [`generate`]'s summary while holding
/// one case's lines at a time.
pub fn generate_each<'p>(
    policy: &'p Policy,
    profile: &'p Profile,
    cases: usize,
    seed: u64,
) -> impl Iterator<Item = Line> + 'p {
    (0..cases).flat_map(move |i| {
        let mut rng = Rng::for_item(seed, i as u64);
        generate_case(policy, profile, i, &mut rng)
    })
}

/// [`generate_each`], each line marked with whether it is its case's last (for
/// [`super::replay::replay_marked`]).
pub fn generate_each_marked<'p>(
    policy: &'p Policy,
    profile: &'p Profile,
    cases: usize,
    seed: u64,
) -> impl Iterator<Item = (Line, bool)> + 'p {
    (0..cases).flat_map(move |i| {
        let mut rng = Rng::for_item(seed, i as u64);
        let lines = generate_case(policy, profile, i, &mut rng);
        let count = lines.len();
        lines
            .into_iter()
            .enumerate()
            .map(move |(j, line)| (line, j + 1 == count))
    })
}

/// Generates and replays; the summary is replay's.
pub fn simulate(
    policy: &Policy,
    profile: &Profile,
    cases: usize,
    seed: u64,
    options: &ReplayOptions,
) -> (Vec<Line>, Summary) {
    let lines = generate(policy, profile, cases, seed, options.threads, &|_| {});
    let numbered = lines
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, l)| (i + 1, Ok(l)));
    let summary = replay(policy, numbered, options, &|_| {});
    (lines, summary)
}

/// Numbers generated lines as replay wants them.
pub fn numbered(lines: Vec<Line>) -> impl Iterator<Item = Numbered> {
    lines.into_iter().enumerate().map(|(i, l)| (i + 1, Ok(l)))
}

/// One case's lines.
fn generate_case(policy: &Policy, profile: &Profile, i: usize, rng: &mut Rng) -> Vec<Line> {
    let id = format!("S-{i:07}");
    let span = f64::from(profile.span_days) * 86_400.0;
    let received = profile.start.with_timezone(&Utc) + seconds(rng.unit() * span);
    let registered = match rng.chance(profile.late_registration) {
        true => received + TimeDelta::hours(18),
        false => received + seconds(rng.unit() * 1800.0),
    };
    let mut vc = VirtualCase::new(policy, &id, false);
    let intake = Line {
        received_at: Some(received.fixed_offset()),
        data: intake_data(policy, profile, rng),
        ..line(&id, registered, "intake", None)
    };
    let mut lines = Vec::new();
    let _ = vc.send(&intake.command(), registered);
    lines.push(intake);
    let mut at = registered;
    for _ in 0..profile.max_steps {
        let Some(t) = pick(policy, profile, &vc, rng) else {
            break;
        };
        at += seconds(
            rng.log_normal(profile.delay_hours.median, profile.delay_hours.spread) * 3600.0,
        );
        let mut next = line(&id, at, &t.event, actor(t, rng));
        next.data = event_data(policy, profile, t, &vc, rng);
        let _ = vc.send(&next.command(), at);
        lines.push(next);
    }
    lines
}

fn line(case: &str, at: DateTime<Utc>, event: &str, actor: Option<Actor>) -> Line {
    Line {
        case: case.to_string(),
        at: at.fixed_offset(),
        event: event.to_string(),
        data: Data::new(),
        actor,
        received_at: None,
        key: None,
        version: None,
        text: None,
        assignee: None,
        sla: None,
        extension: None,
    }
}

fn seconds(s: f64) -> TimeDelta {
    TimeDelta::seconds(s.clamp(0.0, 3.0e7) as i64)
}

/// The next event, or `None` to stop (closed, waiting for a timer, or stuck).
fn pick<'p>(
    policy: &'p Policy,
    profile: &Profile,
    vc: &VirtualCase<'_>,
    rng: &mut Rng,
) -> Option<&'p Transition> {
    if vc.case.closed || !vc.case.is_received() {
        return None;
    }
    let here: Vec<&Transition> = policy
        .transitions()
        .iter()
        .filter(|t| t.from.contains(&vc.case.stage))
        .collect();
    let manual: Vec<&Transition> = here
        .iter()
        .copied()
        .filter(|t| t.after.is_none() && !t.automatic)
        .collect();
    let timers = here.len() > manual.len();
    let mut weights: Vec<f64> = manual
        .iter()
        .map(|t| profile.event_weight(&t.event))
        .collect();
    weights.push(if timers { profile.wait } else { 0.0 });
    let choice = rng.weighted(&weights)?;
    manual.get(choice).copied()
}

fn actor(t: &Transition, rng: &mut Rng) -> Option<Actor> {
    let role = match t.roles.is_empty() {
        true => None,
        false => Some(t.roles[rng.below(t.roles.len())].clone()),
    };
    Some(Actor {
        id: Some(format!("u{}", rng.below(40))),
        role,
    })
}

fn intake_data(policy: &Policy, profile: &Profile, rng: &mut Rng) -> Data {
    let mut data = Data::new();
    for (name, def) in policy.fields() {
        let wanted = match (def.required, def.kind, def.default.is_some()) {
            (true, _, _) => true,
            (false, FieldType::Bool, true) => rng.chance(profile.flag_rate),
            (false, FieldType::Enum | FieldType::Money, _) => rng.chance(0.8),
            _ => false,
        };
        if wanted {
            let value = match def.kind {
                FieldType::Bool => Json::Bool(true),
                _ => draw(def, profile, rng, 1.0),
            };
            data.insert(name.clone(), value);
        }
    }
    data
}

fn event_data(
    policy: &Policy,
    profile: &Profile,
    t: &Transition,
    vc: &VirtualCase<'_>,
    rng: &mut Rng,
) -> Data {
    let mut data = Data::new();
    let skip = match rng.chance(profile.missing_field) {
        true => t.requires.len(),
        false => usize::MAX,
    };
    for (i, name) in t.requires.iter().enumerate() {
        let missing = !vc.case.fields.contains_key(name);
        if let (true, false, Some(def)) = (missing, i + 1 == skip, policy.fields().get(name)) {
            data.insert(name.clone(), draw(def, profile, rng, profile.bool_true));
        }
    }
    data
}

/// A value for a field, as JSON input.
fn draw(def: &FieldDef, profile: &Profile, rng: &mut Rng, bool_true: f64) -> Json {
    match def.kind {
        FieldType::Text => Json::from(PHRASES[rng.below(PHRASES.len())]),
        FieldType::Enum => {
            let weights = profile.values.get(&def.name);
            let w: Vec<f64> = def
                .values
                .iter()
                .map(|v| weights.map_or(1.0, |m| m.get(v).copied().unwrap_or(0.0)))
                .collect();
            let i = rng.weighted(&w).unwrap_or(0);
            def.values
                .get(i)
                .map_or(Json::Null, |v| Json::from(v.as_str()))
        }
        FieldType::Bool => Json::Bool(rng.chance(bool_true)),
        FieldType::Integer => Json::from(rng.below(100) as i64),
        FieldType::Money => {
            let amount = rng.log_normal(profile.amount.median, profile.amount.spread);
            Json::from(format!("{:.2}", amount.max(0.0)))
        }
        FieldType::Date => Json::from(profile.start.date_naive().to_string()),
        FieldType::Datetime => Json::from(profile.start.to_rfc3339()),
    }
}
