//! Every scenario in the shipped policies and their test files, one test each, named
//! by file and scenario.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use redress_engine::policy::{Policy, Scenario, load_policy, load_test_file};
use redress_engine::runtime::scenario::run_scenario;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let mut trials = Vec::new();
    let mut files: Vec<PathBuf> = vec![root.join("bank.toml")];
    // A missing fixture folder fails loudly: a green run of nothing would hide it.
    match std::fs::read_dir(root.join("tests")) {
        Ok(dir) => {
            let mut more: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
            more.sort();
            more.retain(|p| p.extension().is_some_and(|e| e == "toml"));
            if more.is_empty() {
                trials.push(Trial::test("policies/tests: has test files", || {
                    Err(Failed::from("`policies/tests/` holds no `.toml` test file"))
                }));
            }
            files.extend(more);
        }
        Err(e) => trials.push(Trial::test("policies/tests: exists", move || {
            Err(Failed::from(format!("cannot read `policies/tests/`: {e}")))
        })),
    }
    for file in files {
        let loaded: Result<(Policy, Vec<Scenario>), String> =
            if file.ends_with("bank.toml") && file.parent() == Some(&root) {
                load_policy(&file)
                    .map(|p| {
                        let s = p.scenarios().to_vec();
                        (p, s)
                    })
                    .map_err(|e| e.to_string())
            } else {
                load_test_file(&file)
                    .map(|t| (t.policy, t.scenarios))
                    .map_err(|e| e.to_string())
            };
        let name = file.display().to_string();
        match loaded {
            Err(e) => trials.push(Trial::test(format!("{name}: loads"), move || {
                Err(Failed::from(e))
            })),
            Ok((policy, scenarios)) => {
                let policy = std::sync::Arc::new(policy);
                for s in scenarios {
                    let policy = policy.clone();
                    trials.push(Trial::test(
                        format!("{}:{} {}", s.file, s.line, s.name),
                        move || {
                            let r = run_scenario(&policy, &s, false);
                            match r.passed {
                                true => Ok(()),
                                false => Err(Failed::from(format!("{:#?}", r.failures))),
                            }
                        },
                    ));
                }
            }
        }
    }
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}
