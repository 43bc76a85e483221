//! Where a policy's files are read from: [`PolicyFiles`], with one implementation
//! per place (files on disk, a policy's text already read with its includes on disk,
//! a stored version's bundle). Loading ([`check`](super::check)) reads through it
//! and knows nothing else of disks or stores.
//!
//! (Named `PolicyFiles` rather than `Sources` because [`Sources`](crate::diagnostic::Sources)
//! is the registry of read files that diagnostics point into.)

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// Where a policy file and the files it includes are read from.
pub trait PolicyFiles {
    /// The policy file: its name (as diagnostics and [`Policy::sources`](super::Policy::sources)
    /// show it) and its text, if it could be read.
    fn policy(&self) -> (String, io::Result<String>);

    /// The folder the policy's includes are relative to.
    fn dir(&self) -> &Path;

    /// The text of an included file, by its normalised path ([`dir`](Self::dir)
    /// joined with the include, `..` resolved).
    fn include(&self, path: &Path) -> io::Result<String>;
}

/// A policy file on disk, and its includes beside it.
#[derive(Debug, Clone, Copy)]
pub struct OnDisk<'a> {
    path: &'a Path,
    dir: &'a Path,
}

impl<'a> OnDisk<'a> {
    /// The policy at `path`.
    pub fn new(path: &'a Path) -> Self {
        OnDisk {
            path,
            dir: path.parent().unwrap_or(Path::new(".")),
        }
    }
}

impl PolicyFiles for OnDisk<'_> {
    fn policy(&self) -> (String, io::Result<String>) {
        (
            self.path.display().to_string(),
            std::fs::read_to_string(self.path),
        )
    }

    fn dir(&self) -> &Path {
        self.dir
    }

    fn include(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// A policy whose text is given (already read, or written by a test), with its
/// includes read from disk relative to `dir`.
#[derive(Debug, Clone, Copy)]
pub struct Given<'a> {
    /// The policy's name, as diagnostics show it.
    pub name: &'a str,
    /// Its text.
    pub text: &'a str,
    /// The folder its includes are relative to.
    pub dir: &'a Path,
}

impl PolicyFiles for Given<'_> {
    fn policy(&self) -> (String, io::Result<String>) {
        (self.name.to_string(), Ok(self.text.to_string()))
    }

    fn dir(&self) -> &Path {
        self.dir
    }

    fn include(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// A stored policy version: the files as [`Policy::sources`](super::Policy::sources)
/// gave them (the policy first, then its includes), read without touching the disk,
/// so a server brings back the version a running case is pinned to after the files
/// on disk have changed.
#[derive(Debug, Clone)]
pub struct Stored<'a> {
    files: &'a [(String, String)],
    includes: BTreeMap<&'a str, &'a str>,
    dir: PathBuf,
}

impl<'a> Stored<'a> {
    /// The version made of `files`, the policy first.
    pub fn new(files: &'a [(String, String)]) -> Self {
        let includes = files
            .iter()
            .skip(1)
            .map(|(name, text)| (name.as_str(), text.as_str()))
            .collect();
        let dir = files
            .first()
            .and_then(|(name, _)| Path::new(name).parent())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        Stored {
            files,
            includes,
            dir,
        }
    }
}

impl PolicyFiles for Stored<'_> {
    fn policy(&self) -> (String, io::Result<String>) {
        match self.files.first() {
            Some((name, text)) => (name.clone(), Ok(text.clone())),
            None => (
                "the stored policy version".into(),
                Err(io::Error::new(io::ErrorKind::NotFound, "it has no files")),
            ),
        }
    }

    fn dir(&self) -> &Path {
        &self.dir
    }

    fn include(&self, path: &Path) -> io::Result<String> {
        let name = path.display().to_string();
        match self.includes.get(name.as_str()) {
            Some(text) => Ok(text.to_string()),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                "not in the stored policy version",
            )),
        }
    }
}
