//! Shared fixtures for the script and routing tests: a case, a Mon–Fri calendar, and a
//! schema. Included by the `script_*` and `routing_*` tests with `#[path]`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use redress_engine::script::{BusinessDays, CaseView, EvalContext, Schema};
use redress_engine::value::{Fields, Value};
use rust_decimal::Decimal;

/// Counts weekdays (Mon–Fri) from `a`'s date up to `b`'s date, in UTC.
pub struct MonToFri;

impl BusinessDays for MonToFri {
    fn business_days_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Result<i64, String> {
        let (from, to, sign) = if a <= b { (a, b, 1) } else { (b, a, -1) };
        let mut day = from.date_naive();
        let mut count = 0;
        while day < to.date_naive() {
            day = day.succ_opt().ok_or("date overflow")?;
            if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                count += 1;
            }
        }
        Ok(sign * count)
    }
}

/// A case's data, owned, so tests can build a [`CaseView`] from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Its field values.
    pub fields: Fields,
    /// Its stage.
    pub stage: String,
    /// Its queue.
    pub queue: Option<String>,
    /// Its priority.
    pub priority: Option<i64>,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// Its tags.
    pub tags: Vec<String>,
    /// How often it was reopened.
    pub reopen_count: u32,
    /// When it last entered each stage.
    pub stage_entered_at: BTreeMap<String, DateTime<Utc>>,
}

/// The instant `y-m-d h:00` UTC.
pub fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .unwrap_or_default()
}

/// A money value from its decimal text.
pub fn money(text: &str) -> Value {
    Value::Money(text.parse::<Decimal>().unwrap_or_default())
}

/// A text value.
pub fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// The bank policy's fields, plus a date and a datetime field.
pub fn schema() -> Schema {
    let fields = [
        "category",
        "amount",
        "channel",
        "vulnerable",
        "complex",
        "summary",
        "items",
        "incident_date",
        "promised_at",
        "name",
    ];
    let stages = [
        "received",
        "acknowledged",
        "investigating",
        "decided",
        "review",
        "closed",
    ];
    Schema {
        fields: fields.iter().map(|s| s.to_string()).collect(),
        stages: stages.iter().map(|s| s.to_string()).collect(),
        personal: Vec::new(),
    }
}

/// A fraud complaint received on Friday 13 February 2026, decided ten days later.
pub fn fraud_case() -> Case {
    let mut fields = Fields::new();
    fields.insert("category".into(), text("fraud"));
    fields.insert("amount".into(), money("120.50"));
    fields.insert("channel".into(), text("phone"));
    fields.insert("vulnerable".into(), Value::Bool(false));
    fields.insert("summary".into(), text("信用卡被盗刷 card skimmed"));
    fields.insert("items".into(), Value::Integer(3));
    fields.insert(
        "incident_date".into(),
        Value::Date(NaiveDate::from_ymd_opt(2026, 2, 10).unwrap_or_default()),
    );
    fields.insert(
        "promised_at".into(),
        Value::DateTime(utc(2026, 2, 20, 9).fixed_offset()),
    );
    let received = utc(2026, 2, 13, 8);
    let mut stage_entered_at = BTreeMap::new();
    stage_entered_at.insert("received".to_string(), received);
    stage_entered_at.insert("decided".to_string(), received + Duration::days(10));
    Case {
        fields,
        stage: "decided".into(),
        queue: Some("fraud".into()),
        priority: Some(1),
        received_at: received,
        tags: vec!["vip".into()],
        reopen_count: 0,
        stage_entered_at,
    }
}

impl Case {
    /// The script's view of the case.
    pub fn view(&self) -> CaseView<'_> {
        CaseView {
            fields: &self.fields,
            stage: &self.stage,
            queue: self.queue.as_deref(),
            priority: self.priority,
            received_at: self.received_at,
            tags: &self.tags,
            reopen_count: self.reopen_count,
            stage_entered_at: &self.stage_entered_at,
        }
    }
}

/// Evaluation at `now` on the Mon–Fri calendar.
pub fn ctx_at(now: DateTime<Utc>) -> EvalContext {
    EvalContext {
        now,
        calendar: Arc::new(MonToFri),
    }
}

/// 2026-03-02 12:00 UTC, a Monday, 17 days after receipt and 7 after the decision.
pub fn ctx() -> EvalContext {
    ctx_at(utc(2026, 3, 2, 12))
}
