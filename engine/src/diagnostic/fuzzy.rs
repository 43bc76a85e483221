//! "did you mean `investigating`?": the one fuzzy match every layer uses for a
//! misspelt name (stages, fields, keys, units, time zones, script variables and
//! functions), so that suggestions are equally good everywhere.

/// How similar (Jaro-Winkler, 0 to 1) a name must be to a candidate to suggest it.
pub const THRESHOLD: f64 = 0.8;

/// The candidate closest to `name`, when one is close enough to suggest.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score >= THRESHOLD)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// "did you mean `x`?" for a misspelt name, when one candidate is close enough.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(name, candidates).map(|best| format!("did you mean `{best}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_name_or_none() {
        let stages = ["received", "investigating", "closed"];
        assert_eq!(
            did_you_mean("investigatng", stages).as_deref(),
            Some("did you mean `investigating`?")
        );
        assert_eq!(closest("recieved", stages), Some("received"));
        assert_eq!(did_you_mean("zzz", stages), None);
        assert_eq!(closest("x", []), None);
    }
}
