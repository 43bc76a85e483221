//! Replay: recorded events run through a policy on a virtual clock, firing due
//! timers in time order between events, summarised as a [`Summary`].
//!
//! Lines are in time order per case and cases are independent, so cases are spread
//! over worker threads by a hash of their id; the reading thread parses lines and
//! hands them out in batches. A line that cannot be parsed, or that names a case
//! with no intake before it, is skipped and reported with its line number. At the
//! end every case's clock runs on to the last instant read (or `until`), so
//! deadlines that passed within the recorded period count as breaches.

mod instant;
mod line;
mod summary;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::io::BufRead;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::VirtualCase;
use crate::policy::Policy;

pub use line::Line;
pub use summary::{
    EventCounts, MAX_LISTED_SKIPS, PolicyInfo, Skipped, SkippedLine, SlaCounts, Summary,
};

/// Lines handed to a worker at once.
const BATCH: usize = 512;

/// How to replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Worker threads (at least 1).
    pub threads: usize,
    /// Run every clock to this instant at the end; default the last instant read.
    pub until: Option<DateTime<Utc>>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            until: None,
        }
    }
}

/// One numbered input line, parsed or not.
pub type Numbered = (usize, Result<Line, String>);

enum Message {
    Lines(Vec<(usize, Line)>),
    End(Option<DateTime<Utc>>),
}

/// Parses the lines of an event file, numbering them from 1; blank lines are left out.
pub fn read_lines(reader: impl BufRead) -> impl Iterator<Item = Numbered> {
    reader
        .lines()
        .enumerate()
        .filter_map(|(i, text)| match text {
            Ok(t) if t.trim().is_empty() => None,
            Ok(t) => Some((
                i + 1,
                serde_json::from_str::<Line>(&t).map_err(|e| e.to_string()),
            )),
            Err(e) => Some((i + 1, Err(e.to_string()))),
        })
}

/// Replays `lines` on `policy`; `progress` is told how many lines were read now and
/// then.
pub fn replay(
    policy: &Policy,
    lines: impl Iterator<Item = Numbered>,
    options: &ReplayOptions,
    progress: &dyn Fn(u64),
) -> Summary {
    let started = Instant::now();
    let threads = options.threads.max(1);
    let mut summary = Summary::new(policy);
    let partials = std::thread::scope(|scope| {
        let mut senders = Vec::with_capacity(threads);
        let mut workers = Vec::with_capacity(threads);
        for _ in 0..threads {
            let (tx, rx) = sync_channel::<Message>(16);
            senders.push(tx);
            workers.push(scope.spawn(move || work(policy, rx)));
        }
        let last = distribute(lines, &senders, &mut summary, progress);
        let until = options.until.or(last);
        for tx in &senders {
            let _ = tx.send(Message::End(until));
        }
        drop(senders);
        let partials: Vec<Summary> = workers.into_iter().filter_map(|w| w.join().ok()).collect();
        summary.until = until;
        partials
    });
    for partial in partials {
        summary.merge(partial);
    }
    summary.finish(started.elapsed().as_secs_f64());
    summary
}

/// Sends each line to its case's worker; returns the last instant read.
fn distribute(
    lines: impl Iterator<Item = Numbered>,
    senders: &[SyncSender<Message>],
    summary: &mut Summary,
    progress: &dyn Fn(u64),
) -> Option<DateTime<Utc>> {
    let mut batches: Vec<Vec<(usize, Line)>> = vec![Vec::with_capacity(BATCH); senders.len()];
    let mut last: Option<DateTime<Utc>> = None;
    for (count, (n, parsed)) in lines.enumerate() {
        if count % 8192 == 0 {
            progress(count as u64);
        }
        let line = match parsed {
            Ok(line) => line,
            Err(e) => {
                summary.skip(n, format!("cannot parse: {e}"));
                continue;
            }
        };
        last = last.max(Some(line.instant()));
        let shard = shard_of(&line.case, senders.len());
        batches[shard].push((n, line));
        if batches[shard].len() >= BATCH {
            let batch = std::mem::replace(&mut batches[shard], Vec::with_capacity(BATCH));
            let _ = senders[shard].send(Message::Lines(batch));
        }
    }
    for (batch, tx) in batches.into_iter().zip(senders) {
        let _ = tx.send(Message::Lines(batch));
    }
    last
}

fn shard_of(case: &str, shards: usize) -> usize {
    let mut h = IdHasher::default();
    case.hash(&mut h);
    (h.finish() % shards as u64) as usize
}

/// Cases by id, hashed with [`IdHasher`].
type Cases<'p> = HashMap<String, VirtualCase<'p>, BuildHasherDefault<IdHasher>>;

/// A fast, unkeyed hash for case ids (FxHash's step, then a SplitMix64 finish so
/// that every bit depends on every input bit). Not for untrusted input where
/// collisions could be forced; an event file is the operator's own.
#[derive(Debug, Default, Clone, Copy)]
struct IdHasher(u64);

impl IdHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn finish(&self) -> u64 {
        let mut z = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A worker: runs its cases' lines in order, then every case to the end instant.
fn work(policy: &Policy, rx: Receiver<Message>) -> Summary {
    let mut cases: Cases<'_> = Cases::default();
    let mut summary = Summary::default();
    let mut until = None;
    for message in rx {
        match message {
            Message::Lines(batch) => {
                for (n, line) in batch {
                    play(policy, &mut cases, &mut summary, n, line);
                }
            }
            Message::End(at) => until = at,
        }
    }
    for vc in cases.values_mut() {
        if let Some(until) = until {
            vc.advance_to(until);
        }
        summary.add_case(vc);
    }
    summary
}

fn play<'p>(
    policy: &'p Policy,
    cases: &mut Cases<'p>,
    summary: &mut Summary,
    n: usize,
    line: Line,
) {
    let vc = match cases.get_mut(&line.case) {
        Some(vc) => vc,
        None if line.is_intake() => cases
            .entry(line.case.clone())
            .or_insert_with(|| VirtualCase::new(policy, &line.case, false)),
        None => {
            let reason = format!("unknown case `{}`: no intake before this line", line.case);
            summary.skip(n, reason);
            return;
        }
    };
    summary.events.read += 1;
    let at = line.instant();
    let _ = vc.send(&line.into_command(), at);
}
