//! An event file's lines, each read in place in the reader's buffer.

use std::io::{BufRead, ErrorKind};

/// Why a line cannot be read.
#[derive(Debug)]
pub(super) enum Unread {
    /// It is not UTF-8 (and is read past).
    NotUtf8,
    /// The reader failed (what was read of the line is lost).
    Failed(std::io::Error),
}

impl std::fmt::Display for Unread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The message of the error `BufRead::lines` gives for such a line.
            Unread::NotUtf8 => f.write_str("stream did not contain valid UTF-8"),
            Unread::Failed(e) => e.fmt(f),
        }
    }
}

/// Where the next line was found.
enum Found {
    /// In the reader's buffer, ending at this index (where its `\n` is).
    InBuffer(usize),
    /// Copied into `carry` (it ran past the end of the reader's buffer), with its
    /// `\n` or at the end of the input.
    Carried { ended: bool },
}

/// The lines of a reader as `BufRead::lines` gives them, numbered from 1 (each
/// without its `\n` or `\r\n`; a line that is not UTF-8, or a read that fails, an
/// error that takes a line's number, the lines after it read on), but each a slice
/// of the reader's buffer, not a `String` of its own (only a line that runs past the
/// end of the buffer is copied).
pub(super) struct Lines<R> {
    reader: R,
    /// How much of the reader's buffer the last line took, consumed before the next.
    taken: usize,
    /// A line that ran past the end of the reader's buffer.
    carry: Vec<u8>,
    /// The number of the last line given.
    n: usize,
}

impl<R: BufRead> Lines<R> {
    pub(super) fn new(reader: R) -> Self {
        Lines {
            reader,
            taken: 0,
            carry: Vec::new(),
            n: 0,
        }
    }

    /// The next line and its number, `None` at the end of the input.
    pub(super) fn next_line(&mut self) -> Option<(usize, Result<&str, Unread>)> {
        self.reader.consume(std::mem::take(&mut self.taken));
        self.carry.clear();
        let found = loop {
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // As `BufRead::lines`: what was read of the line is lost.
                Err(e) => return Some(self.failed(e)),
            };
            if buf.is_empty() {
                if self.carry.is_empty() {
                    return None;
                }
                break Found::Carried { ended: false };
            }
            match memchr::memchr(b'\n', buf) {
                Some(i) if self.carry.is_empty() => break Found::InBuffer(i),
                Some(i) => {
                    self.carry.extend_from_slice(&buf[..i]);
                    self.reader.consume(i + 1);
                    break Found::Carried { ended: true };
                }
                None => {
                    let len = buf.len();
                    self.carry.extend_from_slice(buf);
                    self.reader.consume(len);
                }
            }
        };
        self.n += 1;
        let line = match found {
            Found::InBuffer(end) => {
                self.taken = end + 1;
                // The buffer again, not consumed, so not read into.
                match self.reader.fill_buf() {
                    Ok(buf) if buf.len() > end => &buf[..end],
                    Ok(_) => {
                        let e = ErrorKind::UnexpectedEof.into();
                        return Some((self.n, Err(Unread::Failed(e))));
                    }
                    Err(e) => return Some((self.n, Err(Unread::Failed(e)))),
                }
            }
            Found::Carried { ended: true } => &self.carry[..],
            Found::Carried { ended: false } => {
                let line = std::str::from_utf8(&self.carry).map_err(|_| Unread::NotUtf8);
                return Some((self.n, line));
            }
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Some((
            self.n,
            std::str::from_utf8(line).map_err(|_| Unread::NotUtf8),
        ))
    }

    /// Shows `f` each line (numbered) that follows whole in the reader's buffer, the
    /// lines checked to be UTF-8 in one go, or else the next line as [`next_line`]
    /// reads it; false at the end of the input.
    ///
    /// [`next_line`]: Self::next_line
    pub(super) fn each_line(&mut self, mut f: impl FnMut(usize, Result<&str, Unread>)) -> bool {
        self.reader.consume(std::mem::take(&mut self.taken));
        let buf = match self.reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == ErrorKind::Interrupted => return true,
            Err(e) => {
                let (n, e) = self.failed(e);
                f(n, e);
                return true;
            }
        };
        // Up to the last newline, or to the last before bytes that are not UTF-8
        // (whose line `next_line` then reports).
        let whole = match memchr::memrchr(b'\n', buf).map(|i| &buf[..=i]) {
            Some(whole) => match std::str::from_utf8(whole) {
                Ok(text) => Some(text),
                Err(e) => memchr::memrchr(b'\n', &whole[..e.valid_up_to()])
                    .and_then(|i| std::str::from_utf8(&whole[..=i]).ok()),
            },
            None => None,
        };
        let Some(whole) = whole else {
            return match self.next_line() {
                Some((n, line)) => {
                    f(n, line);
                    true
                }
                None => false,
            };
        };
        let mut start = 0;
        while let Some(i) = memchr::memchr(b'\n', &whole.as_bytes()[start..]) {
            let line = &whole[start..start + i];
            start += i + 1;
            self.n += 1;
            f(self.n, Ok(line.strip_suffix('\r').unwrap_or(line)));
        }
        self.taken = whole.len();
        true
    }

    /// The next line's number, and `e`.
    fn failed(&mut self, e: std::io::Error) -> (usize, Result<&'static str, Unread>) {
        self.n += 1;
        (self.n, Err(Unread::Failed(e)))
    }
}
