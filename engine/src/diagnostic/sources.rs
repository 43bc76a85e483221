//! The texts diagnostics point into, so that they can be rendered with the
//! offending lines underlined.

use std::ops::Range;

use codespan_reporting::files::SimpleFiles;

use super::Location;

/// Identifies one file in [`Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceId(pub(crate) usize);

/// Every file read while loading policies: policy files, calendar data, scripts.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    files: SimpleFiles<String, String>,
    line_starts: Vec<Vec<usize>>,
}

impl Sources {
    /// An empty set of sources.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a file's text under the name users know it by.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> SourceId {
        let text = text.into();
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        self.line_starts.push(starts);
        SourceId(self.files.add(name.into(), text))
    }

    /// How many files there are.
    pub fn len(&self) -> usize {
        self.line_starts.len()
    }

    /// True when no file was added.
    pub fn is_empty(&self) -> bool {
        self.line_starts.is_empty()
    }

    /// The text of a file.
    pub fn text(&self, id: SourceId) -> &str {
        self.files
            .get(id.0)
            .map(|f| f.source().as_str())
            .unwrap_or("")
    }

    /// The name of a file.
    pub fn name(&self, id: SourceId) -> &str {
        self.files
            .get(id.0)
            .map(|f| f.name().as_str())
            .unwrap_or("")
    }

    /// The location of a byte span in a file, with its 1-based line and column.
    pub fn locate(&self, id: SourceId, span: Range<usize>) -> Location {
        let text = self.text(id);
        let start = span.start.min(text.len());
        let starts = self
            .line_starts
            .get(id.0)
            .map(Vec::as_slice)
            .unwrap_or(&[0]);
        let line = starts.partition_point(|&s| s <= start).max(1);
        let line_start = starts.get(line - 1).copied().unwrap_or(0);
        let column = text
            .get(line_start..start)
            .map_or(1, |s| s.chars().count() + 1);
        Location {
            file: self.name(id).to_string(),
            line,
            column,
            span: start..span.end.clamp(start, text.len()),
            source: Some(id),
        }
    }

    /// The byte offset of a 1-based line and column (in characters) in a file.
    pub fn offset_of(&self, id: SourceId, line: usize, column: usize) -> usize {
        let text = self.text(id);
        let starts = self
            .line_starts
            .get(id.0)
            .map(Vec::as_slice)
            .unwrap_or(&[0]);
        let line_start = starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(text.len());
        let rest = text.get(line_start..).unwrap_or("");
        let in_line = rest
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(rest.len(), |(i, _)| i);
        line_start + in_line
    }

    pub(crate) fn files(&self) -> &SimpleFiles<String, String> {
        &self.files
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_count_characters_not_bytes() {
        let mut sources = Sources::new();
        let id = sources.add("p.toml", "a = 1\n# 投诉\nb = 2\n");
        let b = sources.text(id).find('b').unwrap_or(0);
        let loc = sources.locate(id, b..b + 1);
        assert_eq!((loc.line, loc.column), (3, 1));
        let x = sources.text(id).find('诉').unwrap_or(0);
        assert_eq!(sources.locate(id, x..x + 3).column, 4);
        assert_eq!(sources.offset_of(id, 3, 1), b);
    }
}
