//! Replay: recorded events run through a policy on a virtual clock, firing due
//! timers in time order between events, summarised as a [`Summary`].
//!
//! Lines are in time order per case and cases are independent, so cases are spread
//! over worker threads by a hash of their id; the reading thread hands lines out in
//! batches. Reading an event file ([`replay_reader`]), the reading thread only finds
//! each line's case (the top-level `"case"` key, in any place and spelling of
//! whitespace, when it and the keys before it have no escapes) and the worker parses
//! the line; any other line is parsed by the reading thread. A line that cannot be
//! parsed, or that names a case with no intake before it, is skipped and reported
//! with its line number. At the end every case's clock runs on to the last instant
//! read (or `until`), so deadlines that passed within the recorded period count as
//! breaches.
//!
//! Replay streams: a case that closes is counted into its worker's summary there and
//! then and dropped (a closed case's clocks are all stopped, so counting it later
//! would count the same), so memory holds the open cases only. What is kept of a
//! closed case is a 64-bit fingerprint of its id and its version, in `ClosedCases`,
//! so that a later line naming it is answered as the case would answer it: an intake
//! is refused `already-received`, a stale version `stale-version`, a note accepted
//! (one event), anything else refused `case-closed`. An idempotency key on such a line
//! is not looked up (the case's keys went with it).
//!
//! Most cases close on a timer after their last line (a decision becomes final
//! when no review is asked for in time). Given each case's last line
//! ([`ReplayOptions::last_lines`], read ahead by [`last_lines`]), a worker fires the
//! timers of a case whose last line it played up to the latest instant it played, or
//! the instant of the file's last line if later (the end cannot come before it), never
//! past `until`, and drops the case once a timer closes it, instead of holding it to
//! the end; nothing is kept of a case dropped past its last line, since no line names
//! it again. Timers fire in the same order either way, so the figures are the same; a
//! case still open is held to the end, where its clocks' states are taken.

mod instant;
mod line;
mod lines;
mod summary;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::io::BufRead;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::{Refusal, VirtualCase};
use crate::policy::Policy;
use lines::{Lines, Unread};

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
    /// Each case's last line in the input ([`last_lines`] of the same input), so that
    /// a case closed by a timer after it is dropped then (see the module's
    /// documentation). It changes no figure, only how many cases are held at once.
    pub last_lines: Option<Arc<LastLines>>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            until: None,
            last_lines: None,
        }
    }
}

/// Which lines of an event file are the last that name their case (numbered from 1,
/// blank lines counted, as a replay numbers them): one bit a line, so that what is
/// kept while the replay runs does not grow with the cases the file names. Cases are
/// told apart by the fingerprint of their id: two ids with the same fingerprint
/// share the later line, so that the earlier one's case is only held to the end,
/// never dropped too soon.
///
/// It also knows an instant the replay's end cannot come before (the instant of a
/// line that parses, its last one), so that a case past its last line can have
/// its timers fired up to it at once instead of waiting for the lines to get there.
#[derive(Debug, Clone, Default)]
pub struct LastLines {
    /// Bit `n % 64` of word `n / 64` is set when line `n` is its case's last.
    last: Vec<u64>,
    cases: usize,
    end_at_least: Option<DateTime<Utc>>,
}

/// Each case's last line by the fingerprint of its id, while the lines are read.
type LastByCase = HashMap<u64, usize, BuildHasherDefault<Fingerprinted>>;

impl LastLines {
    /// The lines of `by_case`, its map dropped.
    fn of(by_case: LastByCase, end_at_least: Option<DateTime<Utc>>) -> Self {
        let words = by_case.values().max().map_or(0, |n| n / 64 + 1);
        let mut last = vec![0_u64; words];
        for n in by_case.values() {
            last[n / 64] |= 1 << (n % 64);
        }
        LastLines {
            last,
            cases: by_case.len(),
            end_at_least,
        }
    }

    /// Whether line `n` is the last that names its case.
    pub fn is_last(&self, n: usize) -> bool {
        self.last
            .get(n / 64)
            .is_some_and(|word| word & (1 << (n % 64)) != 0)
    }

    /// How many cases the file names.
    pub fn len(&self) -> usize {
        self.cases
    }

    /// Whether the file names no case.
    pub fn is_empty(&self) -> bool {
        self.cases == 0
    }

    /// An instant the replay's last instant read is not before: that of a line
    /// that parses (`None` when none was found).
    pub fn end_at_least(&self) -> Option<DateTime<Utc>> {
        self.end_at_least
    }
}

/// Each case's last line among `lines` (numbered from 1 as [`super::simulate::numbered`]
/// numbers them).
pub fn last_lines_in(lines: &[Line]) -> LastLines {
    let mut by_case = LastByCase::default();
    let mut end_at_least = None;
    for (i, line) in lines.iter().enumerate() {
        by_case.insert(fingerprint(&line.case), i + 1);
        end_at_least = end_at_least.max(Some(line.instant()));
    }
    LastLines::of(by_case, end_at_least)
}

/// Reads an event file ahead of its replay for each case's last line: the case of a
/// line found as the reading thread finds it (the top-level `"case"` key, or parsing
/// the line), lines that cannot be read or parsed left out, as the replay skips them.
pub fn last_lines(reader: impl BufRead) -> LastLines {
    let mut by_case = LastByCase::default();
    let mut lines = Lines::new(reader);
    let mut text = String::new();
    // The last line that names a case, parsed at the end for `end_at_least`.
    let mut final_text = String::new();
    while let Some((n, read)) = lines.next_line() {
        text.clear();
        match read {
            Ok(line) => text.push_str(line),
            // Not UTF-8: the line was read past, and the replay skips it.
            Err(Unread::NotUtf8) => continue,
            Err(Unread::Failed(_)) => break,
        }
        let print = match case_of(&text) {
            Some(case) => fingerprint(case),
            None => match Line::parse(&text) {
                Ok(line) => fingerprint(&line.case),
                Err(_) => continue,
            },
        };
        by_case.insert(print, n);
        std::mem::swap(&mut text, &mut final_text);
    }
    // The replay parses this line too: its last instant read is not before it.
    let end_at_least = Line::parse(&final_text).ok().map(|line| line.instant());
    LastLines::of(by_case, end_at_least)
}

/// One numbered input line, parsed or not.
pub type Numbered = (usize, Result<Line, String>);

/// A line as the reading thread hands it to a worker: parsed, parsed and known to
/// be its case's last, or text to parse.
enum Item {
    Parsed(Box<Line>),
    Last(Box<Line>),
    Text(String),
}

enum Message {
    Lines(Vec<(usize, Item)>),
    /// Every line was sent: report the last instant of the lines parsed here.
    Done,
    End(Option<DateTime<Utc>>),
}

/// Parses the lines of an event file, numbering them from 1; blank lines are left out.
pub fn read_lines(reader: impl BufRead) -> impl Iterator<Item = Numbered> {
    reader
        .lines()
        .enumerate()
        .filter_map(|(i, text)| match text {
            Ok(t) if t.trim().is_empty() => None,
            Ok(t) => Some((i + 1, Line::parse(&t).map_err(|e| e.to_string()))),
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
    let items = lines.map(|(n, parsed)| (n, parsed.map(|l| Item::Parsed(Box::new(l)))));
    run(policy, items, options, progress, &|_| {})
}

/// [`replay`] of lines each marked with whether it is its case's last (as a
/// generator that makes one case at a time knows), so that a case closed by a timer
/// after it is dropped then, as [`ReplayOptions::last_lines`] does for a file.
pub fn replay_marked(
    policy: &Policy,
    lines: impl Iterator<Item = (Numbered, bool)>,
    options: &ReplayOptions,
    progress: &dyn Fn(u64),
) -> Summary {
    let items = lines.map(|((n, parsed), last)| {
        let item = |l| match last {
            true => Item::Last(Box::new(l)),
            false => Item::Parsed(Box::new(l)),
        };
        (n, parsed.map(item))
    });
    run(policy, items, options, progress, &|_| {})
}

/// Each finished case of a replay, seen by a [`replay_reader_each`] caller (on the
/// worker threads): a case that closes as it closes, one still open once every clock
/// ran to the end instant.
pub type EachCase<'a> = &'a (dyn Fn(&VirtualCase<'_>) + Sync);

/// Replays the lines of an event file on `policy`, numbering them from 1 and leaving
/// blank lines out (the same as [`replay`] of [`read_lines`], with the lines parsed
/// on the worker threads); `progress` is told how many lines were read now and then.
pub fn replay_reader(
    policy: &Policy,
    reader: impl BufRead,
    options: &ReplayOptions,
    progress: &dyn Fn(u64),
) -> Summary {
    replay_reader_each(policy, reader, options, progress, &|_| {})
}

/// [`replay_reader`], showing `each` every case at the end (a report reads them).
pub fn replay_reader_each(
    policy: &Policy,
    reader: impl BufRead,
    options: &ReplayOptions,
    progress: &dyn Fn(u64),
    each: EachCase<'_>,
) -> Summary {
    let mut lines = Lines::new(reader);
    // The lines of the reader's buffer, read in one go.
    let mut read = std::collections::VecDeque::new();
    let items = std::iter::from_fn(move || {
        loop {
            if let Some(item) = read.pop_front() {
                return Some(item);
            }
            let more = lines.each_line(|n, line| match line {
                Ok(t) if is_blank(t) => {}
                Ok(t) => read.push_back((n, Ok(Item::Text(t.to_owned())))),
                Err(e) => read.push_back((n, Err(e.to_string()))),
            });
            if !more {
                return None;
            }
        }
    });
    run(policy, items, options, progress, each)
}

/// Whether a line is blank (`str::trim` leaves nothing), known at once for one that
/// starts with a character other than whitespace that is ASCII.
fn is_blank(line: &str) -> bool {
    match line.as_bytes().first() {
        Some(b) if b.is_ascii() && !char::from(*b).is_whitespace() => false,
        _ => line.trim().is_empty(),
    }
}

fn run(
    policy: &Policy,
    items: impl Iterator<Item = (usize, Result<Item, String>)>,
    options: &ReplayOptions,
    progress: &dyn Fn(u64),
    each: EachCase<'_>,
) -> Summary {
    let started = Instant::now();
    let threads = options.threads.max(1);
    let mut summary = Summary::new(policy);
    let partials = std::thread::scope(|scope| {
        let mut senders = Vec::with_capacity(threads);
        let mut workers = Vec::with_capacity(threads);
        let (last_tx, last_rx) = channel();
        for _ in 0..threads {
            let (tx, rx) = sync_channel::<Message>(16);
            senders.push(tx);
            let last_tx = last_tx.clone();
            let lasts = options.last_lines.as_deref();
            let cap = options.until;
            workers.push(scope.spawn(move || work(policy, rx, last_tx, each, lasts, cap)));
        }
        drop(last_tx);
        let last = distribute(items, &senders, &mut summary, progress);
        for tx in &senders {
            let _ = tx.send(Message::Done);
        }
        // Each worker reports once and then drops its sender (as does one that died).
        let last = last_rx.iter().fold(last, Ord::max);
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

/// Sends each line to its case's worker; returns the last instant of the lines
/// parsed here.
fn distribute(
    items: impl Iterator<Item = (usize, Result<Item, String>)>,
    senders: &[SyncSender<Message>],
    summary: &mut Summary,
    progress: &dyn Fn(u64),
) -> Option<DateTime<Utc>> {
    let mut batches: Vec<Vec<(usize, Item)>> = Vec::with_capacity(senders.len());
    batches.resize_with(senders.len(), || Vec::with_capacity(BATCH));
    let mut last: Option<DateTime<Utc>> = None;
    for (count, (n, item)) in items.enumerate() {
        if count % 8192 == 0 {
            progress(count as u64);
        }
        let shards = senders.len();
        let mut parsed = |line: Box<Line>, is_last: bool| {
            last = last.max(Some(line.instant()));
            let shard = shard_of(&line.case, shards);
            match is_last {
                true => (shard, Item::Last(line)),
                false => (shard, Item::Parsed(line)),
            }
        };
        let (shard, item) = match item {
            Ok(Item::Text(text)) => match case_of(&text) {
                Some(case) => (shard_of(case, shards), Item::Text(text)),
                None => match Line::parse(&text) {
                    Ok(line) => parsed(Box::new(line), false),
                    Err(e) => {
                        summary.skip(n, format!("cannot parse: {e}"));
                        continue;
                    }
                },
            },
            Ok(Item::Parsed(line)) => parsed(line, false),
            Ok(Item::Last(line)) => parsed(line, true),
            Err(e) => {
                summary.skip(n, format!("cannot parse: {e}"));
                continue;
            }
        };
        batches[shard].push((n, item));
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

/// The case of a line that is a JSON object with a top-level `"case"` key (in any
/// place, with any whitespace) whose value and the keys before it have no escape:
/// the same id as parsing the line gives, if it parses. `None` for anything else,
/// which the reading thread then parses.
fn case_of(text: &str) -> Option<&str> {
    // The spelling nearly every line has (as `simulate --emit` writes it): the case
    // first, no whitespace.
    if let Some(rest) = text.strip_prefix("{\"case\":\"") {
        let end = memchr::memchr2(b'"', b'\\', rest.as_bytes())?;
        return rest[end..].starts_with('"').then(|| &rest[..end]);
    }
    let b = text.as_bytes();
    let mut i = skip_space(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        let (key, next) = plain_string(text, skip_space(b, i))?;
        i = skip_space(b, next);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_space(b, i + 1);
        if key == "case" {
            return plain_string(text, i).map(|(case, _)| case);
        }
        i = skip_space(b, skip_value(b, i)?);
        if b.get(i) != Some(&b',') {
            return None;
        }
        i += 1;
    }
}

/// The first byte at or after `i` that is not JSON whitespace.
fn skip_space(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The string starting at `i` if it has no escape, and the index after it.
fn plain_string(text: &str, i: usize) -> Option<(&str, usize)> {
    let rest = text.get(i..)?.strip_prefix('"')?;
    // Bytes, not chars: both are ASCII, so the index is a char boundary, and a byte
    // search costs a fraction of `str::find` with a set of chars.
    let end = rest.bytes().position(|b| b == b'"' || b == b'\\')?;
    rest[end..]
        .starts_with('"')
        .then(|| (&rest[..end], i + 1 + end + 1))
}

/// The index after the JSON value starting at `i` (strings, objects and arrays
/// skipped whole, anything else up to the next delimiter); `None` if it does not end.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let (mut depth, mut j) = (0_usize, i);
            loop {
                match *b.get(j)? {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let end = b[i..]
                .iter()
                .position(|&c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .map_or(b.len(), |n| i + n);
            (end > i).then_some(end)
        }
    }
}

/// The index after the string starting at `i`.
fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        match *b.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

fn shard_of(case: &str, shards: usize) -> usize {
    let mut h = IdHasher::default();
    case.hash(&mut h);
    (h.finish() % shards as u64) as usize
}

/// Cases by id, hashed with [`IdHasher`]. Boxed: a case is large, and the table
/// (sized for the most cases open at once) would otherwise hold that size in every
/// slot, used or not, and move it whole on every resize.
type Cases<'p> = HashMap<String, Box<VirtualCase<'p>>, BuildHasherDefault<IdHasher>>;

/// The cases that closed and were dropped: their version, by the fingerprint of their
/// id ([`fingerprint`]). Sixteen bytes a case, where the case itself took kilobytes.
/// Two ids with the same 64-bit fingerprint would be taken for one (for a million ids,
/// a chance of about one in 10^7).
type ClosedCases = HashMap<u64, u64, BuildHasherDefault<Fingerprinted>>;

/// A case id's fingerprint: each 8 bytes of the id (the last fewer than 8, padded
/// with zeros and the id's length in its top byte) mixed into the state with a full
/// avalanche (MurmurHash3's finaliser), so that the 64 bits are all well mixed and
/// each depends on every byte ([`IdHasher`], made for speed, is not fit for this:
/// ids that differ in a digit or two can share its hash). Each step is a bijection
/// of the state, so ids of one length that differ in one 8 bytes never share a
/// fingerprint; others do by chance alone (ids are the operator's own: this is no
/// defence against ids made to collide).
fn fingerprint(case: &str) -> u64 {
    let mut h = 0x9e37_79b9_7f4a_7c15_u64;
    let mut words = case.as_bytes().chunks_exact(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        h = avalanche(h ^ u64::from_le_bytes(w));
    }
    let rest = words.remainder();
    let mut w = [0u8; 8];
    w[..rest.len()].copy_from_slice(rest);
    w[7] = case.len() as u8;
    avalanche(h ^ u64::from_le_bytes(w))
}

/// MurmurHash3's 64-bit finaliser: a bijection in which each output bit depends on
/// every input bit.
fn avalanche(mut z: u64) -> u64 {
    z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    z = (z ^ (z >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    z ^ (z >> 33)
}

/// A hasher for keys that are already hashes: it passes the fingerprint through.
#[derive(Debug, Default, Clone, Copy)]
struct Fingerprinted(u64);

impl Hasher for Fingerprinted {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

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

/// A worker: runs its cases' lines in order (parsing those sent as text), reports
/// the last instant it parsed, then runs every case to the end instant. With
/// `lasts`, a case past its last line is moved on after each batch to the latest
/// instant played (never past `cap`, the `until` asked for) and dropped if that
/// closes it.
fn work(
    policy: &Policy,
    rx: Receiver<Message>,
    last_tx: Sender<Option<DateTime<Utc>>>,
    each: EachCase<'_>,
    lasts: Option<&LastLines>,
    cap: Option<DateTime<Utc>>,
) -> Summary {
    let mut cases: Cases<'_> = Cases::default();
    let mut closed = ClosedCases::default();
    let mut finished = Finished::new();
    let mut summary = Summary::default();
    let mut until = None;
    let mut last: Option<DateTime<Utc>> = None;
    let mut latest = DateTime::<Utc>::MIN_UTC;
    let mut last_tx = Some(last_tx);
    for message in rx {
        match message {
            Message::Lines(batch) => {
                let mut worker = Worker {
                    policy,
                    cases: &mut cases,
                    closed: &mut closed,
                    summary: &mut summary,
                    each,
                    lasts,
                    finished: &mut finished,
                };
                for (n, item) in batch {
                    let (line, known_last) = match item {
                        Item::Parsed(line) => (*line, false),
                        Item::Last(line) => (*line, true),
                        Item::Text(text) => match Line::parse(&text) {
                            Ok(line) => {
                                last = last.max(Some(line.instant()));
                                (line, false)
                            }
                            Err(e) => {
                                worker.summary.skip(n, format!("cannot parse: {e}"));
                                continue;
                            }
                        },
                    };
                    latest = latest.max(line.instant());
                    worker.play(n, line, known_last);
                }
                if !worker.finished.is_empty() {
                    // The end is not before the latest instant played, nor before
                    // what the read-ahead found, and never past `until`.
                    let end = latest.max(lasts.and_then(LastLines::end_at_least).unwrap_or(latest));
                    worker.run_finished(cap.map_or(end, |cap| cap.min(end)));
                }
            }
            Message::Done => {
                if let Some(tx) = last_tx.take() {
                    let _ = tx.send(last);
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
        each(vc);
    }
    summary
}

/// Cases past their last line, by the instant their next timer falls due (earliest
/// first).
type Finished = BinaryHeap<Reverse<(DateTime<Utc>, String)>>;

/// What a worker holds while it plays lines.
struct Worker<'w, 'p> {
    policy: &'p Policy,
    cases: &'w mut Cases<'p>,
    closed: &'w mut ClosedCases,
    summary: &'w mut Summary,
    /// Shown each case as it closes (before it is dropped) and each still open at
    /// the end.
    each: EachCase<'w>,
    /// Each case's last line, when known.
    lasts: Option<&'w LastLines>,
    /// The cases past their last line that have a timer to come.
    finished: &'w mut Finished,
}

impl Worker<'_, '_> {
    /// Plays line `n` on its case; a case it closes is counted and dropped.
    fn play(&mut self, n: usize, mut line: Line, known_last: bool) {
        let case = std::mem::take(&mut line.case);
        let vc = match self.cases.get_mut(&case) {
            Some(vc) => vc,
            None => {
                if let Some(version) = self.closed.get_mut(&fingerprint(&case)) {
                    self.summary.events.read += 1;
                    closed_line(self.summary, version, case, line);
                    return;
                }
                if !line.is_intake() {
                    let reason = format!("unknown case `{case}`: no intake before this line");
                    self.summary.skip(n, reason);
                    return;
                }
                let vc = Box::new(VirtualCase::new(self.policy, &case, false));
                self.cases.entry(case.clone()).or_insert(vc)
            }
        };
        self.summary.events.read += 1;
        let at = line.instant();
        let _ = vc.send(&line.into_command(), at);
        let past_last = known_last || self.lasts.is_some_and(|l| l.is_last(n));
        if vc.case.closed {
            self.drop_closed(&case, past_last);
        } else if past_last && let Some(due) = vc.next_due_at() {
            self.finished.push(Reverse((due, case)));
        }
    }

    /// Counts the closed case `case` and drops it. Its version is kept for the
    /// lines that name it later, unless it is `past_last`: no line names it again.
    fn drop_closed(&mut self, case: &str, past_last: bool) {
        if let Some(vc) = self.cases.remove(case) {
            self.summary.add_case(&vc);
            (self.each)(&vc);
            if !past_last {
                self.closed.insert(fingerprint(case), vc.case.version);
            }
        }
    }

    /// Moves every case past its last line whose next timer is due by `to` on to
    /// `to`, dropping those it closes.
    fn run_finished(&mut self, to: DateTime<Utc>) {
        while self
            .finished
            .peek()
            .is_some_and(|Reverse((due, _))| *due <= to)
        {
            let Some(Reverse((_, case))) = self.finished.pop() else {
                break;
            };
            let Some(vc) = self.cases.get_mut(&case) else {
                continue;
            };
            // The clock stays at the last timer fired (a case shown as it closes
            // shows when), and reaches the end only if it is held to it.
            vc.fire_due_by(to);
            if vc.case.closed {
                self.drop_closed(&case, true);
            } else if let Some(due) = vc.next_due_at().filter(|due| *due > to) {
                // (A case whose timers are still due after moving, held back by
                // the guard against timers that keep each other due, waits for
                // the end.)
                self.finished.push(Reverse((due, case)));
            }
        }
    }
}

/// Counts a line naming a case that closed and was dropped, as the case would have
/// answered it (see the module's documentation).
fn closed_line(summary: &mut Summary, version: &mut u64, case: String, line: Line) {
    let refused = |summary: &mut Summary, refusal: Refusal| {
        *summary
            .events
            .refused
            .entry(refusal.code().to_string())
            .or_default() += 1;
    };
    if let Some(expected) = line.version.filter(|v| v != version) {
        let actual = *version;
        return refused(summary, Refusal::StaleVersion { expected, actual });
    }
    match line.event.as_str() {
        "intake" => refused(summary, Refusal::AlreadyReceived { case }),
        "note" => {
            summary.events.accepted += 1;
            summary.events.recorded += 1;
            *version += 1;
        }
        _ => refused(
            summary,
            Refusal::CaseClosed {
                stage: String::new(),
            },
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {

    use super::*;
    use crate::runtime::simulate::{Profile, generate, generate_each};

    fn without_timing(summary: &Summary) -> serde_json::Value {
        let mut v = serde_json::to_value(summary).unwrap();
        let map = v.as_object_mut().unwrap();
        for key in [
            "elapsed_seconds",
            "lines_per_second",
            "microseconds_per_line",
        ] {
            map.remove(key);
        }
        v
    }

    #[test]
    fn case_of_finds_the_top_level_case_in_any_spelling() {
        assert_eq!(case_of(r#"{"case":"C-1","at":"x"}"#), Some("C-1"));
        assert_eq!(case_of(r#"{"case":"","at":"x"}"#), Some(""));
        assert_eq!(case_of(r#"{"case":"C\"1","at":"x"}"#), None);
        assert_eq!(case_of(r#"{"case":"C\u002d1"}"#), None);
        assert_eq!(case_of(r#"{ "case" : "C-1"}"#), Some("C-1"));
        assert_eq!(case_of(r#"{"at":"x","case":"C-1"}"#), Some("C-1"));
        assert_eq!(
            case_of(
                r#"{"at": "x,\"}", "data": {"case": "no", "n": [1, {"a": "]"}]}, "n": -1.5e3, "case": "C-2"}"#
            ),
            Some("C-2")
        );
        assert_eq!(case_of(r#"{"data":{"case":"C-1"}}"#), None);
        assert_eq!(case_of(r#"{"\u0063ase":"C-1"}"#), None);
        assert_eq!(case_of(r#"{"case":"C-1"#), None);
        assert_eq!(case_of(r#"{"at":"x""#), None);
        assert_eq!(case_of(r#"["case","C-1"]"#), None);
        assert_eq!(case_of(r#"{"case":"案件-1","at":"x"}"#), Some("案件-1"));
    }

    /// `line` as JSON with its `case` key last (so that the reading thread, not
    /// finding it first, parses the line), and a newline.
    fn with_case_last(line: &Line) -> String {
        let mut v = serde_json::to_value(line).unwrap();
        let case = v.as_object_mut().unwrap().remove("case").unwrap();
        v.as_object_mut().unwrap().insert("case".into(), case);
        serde_json::to_string(&v).unwrap() + "\n"
    }

    /// Parsing on the workers gives the summary that parsing on the reading thread
    /// gives: the same skips (with their line numbers and messages), the same last
    /// instant, the same counts, on one thread or several.
    #[test]
    fn replay_reader_is_replay_of_read_lines() {
        let policy = crate::runtime::test_support::bank();
        let lines = generate(&policy, &Profile::default(), 60, 3, 1, &|_| {});
        let mut text = String::new();
        for (i, line) in lines.iter().enumerate() {
            text.push_str(&serde_json::to_string(line).unwrap());
            text.push('\n');
            match i % 17 {
                3 => text.push_str("\n   \n"),
                5 => text.push_str("{\"case\":\"S-0000001\",\"at\":\"not a time\"}\n"),
                7 => text.push_str("not json at all\n"),
                9 => text.push_str("{\"case\":\"S-99\",\"at\":\"2026-03-02T09:15:00Z\",\"event\":\"note\"}\n"),
                11 => {
                    // The same line with the case not first: parsed on the reading thread.
                    text.push_str(&with_case_last(line));
                }
                13 => text.push_str("{\"case\":\"S-\\u0030\",\"at\":\"2026-03-02T09:15:00.5+08:00\",\"event\":\"intake\"}\n"),
                15 => text.push_str("{\"case\":\"S-0000002\",\"case\":\"S-0000003\",\"at\":\"2026-03-02T09:15:00Z\",\"event\":\"note\"}\n"),
                _ => {}
            }
        }
        text.push_str("{\"case\":\"S-0000004\",\"at\":\"2030-01-01T00:00:00+08:00\",\"event\":\"note\",\"text\":\"late\"}\n");
        for threads in [1, 3] {
            for until in [None, Some(Utc::now())] {
                let options = ReplayOptions {
                    threads,
                    until,
                    ..Default::default()
                };
                let parsed = read_lines(text.as_bytes());
                let expected = replay(&policy, parsed, &options, &|_| {});
                let actual = replay_reader(&policy, text.as_bytes(), &options, &|_| {});
                assert!(expected.skipped.count > 10);
                assert_eq!(without_timing(&actual), without_timing(&expected));
            }
        }
    }

    /// Knowing each case's last line changes no figure (skipped lines, a line after
    /// `until`, cases closed on a line and by a timer, on one thread or several),
    /// and cases closed by a timer after their last line are shown (and dropped)
    /// before the end, where without it every one is shown at the end.
    #[test]
    fn knowing_last_lines_changes_nothing_but_when_cases_go() {
        let policy = crate::runtime::test_support::bank();
        let lines = generate(&policy, &Profile::default(), 400, 11, 1, &|_| {});
        let mut text = String::new();
        for (i, line) in lines.iter().enumerate() {
            text.push_str(&serde_json::to_string(line).unwrap());
            text.push('\n');
            match i % 23 {
                2 => text.push_str("\n{\"case\":\"S-0000001\",\"at\":\"not a time\"}\n"),
                // The same line again with the case last: found by parsing it.
                8 => {
                    text.push_str(&with_case_last(line));
                }
                _ => {}
            }
        }
        let lasts = Arc::new(last_lines(text.as_bytes()));
        assert_eq!(lasts.len(), 400);
        let middle = lines[lines.len() / 2].instant();
        for threads in [1, 3] {
            for until in [None, Some(middle), Some(Utc::now())] {
                let shown_early = |options: &ReplayOptions| {
                    let shown_at = std::sync::Mutex::new(Vec::new());
                    let each = |vc: &VirtualCase<'_>| shown_at.lock().unwrap().push(vc.now);
                    let summary =
                        replay_reader_each(&policy, text.as_bytes(), options, &|_| {}, &each);
                    let shown_at = shown_at.into_inner().unwrap();
                    let end = summary.until.unwrap();
                    let early = shown_at.iter().filter(|now| **now < end).count();
                    (summary, early, shown_at.len())
                };
                let holding = ReplayOptions {
                    threads,
                    until,
                    last_lines: None,
                };
                let dropping = ReplayOptions {
                    last_lines: Some(lasts.clone()),
                    ..holding.clone()
                };
                let (expected, early_holding, shown) = shown_early(&holding);
                let (actual, early_dropping, _) = shown_early(&dropping);
                assert!(expected.skipped.count > 10);
                assert_eq!(shown as u64, expected.cases);
                assert_eq!(without_timing(&actual), without_timing(&expected));
                if until != Some(middle) {
                    assert!(
                        early_dropping > early_holding,
                        "{early_dropping} <= {early_holding} ({threads} threads, until {until:?})"
                    );
                }
            }
        }
    }

    /// The read-ahead's end is the instant of the last line naming a case, when it
    /// parses (the replay's last instant read is not before it), and none when it
    /// does not.
    #[test]
    fn the_read_ahead_knows_the_end_is_not_before_the_last_line() {
        let text = concat!(
            "{\"case\":\"C-1\",\"at\":\"2026-03-02T09:15:00+08:00\",\"event\":\"intake\"}\n",
            "{\"case\":\"C-1\",\"at\":\"2026-03-05T10:00:00+08:00\",\"event\":\"note\"}\n",
            "not json at all\n\n",
        );
        let end = last_lines(text.as_bytes()).end_at_least();
        assert_eq!(end, Some("2026-03-05T02:00:00Z".parse().unwrap()));
        let broken = format!("{text}{{\"case\":\"C-1\",\"at\":\"not a time\"}}\n");
        assert_eq!(last_lines(broken.as_bytes()).end_at_least(), None);
        assert_eq!(last_lines(&b""[..]).end_at_least(), None);
    }

    /// The read-ahead marks each case's last line and no other, numbering lines
    /// from 1 with blank and unreadable lines counted, as the replay does.
    #[test]
    fn the_read_ahead_marks_each_cases_last_line() {
        let text = concat!(
            "{\"case\":\"C-1\",\"at\":\"2026-03-02T09:15:00+08:00\",\"event\":\"intake\"}\n",
            "\n",
            "{\"case\":\"C-2\",\"at\":\"2026-03-02T09:16:00+08:00\",\"event\":\"intake\"}\n",
            "{\"at\":\"2026-03-03T10:00:00+08:00\",\"event\":\"note\",\"case\":\"C-1\"}\n",
            "not json at all\n",
            "{\"case\":\"C-2\",\"at\":\"2026-03-04T10:00:00+08:00\",\"event\":\"note\"}\n",
        );
        let lasts = last_lines(text.as_bytes());
        assert_eq!(lasts.len(), 2);
        let marked: Vec<usize> = (0..200).filter(|n| lasts.is_last(*n)).collect();
        assert_eq!(marked, [4, 6]);
        let lines: Vec<Line> = read_lines(text.as_bytes())
            .filter_map(|(_, l)| l.ok())
            .collect();
        let lasts = last_lines_in(&lines);
        let marked: Vec<usize> = (0..200).filter(|n| lasts.is_last(*n)).collect();
        assert_eq!(marked, [3, 4]);
        assert!(LastLines::default().is_empty() && !LastLines::default().is_last(1));
    }

    /// An event file's bytes with what the line splitting must get right: CRLF
    /// endings, blank lines (a CRLF alone, Unicode whitespace), lines that are not
    /// UTF-8 (one among valid lines, one a truncated sequence), a line of 3,000
    /// bytes, a line parsed on the reading thread, a final line with a carriage
    /// return and no newline.
    fn awkward_file() -> Vec<u8> {
        let mut text: Vec<u8> = Vec::new();
        let at = |day: u32| format!("\"at\":\"2026-03-0{day}T10:00:00+08:00\"");
        let line = |case: &str, day: u32, event: &str| {
            format!("{{\"case\":\"{case}\",{},\"event\":\"{event}\"}}", at(day))
        };
        text.extend(line("C-1", 2, "intake").bytes());
        text.extend(b"\r\n\r\n");
        text.extend("\u{3000}\t \n".bytes());
        text.extend(line("C-2", 2, "intake").bytes());
        text.extend(b"\n");
        text.extend(b"{\"case\":\"C-2\",\"at\":\"x\",\"text\":\"\xff\"}\n");
        let long = "x".repeat(3000);
        let text_line = format!(
            "{{\"case\":\"C-1\",{},\"event\":\"note\",\"text\":\"{long}\"}}",
            at(3)
        );
        text.extend(text_line.bytes());
        text.extend(b"\r\n");
        text.extend(format!("{{{},\"event\":\"note\",\"case\":\"C-2\"}}\n", at(4)).bytes());
        text.extend(b"\xc3\n");
        text.extend(b"not json\r\n");
        text.extend(line("C-3", 5, "note").bytes());
        text.extend(b"\r");
        text
    }

    /// However the reader's buffer splits an awkward file, lines are numbered, left
    /// out, skipped and reported alike, by the replay and by the read-ahead.
    #[test]
    fn lines_are_read_alike_in_any_buffer() {
        let policy = crate::runtime::test_support::bank();
        let text = awkward_file();
        let not_utf8 = "cannot parse: stream did not contain valid UTF-8".to_string();
        let expected_skips = vec![
            (5, not_utf8.clone()),
            (8, not_utf8),
            (
                9,
                "cannot parse: expected ident at line 1 column 2".to_string(),
            ),
            (
                10,
                "unknown case `C-3`: no intake before this line".to_string(),
            ),
        ];
        let options = ReplayOptions {
            threads: 2,
            ..Default::default()
        };
        let whole = replay_reader(&policy, &text[..], &options, &|_| {});
        for capacity in [1, 2, 7, 64, 1000, 4096] {
            let reader = || std::io::BufReader::with_capacity(capacity, &text[..]);
            let summary = replay_reader(&policy, reader(), &options, &|_| {});
            let skips: Vec<(usize, String)> = summary
                .skipped
                .lines
                .iter()
                .map(|s| (s.line, s.reason.clone()))
                .collect();
            assert_eq!(skips, expected_skips, "capacity {capacity}");
            assert_eq!(summary.events.read, 4, "capacity {capacity}");
            assert_eq!(without_timing(&summary), without_timing(&whole));
            let parsed = replay(&policy, read_lines(reader()), &options, &|_| {});
            assert_eq!(without_timing(&parsed), without_timing(&whole));
            let lasts = last_lines(reader());
            let marked: Vec<usize> = (0..200).filter(|n| lasts.is_last(*n)).collect();
            assert_eq!(marked, [6, 7, 10], "capacity {capacity}");
            assert_eq!(lasts.len(), 3);
            let end = Some("2026-03-05T02:00:00Z".parse().unwrap());
            assert_eq!(lasts.end_at_least(), end, "capacity {capacity}");
        }
    }

    /// Distinct ids of the shape replay meets most (sequential numbers) have distinct
    /// fingerprints: a closed case is known by its fingerprint alone.
    #[test]
    fn sequential_ids_have_distinct_fingerprints() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..1_000_000 {
            assert!(seen.insert(fingerprint(&format!("S-{i:07}"))), "S-{i:07}");
        }
    }

    /// The reference a streaming replay must match: every case kept to the end, then
    /// run on to `until` and counted.
    fn keeping_every_case(
        policy: &Policy,
        lines: &[Line],
        until: Option<DateTime<Utc>>,
    ) -> Summary {
        let mut cases: std::collections::BTreeMap<String, VirtualCase<'_>> = Default::default();
        let mut summary = Summary::new(policy);
        let mut last = None;
        for (i, line) in lines.iter().enumerate() {
            last = last.max(Some(line.instant()));
            if !cases.contains_key(&line.case) && !line.is_intake() {
                summary.skip(
                    i + 1,
                    format!("unknown case `{}`: no intake before this line", line.case),
                );
                continue;
            }
            let vc = cases
                .entry(line.case.clone())
                .or_insert_with(|| VirtualCase::new(policy, &line.case, false));
            summary.events.read += 1;
            let _ = vc.send(&line.command(), line.instant());
        }
        let until = until.or(last);
        for vc in cases.values_mut() {
            vc.advance_to(until.unwrap());
            summary.add_case(vc);
        }
        summary.until = until;
        summary.finish(0.0);
        summary
    }

    /// Dropping closed cases changes no figure, lines naming them afterwards included
    /// (a note, a second intake, an event, a stale version), on one thread or several.
    #[test]
    fn dropping_closed_cases_counts_as_keeping_them() {
        let policy = crate::runtime::test_support::bank();
        let mut lines = generate(&policy, &Profile::default(), 300, 9, 1, &|_| {});
        let reference = keeping_every_case(&policy, &lines, None);
        assert!(
            reference.by_stage.get("closed").copied().unwrap_or(0) > 50,
            "{:?}",
            reference.by_stage
        );
        let last = lines.last().unwrap().at;
        let after = |case: &str, event: &str, version: Option<u64>| Line {
            case: case.to_string(),
            at: last,
            event: event.to_string(),
            data: Default::default(),
            actor: None,
            received_at: None,
            key: None,
            version,
            text: Some("after closing".into()),
            assignee: None,
            sla: None,
            extension: None,
        };
        for i in 0..300 {
            let case = format!("S-{i:07}");
            lines.push(after(&case, "note", None));
            lines.push(after(&case, "intake", None));
            lines.push(after(&case, "decide", None));
            lines.push(after(&case, "note", Some(1)));
            lines.push(after(&case, "note", None));
        }
        let expected = keeping_every_case(&policy, &lines, None);
        for threads in [1, 2] {
            let options = ReplayOptions {
                threads,
                until: None,
                ..Default::default()
            };
            let actual = replay(
                &policy,
                crate::runtime::simulate::numbered(lines.clone()),
                &options,
                &|_| {},
            );
            assert_eq!(
                without_timing(&actual),
                without_timing(&expected),
                "{threads} thread(s)"
            );
        }
    }

    /// Cases generated one after the other replay to the summary of the same cases
    /// generated in time order.
    #[test]
    fn generated_case_by_case_replays_as_in_time_order() {
        let policy = crate::runtime::test_support::bank();
        let profile = Profile::default();
        let sorted = generate(&policy, &profile, 200, 4, 2, &|_| {});
        let each: Vec<Line> = generate_each(&policy, &profile, 200, 4).collect();
        assert_eq!(sorted.len(), each.len());
        let options = ReplayOptions {
            threads: 2,
            until: None,
            ..Default::default()
        };
        let numbered = crate::runtime::simulate::numbered;
        let dropping = ReplayOptions {
            last_lines: Some(Arc::new(last_lines_in(&sorted))),
            ..options.clone()
        };
        let a = replay(&policy, numbered(sorted.clone()), &options, &|_| {});
        let b = replay(&policy, numbered(each), &options, &|_| {});
        assert_eq!(without_timing(&a), without_timing(&b));
        // Marked as the generator knows them, or found in the sorted lines, each
        // case's last line changes nothing.
        let marked = crate::runtime::simulate::generate_each_marked(&policy, &profile, 200, 4)
            .enumerate()
            .map(|(i, (line, last))| ((i + 1, Ok(line)), last));
        let c = replay_marked(&policy, marked, &options, &|_| {});
        assert_eq!(without_timing(&c), without_timing(&a));
        let d = replay(&policy, numbered(sorted), &dropping, &|_| {});
        assert_eq!(without_timing(&d), without_timing(&a));
    }
}
