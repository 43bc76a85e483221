//! [`DatabaseError`]: a failure of the database itself, keeping the driver's error
//! as its source and whether it was only busy.

use std::error::Error;
use std::sync::Arc;

/// A failure of the database itself (disk, lock, corruption, a bad statement). The
/// driver's error is kept as the [`source`](Error::source), so callers can walk the
/// chain or downcast it (to `rusqlite::Error` for [`SqliteStore`](crate::SqliteStore));
/// [`is_busy`](Self::is_busy) says whether the database was only held by another
/// connection, which is worth retrying.
#[derive(Debug, Clone)]
pub struct DatabaseError {
    busy: bool,
    source: Arc<dyn Error + Send + Sync>,
}

impl DatabaseError {
    /// The database was busy or locked by another connection: the same work may
    /// succeed if tried again.
    pub fn busy(source: impl Error + Send + Sync + 'static) -> Self {
        DatabaseError {
            busy: true,
            source: Arc::new(source),
        }
    }

    /// Any other failure: trying again will not help.
    pub fn other(source: impl Error + Send + Sync + 'static) -> Self {
        DatabaseError {
            busy: false,
            source: Arc::new(source),
        }
    }

    /// A failure the store itself describes (no driver error behind it).
    pub fn described(text: impl Into<String>) -> Self {
        Self::other(std::io::Error::other(text.into()))
    }

    /// Whether the database was busy or locked by another connection (decided by
    /// the driver's error code, not its message).
    pub fn is_busy(&self) -> bool {
        self.busy
    }
}

impl std::fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.busy {
            true => write!(f, "the database is busy: {}", self.source),
            false => write!(f, "the database failed: {}", self.source),
        }
    }
}

impl Error for DatabaseError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// Two database errors are equal when they are of the same kind with the same
/// message (a driver's errors are rarely comparable themselves).
impl PartialEq for DatabaseError {
    fn eq(&self, other: &Self) -> bool {
        self.busy == other.busy && self.source.to_string() == other.source.to_string()
    }
}

impl Eq for DatabaseError {}
