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
    let span = f64::from(profile.span_days.min(MAX_SPAN_DAYS)) * 86_400.0;
    // Not clamped as a delay is: a span may be longer than a delay's bound.
    let received =
        profile.start.with_timezone(&Utc) + TimeDelta::seconds((rng.unit() * span) as i64);
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
        at = after_delay(profile, at, rng);
        let mut next = line(&id, at, &t.event, actor(t, rng));
        next.data = event_data(policy, profile, t, &vc, rng);
        let _ = vc.send(&next.command(), at);
        lines.push(next);
    }
    // The draw is made only when some cases are to be finished, so that the default
    // profile gives the same streams as before the setting existed.
    if profile.left_open < 1.0 && left_unfinished(&vc, at) && !rng.chance(profile.left_open) {
        lines.push(withdrawal(policy, profile, &mut vc, at, rng));
    }
    lines
}

/// Receipts are spread over this many days at most (a hundred years).
const MAX_SPAN_DAYS: u32 = 36_525;

/// A case's timers are followed this far after its last event to see whether they
/// close it (the bank's `close` transition falls due 30 days after a decision).
const UNFINISHED_AFTER_DAYS: i64 = 366;

/// The instant a drawn delay after `at`.
fn after_delay(profile: &Profile, at: DateTime<Utc>, rng: &mut Rng) -> DateTime<Utc> {
    let hours = rng.log_normal(profile.delay_hours.median, profile.delay_hours.spread);
    at + seconds(hours * 3600.0)
}

/// Whether a case is open for good once its steps are over: still open, and still
/// open when its timers have run for [`UNFINISHED_AFTER_DAYS`] after `at`.
fn left_unfinished(vc: &VirtualCase<'_>, at: DateTime<Utc>) -> bool {
    if vc.case.closed {
        return false;
    }
    let mut ahead = vc.clone();
    ahead.advance_to(at + TimeDelta::days(UNFINISHED_AFTER_DAYS));
    !ahead.case.closed
}

/// The complainant withdrawing an unfinished case a drawn delay after `at`, with the
/// fields the policy's `withdraw` transition (if it has one) requires at the stage the
/// case is in then; sent to `vc`.
fn withdrawal(
    policy: &Policy,
    profile: &Profile,
    vc: &mut VirtualCase<'_>,
    at: DateTime<Utc>,
    rng: &mut Rng,
) -> Line {
    let at = after_delay(profile, at, rng);
    vc.advance_to(at);
    let here = policy
        .transitions()
        .iter()
        .find(|t| t.event == "withdraw" && t.from.contains(&vc.case.stage));
    let mut withdraw = line(&vc.case.id, at, "withdraw", None);
    if let Some(t) = here {
        withdraw.actor = actor(t, rng);
        withdraw.data = required_data(policy, profile, t, vc, rng, usize::MAX, 1.0);
    }
    let _ = vc.send(&withdraw.command(), at);
    withdraw
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
    let skip = match rng.chance(profile.missing_field) {
        true => t.requires.len(),
        false => usize::MAX,
    };
    required_data(policy, profile, t, vc, rng, skip, profile.bool_true)
}

/// Values for the fields `t` requires that the case lacks, but the `skip`th (from 1);
/// a flag is true with probability `bool_true`.
fn required_data(
    policy: &Policy,
    profile: &Profile,
    t: &Transition,
    vc: &VirtualCase<'_>,
    rng: &mut Rng,
    skip: usize,
    bool_true: f64,
) -> Data {
    let mut data = Data::new();
    for (i, name) in t.requires.iter().enumerate() {
        let missing = !vc.case.fields.contains_key(name);
        if let (true, false, Some(def)) = (missing, i + 1 == skip, policy.fields().get(name)) {
            data.insert(name.clone(), draw(def, profile, rng, bool_true));
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::runtime::test_support::bank;

    fn by_case(lines: Vec<Line>) -> BTreeMap<String, Vec<Line>> {
        let mut cases: BTreeMap<String, Vec<Line>> = BTreeMap::new();
        for line in lines {
            cases.entry(line.case.clone()).or_default().push(line);
        }
        cases
    }

    /// The stages cases end in once every timer had a year to fire.
    fn final_stages(policy: &Policy, lines: &[Line]) -> BTreeMap<String, u64> {
        let end = lines.iter().map(Line::instant).max().unwrap() + TimeDelta::days(400);
        let options = ReplayOptions {
            threads: 1,
            until: Some(end),
            ..Default::default()
        };
        replay(policy, numbered(lines.to_vec()), &options, &|_| {}).by_stage
    }

    /// With `left_open = 0` every case closes in the end: each case the default
    /// profile leaves open for good gets one `withdraw` line more, a delay after its
    /// last, and every other case's lines are the same.
    #[test]
    fn left_open_zero_withdraws_every_unfinished_case() {
        let policy = bank();
        let kept = Profile::default();
        let finished = Profile {
            left_open: 0.0,
            ..Profile::default()
        };
        let a = generate(&policy, &kept, 400, 7, 2, &|_| {});
        let b = generate(&policy, &finished, 400, 7, 2, &|_| {});
        let open = |stages: &BTreeMap<String, u64>| {
            stages
                .iter()
                .filter(|(stage, _)| !policy.stages()[stage.as_str()].terminal)
                .map(|(_, n)| n)
                .sum::<u64>()
        };
        let open_for_good = open(&final_stages(&policy, &a));
        assert!(open_for_good > 20, "{open_for_good} cases open for good");
        assert_eq!(open(&final_stages(&policy, &b)), 0);
        let (a, b) = (by_case(a), by_case(b));
        let mut withdrawn = 0;
        for (case, lines) in &a {
            let more = &b[case];
            assert_eq!(&more[..lines.len()], &lines[..], "{case}");
            match &more[lines.len()..] {
                [] => {}
                [withdraw] => {
                    assert_eq!(withdraw.event, "withdraw", "{case}");
                    assert!(withdraw.at > lines.last().unwrap().at, "{case}");
                    withdrawn += 1;
                }
                extra => panic!("{case}: {} lines more", extra.len()),
            }
        }
        assert_eq!(withdrawn, open_for_good);
    }

    /// A share in between withdraws some of the unfinished cases, not all.
    #[test]
    fn left_open_withdraws_the_rest_of_the_unfinished_cases() {
        let policy = bank();
        let lines_with = |left_open: &str| {
            let profile = Profile::from_toml(&format!("left_open = {left_open}")).unwrap();
            generate(&policy, &profile, 400, 7, 1, &|_| {}).len()
        };
        let (all, half, none) = (lines_with("1.0"), lines_with("0.5"), lines_with("0.0"));
        assert!(all < half && half < none, "{all} {half} {none}");
    }

    /// Receipts spread over the whole span, even one longer than a year (a delay's
    /// bound, which once cut receipts short and piled them on one instant).
    #[test]
    fn receipts_spread_over_a_span_of_years() {
        let policy = bank();
        let profile = Profile::from_toml("span_days = 730").unwrap();
        let lines = generate(&policy, &profile, 2_000, 3, 1, &|_| {});
        let start = profile.start.with_timezone(&Utc);
        let mut receipts: Vec<DateTime<Utc>> = lines
            .iter()
            .filter_map(|l| l.received_at.map(|at| at.with_timezone(&Utc)))
            .collect();
        assert_eq!(receipts.len(), 2_000);
        receipts.sort();
        receipts.dedup();
        assert!(
            receipts.len() > 1_990,
            "{} distinct receipts",
            receipts.len()
        );
        let past_a_year = receipts
            .iter()
            .filter(|at| **at > start + TimeDelta::days(366))
            .count();
        // About half of two years' receipts fall in the second.
        assert!((800..1_200).contains(&past_a_year), "{past_a_year}");
        assert!(*receipts.last().unwrap() < start + TimeDelta::days(730));
    }
}
