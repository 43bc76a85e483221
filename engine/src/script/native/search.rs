//! Searching short ASCII texts for a few words, ignoring ASCII case: the keyword
//! helpers' and literal patterns' answer where the text is ASCII, found with
//! `memchr` rather than a regex engine or a byte-at-a-time scan.
//!
//! Exactness: an ASCII text can only hold the ASCII words among those searched for
//! (every byte of another word is above 127), and in ASCII text Unicode's case rules
//! change only ASCII letters, so ignoring ASCII case is ignoring case.

use regex::Regex;

/// Words searched for in ASCII text, ignoring ASCII case; the words that are not
/// ASCII are left out (they are in no ASCII text).
#[derive(Debug, Clone)]
pub(crate) struct AsciiWords {
    /// In lower case.
    words: Vec<Box<[u8]>>,
    /// Whether one of them is empty (and so in every text).
    empty: bool,
    /// The two bytes the words start with, each pair once, as [`Start`]s.
    starts: Vec<Start>,
}

/// A byte, for finding it eight bytes at a time: the byte in every lane, and the bits
/// set in every lane before comparing (`0x20`, which makes ASCII capitals small, for a
/// letter; none for another byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lanes {
    byte: u64,
    fold: u64,
}

/// The first two bytes of a word (the first only, for a word of one byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Start {
    first: Lanes,
    second: Lanes,
    /// Every lane's high bit for a word of one byte (which has no second byte to
    /// find), none otherwise.
    any_second: u64,
}

const LANES_01: u64 = 0x0101_0101_0101_0101;
const LANES_80: u64 = 0x8080_8080_8080_8080;
/// The high bits of the first seven lanes: those whose next byte is in the chunk.
const SEVEN_LANES: u64 = 0x0080_8080_8080_8080;

impl Lanes {
    fn of(byte: u8) -> Lanes {
        let fold = match byte.is_ascii_alphabetic() {
            true => 0x20 * LANES_01,
            false => 0,
        };
        Lanes {
            byte: u64::from(byte.to_ascii_lowercase()) * LANES_01,
            fold,
        }
    }

    /// The high bit of each lane of `chunk` (8 ASCII bytes) that is this byte in
    /// either case; where the lowest such lane is, exactly; the lanes above it may be
    /// set without holding it.
    #[inline(always)]
    fn in_chunk(self, chunk: u64) -> u64 {
        let x = (chunk | self.fold) ^ self.byte;
        x.wrapping_sub(LANES_01) & !x & LANES_80
    }
}

impl Start {
    fn of(word: &[u8]) -> Option<Start> {
        let (first, rest) = word.split_first()?;
        Some(Start {
            first: Lanes::of(*first),
            second: Lanes::of(rest.first().copied().unwrap_or(0)),
            any_second: if rest.is_empty() { LANES_80 } else { 0 },
        })
    }

    /// The lanes of `chunk` where the word may start: its first byte there and its
    /// second in the next lane (the last lane's next being 0, which no word of two
    /// bytes or more has in ASCII text). Every lane where it does is set; the lowest
    /// set may not be one (a place then checked).
    #[inline(always)]
    fn in_chunk(self, chunk: u64) -> u64 {
        self.first.in_chunk(chunk) & (self.second.in_chunk(chunk >> 8) | self.any_second)
    }
}

impl AsciiWords {
    /// The ASCII words among `words`, in ASCII lower case.
    pub(crate) fn of<'w>(words: impl IntoIterator<Item = &'w str>) -> AsciiWords {
        let mut ascii = AsciiWords {
            words: Vec::new(),
            empty: false,
            starts: Vec::new(),
        };
        for word in words.into_iter().filter(|w| w.is_ascii()) {
            let lower = word.to_ascii_lowercase().into_bytes();
            if lower.is_empty() {
                ascii.empty = true;
                continue;
            }
            let Some(start) = Start::of(&lower) else {
                continue;
            };
            if !ascii.starts.contains(&start) {
                ascii.starts.push(start);
            }
            ascii.words.push(lower.into_boxed_slice());
        }
        ascii
    }

    /// Whether the ASCII text `haystack` holds one of the words, ignoring ASCII case:
    /// at each place where a word's first two bytes may be, the words compared.
    pub(crate) fn in_ascii(&self, haystack: &[u8]) -> bool {
        if self.empty {
            return true;
        }
        let mut from = 0;
        while let Some(at) = self.next_start(haystack, from) {
            let rest = haystack.get(at..).unwrap_or_default();
            let here = |w: &[u8]| {
                rest.get(..w.len())
                    .is_some_and(|r| r.eq_ignore_ascii_case(w))
            };
            if self.words.iter().any(|w| here(w)) {
                return true;
            }
            from = at + 1;
        }
        false
    }

    /// The first place at or after `from` where a word may start (every place where
    /// one does is found): eight bytes at a time, moving on by seven (the eighth
    /// byte's next is not in the chunk), the last eight bytes together, those before
    /// `from` left out (a lane left out can only set one above it that is not a
    /// start: a place then checked); a text shorter than eight bytes padded with 0.
    #[inline]
    fn next_start(&self, haystack: &[u8], mut from: usize) -> Option<usize> {
        let lanes = |chunk: u64| self.starts.iter().fold(0, |m, s| m | s.in_chunk(chunk));
        let len = haystack.len();
        while let Some(chunk) = haystack.get(from..).and_then(|r| r.first_chunk::<8>()) {
            let found = lanes(u64::from_le_bytes(*chunk)) & SEVEN_LANES;
            if found != 0 {
                return Some(from + (found.trailing_zeros() / 8) as usize);
            }
            from += 7;
        }
        let (chunk, at) = match haystack.last_chunk::<8>() {
            Some(last) => (u64::from_le_bytes(*last), len - 8),
            None => {
                let mut padded = [0; 8];
                padded.iter_mut().zip(haystack).for_each(|(p, b)| *p = *b);
                (u64::from_le_bytes(padded), 0)
            }
        };
        // Lanes from `from` to the text's end.
        let skip = from.checked_sub(at)?;
        let end = len - at;
        if skip >= end {
            return None;
        }
        let mut wanted = u64::MAX << (skip * 8);
        if end < 8 {
            wanted &= !(u64::MAX << (end * 8));
        }
        let found = lanes(chunk) & wanted;
        (found != 0).then(|| at + (found.trailing_zeros() / 8) as usize)
    }
}

/// A `matches` pattern that is only literal words joined by `|` (`(?i)ombudsman|
/// regulator`), searched for without the regex engine where that gives the regex's
/// answer; the regex otherwise.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    regex: Regex,
    literals: Option<Literals>,
}

/// A pattern's words, and whether it ignores case.
#[derive(Debug, Clone)]
struct Literals {
    words: AsciiWords,
    ignore_case: bool,
}

impl Pattern {
    /// `regex` (compiled from `source`), with its words if it is only words.
    pub(crate) fn new(source: &str, regex: Regex) -> Pattern {
        Pattern {
            literals: Literals::of(source),
            regex,
        }
    }

    /// Whether the pattern matches somewhere in `text`, as [`Regex::is_match`].
    pub(crate) fn is_match(&self, text: &str) -> bool {
        match &self.literals {
            Some(l) if !l.ignore_case => l.words.in_case(text.as_bytes()),
            Some(l) if text.is_ascii() => l.words.in_ascii(text.as_bytes()),
            _ => self.regex.is_match(text),
        }
    }
}

impl Literals {
    /// The words of `pattern`, if it is an optional `(?i)` then words of ASCII letters,
    /// digits, spaces, `_` and `-` (none of them special to the regex syntax outside a
    /// class) joined by `|`.
    fn of(pattern: &str) -> Option<Literals> {
        let (ignore_case, body) = match pattern.strip_prefix("(?i)") {
            Some(body) => (true, body),
            None => (false, pattern),
        };
        let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b' ' | b'_' | b'-');
        if !body.bytes().all(|b| plain(b) || b == b'|') {
            return None;
        }
        let words = match ignore_case {
            true => AsciiWords::of(body.split('|')),
            // Kept as written: compared exactly.
            false => AsciiWords {
                empty: body.split('|').any(str::is_empty),
                words: body
                    .split('|')
                    .filter(|w| !w.is_empty())
                    .map(|w| w.as_bytes().into())
                    .collect(),
                starts: Vec::new(),
            },
        };
        Some(Literals { words, ignore_case })
    }
}

impl AsciiWords {
    /// Whether `haystack` (any UTF-8 text: an ASCII word found in it is always whole
    /// characters) holds one of the words exactly, case included.
    fn in_case(&self, haystack: &[u8]) -> bool {
        self.empty
            || self
                .words
                .iter()
                .any(|w| memchr::memmem::find(haystack, w).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_patterns_match_as_the_regex_does() {
        let patterns = [
            "(?i)ombudsman|regulator",
            "(?i)ombudsman|Regulator",
            "(?i)scam|",
            "(?i)card skimmed|k",
            "(?i)s",
            "card|fraud",
            "Card",
            "",
            "|",
            "(?i)",
            "a-b|c_d",
            "^$",
            "被.刷",
            "(?i)scam|(x)",
        ];
        let texts = [
            "",
            "the card was declined abroad twice",
            "Wrote to the OMBUDSMAN",
            "a REGULATOR complaint",
            "信用卡被盗刷 card skimmed",
            "\u{212A}elvin",
            "ſcam",
            "SCAM",
            "Card fraud",
            "a-b",
            "ombudsma",
        ];
        for source in patterns {
            let regex = Regex::new(source).unwrap_or_else(|e| panic!("{e}"));
            let pattern = Pattern::new(source, regex.clone());
            for text in texts {
                assert_eq!(
                    pattern.is_match(text),
                    regex.is_match(text),
                    "`{source}` on `{text}`"
                );
            }
        }
        assert!(Literals::of("(?i)ombudsman|regulator").is_some());
        assert!(Literals::of("card.|fraud").is_none());
        assert!(Literals::of("(?i)café").is_none());
    }

    #[test]
    fn ascii_words_are_found_wherever_they_are() {
        let words = ["scam", "k", "ombudsman", "regulator", "a-b", "9", " x"];
        let texts = [
            "",
            "s",
            "K",
            "the card was declined abroad twice",
            "xxxxxxxSCAM",
            "xxxxxxxxSCAM",
            "xxxxxxxxxScaM",
            "sssssssssssssssssscam",
            "written to the Regulator, then the OMBUDSMAN",
            "@[`{ -_ 9",
            "a x",
            "a-b",
            "A-B at the end of a longer text a-",
        ];
        for n in 1..=words.len() {
            for skip in 0..n {
                let chosen: Vec<&str> = words[skip..n].to_vec();
                let ascii = AsciiWords::of(chosen.iter().copied());
                for text in texts {
                    let lower = text.to_ascii_lowercase();
                    let expected = chosen.iter().any(|w| lower.contains(w));
                    assert_eq!(
                        ascii.in_ascii(text.as_bytes()),
                        expected,
                        "{chosen:?} in `{text}`"
                    );
                }
            }
        }
    }

    #[test]
    fn ascii_words_are_found_ignoring_ascii_case() {
        let words = AsciiWords::of(["盗刷", "scam", "k1"]);
        assert!(words.in_ascii(b"a SCAM call"));
        assert!(words.in_ascii(b"K1"));
        assert!(!words.in_ascii(b"sca"));
        assert!(!words.in_ascii(b"k"));
        assert!(!words.in_ascii(b""));
        assert!(AsciiWords::of(["x", ""]).in_ascii(b""));
        assert!(!AsciiWords::of(["盗刷"]).in_ascii(b"anything"));
    }
}
