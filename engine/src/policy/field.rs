//! Case fields as a policy declares them, and turning user input into typed
//! [`Value`]s that fit them.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::value::Value;

/// The type of a case field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum FieldType {
    /// Free text.
    Text,
    /// One of a list of allowed words.
    Enum,
    /// Yes or no.
    Bool,
    /// A whole number.
    Integer,
    /// An exact decimal amount.
    Money,
    /// A calendar date.
    Date,
    /// An instant with its offset.
    Datetime,
}

impl FieldType {
    /// Its name as a policy writes it (`enum`, `money`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Enum => "enum",
            FieldType::Bool => "bool",
            FieldType::Integer => "integer",
            FieldType::Money => "money",
            FieldType::Date => "date",
            FieldType::Datetime => "datetime",
        }
    }
}

/// A field declared by a policy.
#[derive(Debug, Clone, Serialize)]
pub struct FieldDef {
    /// Its name, as conditions use it.
    pub name: String,
    /// Its type.
    pub kind: FieldType,
    /// Intake is refused without it.
    pub required: bool,
    /// The value when intake gives none.
    pub default: Option<Value>,
    /// Smallest value (or text length).
    pub min: Option<Value>,
    /// Largest value (or text length).
    pub max: Option<Value>,
    /// Allowed values of an enum.
    pub values: Vec<String>,
    /// Personal data: masked and never logged.
    pub personal: bool,
    /// Who may write it.
    pub set_by: SetBy,
    /// A label people read.
    pub label: Option<String>,
    /// A longer description.
    pub description: Option<String>,
}

/// Who may write a field (`set_by` in the policy).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SetBy {
    /// Commands (intake, `update`, an event's data) and actions: the default.
    #[default]
    Input,
    /// Only the policy's actions (`set`, scripts): a counter such as `evidence_count`
    /// that no client may forge. Intake, `update` and event data naming it are refused
    /// (`set-by-actions`).
    Actions,
}

/// Input in one of the shapes users send: TOML in policies and tests, JSON over
/// HTTP and in event files.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// A TOML value.
    Toml(&'a toml::Value),
    /// A JSON value.
    Json(&'a serde_json::Value),
}

impl Input<'_> {
    fn as_str(&self) -> Option<&str> {
        match self {
            Input::Toml(v) => v.as_str(),
            Input::Json(v) => v.as_str(),
        }
    }

    fn as_bool(&self) -> Option<bool> {
        match self {
            Input::Toml(v) => v.as_bool(),
            Input::Json(v) => v.as_bool(),
        }
    }

    fn as_i64(&self) -> Option<i64> {
        match self {
            Input::Toml(v) => v.as_integer(),
            Input::Json(v) => v.as_i64(),
        }
    }

    /// A number as exact text: `120.5` stays `120.5`, never `120.499999`.
    fn number_text(&self) -> Option<String> {
        match self {
            Input::Toml(toml::Value::Integer(i)) => Some(i.to_string()),
            Input::Toml(toml::Value::Float(f)) => Some(f.to_string()),
            Input::Json(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }

    fn datetime_text(&self) -> Option<String> {
        match self {
            Input::Toml(toml::Value::Datetime(d)) => Some(d.to_string()),
            _ => self.as_str().map(str::to_string),
        }
    }

    fn describe(&self) -> String {
        match self {
            Input::Toml(v) => v.to_string(),
            Input::Json(v) => v.to_string(),
        }
    }
}

/// Why a value does not fit its field. Its `code` is the refusal code users see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// The value is not of the field's type.
    #[error("`{field}` must be {expected}, not `{got}`")]
    WrongType {
        /// The field.
        field: String,
        /// What it takes.
        expected: &'static str,
        /// What was given.
        got: String,
    },
    /// An enum value not in the list.
    #[error("`{got}` is not one of the values of `{field}`: {allowed}")]
    NotAllowed {
        /// The field.
        field: String,
        /// What was given.
        got: String,
        /// The allowed values, listed.
        allowed: String,
    },
    /// Below `min` or above `max`.
    #[error("`{field}` must be {bound} {limit}, not {got}")]
    OutOfRange {
        /// The field.
        field: String,
        /// `at least` or `at most`.
        bound: &'static str,
        /// The limit.
        limit: String,
        /// What was given.
        got: String,
    },
    /// A field the policy does not declare.
    #[error("`{field}` is not a field of this policy")]
    Unknown {
        /// The name given.
        field: String,
    },
}

impl FieldDef {
    /// Reads a value for this field, checking its type, allowed values and range.
    pub fn read(&self, input: Input<'_>) -> Result<Value, FieldError> {
        let value = self.read_type(input)?;
        self.check_allowed(&value)?;
        self.check_range(&value)?;
        Ok(value)
    }

    fn read_type(&self, input: Input<'_>) -> Result<Value, FieldError> {
        let value = match self.kind {
            FieldType::Text | FieldType::Enum => input.as_str().map(|s| Value::Text(s.to_string())),
            FieldType::Bool => input.as_bool().map(Value::Bool),
            FieldType::Integer => input.as_i64().map(Value::Integer),
            FieldType::Money => read_money(input).map(Value::Money),
            FieldType::Date => input
                .as_str()
                .and_then(|s| NaiveDate::from_str(s).ok())
                .map(Value::Date),
            FieldType::Datetime => input
                .datetime_text()
                .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
                .map(Value::DateTime),
        };
        value.ok_or_else(|| FieldError::WrongType {
            field: self.name.clone(),
            expected: expected_text(self.kind),
            got: input.describe(),
        })
    }

    fn check_allowed(&self, value: &Value) -> Result<(), FieldError> {
        match value {
            Value::Text(s) if self.kind == FieldType::Enum && !self.values.contains(s) => {
                Err(FieldError::NotAllowed {
                    field: self.name.clone(),
                    got: s.clone(),
                    allowed: self
                        .values
                        .iter()
                        .map(|v| format!("`{v}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
            _ => Ok(()),
        }
    }

    fn check_range(&self, value: &Value) -> Result<(), FieldError> {
        let out = |bound, limit: &Value| FieldError::OutOfRange {
            field: self.name.clone(),
            bound,
            limit: limit.to_string(),
            got: value.to_string(),
        };
        if let Some(min) = &self.min
            && compare(value, min).is_some_and(|o| o.is_lt())
        {
            return Err(out("at least", min));
        }
        if let Some(max) = &self.max
            && compare(value, max).is_some_and(|o| o.is_gt())
        {
            return Err(out("at most", max));
        }
        Ok(())
    }

    /// Reads a `min`/`max` bound: a number for integers, money and text length;
    /// a date or datetime for those types.
    pub fn read_bound(&self, input: Input<'_>) -> Result<Value, FieldError> {
        let as_kind = |kind| FieldDef {
            kind,
            min: None,
            max: None,
            ..self.clone()
        };
        match self.kind {
            FieldType::Text | FieldType::Integer => as_kind(FieldType::Integer).read_type(input),
            FieldType::Money => as_kind(FieldType::Money).read_type(input),
            FieldType::Date | FieldType::Datetime => self.read_type(input),
            FieldType::Enum | FieldType::Bool => Err(FieldError::WrongType {
                field: self.name.clone(),
                expected: "a field with an order (not enum or bool) to have min or max",
                got: input.describe(),
            }),
        }
    }
}

fn read_money(input: Input<'_>) -> Option<Decimal> {
    let text = input
        .number_text()
        .or_else(|| input.as_str().map(str::to_string))?;
    Decimal::from_str(text.trim()).ok()
}

fn expected_text(kind: FieldType) -> &'static str {
    match kind {
        FieldType::Text => "text",
        FieldType::Enum => "one of its allowed values (text)",
        FieldType::Bool => "true or false",
        FieldType::Integer => "a whole number",
        FieldType::Money => "an amount (a number or a decimal string)",
        FieldType::Date => "a date like `2026-03-02`",
        FieldType::Datetime => "an instant like `2026-03-02T09:15:00+08:00`",
    }
}

/// Orders a value against a bound; text is compared by its length in characters.
fn compare(value: &Value, bound: &Value) -> Option<std::cmp::Ordering> {
    match (value, bound) {
        (Value::Text(s), Value::Integer(n)) => Some((s.chars().count() as i64).cmp(n)),
        (Value::Integer(a), Value::Integer(b)) => Some(a.cmp(b)),
        (Value::Money(a), Value::Money(b)) => Some(a.cmp(b)),
        (Value::Date(a), Value::Date(b)) => Some(a.cmp(b)),
        (Value::DateTime(a), Value::DateTime(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn field(kind: FieldType) -> FieldDef {
        FieldDef {
            name: "f".into(),
            kind,
            required: false,
            default: None,
            min: None,
            max: None,
            values: vec!["fees".into(), "fraud".into()],
            personal: false,
            set_by: SetBy::Input,
            label: None,
            description: None,
        }
    }

    /// One row per type: input (JSON), expected outcome (`Ok(display)` or the error code).
    #[test]
    fn reads_every_type_from_json() {
        let rows: &[(&str, FieldType, &str, Result<&str, &str>)] = &[
            (
                "text",
                FieldType::Text,
                r#""card skimmed""#,
                Ok("card skimmed"),
            ),
            (
                "text from number",
                FieldType::Text,
                "5",
                Err("invalid-value"),
            ),
            ("enum allowed", FieldType::Enum, r#""fraud""#, Ok("fraud")),
            (
                "enum not allowed",
                FieldType::Enum,
                r#""frawd""#,
                Err("invalid-value"),
            ),
            ("bool", FieldType::Bool, "true", Ok("true")),
            ("integer", FieldType::Integer, "42", Ok("42")),
            (
                "integer from float",
                FieldType::Integer,
                "4.5",
                Err("invalid-value"),
            ),
            (
                "money float stays exact",
                FieldType::Money,
                "120.5",
                Ok("120.5"),
            ),
            ("money string", FieldType::Money, r#""0.30""#, Ok("0.30")),
            (
                "money garbage",
                FieldType::Money,
                r#""lots""#,
                Err("invalid-value"),
            ),
            ("date", FieldType::Date, r#""2026-02-28""#, Ok("2026-02-28")),
            (
                "date that does not exist",
                FieldType::Date,
                r#""2026-02-30""#,
                Err("invalid-value"),
            ),
            (
                "datetime",
                FieldType::Datetime,
                r#""2026-03-02T09:15:00+08:00""#,
                Ok("2026-03-02T09:15:00+08:00"),
            ),
            (
                "datetime without offset",
                FieldType::Datetime,
                r#""2026-03-02T09:15:00""#,
                Err("invalid-value"),
            ),
        ];
        for (name, kind, json, expected) in rows {
            let input: serde_json::Value = serde_json::from_str(json).unwrap();
            let got = field(*kind).read(Input::Json(&input));
            let got = got
                .as_ref()
                .map(ToString::to_string)
                .map_err(|_| "invalid-value");
            assert_eq!(got.as_deref().map_err(|e| *e), *expected, "row `{name}`");
        }
    }

    #[test]
    fn checks_ranges() {
        let mut f = field(FieldType::Money);
        f.min = Some(Value::Money(Decimal::ZERO));
        let err = f.read(Input::Json(&serde_json::json!(-1))).unwrap_err();
        assert_eq!(err.to_string(), "`f` must be at least 0, not -1");
        let mut t = field(FieldType::Text);
        t.max = Some(Value::Integer(3));
        assert!(t.read(Input::Json(&serde_json::json!("投诉处理"))).is_err());
        assert!(t.read(Input::Json(&serde_json::json!("投诉"))).is_ok());
    }
}
