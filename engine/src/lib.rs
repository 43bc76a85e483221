//! The Redress engine: everything about complaint handling that is not I/O glue.
//!
//! Layers, each depending only on the ones listed before it (see `ARCHITECTURE.md`):
//!
//! 1. [`value`]: typed field values, the plain data every layer shares.
//! 2. `calendar`: business calendars and durations; `sla`: SLA clocks on them.
//! 3. `script`: the sandboxed Rhai layer (conditions, routing, actions).
//! 4. `policy`: policy files, their diagnostics, and validation into a sound `Policy`.
//! 5. `case` and `runtime`: the functional core that runs cases.

pub mod routing;
pub mod script;
pub mod value;
