//! Policies: the file format, loading with includes, diagnostics, and validation
//! into a [`Policy`] that is known to be sound.

pub mod field;
pub mod raw;

pub(crate) mod locate;
pub(crate) mod parse;
