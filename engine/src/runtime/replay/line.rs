//! [`Line`]: one recorded event of an event file, and the command it stands for.

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

use crate::case::Actor;
use crate::runtime::{Command, CommandKind, Data};

mod quick;

/// One line of an event file:
/// `{"case":"C-1","at":"2026-03-02T09:15:00+08:00","event":"intake","data":{...}}`.
///
/// `event` is `intake`, a transition event, `withdraw`, `note` (with `text`),
/// `assign` (with `assignee`), `update` (with `data`) or `extend` (with `sla` and
/// optionally `extension`). An intake may carry `received_at` (default `at`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// The case.
    pub case: String,
    /// When it happened.
    #[serde(deserialize_with = "super::instant::deserialize")]
    pub at: DateTime<FixedOffset>,
    /// What happened.
    pub event: String,
    /// Field values.
    #[serde(default, skip_serializing_if = "Data::is_empty")]
    pub data: Data,
    /// Who did it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    /// For an intake: when the complaint was received.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::instant::deserialize_option"
    )]
    pub received_at: Option<DateTime<FixedOffset>>,
    /// An idempotency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The case version the sender saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// A note's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// An assignment's assignee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// An extension's SLA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<String>,
    /// An extension's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
}

impl Line {
    /// Reads one line of an event file, as `serde_json::from_str` does (the same
    /// line, the same errors), the usual spelling without serde's machinery.
    pub fn parse(text: &str) -> Result<Line, serde_json::Error> {
        quick::read(text).map_or_else(|| serde_json::from_str(text), Ok)
    }

    /// When it happened, in UTC.
    pub fn instant(&self) -> DateTime<Utc> {
        self.at.with_timezone(&Utc)
    }

    /// Whether this line takes a case in.
    pub fn is_intake(&self) -> bool {
        self.event == "intake"
    }

    /// The command this line stands for.
    pub fn command(&self) -> Command {
        self.clone().into_command()
    }

    /// The command this line stands for, consuming the line.
    pub fn into_command(self) -> Command {
        let at = self.at;
        let mut data = self.data;
        let mut data = move || std::mem::take(&mut data);
        let kind = match self.event.as_str() {
            "intake" => CommandKind::Intake {
                received_at: self.received_at.unwrap_or(at).with_timezone(&Utc),
                data: data(),
            },
            "note" => CommandKind::Note {
                text: self.text.unwrap_or_default(),
            },
            "assign" => CommandKind::Assign {
                assignee: self.assignee.unwrap_or_default(),
            },
            "update" => CommandKind::Update { data: data() },
            "extend" => CommandKind::Extend {
                sla: self.sla.unwrap_or_default(),
                extension: self.extension,
            },
            _ => CommandKind::Event {
                name: self.event,
                data: data(),
            },
        };
        Command {
            kind,
            actor: self.actor,
            key: self.key,
            expected_version: self.version,
        }
    }
}
