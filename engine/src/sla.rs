//! SLA rules and their clocks: placeholder, filled in below.

use crate::calendar::SlaDuration;

/// An SLA's counting rules (contract stand-in until the SLA clock lands).
#[derive(Debug, Clone, PartialEq)]
pub struct SlaRule {
    /// The SLA's name.
    pub name: String,
    /// The target.
    pub target: SlaDuration,
    /// Warning percentages.
    pub warn: Vec<u8>,
    /// Roll a deadline on a non-working day to the end of the next working day.
    pub roll_to_working_day: bool,
    /// Count a complaint received after hours from the next working day.
    pub from_next_working_day_after_hours: bool,
}
