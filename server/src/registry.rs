//! The policies the service runs: the current version of each policy in the
//! policies folder (for new cases), and every version a running case is pinned to,
//! by content hash. A version no longer on disk is loaded back from the text the
//! store kept of it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use redress_engine::diagnostic::{Diagnostic, render_human};
use redress_engine::policy::{CheckOptions, FileReport, Policy, Stored, check, check_file};
use redress_store::PolicyVersion;

use crate::config::OrgConfig;

use redress_engine::policy::discover as files;

/// Why policies could not be loaded: every problem, for people and for machines,
/// with paths relative to the policies folder. Nothing was changed.
#[derive(Debug, Clone, Default)]
pub struct LoadFailure {
    /// The diagnostics rendered for a terminal.
    pub human: String,
    /// The diagnostics, with their files, lines and codes.
    pub diagnostics: Vec<Diagnostic>,
    /// The policy files in the way.
    pub files: Vec<String>,
}

impl std::fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.human)
    }
}

impl std::error::Error for LoadFailure {}

/// What a reload changed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Change {
    /// The policy's id.
    pub policy: String,
    /// The hash of the version it replaced (`None`: a new policy).
    pub from: Option<String>,
    /// The new version's hash (`None`: the policy was removed).
    pub to: Option<String>,
}

/// Why one organisation's policies are not loaded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NotLoaded {
    /// The organisation.
    pub organisation: String,
    /// The policy files in the way, relative to the policies folder.
    pub files: Vec<String>,
    /// Their diagnostic codes.
    pub codes: Vec<String>,
}

/// A policy file that did not load: its id when it can be read, and why.
#[derive(Debug, Clone)]
struct Broken {
    file: String,
    id: Option<String>,
    human: String,
    diagnostics: Vec<Diagnostic>,
}

/// The folder as read: the policies that loaded, by id, and the files that did not.
#[derive(Debug, Default)]
struct Folder {
    policies: BTreeMap<String, Arc<Policy>>,
    broken: Vec<Broken>,
}

impl Folder {
    /// The organisation's policies, or why they cannot be loaded: a broken file
    /// whose policy it runs (or may run: an organisation running every policy, or
    /// a file whose id cannot be read while one of its policies is missing).
    fn select(&self, org: &OrgConfig) -> Result<BTreeMap<String, Arc<Policy>>, LoadFailure> {
        let in_way: Vec<&Broken> = match &org.policies {
            None => self.broken.iter().collect(),
            Some(ids) => {
                let missing = ids.iter().any(|id| !self.policies.contains_key(id));
                self.broken
                    .iter()
                    .filter(|b| match &b.id {
                        Some(id) => ids.contains(id),
                        None => missing,
                    })
                    .collect()
            }
        };
        if !in_way.is_empty() {
            return Err(LoadFailure {
                human: in_way.iter().map(|b| b.human.as_str()).collect(),
                diagnostics: in_way.iter().flat_map(|b| b.diagnostics.clone()).collect(),
                files: in_way.iter().map(|b| b.file.clone()).collect(),
            });
        }
        Ok(self
            .policies
            .iter()
            .filter(|(id, _)| org.policies.as_ref().is_none_or(|ids| ids.contains(id)))
            .map(|(id, p)| (id.clone(), p.clone()))
            .collect())
    }
}

#[derive(Default)]
struct Loaded {
    /// Each organisation's current policies, by id.
    current: BTreeMap<String, BTreeMap<String, Arc<Policy>>>,
    /// The organisations whose policies are not loaded, and why.
    refused: BTreeMap<String, LoadFailure>,
    versions: HashMap<String, Arc<Policy>>,
}

/// The policies, current (per organisation) and pinned.
pub struct Registry {
    dir: PathBuf,
    organisations: Vec<OrgConfig>,
    loaded: RwLock<Loaded>,
}

impl Registry {
    /// Loads every policy in `dir` (test files and calendar data beside them are
    /// skipped) for each organisation. A broken policy file refuses only the
    /// organisations that run it ([`Registry::not_loaded`] says which); the folder is
    /// refused as a whole when it cannot be read or no organisation loads.
    pub fn load(dir: &Path, organisations: &[OrgConfig]) -> Result<Self, LoadFailure> {
        let folder = read_dir(dir)?;
        let mut loaded = Loaded::default();
        for org in organisations {
            match folder.select(org) {
                Ok(policies) => {
                    for p in policies.values() {
                        loaded.versions.insert(p.hash().to_string(), p.clone());
                    }
                    loaded.current.insert(org.id.clone(), policies);
                }
                Err(failure) => {
                    loaded.refused.insert(org.id.clone(), failure);
                }
            }
        }
        if loaded.current.is_empty() && !loaded.refused.is_empty() {
            let mut failures = loaded.refused.into_values();
            let first = failures.next().unwrap_or_default();
            return Err(failures.fold(first, |mut all, f| {
                all.human.push_str(&f.human);
                all
            }));
        }
        Ok(Registry {
            dir: dir.to_path_buf(),
            organisations: organisations.to_vec(),
            loaded: RwLock::new(loaded),
        })
    }

    /// Loads the folder again for one organisation: new versions apply to its new
    /// cases; running cases keep theirs; other organisations are not touched.
    /// Refused as a whole, changing nothing, when a policy it runs has an error.
    pub fn reload(&self, org: &str) -> Result<Vec<Change>, LoadFailure> {
        let Some(config) = self.organisations.iter().find(|o| o.id == org) else {
            return Ok(Vec::new());
        };
        let fresh = read_dir(&self.dir)?.select(config)?;
        let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        let old = loaded.current.get(org).cloned().unwrap_or_default();
        let mut changes = Vec::new();
        for (id, policy) in &fresh {
            let from = old.get(id).map(|p| p.hash().to_string());
            if from.as_deref() != Some(policy.hash()) {
                changes.push(Change {
                    policy: id.clone(),
                    from,
                    to: Some(policy.hash().to_string()),
                });
            }
        }
        for (id, policy) in &old {
            if !fresh.contains_key(id) {
                changes.push(Change {
                    policy: id.clone(),
                    from: Some(policy.hash().to_string()),
                    to: None,
                });
            }
        }
        for policy in fresh.values() {
            loaded
                .versions
                .entry(policy.hash().to_string())
                .or_insert_with(|| policy.clone());
        }
        loaded.current.insert(org.to_string(), fresh);
        loaded.refused.remove(org);
        Ok(changes)
    }

    /// The organisations whose policies are not loaded, with the files in the way.
    pub fn not_loaded(&self) -> Vec<NotLoaded> {
        self.read()
            .refused
            .iter()
            .map(|(org, failure)| NotLoaded {
                organisation: org.clone(),
                files: failure.files.clone(),
                codes: failure
                    .diagnostics
                    .iter()
                    .map(|d| d.code.to_string())
                    .collect(),
            })
            .collect()
    }

    /// Why an organisation's policies are not loaded, if they are not.
    pub fn refusal(&self, org: &str) -> Option<LoadFailure> {
        self.read().refused.get(org).cloned()
    }

    /// The current policies of an organisation, by id.
    pub fn current_of(&self, org: &str) -> Vec<Arc<Policy>> {
        self.read()
            .current
            .get(org)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The current version of a policy, in any organisation that runs it.
    pub fn current(&self, id: &str) -> Option<Arc<Policy>> {
        self.read()
            .current
            .values()
            .find_map(|m| m.get(id).cloned())
    }

    /// The current version of every policy some organisation runs, by id.
    pub fn all_current(&self) -> Vec<Arc<Policy>> {
        let loaded = self.read();
        let mut all: BTreeMap<&str, Arc<Policy>> = BTreeMap::new();
        for (id, p) in loaded.current.values().flatten() {
            all.entry(id.as_str()).or_insert_with(|| p.clone());
        }
        all.into_values().collect()
    }

    /// A version by hash, when loaded.
    pub fn version(&self, hash: &str) -> Option<Arc<Policy>> {
        self.read().versions.get(hash).cloned()
    }

    /// Loads a stored version and keeps it. Refused when the stored text does not
    /// load or does not give the hash it was stored under (see
    /// [`Report::into_pinned`](redress_engine::policy::Report::into_pinned) for
    /// versions stored before the hash covered the time-zone database).
    pub fn restore(&self, stored: &PolicyVersion) -> Result<Arc<Policy>, String> {
        let policy = check(&Stored::new(&stored.sources), CheckOptions::default())
            .into_pinned(&stored.hash)
            .map_err(|e| e.to_string())?;
        let policy = Arc::new(policy);
        let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        Ok(loaded
            .versions
            .entry(stored.hash.clone())
            .or_insert(policy)
            .clone())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.loaded.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the store keeps of a policy version.
pub fn stored_version(policy: &Policy) -> PolicyVersion {
    PolicyVersion {
        hash: policy.hash().to_string(),
        policy_id: policy.id().to_string(),
        version: policy.version().to_string(),
        sources: policy.sources().to_vec(),
    }
}

/// A path as the API shows it: relative to the policies folder, never absolute.
fn shown(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir).unwrap_or(path).display().to_string()
}

/// Replaces the policies folder's location in a rendered report, so that the API
/// never shows where the server keeps its files.
fn relative(dir: &Path, text: &str) -> String {
    let prefix = format!("{}{}", dir.display(), std::path::MAIN_SEPARATOR);
    text.replace(&prefix, "")
}

/// The `[policy] id` of a file that did not load, when its TOML can be read.
fn id_of(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let doc: toml::Table = toml::from_str(&text).ok()?;
    doc.get("policy")?.get("id")?.as_str().map(str::to_string)
}

fn read_dir(dir: &Path) -> Result<Folder, LoadFailure> {
    let paths = files::expand(&[dir.to_path_buf()]).map_err(|e| LoadFailure {
        human: relative(dir, &format!("{e:#}")),
        ..LoadFailure::default()
    })?;
    let mut folder = Folder::default();
    let mut first_file: BTreeMap<String, PathBuf> = BTreeMap::new();
    for path in &paths {
        let FileReport::Policy(report) = check_file(path, CheckOptions::default()) else {
            continue;
        };
        let file = shown(dir, path);
        let mut errors: Vec<_> = report
            .diagnostics
            .into_iter()
            .filter(|d| d.is_error())
            .collect();
        if !errors.is_empty() {
            let human = relative(dir, &render_human(&errors, &report.sources, false));
            for d in &mut errors {
                if let Some(location) = &mut d.location {
                    location.file = relative(dir, &location.file);
                }
            }
            folder.broken.push(Broken {
                file,
                id: id_of(path),
                human,
                diagnostics: errors,
            });
            continue;
        }
        let Some(policy) = report.policy else {
            continue;
        };
        let id = policy.id().to_string();
        if let Some(first) = first_file.get(&id) {
            folder.broken.push(Broken {
                human: format!(
                    "error: policy id `{id}` is used by both `{}` and `{file}`\n",
                    shown(dir, first),
                ),
                file,
                id: Some(id),
                diagnostics: Vec::new(),
            });
            continue;
        }
        first_file.insert(id.clone(), path.clone());
        folder.policies.insert(id, Arc::new(policy));
    }
    if folder.policies.is_empty() && folder.broken.is_empty() {
        return Err(LoadFailure {
            human: "no policy files in the policies folder".to_string(),
            ..LoadFailure::default()
        });
    }
    Ok(folder)
}
