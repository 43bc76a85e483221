//! The `[complainant]` section: the SLAs it names as deadlines and the stages it
//! describes must exist; every text must say something.

use crate::policy::Names;
use indexmap::IndexMap;

use super::Validator;
use crate::diagnostic::{Code, Diagnostic};
use crate::policy::complainant::{Complainant, ComplainantStage, Text};
use crate::policy::locate::Seg;
use crate::policy::raw::RawText;
use crate::policy::{Sla, Stage};

impl Validator<'_, '_> {
    pub(super) fn complainant(
        &mut self,
        stages: &Names<Stage>,
        slas: &Names<Sla>,
    ) -> Option<Complainant> {
        let raw = self.doc.complainant.as_ref()?;
        for (i, name) in raw.deadlines.iter().enumerate() {
            let path = [
                Seg::Key("complainant"),
                Seg::Key("deadlines"),
                Seg::Index(i),
            ];
            let known = slas.keys().map(String::as_str);
            self.check_known(Code::UnknownSla, "SLA", name, known, &path);
        }
        let escalation = raw
            .escalation
            .as_ref()
            .and_then(|t| self.text(t, &["complainant", "escalation"].map(Seg::Key)));
        let mut described = IndexMap::new();
        for (name, stage) in &raw.stages {
            let at = ["complainant", "stages", name.as_str()].map(Seg::Key);
            let known = stages.keys().map(String::as_str);
            if !self.check_known(Code::UnknownStage, "stage", name, known, &at) {
                continue;
            }
            let status_at = ["complainant", "stages", name, "status"].map(Seg::Key);
            let next_at = ["complainant", "stages", name, "next"].map(Seg::Key);
            let status = self.text(&stage.status, &status_at);
            let next = stage.next.as_ref().and_then(|t| self.text(t, &next_at));
            if let Some(status) = status {
                described.insert(name.clone(), ComplainantStage { status, next });
            }
        }
        Some(Complainant {
            deadlines: raw.deadlines.clone(),
            escalation,
            stages: described,
        })
    }

    /// A text, refused when it is empty or a language tag is not one.
    fn text(&mut self, raw: &RawText, path: &[Seg<'_>]) -> Option<Text> {
        let pairs = match raw {
            RawText::One(text) => vec![(String::new(), text.clone())],
            RawText::Languages(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        };
        let tag_ok = |tag: &str| {
            tag.split('-').all(|part| {
                (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric())
            })
        };
        if let Some((tag, _)) = pairs
            .iter()
            .find(|(tag, _)| !tag.is_empty() && !tag_ok(tag))
        {
            let d = Diagnostic::error(Code::InvalidValue, format!("`{tag}` is not a language tag"))
                .at(self.at(path))
                .with_help("key each text by a language tag: `{ en = \"…\", zh = \"…\" }`");
            self.report(d);
            return None;
        }
        if pairs.is_empty() || pairs.iter().any(|(_, text)| text.trim().is_empty()) {
            let d = Diagnostic::error(Code::InvalidValue, "an empty text")
                .at(self.at(path))
                .with_help("say something the complainant can read, or leave the key out");
            self.report(d);
            return None;
        }
        Text::new(pairs)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::policy::{CheckOptions, Given, LoadError, Policy, check};

    fn load(text: &str) -> Result<Policy, LoadError> {
        let dir = Path::new(".");
        let given = Given {
            name: "mini.toml",
            text,
            dir,
        };
        check(&given, CheckOptions::default()).into_policy()
    }

    const BASE: &str = r#"
[policy]
id = "mini"
name = "Minimal"
version = "1"
timezone = "Europe/London"

[stages]
received = { start = true }
closed = { terminal = true }

[[transitions]]
on = "close"
from = "received"
to = "closed"

[slas.answer]
target = "8 weeks"
start = "received"
stop = "closed"

[routing]
rules = [{ otherwise = true, queue = "general" }]
"#;

    fn codes(extra: &str) -> Vec<String> {
        match load(&format!("{BASE}{extra}")) {
            Ok(_) => Vec::new(),
            Err(e) => e.diagnostics.iter().map(|d| d.code.to_string()).collect(),
        }
    }

    #[test]
    fn the_complainant_section_names_only_what_the_policy_declares() {
        let cases = [
            (
                "sound",
                r#"[complainant]
deadlines = ["answer"]
escalation = { en = "Ask the ombudsman", zh = "申请核查" }
stages.received = { status = "Received", next = { en = "We look into it" } }
"#,
                vec![],
            ),
            (
                "an unknown SLA",
                "[complainant]\ndeadlines = [\"anwser\"]\n",
                vec!["unknown-sla"],
            ),
            (
                "an unknown stage",
                "[complainant]\nstages.recieved = { status = \"x\" }\n",
                vec!["unknown-stage"],
            ),
            (
                "an empty text",
                "[complainant]\nescalation = \" \"\n",
                vec!["invalid-value"],
            ),
            (
                "a bad tag",
                "[complainant]\nescalation = { \"en gb\" = \"x\" }\n",
                vec!["invalid-value"],
            ),
        ];
        for (what, extra, expected) in cases {
            assert_eq!(codes(extra), expected, "{what}");
        }
    }

    #[test]
    fn the_complainant_section_is_kept_on_the_policy() {
        let text = format!(
            "{BASE}[complainant]\ndeadlines = [\"answer\"]\nstages.closed = {{ status = {{ en = \"Closed\", zh = \"已办结\" }} }}\n"
        );
        let policy = load(&text).unwrap();
        let said = policy.complainant().unwrap();
        assert_eq!(said.deadlines, ["answer"]);
        assert_eq!(said.stages["closed"].status.in_language("zh"), "已办结");
    }
}
