//! Values of a complaint's fields: the plain data that every layer passes around.
//!
//! A [`Value`] is already typed: turning user input (TOML, JSON) into values is the
//! policy layer's job, because only the policy knows each field's declared type.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

/// One field's value on a case.
///
/// Money is a [`Decimal`], never a float: `0.1 + 0.2` must be `0.3` on a refund.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Free text and enum values.
    Text(String),
    /// A yes/no flag.
    Bool(bool),
    /// A whole number.
    Integer(i64),
    /// An amount of money, exact.
    Money(Decimal),
    /// A calendar date with no time of day.
    Date(NaiveDate),
    /// An instant with the offset it was given in.
    DateTime(DateTime<FixedOffset>),
}

/// A case's field values by field name, in a stable order.
pub type Fields = BTreeMap<String, Value>;

impl Value {
    /// The name of this value's type as a policy writes it (`text`, `money`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Text(_) => "text",
            Value::Bool(_) => "bool",
            Value::Integer(_) => "integer",
            Value::Money(_) => "money",
            Value::Date(_) => "date",
            Value::DateTime(_) => "datetime",
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(s) => write!(f, "{s}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Money(m) => write!(f, "{m}"),
            Value::Date(d) => write!(f, "{d}"),
            Value::DateTime(t) => write!(f, "{}", t.to_rfc3339()),
        }
    }
}

impl Serialize for Value {
    /// Money is written as a decimal string (`"120.50"`), as payment APIs do, so that
    /// no JSON reader turns it into a float.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Text(s) => serializer.serialize_str(s),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Integer(i) => serializer.serialize_i64(*i),
            Value::Money(m) => serializer.serialize_str(&m.to_string()),
            Value::Date(d) => serializer.serialize_str(&d.to_string()),
            Value::DateTime(t) => serializer.serialize_str(&t.to_rfc3339()),
        }
    }
}

/// A field value as the API shows it: text (also money as an exact decimal, dates
/// and instants), a whole number or a flag.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Value {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Integer, Type::Boolean]))
            .description(Some(
                "A field's value: text, a whole number or a flag; money as an exact decimal string (`\"120.50\"`), a date as `2026-11-20`, an instant in RFC 3339; `***` when personal and masked",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Value {
    fn name() -> std::borrow::Cow<'static, str> {
        "FieldValue".into()
    }
}

/// The schema of a [`Fields`] map as the API shows it: field names to
/// [`Value`]s (`FieldValue`).
#[cfg(feature = "openapi")]
#[derive(Debug)]
pub struct FieldValues;

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for FieldValues {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::Ref;
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("Field values by field name"))
            .additional_properties(Some(Ref::from_schema_name("FieldValue")))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for FieldValues {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push(("FieldValue".into(), Value::schema()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_serializes_as_an_exact_decimal_string() {
        let v = Value::Money(Decimal::new(12050, 2));
        assert_eq!(
            serde_json::to_string(&v).ok().as_deref(),
            Some("\"120.50\"")
        );
    }
}
