//! A case in use: its last stored state with the policy version it is pinned to.
//! The service keeps one per case behind a lock; the view renders it.

use std::sync::Arc;

use redress_engine::case::Case;
use redress_engine::policy::Policy;
use redress_store::Summary;

/// A case as last stored, with its policy version and summary.
#[derive(Clone)]
pub struct Slot {
    /// The case.
    pub case: Case,
    /// The policy version it is pinned to.
    pub policy: Arc<Policy>,
    /// Its summary as stored.
    pub summary: Summary,
}
