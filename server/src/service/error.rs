//! What the service answers when it does not do what was asked: domain outcomes,
//! which the HTTP layer (and the console) map to statuses and problem documents.

use redress_engine::runtime::Refusal;
use redress_store::StoreError;

/// Why a service call did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No such case in the caller's organisation (another organisation's case is
    /// not told apart from a missing one).
    #[error("there is no case `{0}`")]
    CaseNotFound(String),
    /// No such policy among the organisation's.
    #[error("there is no policy `{id}`; known: {}", known.join(", "))]
    UnknownPolicy {
        /// The id asked for.
        id: String,
        /// The organisation's policies.
        known: Vec<String>,
    },
    /// The organisation's policies did not load (a broken file); its running cases
    /// still answer.
    #[error("the policies of organisation `{org}` are not loaded: {} has errors; fix and reload", files.join(", "))]
    PoliciesNotLoaded {
        /// The organisation.
        org: String,
        /// The files in the way.
        files: Vec<String>,
    },
    /// The caller's token may only read.
    #[error("the token of `{name}` ({role}) may only read")]
    ReadOnly {
        /// The token's name.
        name: String,
        /// Its role.
        role: String,
    },
    /// An intake named a case id that is taken.
    #[error("a case `{0}` already exists")]
    CaseExists(String),
    /// The engine refused the command; nothing was written.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The store failed or refused the write.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something that should not happen (a task panicked, a pinned policy is gone).
    #[error("{0}")]
    Internal(String),
}

impl ServiceError {
    /// An internal failure, from anything that can be shown.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        ServiceError::Internal(error.to_string())
    }
}
