//! Cross-site request forgery: every form a signed-in page renders carries the
//! session's CSRF token, and every POST is refused unless it carries the same one
//! (compared in constant time). The sign-in form, which comes before any session,
//! uses a double-submit cookie instead: a random value in a `SameSite=Strict`
//! cookie and in the form, which another site can neither read nor set.

/// The pre-session cookie of the sign-in form.
pub const SIGN_IN_COOKIE: &str = "redress_signin";

/// Whether a submitted token is the expected one, in time that does not depend on
/// where they differ.
pub fn matches(expected: &str, given: Option<&str>) -> bool {
    let Some(given) = given else { return false };
    if expected.is_empty() || expected.len() != given.len() {
        return false;
    }
    expected
        .bytes()
        .zip(given.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn only_the_same_token_passes() {
        for (expected, given, ok) in [
            ("abc123", Some("abc123"), true),
            ("abc123", Some("abc124"), false),
            ("abc123", Some("abc12"), false),
            ("abc123", None, false),
            ("", Some(""), false),
        ] {
            assert_eq!(matches(expected, given), ok, "{expected:?} vs {given:?}");
        }
    }
}
