//! Facts from an event file: the events replayed through the policy on a virtual
//! clock (as `redress replay` runs them), each case's facts taken as it closes or,
//! for one still open, at the end.

use std::io::BufRead;
use std::sync::Mutex;

use super::ReportBuilder;
use super::case_facts::{CaseFacts, ComplainantKey};
use crate::policy::Policy;
use crate::runtime::VirtualCase;
use crate::runtime::replay::{ReplayOptions, Summary, replay_reader_each};

/// Replays an event file on `policy` and returns every case's facts (in no
/// particular order) with the replay's summary (lines skipped, events refused).
pub fn facts_from_events(
    policy: &Policy,
    reader: impl BufRead,
    options: &ReplayOptions,
    key: Option<&ComplainantKey>,
) -> (Vec<CaseFacts>, Summary) {
    let facts = Mutex::new(Vec::new());
    let each = |vc: &VirtualCase<'_>| {
        if let Some(f) = CaseFacts::of(policy, &vc.case, key)
            && let Ok(mut all) = facts.lock()
        {
            all.push(f);
        }
    };
    let summary = replay_reader_each(policy, reader, options, &|_| {}, &each);
    (facts.into_inner().unwrap_or_default(), summary)
}

/// Replays an event file on the builder's policy and counts each case into
/// `builder` as the replay finishes with it, so that no case's facts are kept
/// (the report is the same as one over [`facts_from_events`]); returns the
/// replay's summary.
pub fn report_events(
    builder: &mut ReportBuilder<'_>,
    reader: impl BufRead,
    options: &ReplayOptions,
    key: Option<&ComplainantKey>,
) -> Summary {
    let policy = builder.policy();
    let builder = Mutex::new(builder);
    let each = |vc: &VirtualCase<'_>| {
        // The facts are worked out on the worker's thread; only counting them
        // takes the lock.
        if let Some(f) = CaseFacts::of(policy, &vc.case, key)
            && let Ok(mut builder) = builder.lock()
        {
            builder.add(&f);
        }
    };
    replay_reader_each(policy, reader, options, &|_| {}, &each)
}
