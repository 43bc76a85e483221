//! Facts from an event file: the events replayed through the policy on a virtual
//! clock (as `redress replay` runs them), each case's facts taken at the end.

use std::io::BufRead;
use std::sync::Mutex;

use super::case_facts::{CaseFacts, ComplainantKey};
use crate::policy::Policy;
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
    let each = |vc: &crate::runtime::VirtualCase<'_>| {
        if let Some(f) = CaseFacts::of(policy, &vc.case, key)
            && let Ok(mut all) = facts.lock()
        {
            all.push(f);
        }
    };
    let summary = replay_reader_each(policy, reader, options, &|_| {}, &each);
    (facts.into_inner().unwrap_or_default(), summary)
}
