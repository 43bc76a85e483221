//! [`Reporting`]: what a policy's fields and clocks mean for reports, complaint
//! bulletins (投诉通报) and regulators' returns, as validation built it from the
//! `[reporting]` table (or from defaults when the policy has none).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::case::Case;
use crate::value::Value;

/// A reporting dimension: what a report can group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Dimension {
    /// The complaint's category.
    Category,
    /// The product or service (grouped, for a regulator's product groupings).
    Product,
    /// The channel it came by.
    Channel,
    /// The department responsible (by default the queue).
    Department,
    /// The queue the case is routed to.
    Queue,
    /// The root cause recorded at closing.
    RootCause,
    /// The outcome: upheld, partly upheld, not upheld.
    Outcome,
}

impl Dimension {
    /// Every dimension, in the order reports list them.
    pub const ALL: [Dimension; 7] = [
        Dimension::Category,
        Dimension::Product,
        Dimension::Channel,
        Dimension::Department,
        Dimension::Queue,
        Dimension::RootCause,
        Dimension::Outcome,
    ];

    /// Its name as `--by`, `[reporting]` and the JSON use it.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Category => "category",
            Dimension::Product => "product",
            Dimension::Channel => "channel",
            Dimension::Department => "department",
            Dimension::Queue => "queue",
            Dimension::RootCause => "root_cause",
            Dimension::Outcome => "outcome",
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Dimension {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dimension::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<String> = Dimension::ALL.iter().map(|d| format!("`{d}`")).collect();
                format!(
                    "unknown dimension `{s}`; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// How a complaint ended, as regulators count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Upheld: the complainant was right.
    Upheld,
    /// Partly upheld.
    PartlyUpheld,
    /// Not upheld.
    NotUpheld,
}

impl Outcome {
    /// Its name in the JSON and as a group's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Upheld => "upheld",
            Outcome::PartlyUpheld => "partly_upheld",
            Outcome::NotUpheld => "not_upheld",
        }
    }
}

/// Where a dimension's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The case's queue.
    Queue,
    /// A field.
    Field(String),
}

/// What a policy's fields and clocks mean for reporting: only validation builds it.
#[derive(Debug, Clone, Default)]
pub struct Reporting {
    pub(crate) sources: BTreeMap<Dimension, Source>,
    pub(crate) outcome: Option<(String, BTreeMap<String, Outcome>)>,
    pub(crate) groups: BTreeMap<Dimension, BTreeMap<String, String>>,
    pub(crate) redress: Option<String>,
    pub(crate) satisfaction: Option<(String, i64, i64)>,
    pub(crate) resolution: Option<String>,
    pub(crate) complainant: Option<String>,
    pub(crate) title: Option<String>,
}

impl Reporting {
    /// The dimensions this policy can be grouped by (the queue always).
    pub fn dimensions(&self) -> impl Iterator<Item = Dimension> + '_ {
        let outcome = self.outcome.as_ref().map(|_| Dimension::Outcome);
        self.sources.keys().copied().chain(outcome)
    }

    /// Where a dimension's value comes from, when the policy has it.
    pub fn source(&self, dimension: Dimension) -> Option<&Source> {
        self.sources.get(&dimension)
    }

    /// A case's value of a dimension: its field's (or queue's) value, put in its
    /// group when the dimension groups values. `None` when the case has none.
    pub fn value(&self, dimension: Dimension, case: &Case) -> Option<String> {
        if dimension == Dimension::Outcome {
            return self.outcome(case).map(|o| o.as_str().to_string());
        }
        let raw = match self.sources.get(&dimension)? {
            Source::Queue => return Some(self.grouped(dimension, case.queue.as_deref()?)),
            Source::Field(name) => match case.fields.get(name)? {
                Value::Text(t) if t.trim().is_empty() => return None,
                // Its own text, without the formatter's round.
                Value::Text(t) => return Some(self.grouped(dimension, t)),
                v => v.to_string(),
            },
        };
        Some(self.grouped(dimension, &raw))
    }

    /// The group a dimension's value is in (the value itself when it is in none).
    fn grouped(&self, dimension: Dimension, raw: &str) -> String {
        let grouped = self.groups.get(&dimension).and_then(|g| g.get(raw));
        grouped.map_or_else(|| raw.to_string(), Clone::clone)
    }

    /// The case's outcome, when its outcome field holds a value the policy maps.
    pub fn outcome(&self, case: &Case) -> Option<Outcome> {
        let (field, values) = self.outcome.as_ref()?;
        match case.fields.get(field)? {
            Value::Text(t) => values.get(t).copied(),
            _ => None,
        }
    }

    /// The redress paid on the case.
    pub fn redress(&self, case: &Case) -> Option<rust_decimal::Decimal> {
        match case.fields.get(self.redress.as_ref()?)? {
            Value::Money(m) => Some(*m),
            _ => None,
        }
    }

    /// The case's satisfaction score.
    pub fn satisfaction(&self, case: &Case) -> Option<i64> {
        match case.fields.get(&self.satisfaction.as_ref()?.0)? {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The range of satisfaction scores (the field's `min` and `max`; 1 to 5 when
    /// it declares none), when the policy records one.
    pub fn satisfaction_scale(&self) -> Option<(i64, i64)> {
        self.satisfaction.as_ref().map(|(_, lo, hi)| (*lo, *hi))
    }

    /// The text of the field that identifies the complainant.
    pub fn complainant<'c>(&self, case: &'c Case) -> Option<&'c str> {
        match case.fields.get(self.complainant.as_ref()?)? {
            Value::Text(t) if !t.trim().is_empty() => Some(t),
            _ => None,
        }
    }

    /// The name of the field that identifies the complainant.
    pub fn complainant_field(&self) -> Option<&str> {
        self.complainant.as_deref()
    }

    /// The SLA that is the resolution deadline.
    pub fn resolution(&self) -> Option<&str> {
        self.resolution.as_deref()
    }

    /// The bulletin's title.
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }
}
