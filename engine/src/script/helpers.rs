//! The sandboxed `rhai::Engine` and the native helpers scripts call: date types and
//! their comparisons, keyword and pattern matching, and clock arithmetic on the
//! runtime's `now` and the policy's calendar.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use regex::{Regex, RegexBuilder};
use rhai::{Array, Engine, EvalAltResult, ImmutableString, Position};

use super::{ScriptLimits, run_state};

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;
type Instant = DateTime<FixedOffset>;

/// Compiled `matches` patterns kept per engine; past this many the cache starts over.
const PATTERN_CACHE_SIZE: usize = 256;

/// Builds the sandboxed engine: limits, no `eval`, silent `print`/`debug`, strict
/// variables, and the helpers.
pub(crate) fn build_engine(limits: &ScriptLimits) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_strict_variables(true)
        .set_fail_on_invalid_map_property(true)
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_function_expr_depth)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_functions(limits.max_functions)
        .disable_symbol("eval");
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});
    engine.on_progress(run_state::on_progress);
    register_dates(&mut engine);
    register_clock(&mut engine);
    register_keywords(&mut engine);
    register_patterns(&mut engine, limits);
    engine
}

fn runtime_error(message: String) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into(), Position::NONE).into()
}

/// `date` and `datetime` values: constructors, comparisons, display.
fn register_dates(engine: &mut Engine) {
    engine.register_type_with_name::<NaiveDate>("date");
    engine.register_type_with_name::<Instant>("datetime");
    register_ordering::<NaiveDate>(engine);
    register_ordering::<Instant>(engine);
    engine.register_fn("to_string", |d: &mut NaiveDate| d.to_string());
    engine.register_fn("to_debug", |d: &mut NaiveDate| d.to_string());
    engine.register_fn("to_string", |t: &mut Instant| t.to_rfc3339());
    engine.register_fn("to_debug", |t: &mut Instant| t.to_rfc3339());
    engine.register_fn("date", |s: &str| -> RhaiResult<NaiveDate> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|e| runtime_error(format!("`{s}` is not a date (YYYY-MM-DD): {e}")))
    });
    engine.register_fn("datetime", |s: &str| -> RhaiResult<Instant> {
        DateTime::parse_from_rfc3339(s)
            .map_err(|e| runtime_error(format!("`{s}` is not an RFC 3339 instant: {e}")))
    });
}

fn register_ordering<T: PartialOrd + Clone + Send + Sync + 'static>(engine: &mut Engine) {
    engine.register_fn("==", |a: &mut T, b: T| *a == b);
    engine.register_fn("!=", |a: &mut T, b: T| *a != b);
    engine.register_fn("<", |a: &mut T, b: T| *a < b);
    engine.register_fn("<=", |a: &mut T, b: T| *a <= b);
    engine.register_fn(">", |a: &mut T, b: T| *a > b);
    engine.register_fn(">=", |a: &mut T, b: T| *a >= b);
}

fn now() -> RhaiResult<DateTime<Utc>> {
    run_state::now()
        .ok_or_else(|| runtime_error("`now` is not available outside an evaluation".into()))
}

/// `days_since`, `hours_since`, `business_days_between`; each gives `()` for `()`.
fn register_clock(engine: &mut Engine) {
    engine.register_fn("days_since", |t: &mut Instant| -> RhaiResult<i64> {
        Ok((now()? - t.to_utc()).num_days())
    });
    engine.register_fn("days_since", |d: &mut NaiveDate| -> RhaiResult<i64> {
        Ok((now()?.date_naive() - *d).num_days())
    });
    engine.register_fn("hours_since", |t: &mut Instant| -> RhaiResult<i64> {
        Ok((now()? - t.to_utc()).num_hours())
    });
    engine.register_fn("days_since", |_: ()| ());
    engine.register_fn("hours_since", |_: ()| ());
    engine.register_fn("business_days_between", business_days_between);
    engine.register_fn("business_days_between", |_: (), _: Instant| ());
    engine.register_fn("business_days_between", |_: Instant, _: ()| ());
    engine.register_fn("business_days_between", |_: (), _: ()| ());
}

fn business_days_between(a: Instant, b: Instant) -> RhaiResult<i64> {
    let calendar = run_state::calendar()
        .ok_or_else(|| runtime_error("no calendar outside an evaluation".into()))?;
    calendar
        .business_days_between(a.to_utc(), b.to_utc())
        .map_err(|e| runtime_error(format!("business_days_between: {e}")))
}

/// `contains_any(text, keywords)` and `contains_all(text, keywords)`.
fn register_keywords(engine: &mut Engine) {
    engine.register_fn("contains_any", |text: &str, keywords: Array| {
        contains(text, &keywords, false)
    });
    engine.register_fn("contains_all", |text: &str, keywords: Array| {
        contains(text, &keywords, true)
    });
    engine.register_fn("contains_any", |_: (), _: Array| false);
    engine.register_fn("contains_all", |_: (), _: Array| false);
}

/// Whether `text` contains any (or, with `all`, every) keyword, ignoring the case of
/// Latin letters (Chinese has none). Stops at the first keyword that decides.
fn contains(text: &str, keywords: &Array, all: bool) -> RhaiResult<bool> {
    let haystack = lowercase(text);
    for keyword in keywords {
        let Some(keyword) = keyword.read_lock::<ImmutableString>() else {
            let found = keyword.type_name();
            return Err(runtime_error(format!(
                "keywords must be text, found `{found}`"
            )));
        };
        let found = haystack.contains(lowercase(keyword.as_str()).as_ref());
        if found != all {
            return Ok(found);
        }
    }
    Ok(all)
}

/// `text` in lower case, borrowed when it already is (most keywords are).
pub(crate) fn lowercase(text: &str) -> Cow<'_, str> {
    // ASCII text gets the same answer a byte at a time, in one pass over every byte
    // (which the compiler vectorises) rather than a character at a time.
    let (mut upper, mut ascii) = (false, true);
    for b in text.bytes() {
        upper |= b.is_ascii_uppercase();
        ascii &= b.is_ascii();
    }
    if ascii {
        return match upper {
            true => Cow::Owned(text.to_ascii_lowercase()),
            false => Cow::Borrowed(text),
        };
    }
    if text.chars().any(char::is_uppercase) {
        Cow::Owned(text.to_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// The `matches(text, pattern)` helper over a per-engine cache of compiled patterns.
#[derive(Clone)]
struct Patterns {
    cache: Arc<RwLock<HashMap<ImmutableString, Arc<Regex>>>>,
    max_len: usize,
    max_size: usize,
}

impl Patterns {
    fn get(&self, pattern: &ImmutableString) -> RhaiResult<Arc<Regex>> {
        if let Some(found) = self.cache.read().ok().and_then(|c| c.get(pattern).cloned()) {
            return Ok(found);
        }
        let compiled = Arc::new(self.compile(pattern)?);
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= PATTERN_CACHE_SIZE {
                cache.clear();
            }
            cache.insert(pattern.clone(), Arc::clone(&compiled));
        }
        Ok(compiled)
    }

    fn compile(&self, pattern: &str) -> RhaiResult<Regex> {
        if pattern.chars().count() > self.max_len {
            let message = format!("pattern longer than {} characters", self.max_len);
            return Err(EvalAltResult::ErrorDataTooLarge(message, Position::NONE).into());
        }
        RegexBuilder::new(pattern)
            .size_limit(self.max_size)
            .dfa_size_limit(self.max_size)
            .build()
            .map_err(|e| match e {
                regex::Error::CompiledTooBig(_) => {
                    EvalAltResult::ErrorDataTooLarge("compiled pattern".into(), Position::NONE)
                        .into()
                }
                other => runtime_error(format!("bad pattern `{pattern}`: {other}")),
            })
    }
}

fn register_patterns(engine: &mut Engine, limits: &ScriptLimits) {
    let patterns = Patterns {
        cache: Arc::default(),
        max_len: limits.max_pattern_len,
        max_size: limits.max_regex_size,
    };
    engine.register_fn(
        "matches",
        move |text: &str, pattern: ImmutableString| -> RhaiResult<bool> {
            Ok(patterns.get(&pattern)?.is_match(text))
        },
    );
    engine.register_fn("matches", |_: (), _: ImmutableString| false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhai::Dynamic;

    #[test]
    fn keywords_ignore_latin_case_and_must_be_text() {
        let list: Array = vec![Dynamic::from("SCAM"), Dynamic::from("盗刷")];
        assert_eq!(contains("a Scam call", &list, false).ok(), Some(true));
        assert_eq!(contains("卡被盗刷", &list, false).ok(), Some(true));
        assert_eq!(contains("卡被盗刷", &list, true).ok(), Some(false));
        assert_eq!(contains("anything", &Array::new(), true).ok(), Some(true));
        assert!(contains("x", &vec![Dynamic::from_int(1)], false).is_err());
    }

    #[test]
    fn lower_case_is_the_standard_librarys_and_borrows_when_nothing_changes() {
        for text in [
            "",
            "scam",
            "A Scam CALL",
            "信用卡被盗刷 CARD",
            "ÉCHEC",
            "straße",
        ] {
            assert_eq!(lowercase(text), text.to_lowercase(), "{text}");
        }
        assert!(matches!(lowercase("already lower"), Cow::Borrowed(_)));
        assert!(matches!(lowercase("卡被盗刷 card"), Cow::Borrowed(_)));
    }

    #[test]
    fn oversized_patterns_are_refused() {
        let patterns = Patterns {
            cache: Arc::default(),
            max_len: 5,
            max_size: 1 << 20,
        };
        assert!(patterns.compile("abcdefgh").is_err());
        let tiny = Patterns {
            cache: Arc::default(),
            max_len: 1000,
            max_size: 100,
        };
        assert!(tiny.compile(r"\w{50}").is_err());
    }
}
