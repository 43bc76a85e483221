//! A custom routing script and its tests, run from Rust.
//!
//! `examples/custom-routing/` holds a small policy (`broadband.toml`) whose routing
//! is an integrator's Rhai script (`routing.rhai`, `fn route(c)`), and scenario tests
//! pinning each branch of it (`tests/routing.toml`). The same tests run from the
//! command line with `redress test examples/custom-routing/`; this example runs them
//! through the library, prints why each complaint was routed where it was, and exits
//! with an error when a test fails, so CI catches a script change that breaks one.
//!
//! Run it with `cargo run --example custom_routing`.

use std::error::Error;
use std::path::Path;
use std::process::ExitCode;

use redress_engine::policy::load_test_file;
use redress_engine::runtime::scenario::run_scenario;

fn main() -> Result<ExitCode, Box<dyn Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/custom-routing");
    // Loads the test file and the policy it names, compiling the routing script: a
    // syntax error or an unknown field in the script is reported here, with its line.
    let tests = load_test_file(&dir.join("tests/routing.toml"))?;
    println!(
        "policy `{}`: {} scenarios\n",
        tests.policy.id(),
        tests.scenarios.len()
    );

    let mut failed = 0;
    for scenario in &tests.scenarios {
        // `explain` records, after the intake and each step, where the case is and why.
        let result = run_scenario(&tests.policy, scenario, true);
        let verdict = if result.passed { "ok" } else { "FAILED" };
        println!("{verdict}: {}", result.name);
        if let Some(route) = result
            .explanations
            .iter()
            .rev()
            .find_map(|e| e.route.as_ref())
        {
            println!("    {route}");
        }
        for m in &result.failures {
            println!(
                "    line {}: `{}` expected {}, got {}",
                m.line, m.what, m.expected, m.actual
            );
        }
        failed += usize::from(!result.passed);
    }
    println!(
        "\n{} passed, {failed} failed",
        tests.scenarios.len() - failed
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
