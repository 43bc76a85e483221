//! Conversions between the engine's values and Rhai's: a case becomes variables (or a
//! map), a script's result becomes [`Value`]s.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use rhai::{Array, Dynamic, Map, Scope};
use rust_decimal::Decimal;

use super::names::{Source, Variable};
use super::{CaseView, EvalContext, ScriptError, ScriptErrorKind, ScriptLimits};
use crate::value::Value;

/// A field value as Rhai sees it.
pub(crate) fn to_dynamic(value: &Value) -> Dynamic {
    match value {
        Value::Text(s) => Dynamic::from(s.clone()),
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Integer(i) => Dynamic::from_int(*i),
        Value::Money(m) => Dynamic::from_decimal(*m),
        Value::Date(d) => Dynamic::from(*d),
        Value::DateTime(t) => Dynamic::from(*t),
    }
}

/// A Rhai value as a field value, if it is one of the field types.
pub(crate) fn from_dynamic(value: &Dynamic) -> Option<Value> {
    if let Ok(s) = value.as_immutable_string_ref() {
        return Some(Value::Text(s.to_string()));
    }
    if let Ok(b) = value.as_bool() {
        return Some(Value::Bool(b));
    }
    if let Ok(i) = value.as_int() {
        return Some(Value::Integer(i));
    }
    if let Some(m) = value.clone().try_cast::<Decimal>() {
        return Some(Value::Money(m));
    }
    if let Some(d) = value.clone().try_cast::<NaiveDate>() {
        return Some(Value::Date(d));
    }
    value
        .clone()
        .try_cast::<DateTime<FixedOffset>>()
        .map(Value::DateTime)
}

/// An instant as Rhai sees it.
pub(crate) fn instant(t: DateTime<Utc>) -> Dynamic {
    Dynamic::from(t.fixed_offset())
}

/// The value of one variable for `case`; `()` when it has none.
pub(crate) fn variable_value(source: &Source, case: &CaseView, ctx: &EvalContext) -> Dynamic {
    match source {
        Source::Field(name) => case.fields.get(name).map_or(Dynamic::UNIT, to_dynamic),
        Source::StageEnteredAt(stage) => case
            .stage_entered_at
            .get(stage)
            .map_or(Dynamic::UNIT, |t| instant(*t)),
        Source::Stage => Dynamic::from(case.stage.to_string()),
        Source::Queue => case
            .queue
            .map_or(Dynamic::UNIT, |q| Dynamic::from(q.to_string())),
        Source::Priority => case.priority.map_or(Dynamic::UNIT, Dynamic::from_int),
        Source::ReceivedAt => instant(case.received_at),
        Source::Tags => Dynamic::from_array(
            case.tags
                .iter()
                .map(|t| Dynamic::from(t.clone()))
                .collect::<Array>(),
        ),
        Source::ReopenCount => Dynamic::from_int(i64::from(case.reopen_count)),
        Source::Now => instant(ctx.now),
    }
}

/// Pushes each of `variables` not yet in `scope`. Plain `push`, never `push_constant`:
/// the optimizer would inline constants into the AST, and an assignment to one panics
/// inside Rhai.
pub(crate) fn push_variables(
    scope: &mut Scope<'_>,
    variables: &[Variable],
    case: &CaseView,
    ctx: &EvalContext,
) {
    for v in variables {
        if !scope.contains(&v.name) {
            scope.push_dynamic(v.name.as_str(), variable_value(&v.source, case, ctx));
        }
    }
}

/// Pushes all of `variables` (distinct names) into a scope known not to hold them.
pub(crate) fn push_new_variables(
    scope: &mut Scope<'_>,
    variables: &[Variable],
    case: &CaseView,
    ctx: &EvalContext,
) {
    for v in variables {
        scope.push_dynamic(v.name.as_str(), variable_value(&v.source, case, ctx));
    }
}

/// The case as one map, for a routing script's `fn route(c)`.
pub(crate) fn case_map(variables: &[Variable], case: &CaseView, ctx: &EvalContext) -> Map {
    variables
        .iter()
        .map(|v| (v.name.as_str().into(), variable_value(&v.source, case, ctx)))
        .collect()
}

/// A scope declaring every known variable (as `()`), to compile against with strict
/// variables so a misspelt name fails at compile time.
pub(crate) fn compile_scope(variables: &[Variable]) -> Scope<'static> {
    let mut scope = Scope::with_capacity(variables.len());
    for v in variables {
        scope.push_dynamic(v.name.as_str(), Dynamic::UNIT);
    }
    scope
}

/// Checks a script's result against the size limits. Rhai 1.27 does not check a map
/// that grows by index assignment (`m[k] = v`); the operation limit bounds how far it
/// can grow, and this keeps an oversized result from reaching the runtime.
pub(crate) fn check_size(value: &Dynamic, limits: &ScriptLimits) -> Result<(), ScriptError> {
    let too_large = |what: &str| {
        Err(ScriptError::new(
            ScriptErrorKind::DataTooLarge,
            format!("the result holds {what} over its size limit"),
        ))
    };
    if let Ok(map) = value.as_map_ref() {
        if map.len() > limits.max_map_size {
            return too_large("a map");
        }
        return map.values().try_for_each(|v| check_size(v, limits));
    }
    if let Ok(array) = value.as_array_ref() {
        if array.len() > limits.max_array_size {
            return too_large("an array");
        }
        return array.iter().try_for_each(|v| check_size(v, limits));
    }
    Ok(())
}

/// Text from a result map entry, or a type error naming `what`.
pub(crate) fn text(value: &Dynamic, what: &str) -> Result<String, ScriptError> {
    value
        .as_immutable_string_ref()
        .map(|s| s.to_string())
        .map_err(|found| mismatch(what, "text", found))
}

/// A list of texts from a result map entry.
pub(crate) fn texts(value: &Dynamic, what: &str) -> Result<Vec<String>, ScriptError> {
    let array = value
        .as_array_ref()
        .map_err(|found| mismatch(what, "an array of text", found))?;
    array.iter().map(|item| text(item, what)).collect()
}

/// A type error for a result entry.
pub(crate) fn mismatch(what: &str, expected: &str, found: &str) -> ScriptError {
    ScriptError::new(
        ScriptErrorKind::TypeMismatch,
        format!("`{what}` must be {expected}, not `{found}`"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips() {
        let values = [
            Value::Text("退款".into()),
            Value::Bool(true),
            Value::Integer(-3),
            Value::Money(Decimal::new(12050, 2)),
            Value::Date(NaiveDate::from_ymd_opt(2026, 2, 13).unwrap_or_default()),
            Value::DateTime(DateTime::UNIX_EPOCH.fixed_offset()),
        ];
        for v in values {
            assert_eq!(from_dynamic(&to_dynamic(&v)), Some(v.clone()), "{v:?}");
        }
        assert_eq!(from_dynamic(&Dynamic::UNIT), None);
    }
}
