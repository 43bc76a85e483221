//! Finding the files a command was pointed at, and telling policies, test files and
//! calendar data apart.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

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

/// Expands files and folders (recursively, `*.toml`, sorted) into files.
pub fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect(path, &mut out)
                .with_context(|| format!("cannot read folder `{}`", path.display()))?;
        } else if path.is_file() {
            out.push(path.clone());
        } else {
            bail!("no such file or folder: `{}`", path.display());
        }
    }
    Ok(out)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Tells what a file is by its top-level keys; unreadable or broken files count as
/// policies, so that their problems are reported as such.
pub fn kind(path: &Path) -> Kind {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Kind::Policy;
    };
    let Ok(table) = text.parse::<toml::Table>() else {
        return Kind::Policy;
    };
    match (table.get("policy"), table.get("calendar")) {
        (Some(toml::Value::String(_)), _) => Kind::Tests,
        (None, Some(toml::Value::Table(_))) => Kind::Calendar,
        _ => Kind::Policy,
    }
}
