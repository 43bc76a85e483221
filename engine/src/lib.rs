//! The Redress engine: everything about complaint handling that is not I/O glue.
//!
//! Layers, each depending only on the ones listed before it (see `ARCHITECTURE.md`):
//!
//! 1. [`value`] and [`diagnostic`]: typed field values and located problems, the
//!    plain data every layer shares; [`markup`]: the one HTML/XML escape;
//!    [`instant`]: the one way instants are written in JSON.
//! 2. [`calendar`]: business calendars and durations; [`sla`]: SLA clocks on them.
//! 3. [`script`]: the sandboxed Rhai layer (conditions, routing scripts, actions);
//!    [`routing`]: ordered rules and scripts deciding where a complaint goes.
//! 4. [`policy`]: policy files, their diagnostics, and validation into a sound
//!    [`policy::Policy`] that holds calendars, clocks' rules and compiled scripts.
//! 5. [`case`] and [`runtime`]: the functional core that runs cases: events, commands,
//!    refusals, timers, scenario tests, replay and simulation.
//! 6. [`report`]: reports, complaint bulletins and regulators' returns over many
//!    cases' facts.

pub mod calendar;
pub mod case;
pub mod diagnostic;
pub mod instant;
pub mod markup;
pub mod policy;
pub mod report;
pub mod routing;
pub mod runtime;
pub mod script;
pub mod sla;
pub mod value;
