//! Reading the usual spelling of an event-file line without serde's machinery:
//! one object of the keys [`Line`] knows, each once, in any order and with any
//! whitespace; strings without escapes or control characters; instants in the
//! common RFC 3339 form; `data` values that are strings, `true`, `false`, `null`,
//! whole numbers or (read by serde_json) anything else.
//!
//! [`read`] gives the line serde would give, or `None` for anything else (an
//! escape, an unknown or repeated key, a fraction of a second, an error), which
//! [`Line::parse`] then hands to serde, so that what is read and every error
//! message stay serde's.

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use super::Line;
use crate::case::Actor;
use crate::runtime::Data;
use crate::runtime::replay::instant::parse_common;

/// The line `text` spells, if it is spelt the usual way (see the module's
/// documentation).
pub(super) fn read(text: &str) -> Option<Line> {
    let mut r = Reader { text, i: 0 };
    let mut line = Parts::default();
    r.object(|r, key| line.read(r, key))?;
    r.space();
    (r.i == text.len()).then_some(())?;
    line.into_line()
}

/// The keys of a line read so far.
#[derive(Default)]
struct Parts {
    /// Which keys were read, one bit each ([`Member`]).
    seen: u16,
    case: Option<String>,
    at: Option<DateTime<FixedOffset>>,
    event: Option<String>,
    data: Data,
    actor: Option<Actor>,
    received_at: Option<DateTime<FixedOffset>>,
    key: Option<String>,
    version: Option<u64>,
    text: Option<String>,
    assignee: Option<String>,
    sla: Option<String>,
    extension: Option<String>,
}

/// The keys of [`Line`], as its serde derive names them.
#[derive(Clone, Copy)]
enum Member {
    Case,
    At,
    Event,
    Data,
    Actor,
    ReceivedAt,
    IdempotencyKey,
    Version,
    Text,
    Assignee,
    Sla,
    Extension,
}

impl Member {
    fn of(key: &str) -> Option<Member> {
        Some(match key {
            "case" => Member::Case,
            "at" => Member::At,
            "event" => Member::Event,
            "data" => Member::Data,
            "actor" => Member::Actor,
            "received_at" => Member::ReceivedAt,
            "key" => Member::IdempotencyKey,
            "version" => Member::Version,
            "text" => Member::Text,
            "assignee" => Member::Assignee,
            "sla" => Member::Sla,
            "extension" => Member::Extension,
            _ => return None,
        })
    }
}

impl Parts {
    /// Reads the value of `key`; `None` for a key that is unknown or repeated, or a
    /// value not read here.
    fn read(&mut self, r: &mut Reader<'_>, key: &str) -> Option<()> {
        let member = Member::of(key)?;
        let bit = 1 << member as u16;
        if self.seen & bit != 0 {
            return None;
        }
        self.seen |= bit;
        let text = |r: &mut Reader<'_>| r.null_or(|r| r.string().map(str::to_owned));
        match member {
            Member::Case => self.case = Some(r.string()?.to_owned()),
            Member::At => self.at = Some(parse_common(r.string()?)?),
            Member::Event => self.event = Some(r.string()?.to_owned()),
            Member::Data => self.data = r.data()?,
            Member::Actor => self.actor = r.null_or(Reader::actor)?,
            Member::ReceivedAt => self.received_at = r.null_or(|r| parse_common(r.string()?))?,
            Member::Version => self.version = r.null_or(Reader::whole)?,
            Member::IdempotencyKey => self.key = text(r)?,
            Member::Text => self.text = text(r)?,
            Member::Assignee => self.assignee = text(r)?,
            Member::Sla => self.sla = text(r)?,
            Member::Extension => self.extension = text(r)?,
        }
        Some(())
    }

    /// The line, if it has the keys a line needs.
    fn into_line(self) -> Option<Line> {
        Some(Line {
            case: self.case?,
            at: self.at?,
            event: self.event?,
            data: self.data,
            actor: self.actor,
            received_at: self.received_at,
            key: self.key,
            version: self.version,
            text: self.text,
            assignee: self.assignee,
            sla: self.sla,
            extension: self.extension,
        })
    }
}

/// The most field values read here (more are left to serde, so that finding a
/// repeated key stays cheap).
const MAX_DATA: usize = 32;

/// Where the first `"`, `\\` or control character of `b` is, eight bytes at a time.
fn string_end(b: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte's high bit is set where the byte is zero (or below 0x20 for the
    // third), and in the bytes after such a byte, never before: so the lowest
    // set bit (the bytes read as little-endian) marks the first such byte.
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut chunks = b.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let found = zero(x ^ (ONES * u64::from(b'"')))
            | zero(x ^ (ONES * u64::from(b'\\')))
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGH);
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = chunks.remainder();
    let n = tail
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
    Some(at + n)
}

/// A position in the text of a line.
struct Reader<'t> {
    text: &'t str,
    i: usize,
}

impl<'t> Reader<'t> {
    fn bytes(&self) -> &'t [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.i).copied()
    }

    /// Skips JSON whitespace.
    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// Skips whitespace, then `byte`.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.space();
        (self.peek() == Some(byte)).then(|| self.i += 1)
    }

    /// An object: `each` reads the value of every key, the reader just past its
    /// `:` and whitespace.
    fn object(&mut self, mut each: impl FnMut(&mut Self, &'t str) -> Option<()>) -> Option<()> {
        self.expect(b'{')?;
        self.space();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Some(());
        }
        loop {
            self.space();
            let key = self.string()?;
            self.expect(b':')?;
            self.space();
            each(self, key)?;
            self.space();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string with no escape and no control character (which serde refuses).
    fn string(&mut self) -> Option<&'t str> {
        let rest = self.bytes().get(self.i..)?.strip_prefix(b"\"")?;
        let end = string_end(rest)?;
        (rest[end] == b'"').then_some(())?;
        // Both ends are ASCII bytes, so both are char boundaries.
        let s = self.text.get(self.i + 1..self.i + 1 + end)?;
        self.i += end + 2;
        Some(s)
    }

    /// `null` as `None`, anything else as `read` reads it.
    fn null_or<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.literal("null") {
            Some(None)
        } else {
            read(self).map(Some)
        }
    }

    /// Whether `word` is next (and if so, skips it).
    fn literal(&mut self, word: &str) -> bool {
        let found = self.bytes()[self.i..].starts_with(word.as_bytes());
        if found {
            self.i += word.len();
        }
        found
    }

    /// A whole number from 0 to `u64::MAX` as JSON writes it (no leading zero).
    fn whole(&mut self) -> Option<u64> {
        let rest = &self.bytes()[self.i..];
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || (digits > 1 && rest[0] == b'0') {
            return None;
        }
        // A fraction or an exponent follows: serde reads a float, not this.
        if matches!(rest.get(digits), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        let n = rest[..digits].iter().try_fold(0_u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })?;
        self.i += digits;
        Some(n)
    }

    /// An actor: `id` and `role`, each a string or `null`, each at most once.
    fn actor(&mut self) -> Option<Actor> {
        let mut actor = Actor::default();
        let mut seen = 0_u8;
        self.object(|r, key| {
            let bit = match key {
                "id" => 1,
                "role" => 2,
                _ => return None,
            };
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            let value = r.null_or(|r| r.string().map(str::to_owned))?;
            match bit {
                1 => actor.id = value,
                _ => actor.role = value,
            }
            Some(())
        })?;
        Some(actor)
    }

    /// Field values, each key once, in the order written.
    fn data(&mut self) -> Option<Data> {
        // Gathered first, so that the map is made once at its size.
        let mut values: Vec<(&'t str, Value)> = Vec::new();
        self.object(|r, key| {
            // A repeated key (serde keeps the last value) is left to serde.
            if values.len() >= MAX_DATA || values.iter().any(|(k, _)| *k == key) {
                return None;
            }
            values.push((key, r.value()?));
            Some(())
        })?;
        let mut data = Data::with_capacity(values.len());
        for (key, value) in values {
            data.insert(key.to_owned(), value);
        }
        Some(data)
    }

    /// A field's value: the simple ones read here, anything else by serde_json
    /// over its text.
    fn value(&mut self) -> Option<Value> {
        match self.peek()? {
            b'"' => return self.string().map(|s| Value::String(s.to_owned())),
            b'0'..=b'9' => {
                if let Some(n) = self.whole() {
                    return Some(Value::from(n));
                }
            }
            b't' if self.literal("true") => return Some(Value::Bool(true)),
            b'f' if self.literal("false") => return Some(Value::Bool(false)),
            b'n' if self.literal("null") => return Some(Value::Null),
            _ => {}
        }
        let end = crate::runtime::replay::skip_value(self.bytes(), self.i)?;
        let value = serde_json::from_str(self.text.get(self.i..end)?).ok()?;
        self.i = end;
        Some(value)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::policy::load_policy;
    use crate::runtime::simulate::{Profile, generate};

    /// What serde reads of `text`: the line written back out (which shows each
    /// instant's offset, where `==` compares instants only), or the error.
    fn serde(text: &str) -> Result<String, String> {
        serde_json::from_str::<Line>(text)
            .map(|line| serde_json::to_string(&line).unwrap())
            .map_err(|e| e.to_string())
    }

    /// Whether the quick reading of `text` agrees with serde's (never reading what
    /// serde refuses, nor reading anything else) and [`Line::parse`] is serde's.
    fn agrees(text: &str) -> Result<(), String> {
        let theirs = serde(text);
        if let Some(ours) = read(text) {
            let ours = serde_json::to_string(&ours).unwrap();
            if theirs.as_ref() != Ok(&ours) {
                return Err(format!("{text}: quick {ours}, serde {theirs:?}"));
            }
        }
        let parsed = Line::parse(text).map(|line| serde_json::to_string(&line).unwrap());
        match parsed.map_err(|e| e.to_string()) == theirs {
            true => Ok(()),
            false => Err(format!("{text}: parse differs from serde {theirs:?}")),
        }
    }

    /// `line` as JSON with its keys (and its data's and actor's) in reverse order,
    /// across several lines, indented.
    fn respelt(line: &Line) -> String {
        let reversed = |v: serde_json::Value| match v {
            serde_json::Value::Object(map) => {
                serde_json::Value::Object(map.into_iter().rev().collect())
            }
            other => other,
        };
        let mut map = match serde_json::to_value(line).unwrap() {
            serde_json::Value::Object(map) => map,
            _ => unreachable!(),
        };
        for value in map.values_mut() {
            *value = reversed(std::mem::take(value));
        }
        serde_json::to_string_pretty(&reversed(serde_json::Value::Object(map))).unwrap()
    }

    #[test]
    fn every_shipped_policys_simulated_lines_read_quickly_as_serde_reads_them() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
        for file in [
            "bank.toml",
            "bank-uk.toml",
            "hotel.toml",
            "insurer.toml",
            "retail.toml",
        ] {
            let policy = load_policy(&dir.join(file)).unwrap();
            for line in generate(&policy, &Profile::default(), 200, 7, 1, &|_| {}) {
                for text in [serde_json::to_string(&line).unwrap(), respelt(&line)] {
                    assert!(read(&text).is_some(), "{file}: not read quickly: {text}");
                    agrees(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
                }
            }
        }
    }

    #[test]
    fn unusual_spellings_are_left_to_serde() {
        let at = r#""case":"C-1","at":"2026-03-02T09:15:00Z""#;
        // (text after `{` and the case and instant, read quickly?)
        let table = [
            (r#","event":"intake"}"#, true),
            (r#","event":"intake","data":{}}"#, true),
            (
                r#","event":"intake","data":{"n":0,"m":12,"t":true,"f":false,"z":null}}"#,
                true,
            ),
            (
                r#","event":"intake","data":{"x":-3,"y":1.5,"z":1e3,"w":[1,{"a":"b"}]}}"#,
                true,
            ),
            (
                r#","event":"intake","data":{"big":18446744073709551616}}"#,
                true,
            ),
            (r#","event":"intake","data":{"n":01}}"#, false),
            (r#","event":"intake","data":{"n":5x}}"#, false),
            (r#","event":"intake","data":{"a":"1","a":"2"}}"#, false),
            (r#","event":"intake","data":{"a":"\u0041"}}"#, false),
            (r#","event":"intake","data":null}"#, false),
            (r#","event":"note","text":"say \"hi\""}"#, false),
            (",\"event\":\"note\",\"text\":\"a\tb\"}", false),
            (
                r#","event":"note","text":null,"key":null,"actor":null}"#,
                true,
            ),
            (r#","event":"note","actor":{}}"#, true),
            (
                r#","event":"note","actor":{"role":"agent","id":null}}"#,
                true,
            ),
            (r#","event":"note","actor":{"id":"a","id":"b"}}"#, false),
            (r#","event":"note","actor":{"id":"a","team":"b"}}"#, false),
            (r#","event":"note","version":0}"#, true),
            (r#","event":"note","version":18446744073709551615}"#, true),
            (r#","event":"note","version":18446744073709551616}"#, false),
            (r#","event":"note","version":3.0}"#, false),
            (r#","event":"note","version":-1}"#, false),
            (r#","event":"note","version":"3"}"#, false),
            (r#","event":"note","extra":1}"#, false),
            (r#","event":"note","event":"note"}"#, false),
            (
                r#","event":"intake","received_at":"2026-03-01T09:15:00+08:00"}"#,
                true,
            ),
            (
                r#","event":"intake","received_at":"2026-03-01T09:15:00.5Z"}"#,
                false,
            ),
            (r#","event":"intake","received_at":null}"#, true),
            (
                r#","event":"extend","sla":"final","extension":"complex"}"#,
                true,
            ),
            (r#","event":"intake"} x"#, false),
            (r#","event":"intake"}  "#, true),
            (r#","event":"intake",}"#, false),
            (r#","event":"intake""#, false),
            (r#"}"#, false),
            (r#","event":"我的","assignee":"张三"}"#, true),
        ];
        for (rest, quick) in table {
            let text = format!("{{{at}{rest}");
            assert_eq!(read(&text).is_some(), quick, "{text}");
            agrees(&text).unwrap();
        }
        // Many field values are left to serde (which finds a repeated key by hash).
        let many: Vec<String> = (0..=MAX_DATA).map(|i| format!(r#""f{i}":{i}"#)).collect();
        let text = format!(r#"{{{at},"event":"update","data":{{{}}}}}"#, many.join(","));
        assert!(read(&text).is_none());
        agrees(&text).unwrap();
        for text in [
            "",
            "{}",
            "[]",
            "null",
            r#"["C-1","2026-03-02T09:15:00Z","note"]"#,
        ] {
            assert!(read(text).is_none(), "{text}");
            agrees(text).unwrap();
        }
    }

    /// Pieces of a line: a key (known, unknown, or misspelt) and a value (of the
    /// right type or not, usual or not).
    fn member() -> impl Strategy<Value = String> {
        let key = prop::sample::select(vec![
            "case",
            "at",
            "event",
            "data",
            "actor",
            "received_at",
            "key",
            "version",
            "text",
            "assignee",
            "sla",
            "extension",
            "Case",
            "other",
        ]);
        let value = prop::sample::select(vec![
            r#""C-1""#,
            r#""intake""#,
            r#""2026-03-02T09:15:00Z""#,
            r#""2026-03-02T09:15:00+08:00""#,
            r#""2026-03-02T09:15:00.5Z""#,
            r#""2026-02-30T09:15:00Z""#,
            r#""a\"b""#,
            r#""é 我""#,
            "null",
            "true",
            "0",
            "7",
            "007",
            "-1",
            "2.5",
            "1e2",
            "[]",
            "{}",
            r#"{"id":"u1","role":"agent"}"#,
            r#"{"id":null}"#,
            r#"{"category":"cards","amount":"12.50","n":3,"ok":false}"#,
            r#"{"a":{"b":[1,2]},"c":-0}"#,
            r#"{"a":1,"a":2}"#,
        ]);
        let space = prop::sample::select(vec!["", " ", "\n", "\t "]);
        (key, space.clone(), value, space)
            .prop_map(|(key, s1, value, s2)| format!("{s1}\"{key}\"{s2}:{s1}{value}{s2}"))
    }

    proptest! {
        #[test]
        fn a_strings_end_is_the_first_quote_backslash_or_control_character(
            bytes in prop::collection::vec(
                prop::sample::select(vec![b'a', b'"', b'\\', 0x1f, 0x20, 0x7f, 0x80, 0xe6, 0x00]),
                0..40,
            )
        ) {
            let naive = bytes.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
            prop_assert_eq!(string_end(&bytes), naive);
        }

        #[test]
        fn any_line_reads_as_serde_reads_it(members in prop::collection::vec(member(), 0..8)) {
            let text = format!("{{{}}}", members.join(","));
            prop_assert!(agrees(&text).is_ok(), "{}", agrees(&text).unwrap_err());
        }

        #[test]
        fn a_usual_line_reads_as_serde_reads_it(
            first in prop::sample::select(vec!["case", "at", "event"]),
            members in prop::collection::vec(member(), 0..5),
        ) {
            // Always the three keys a line needs, so that most of these are read.
            let needed = r#""case":"C-1","at":"2026-03-02T09:15:00Z","event":"note""#;
            let mut all = vec![needed.to_string()];
            all.extend(members);
            if first != "case" {
                all.reverse();
            }
            let text = format!("{{{}}}", all.join(","));
            prop_assert!(agrees(&text).is_ok(), "{}", agrees(&text).unwrap_err());
        }
    }
}
