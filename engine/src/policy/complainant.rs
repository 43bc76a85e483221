//! What the complainant is told: the `[complainant]` section, validated. The status
//! page a complainant opens from their tracking link shows, in the policy's own
//! words, the stage in plain language, what happens next, the deadline by which the
//! organisation must answer and how to escalate.

use indexmap::IndexMap;

/// A text in one or more languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    // INVARIANT: never empty; validation refuses an empty table.
    by_language: Vec<(String, String)>,
}

impl Text {
    /// A text from language tags and their text; `None` when there is none.
    pub fn new(by_language: Vec<(String, String)>) -> Option<Self> {
        (!by_language.is_empty()).then_some(Text { by_language })
    }

    /// The text in `language` (a tag such as `zh` or `en-GB`): the exact tag, else
    /// the same primary language (`zh-CN` for `zh`), else the first one written.
    pub fn in_language(&self, language: &str) -> &str {
        let primary = |tag: &str| tag.split('-').next().unwrap_or(tag).to_ascii_lowercase();
        let wanted = primary(language);
        self.by_language
            .iter()
            .find(|(tag, _)| tag.eq_ignore_ascii_case(language))
            .or_else(|| {
                self.by_language
                    .iter()
                    .find(|(tag, _)| primary(tag) == wanted)
            })
            .or_else(|| self.by_language.first())
            .map_or("", |(_, text)| text.as_str())
    }

    /// The languages it is written in (empty for a text without a tag).
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.by_language
            .iter()
            .map(|(tag, _)| tag.as_str())
            .filter(|t| !t.is_empty())
    }
}

/// What the complainant is told about one stage.
#[derive(Debug, Clone)]
pub struct ComplainantStage {
    /// The stage in plain words.
    pub status: Text,
    /// What happens next.
    pub next: Option<Text>,
}

/// The `[complainant]` section.
#[derive(Debug, Clone, Default)]
pub struct Complainant {
    /// SLAs whose deadline is the date the organisation must answer by, in order.
    pub deadlines: Vec<String>,
    /// How to escalate.
    pub escalation: Option<Text>,
    /// Stages by name, in plain words.
    pub stages: IndexMap<String, ComplainantStage>,
}

#[cfg(test)]
mod tests {
    use super::Text;

    #[test]
    fn a_text_is_read_in_the_closest_language_written() {
        let text = Text::new(vec![
            ("en".into(), "Received".into()),
            ("zh-CN".into(), "已受理".into()),
        ])
        .unwrap();
        for (asked, shown) in [
            ("en", "Received"),
            ("EN-gb", "Received"),
            ("zh", "已受理"),
            ("zh-CN", "已受理"),
            ("fr", "Received"),
        ] {
            assert_eq!(text.in_language(asked), shown, "asked for `{asked}`");
        }
        let one = Text::new(vec![(String::new(), "Reçue".into())]).unwrap();
        assert_eq!(one.in_language("zh"), "Reçue");
        assert_eq!(one.languages().count(), 0);
    }
}
