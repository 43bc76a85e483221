//! Console sessions: signing in exchanges an API token for a session cookie. The
//! cookie holds a random session id; the server keeps only its SHA-256, with the
//! caller the token stood for, the session's CSRF token and when it ends. Sessions
//! live in memory: a restart signs everyone out, which is the safe direction.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::{Caller, random_hex, token_hash};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "redress_session";

/// Sessions kept before expired ones are swept out.
const SWEEP_AT: usize = 10_000;

/// One signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who signed in, as their token says.
    pub caller: Caller,
    /// The CSRF token every form of this session must carry.
    pub csrf: String,
    /// When the session ends.
    pub expires: Instant,
    /// A tracking link just issued, shown once on the next case page.
    pub flash: Option<(String, String)>,
}

/// Every session, by the SHA-256 of its id.
#[derive(Debug)]
pub struct Sessions {
    lifetime: Duration,
    by_hash: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// No sessions yet; each will last `lifetime`.
    pub fn new(lifetime: Duration) -> Self {
        Sessions {
            lifetime,
            by_hash: Mutex::new(HashMap::new()),
        }
    }

    /// How long a session lasts.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Starts a session for a caller; returns the id for the cookie.
    pub fn start(&self, caller: Caller) -> anyhow::Result<String> {
        let id = random_hex(32)?;
        let session = Session {
            caller,
            csrf: random_hex(32)?,
            expires: Instant::now() + self.lifetime,
            flash: None,
        };
        let mut all = self.by_hash.lock().unwrap_or_else(|e| e.into_inner());
        if all.len() >= SWEEP_AT {
            let now = Instant::now();
            all.retain(|_, s| s.expires > now);
        }
        all.insert(token_hash(&id), session);
        Ok(id)
    }

    /// The session of a cookie's id, unless it has ended (an ended one is removed).
    pub fn get(&self, id: &str) -> Option<Session> {
        let hash = token_hash(id);
        let mut all = self.by_hash.lock().unwrap_or_else(|e| e.into_inner());
        match all.get(&hash) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                all.remove(&hash);
                None
            }
            None => None,
        }
    }

    /// Takes the flash message of a session, once.
    pub fn take_flash(&self, id: &str) -> Option<(String, String)> {
        let mut all = self.by_hash.lock().unwrap_or_else(|e| e.into_inner());
        all.get_mut(&token_hash(id)).and_then(|s| s.flash.take())
    }

    /// Leaves a flash message (case id, text) for the session's next case page.
    pub fn set_flash(&self, id: &str, flash: (String, String)) {
        let mut all = self.by_hash.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = all.get_mut(&token_hash(id)) {
            s.flash = Some(flash);
        }
    }

    /// Ends a session (signing out).
    pub fn end(&self, id: &str) {
        let mut all = self.by_hash.lock().unwrap_or_else(|e| e.into_inner());
        all.remove(&token_hash(id));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::Sessions;
    use crate::config::Caller;

    fn caller() -> Caller {
        Caller {
            name: "ann".into(),
            org: Arc::from("bank"),
            role: "agent".into(),
            read_only: false,
            personal_data: true,
            reload_policies: false,
        }
    }

    #[test]
    fn a_session_ends_when_signed_out_or_expired() {
        let sessions = Sessions::new(Duration::from_secs(3600));
        let id = sessions.start(caller()).unwrap();
        let session = sessions.get(&id).unwrap();
        assert_eq!(session.caller, caller());
        assert_eq!(session.csrf.len(), 64);
        assert!(sessions.get("not-a-session").is_none());
        sessions.end(&id);
        assert!(sessions.get(&id).is_none());

        let short = Sessions::new(Duration::ZERO);
        let id = short.start(caller()).unwrap();
        assert!(short.get(&id).is_none(), "a session past its end is gone");
    }

    #[test]
    fn a_flash_is_shown_once() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let id = sessions.start(caller()).unwrap();
        sessions.set_flash(&id, ("C-1".into(), "link".into()));
        assert_eq!(
            sessions.take_flash(&id),
            Some(("C-1".into(), "link".into()))
        );
        assert_eq!(sessions.take_flash(&id), None);
    }
}
