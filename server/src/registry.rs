//! The policies the service runs: the current version of each policy in the
//! policies folder (for new cases), and every version a running case is pinned to,
//! by content hash. A version no longer on disk is loaded back from the text the
//! store kept of it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use redress_engine::diagnostic::{Diagnostic, render_human};
use redress_engine::policy::{Policy, check_policy, load_policy_version};
use redress_store::PolicyVersion;

use redress_engine::policy::discover::{self as files, Kind};

/// Why the policies folder could not be loaded: every problem, for people and for
/// machines. Nothing was changed.
#[derive(Debug)]
pub struct LoadFailure {
    /// The diagnostics rendered for a terminal.
    pub human: String,
    /// The diagnostics, with their files, lines and codes.
    pub diagnostics: Vec<Diagnostic>,
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

#[derive(Default)]
struct Loaded {
    current: BTreeMap<String, Arc<Policy>>,
    versions: HashMap<String, Arc<Policy>>,
}

/// The policies, current and pinned.
pub struct Registry {
    dir: PathBuf,
    loaded: RwLock<Loaded>,
}

impl Registry {
    /// Loads every policy in `dir` (test files and calendar data beside them are
    /// skipped). Any problem in any policy refuses the whole folder.
    pub fn load(dir: &Path) -> Result<Self, LoadFailure> {
        let current = load_dir(dir)?;
        let versions = current
            .values()
            .map(|p| (p.hash().to_string(), p.clone()))
            .collect();
        Ok(Registry {
            dir: dir.to_path_buf(),
            loaded: RwLock::new(Loaded { current, versions }),
        })
    }

    /// Loads the folder again. New versions apply to new cases; running cases keep
    /// theirs. Refused as a whole, changing nothing, when any policy has an error.
    pub fn reload(&self) -> Result<Vec<Change>, LoadFailure> {
        let fresh = load_dir(&self.dir)?;
        let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        let mut changes = Vec::new();
        for (id, policy) in &fresh {
            let old = loaded.current.get(id).map(|p| p.hash().to_string());
            if old.as_deref() != Some(policy.hash()) {
                changes.push(Change {
                    policy: id.clone(),
                    from: old,
                    to: Some(policy.hash().to_string()),
                });
            }
        }
        for (id, policy) in &loaded.current {
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
        loaded.current = fresh;
        Ok(changes)
    }

    /// The current version of a policy.
    pub fn current(&self, id: &str) -> Option<Arc<Policy>> {
        self.read().current.get(id).cloned()
    }

    /// The current version of every policy, by id.
    pub fn all_current(&self) -> Vec<Arc<Policy>> {
        self.read().current.values().cloned().collect()
    }

    /// A version by hash, when loaded.
    pub fn version(&self, hash: &str) -> Option<Arc<Policy>> {
        self.read().versions.get(hash).cloned()
    }

    /// Loads a stored version and keeps it. Refused when the stored text does not
    /// load or does not give the hash it was stored under (see
    /// `load_policy_version` for versions stored before the hash covered the
    /// time-zone database).
    pub fn restore(&self, stored: &PolicyVersion) -> Result<Arc<Policy>, String> {
        let policy =
            load_policy_version(&stored.sources, &stored.hash).map_err(|e| e.to_string())?;
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

fn load_dir(dir: &Path) -> Result<BTreeMap<String, Arc<Policy>>, LoadFailure> {
    let paths = files::expand(&[dir.to_path_buf()]).map_err(|e| LoadFailure {
        human: format!("{e:#}"),
        diagnostics: Vec::new(),
    })?;
    let mut human = String::new();
    let mut diagnostics = Vec::new();
    let mut out: BTreeMap<String, (PathBuf, Arc<Policy>)> = BTreeMap::new();
    for path in paths.iter().filter(|p| files::kind(p) == Kind::Policy) {
        let report = check_policy(path);
        let errors: Vec<_> = report
            .diagnostics
            .into_iter()
            .filter(|d| d.is_error())
            .collect();
        if !errors.is_empty() {
            human.push_str(&render_human(&errors, &report.sources, false));
            diagnostics.extend(errors);
            continue;
        }
        let Some(policy) = report.policy else {
            continue;
        };
        let id = policy.id().to_string();
        if let Some((first, _)) = out.get(&id) {
            human.push_str(&format!(
                "error: policy id `{id}` is used by both `{}` and `{}`\n",
                first.display(),
                path.display()
            ));
            continue;
        }
        out.insert(id, (path.clone(), Arc::new(policy)));
    }
    if out.is_empty() && human.is_empty() {
        human = format!("no policy files in `{}`", dir.display());
    }
    match human.is_empty() {
        true => Ok(out.into_iter().map(|(id, (_, p))| (id, p)).collect()),
        false => Err(LoadFailure { human, diagnostics }),
    }
}
