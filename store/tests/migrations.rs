//! A shipped migration never changes: a database made with it has already run it, and
//! would never see an edit (`0001_initial.sql` was edited twice after it first
//! shipped, so a database made before those edits never got `case_keys` or
//! `outbox`). New tables go into new migrations. This test holds the checksum of each
//! shipped file and fails when one is edited, or when a new one is not yet listed, for
//! both stores: SQLite's in `migrations/`, PostgreSQL's in `migrations/postgres/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use redress_store::{MIGRATIONS, POSTGRES_MIGRATIONS};
use sha2::{Digest, Sha256};

/// Every shipped SQLite migration file and the SHA-256 of its bytes. Add a line when
/// a new migration ships; never change one.
const SHIPPED: &[(&str, &str)] = &[
    (
        "0001_initial.sql",
        "a98aab204a75ab873876e8bb8964d6bccfbde3d286ef24d177b8fff6b7a79d94",
    ),
    (
        "0002_tracking_links.sql",
        "ccf0b4660975bec510a691cb2b4c0083f15ac6314a9e1043a1c903265cf6f7c4",
    ),
    (
        "0003_request_fingerprints.sql",
        "887d87a29e3b449b19265d5bb59cff4406f2fd383f4bd5667cf0a3b06a89b196",
    ),
    (
        "0004_case_reports.sql",
        "832f2197c9500dfb2ff3286133cf486526020df18f164a1c09751f8fbe208ce3",
    ),
    (
        "0005_case_reports_rowid.sql",
        "ac9c92f63ae972d316af2636d6cdebdd372ae13e72818b317ff0a635cd622b43",
    ),
    (
        "0006_due_index_stamps.sql",
        "56e787bed4d757e2d1e828f39116e025264f13c73ec87cff72e57b21da93ee67",
    ),
];

/// The same for PostgreSQL.
const SHIPPED_POSTGRES: &[(&str, &str)] = &[
    (
        "0001_initial.sql",
        "3dedeb0f069ff5ee541c0a1052af18768933bae838987bca4c917df20c63481b",
    ),
    (
        "0002_tracking_links.sql",
        "b5de95c67f2bae5305e18d7b582e609a3eef1f19ab2e0dbbf4a3c012f802f940",
    ),
    (
        "0003_request_fingerprints.sql",
        "c4e5cad949174608849a445bc951010482e50abf86d887a38d197c7f8ef114a0",
    ),
    (
        "0004_case_reports.sql",
        "988dbe089929f749a00fab8f1f3e3ddf55e7e91523dd22127dc2ca66ef2f876f",
    ),
    (
        "0005_case_reports_rowid.sql",
        "d026238cb44a53630e596d37370be1aaafdc87b9b5b71b9ed944283f7e394a3b",
    ),
    (
        "0006_due_index_stamps.sql",
        "e1113489a08095f47f9eccacddbb79f3548b46819770ac1a074ec56685ce30b5",
    ),
];

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn shipped_migrations_never_change_and_every_file_is_listed_and_applied() {
    check("migrations", SHIPPED, MIGRATIONS);
}

#[test]
fn shipped_postgres_migrations_never_change_and_every_file_is_listed_and_applied() {
    check("migrations/postgres", SHIPPED_POSTGRES, POSTGRES_MIGRATIONS);
}

/// Both stores' schema versions mean the same tables: one version, one name.
#[test]
fn both_stores_number_and_name_their_migrations_alike() {
    let names = |m: &[(i64, &str, &str)]| -> Vec<(i64, String)> {
        m.iter().map(|(v, n, _)| (*v, n.to_string())).collect()
    };
    assert_eq!(names(MIGRATIONS), names(POSTGRES_MIGRATIONS));
}

/// The `.sql` files of `folder` are `migrations`, in order, each its shipped bytes.
fn check(folder: &str, shipped: &[(&str, &str)], migrations: &[(i64, &str, &str)]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the migrations folder `{}`: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".sql"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no migration in `{}`", dir.display());
    for (i, file) in files.iter().enumerate() {
        let text = std::fs::read(dir.join(file)).unwrap();
        match shipped.iter().find(|(name, _)| name == file) {
            Some((_, sum)) => assert_eq!(
                &sha256(&text),
                sum,
                "`{file}` has shipped and must not change: put the change in a new migration"
            ),
            None => panic!(
                "`{file}` is new: once it ships, add (\"{file}\", \"{}\") to SHIPPED",
                sha256(&text)
            ),
        }
        let (version, name, sql) = migrations
            .get(i)
            .unwrap_or_else(|| panic!("`{file}` is not in the migrations list"));
        assert_eq!(
            format!("{version:04}_{name}.sql"),
            *file,
            "migration {i} is not `{file}`"
        );
        assert_eq!(
            sql.as_bytes(),
            text.as_slice(),
            "migration {i} is not the text of `{file}`"
        );
    }
    assert_eq!(
        migrations.len(),
        files.len(),
        "the migrations list names a file that is not there"
    );
}
