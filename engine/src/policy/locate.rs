//! Finding where in a policy file a key or value is, so that validation can point
//! at the right line even though the raw structs carry no spans.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One step of a path into a TOML document.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Seg<'a> {
    /// A key of a table.
    Key(&'a str),
    /// An element of an array.
    Index(usize),
}

/// Builds a path from a mix of keys and indices: `at_path!["transitions", 3, "to"]`.
macro_rules! at_path {
    ($($seg:expr),* $(,)?) => { [$($crate::policy::locate::Seg::from($seg)),*] };
}
pub(crate) use at_path;

impl<'a> From<&'a str> for Seg<'a> {
    fn from(key: &'a str) -> Self {
        Seg::Key(key)
    }
}

impl<'a> From<&'a String> for Seg<'a> {
    fn from(key: &'a String) -> Self {
        Seg::Key(key)
    }
}

impl From<usize> for Seg<'_> {
    fn from(index: usize) -> Self {
        Seg::Index(index)
    }
}

/// The parsed TOML tree of one file, kept to look up spans by path.
pub(crate) struct Locator<'i> {
    root: Spanned<DeValue<'i>>,
}

impl<'i> Locator<'i> {
    pub(crate) fn new(root: Spanned<DeTable<'i>>) -> Self {
        let span = root.span();
        Locator {
            root: Spanned::new(span, DeValue::Table(root.into_inner())),
        }
    }

    /// The root table.
    pub(crate) fn root(&self) -> &Spanned<DeValue<'i>> {
        &self.root
    }

    /// The value at a path, if it exists.
    pub(crate) fn value(&self, path: &[Seg<'_>]) -> Option<&Spanned<DeValue<'i>>> {
        path.iter()
            .try_fold(&self.root, |node, seg| step(node, *seg).map(|(_, v)| v))
    }

    /// The span of the value at a path, or of the deepest part of the path that exists.
    pub(crate) fn value_span(&self, path: &[Seg<'_>]) -> Range<usize> {
        let mut node = &self.root;
        for seg in path {
            match step(node, *seg) {
                Some((_, next)) => node = next,
                None => break,
            }
        }
        node.span()
    }

    /// The span of the last key of a path (for `[stages] closed = {...}`, the word
    /// `closed`), falling back to [`Self::value_span`].
    pub(crate) fn key_span(&self, path: &[Seg<'_>]) -> Range<usize> {
        let Some((last, parent)) = path.split_last() else {
            return self.root.span();
        };
        self.value(parent)
            .and_then(|node| step(node, *last))
            .and_then(|(key, _)| key)
            .unwrap_or_else(|| self.value_span(path))
    }
}

type Step<'n, 'i> = (Option<Range<usize>>, &'n Spanned<DeValue<'i>>);

fn step<'n, 'i>(node: &'n Spanned<DeValue<'i>>, seg: Seg<'_>) -> Option<Step<'n, 'i>> {
    match (node.get_ref(), seg) {
        (DeValue::Table(table), Seg::Key(k)) => table
            .iter()
            .find(|(key, _)| key.get_ref() == k)
            .map(|(key, value)| (Some(key.span()), value)),
        (DeValue::Array(array), Seg::Index(i)) => array.get(i).map(|v| (None, v)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_values_and_array_elements() {
        let text = "[stages]\nclosed = { terminal = true }\n\n[[transitions]]\non = \"a\"\n\n[[transitions]]\non = \"b\"\n";
        let (table, errors) = DeTable::parse_recoverable(text);
        assert!(errors.is_empty());
        let loc = Locator::new(table);
        let key = loc.key_span(&at_path!["stages", "closed"]);
        assert_eq!(&text[key], "closed");
        let b = loc.value_span(&at_path!["transitions", 1, "on"]);
        assert_eq!(&text[b], "\"b\"");
        let missing = loc.value_span(&at_path!["transitions", 1, "to"]);
        // A missing key points at the header of its table.
        assert_eq!(
            (missing.start, &text[missing.clone()]),
            (65, "[[transitions]]")
        );
    }
}
