//! [`Provisional`]: why a deadline is not final. A deadline that counted a day the
//! calendar's data does not cover (after its last file, or in a gap between files)
//! counted it on the working week alone; one that counted a day of data marked
//! `status = "provisional"` counted it on that data. Either way the deadline is
//! computed and enforced, and says so, until the official data is loaded.

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Serialize;

use super::{Calendar, Coverage};

/// Why a deadline is provisional: the first day it counted that firm data does not
/// cover, and the reason in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provisional {
    /// The first such day.
    pub date: NaiveDate,
    /// Why, as the clock's view and explanation show it
    /// ("2027 data not loaded: counted Monday to Friday, no holidays").
    pub reason: String,
}

impl Calendar {
    /// Whether counting the days `from..=to` needs a day that firm data does not
    /// cover; `None` when every day is covered (or the calendar is complete by
    /// itself). Days before the data begins are not this function's concern: the
    /// arithmetic refuses them.
    pub fn provisional_in(&self, from: NaiveDate, to: NaiveDate) -> Option<Provisional> {
        let (begins, _) = self.span?;
        let mut date = from.max(begins);
        while date <= to {
            let firm = self
                .covers()
                .iter()
                .find(|c| !c.provisional && c.contains(date));
            if let Some(c) = firm {
                date = c.to.succ_opt()?;
                continue;
            }
            let reason = match self.covers().iter().find(|c| c.contains(date)) {
                Some(c) => self.provisional_data(c, date),
                None => self.not_loaded(date),
            };
            return Some(Provisional { date, reason });
        }
        None
    }

    fn provisional_data(&self, c: &Coverage, date: NaiveDate) -> String {
        let what = stretch_name(c.from.max(date.with_ordinal(1).unwrap_or(date)));
        format!("{what} data is provisional (`{}`)", c.source)
    }

    fn not_loaded(&self, date: NaiveDate) -> String {
        // The uncovered stretch starts the day after the last data before `date`.
        let start = self
            .covers()
            .iter()
            .filter(|c| c.to < date)
            .map(|c| c.to)
            .max()
            .and_then(|d| d.succ_opt())
            .unwrap_or(date);
        format!(
            "{} data not loaded: counted {}, no holidays",
            stretch_name(start),
            week_words(&self.spec.week)
        )
    }
}

/// `2027` for a stretch that starts on 1 January, else `from 2027-03-01`.
fn stretch_name(start: NaiveDate) -> String {
    match start.ordinal() {
        1 => start.year().to_string(),
        _ => format!("from {start}"),
    }
}

/// `Monday to Friday` for a run of days, else the days listed.
fn week_words(week: &[Weekday]) -> String {
    let mut days: Vec<Weekday> = week.to_vec();
    days.sort_by_key(|d| d.num_days_from_monday());
    days.dedup();
    let name = |d: &Weekday| match d {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    };
    let run = days
        .windows(2)
        .all(|w| w[1].num_days_from_monday() == w[0].num_days_from_monday() + 1);
    match (days.first(), days.last()) {
        (Some(first), Some(last)) if run && days.len() > 2 => {
            format!("{} to {}", name(first), name(last))
        }
        _ => days.iter().map(name).collect::<Vec<_>>().join(", "),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn names_the_week_and_the_stretch() {
        use Weekday::*;
        assert_eq!(week_words(&[Mon, Tue, Wed, Thu, Fri]), "Monday to Friday");
        assert_eq!(
            week_words(&[Sun, Mon, Tue, Wed, Thu]),
            "Monday, Tuesday, Wednesday, Thursday, Sunday"
        );
        assert_eq!(week_words(&[Mon, Wed]), "Monday, Wednesday");
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(stretch_name(d("2027-01-01")), "2027");
        assert_eq!(stretch_name(d("2027-03-01")), "from 2027-03-01");
    }
}
