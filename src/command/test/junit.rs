//! JUnit XML for `redress test --format junit`: the report CI systems (GitLab,
//! Jenkins, GitHub's test reporters) show per test. One `<testsuite>` per file, one
//! `<testcase>` per scenario, a `<failure>` per failed one; a file that does not load
//! is a suite with one `<testcase>` in `<error>`.

use std::fmt::Write as _;

use redress_engine::markup::escape;
use redress_engine::runtime::scenario::ScenarioResult;

use super::{BrokenFile, Summary};

/// The report as XML text.
pub fn render(summary: &Summary) -> String {
    let mut suites: Vec<(&str, Vec<&ScenarioResult>)> = Vec::new();
    for r in &summary.results {
        match suites.iter_mut().find(|(file, _)| *file == r.file) {
            Some((_, results)) => results.push(r),
            None => suites.push((&r.file, vec![r])),
        }
    }
    let tests = summary.results.len() + summary.broken.len();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"redress\" tests=\"{tests}\" failures=\"{}\" errors=\"{}\">",
        summary.results.iter().filter(|r| !r.passed).count(),
        summary.broken.len()
    );
    for (file, results) in suites {
        suite(&mut out, file, &results);
    }
    for broken in &summary.broken {
        broken_suite(&mut out, broken);
    }
    out.push_str("</testsuites>\n");
    out
}

fn suite(out: &mut String, file: &str, results: &[&ScenarioResult]) {
    let failures = results.iter().filter(|r| !r.passed).count();
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">",
        escape(file),
        results.len()
    );
    for r in results {
        let open = format!(
            "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\"",
            escape(&r.name),
            escape(file),
            escape(file),
            r.line
        );
        if r.passed {
            let _ = writeln!(out, "{open}/>");
            continue;
        }
        let _ = writeln!(out, "{open}>");
        let first = r.failures.first().map_or(String::new(), |m| {
            format!("`{}`: expected {}, got {}", m.what, m.expected, m.actual)
        });
        let mut text = String::new();
        for m in &r.failures {
            let place = m.step.map_or("expect".to_string(), |n| format!("step {n}"));
            let _ = writeln!(
                text,
                "{file}:{}: {place}: `{}` differs\n  - expected: {}\n  + actual:   {}",
                m.line, m.what, m.expected, m.actual
            );
        }
        let _ = writeln!(
            out,
            "      <failure message=\"{}\" type=\"mismatch\">{}</failure>",
            escape(&first),
            escape(&text)
        );
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n");
}

fn broken_suite(out: &mut String, broken: &BrokenFile) {
    let file = escape(&broken.file);
    let _ = writeln!(
        out,
        "  <testsuite name=\"{file}\" tests=\"1\" failures=\"0\" errors=\"1\">"
    );
    let _ = writeln!(
        out,
        "    <testcase name=\"load\" classname=\"{file}\" file=\"{file}\">"
    );
    let text: String = broken
        .diagnostics
        .iter()
        .map(|d| format!("{d}\n"))
        .collect();
    let _ = writeln!(
        out,
        "      <error message=\"the file does not load ({} problems)\" type=\"load\">{}</error>",
        broken.diagnostics.len(),
        escape(&text)
    );
    out.push_str("    </testcase>\n  </testsuite>\n");
}
