//! Finding the files a command or the service was pointed at, and telling policies,
//! test files and calendar data apart (from the one parse
//! [`check_file`](super::check_file) makes of each).
//!
//! Folders are walked with `walkdir`, following links but never into a folder that
//! is already being walked (a folder holding a link to its parent is read once).

use std::path::{Path, PathBuf};

/// What a TOML file under `policies/` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A policy (`[policy]` table).
    Policy,
    /// Scenario tests beside a policy (`policy = "..."`).
    Tests,
    /// Calendar data (`[calendar]` table).
    Calendar,
}

/// Why files could not be found.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// A path given names nothing.
    #[error("no such file or folder: `{}`", path.display())]
    Missing {
        /// The path as given.
        path: PathBuf,
    },
    /// A folder could not be read.
    #[error("cannot read folder `{}`: {source}", path.display())]
    Unreadable {
        /// The folder.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: walkdir::Error,
    },
}

/// Expands files and folders (recursively, `*.toml`, sorted by path) into files.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, DiscoverError> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect(path, &mut out)?;
        } else if path.is_file() {
            out.push(path.clone());
        } else {
            return Err(DiscoverError::Missing { path: path.clone() });
        }
    }
    Ok(out)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), DiscoverError> {
    let walk = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name();
    for entry in walk {
        let entry = match entry {
            Ok(entry) => entry,
            // A link back to a folder being walked: already read, skip it.
            Err(e) if e.loop_ancestor().is_some() => continue,
            Err(source) => {
                return Err(DiscoverError::Unreadable {
                    path: dir.to_path_buf(),
                    source,
                });
            }
        };
        let path = entry.path();
        if entry.file_type().is_file() && path.extension().is_some_and(|e| e == "toml") {
            out.push(path.to_path_buf());
        }
    }
    Ok(())
}

/// Tells what a parsed file is by its top-level keys, for
/// [`check_file`](super::check_file): `policy = "..."` is a test file, a
/// `[calendar]` table without a `policy` is calendar data, anything else (files
/// that say neither too) is a policy, so that its problems are reported as such.
pub(crate) fn kind_of_root(root: &toml::Spanned<toml::de::DeValue<'_>>) -> Kind {
    match root.get_ref().as_table() {
        Some(table) => kind_of_table(table),
        None => Kind::Policy,
    }
}

fn kind_of_table(table: &toml::de::DeTable<'_>) -> Kind {
    use toml::de::DeValue;
    let top = |name: &str| {
        (table.iter())
            .find(|(key, _)| key.get_ref() == name)
            .map(|(_, value)| value.get_ref())
    };
    let (policy, calendar) = (top("policy"), top("calendar"));
    match (policy, calendar) {
        (Some(DeValue::String(_)), _) => Kind::Tests,
        (None, Some(DeValue::Table(_))) => Kind::Calendar,
        _ => Kind::Policy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_to_the_parent_is_read_once() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("a.toml"), "[policy]\n")?;
        std::fs::create_dir(dir.path().join("sub"))?;
        std::fs::write(dir.path().join("sub/b.toml"), "[calendar]\n")?;
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.path(), dir.path().join("sub/up"))?;
        let files = expand(&[dir.path().to_path_buf()])?;
        let names: Vec<_> = files
            .iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap_or(p).to_path_buf())
            .collect();
        assert_eq!(
            names,
            [PathBuf::from("a.toml"), PathBuf::from("sub/b.toml")]
        );
        let parsed = toml::de::DeTable::parse("[calendar]\n")?;
        let root = toml::Spanned::new(0..0, toml::de::DeValue::Table(parsed.into_inner()));
        assert_eq!(kind_of_root(&root), Kind::Calendar);
        Ok(())
    }

    #[test]
    fn a_missing_path_is_an_error() {
        let err = expand(&[PathBuf::from("/no/such/folder")]);
        assert!(matches!(err, Err(DiscoverError::Missing { .. })));
    }
}
