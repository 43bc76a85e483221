//! A policy version can be brought back from the text of its files alone (what a
//! server keeps in its store), with the same hash, whatever is on disk now.

use std::path::Path;

use redress_engine::policy::{CheckOptions, LoadError, Policy, Stored, check, load_policy};

fn load_stored(files: &[(String, String)]) -> Result<Policy, LoadError> {
    check(&Stored::new(files), CheckOptions::default()).into_policy()
}

fn shipped(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../policies")
        .join(name)
}

#[test]
fn every_shipped_policy_loads_back_from_its_sources_with_the_same_hash() {
    for name in [
        "bank.toml",
        "bank-uk.toml",
        "insurer.toml",
        "retail.toml",
        "hotel.toml",
    ] {
        let policy = load_policy(&shipped(name)).unwrap();
        assert_eq!(policy.sources().len(), policy.files().len(), "{name}");
        let again = load_stored(policy.sources()).unwrap();
        assert_eq!(again.hash(), policy.hash(), "{name}");
        assert_eq!(again.sources(), policy.sources(), "{name}");
    }
}

#[test]
fn a_stored_version_does_not_read_the_disk() {
    let policy = load_policy(&shipped("bank.toml")).unwrap();
    let mut sources = policy.sources().to_vec();
    // The calendar as stored differs from the file on disk: the stored one is used.
    let calendar = sources
        .iter_mut()
        .find(|(n, _)| n.ends_with("cn-2026.toml"))
        .unwrap();
    calendar.1.push_str("\n# kept in the store\n");
    let restored = load_stored(&sources).unwrap();
    assert_ne!(restored.hash(), policy.hash());
    // A stored version missing a file it includes is refused, naming the include.
    sources.retain(|(n, _)| !n.ends_with("cn-2026.toml"));
    let error = load_stored(&sources).unwrap_err();
    assert_eq!(error.diagnostics[0].code, "missing-include");
    assert!(error.to_string().contains("cn-2026.toml"), "{error}");
}
