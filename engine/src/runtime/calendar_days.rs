//! [`CalendarDays`]: a [`Calendar`] as the script layer's [`BusinessDays`]. It lives
//! here because the calendar layer sits below the script layer and must not know it.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::calendar::Calendar;
use crate::script::BusinessDays;

/// A calendar counting business days for scripts (`business_days_between`).
#[derive(Debug, Clone)]
pub struct CalendarDays(pub Arc<Calendar>);

impl BusinessDays for CalendarDays {
    fn business_days_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Result<i64, String> {
        self.0
            .business_days_between(a, b)
            .map_err(|e| e.to_string())
    }
}
