//! Field values in stored cases and events: tagged with their type, so that reading
//! them back gives exactly the value written (`{"money": "120.50"}` stays money).

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::value::{Fields, Value};

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Tagged {
    Text(String),
    Bool(bool),
    Integer(i64),
    Money(Decimal),
    Date(NaiveDate),
    Datetime(DateTime<FixedOffset>),
}

impl From<&Value> for Tagged {
    fn from(v: &Value) -> Self {
        match v {
            Value::Text(s) => Tagged::Text(s.clone()),
            Value::Bool(b) => Tagged::Bool(*b),
            Value::Integer(i) => Tagged::Integer(*i),
            Value::Money(m) => Tagged::Money(*m),
            Value::Date(d) => Tagged::Date(*d),
            Value::DateTime(t) => Tagged::Datetime(*t),
        }
    }
}

impl From<Tagged> for Value {
    fn from(t: Tagged) -> Self {
        match t {
            Tagged::Text(s) => Value::Text(s),
            Tagged::Bool(b) => Value::Bool(b),
            Tagged::Integer(i) => Value::Integer(i),
            Tagged::Money(m) => Value::Money(m),
            Tagged::Date(d) => Value::Date(d),
            Tagged::Datetime(t) => Value::DateTime(t),
        }
    }
}

/// `#[serde(with = "tagged")]` for a [`Fields`] map.
pub fn serialize<S: Serializer>(fields: &Fields, s: S) -> Result<S::Ok, S::Error> {
    let map: BTreeMap<&String, Tagged> = fields.iter().map(|(k, v)| (k, v.into())).collect();
    map.serialize(s)
}

/// `#[serde(with = "tagged")]` for a [`Fields`] map.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Fields, D::Error> {
    let map = BTreeMap::<String, Tagged>::deserialize(d)?;
    Ok(map.into_iter().map(|(k, v)| (k, v.into())).collect())
}

/// `#[serde(with = "tagged::shared")]` for an `Arc<Fields>`.
pub mod shared {
    use std::sync::Arc;

    use serde::{Deserializer, Serializer};

    use crate::value::Fields;

    /// Serializes the shared map like a plain one.
    pub fn serialize<S: Serializer>(fields: &Arc<Fields>, s: S) -> Result<S::Ok, S::Error> {
        super::serialize(fields, s)
    }

    /// Deserializes a plain map into a shared one.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<Fields>, D::Error> {
        super::deserialize(d).map(Arc::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Holder(#[serde(with = "super")] Fields);

    #[test]
    fn every_value_type_round_trips() {
        let mut f = Fields::new();
        f.insert("a".into(), Value::Money(Decimal::new(12050, 2)));
        f.insert("b".into(), Value::Text("x".into()));
        f.insert("c".into(), Value::Bool(true));
        f.insert("d".into(), Value::Integer(3));
        let json = serde_json::to_string(&Holder(f.clone())).unwrap();
        let back: Holder = serde_json::from_str(&json).unwrap();
        assert_eq!(back.0, f);
        assert!(json.contains(r#""a":{"money":"120.50"}"#), "{json}");
    }
}
