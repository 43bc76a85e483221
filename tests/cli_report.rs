//! `redress report` end to end: the FCA return of a hand-written bank-uk file
//! against figures worked out by hand, the HTML bulletin's sections and charts (and
//! one rendering in headless Chromium to a PNG kept under `target/`), JSON and CSV
//! agreeing, and bad arguments refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use assert_cmd::Command;

fn redress() -> Command {
    Command::cargo_bin("redress").unwrap()
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn report(args: &[&str]) -> String {
    let out = redress().arg("report").args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    String::from_utf8(out.stdout).unwrap()
}

fn fixture_report(extra: &[&str]) -> String {
    let policy = root().join("engine/tests/fixtures/report/policy.toml");
    let events = root().join("engine/tests/fixtures/report/complaints.jsonl");
    let mut args = vec![
        "--policy",
        policy.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    report(&args)
}

/// Five complaints in May 2026 (`tests/fixtures/bank-uk-may.jsonl`), worked out by hand:
/// U1 (cards) resolved by summary resolution in 2 business days, upheld, £25; U2
/// (current account) a final response after 12 business days, not upheld; U3
/// (mortgage, received 2 March) closed after 11 weeks, partly upheld (counted as
/// upheld), £400; U4 (savings) withdrawn the next business day; U5 (loans) still open.
#[test]
fn the_fca_return_matches_the_hand_worked_figures() {
    let policy = root().join("policies/bank-uk.toml");
    let events = root().join("tests/fixtures/bank-uk-may.jsonl");
    let csv = report(&[
        "--policy",
        policy.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
        "--period",
        "2026-05",
        "--return",
        "fca-disp1",
    ]);
    let expected = "\
product_grouping,outstanding_at_start,opened,closed,closed_within_3_business_days,closed_after_3_business_days_within_8_weeks,closed_after_8_weeks,upheld,upheld_rate,redress_paid
Credit cards,0,1,1,1,0,0,1,1.0000,25
Current accounts,0,1,1,0,1,0,0,0.0000,0
Home finance,1,0,1,0,0,1,1,1.0000,400
Other banking,0,1,0,0,0,0,0,,0
Savings (inc. ISAs),0,1,1,1,0,0,0,0.0000,0
Total,1,4,4,2,1,1,2,0.5000,425
";
    assert_eq!(csv, expected);
}

#[test]
fn the_bulletin_has_its_sections_and_charts_and_no_script() {
    let html = fixture_report(&[
        "--period",
        "2026-03",
        "--by",
        "queue",
        "--format",
        "html",
        "--complainant-key",
        "k",
    ]);
    for id in [
        "overview",
        "trend",
        "groups",
        "compliance",
        "root-causes",
        "satisfaction",
        "notes",
    ] {
        assert!(
            html.contains(&format!("<section id=\"{id}\">")),
            "no section `{id}`"
        );
    }
    for chart in ["trend", "compliance", "root-causes", "satisfaction"] {
        let start = html
            .find(&format!("<figure class=\"chart\" id=\"chart-{chart}\">"))
            .unwrap_or_else(|| panic!("no chart `{chart}`"));
        let svg = &html[start..];
        assert!(
            svg[..200].contains("<svg"),
            "chart `{chart}` is not inline SVG"
        );
    }
    assert!(html.contains("投诉解决率 Resolution rate") && html.contains("61.5%"));
    assert!(html.contains("process_error") && html.contains("1 of 9 complainants (3 complaints)"));
    // Nothing to fetch: the only address is the SVG namespace, which is a name.
    let outside = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(
        !html.contains("<script") && !outside.contains("http://") && !outside.contains("https://")
    );
    assert!(
        !html.contains("p3"),
        "the complainant's phone must not appear"
    );
    render_once_in_chromium(&html);
}

/// Renders the page in headless Chromium when it is installed (`.ci/run` installs
/// it) and keeps the PNG as `target/report-bulletin.png`.
fn render_once_in_chromium(html: &str) {
    let Some(chromium) = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| which(c))
    else {
        eprintln!("chromium not installed: the bulletin was not rendered");
        return;
    };
    let target = root().join("target");
    let page = target.join("report-bulletin.html");
    let png = target.join("report-bulletin.png");
    std::fs::write(&page, html).unwrap();
    let _ = std::fs::remove_file(&png);
    let status = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1100,3000",
        ])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
        "{} bytes",
        bytes.len()
    );
}

fn which(program: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn json_and_csv_give_the_same_numbers() {
    let json: serde_json::Value =
        serde_json::from_str(&fixture_report(&["--period", "2026-03", "--by", "queue"])).unwrap();
    assert_eq!(json["shape"], 1);
    assert_eq!(json["total"]["received"], 11);
    assert_eq!(json["total"]["closed_within"]["days_30_extended"], 1);
    assert!(
        json["total"]["complainants"].is_null(),
        "no key: not counted"
    );
    let csv = fixture_report(&["--period", "2026-03", "--by", "queue", "--format", "csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let cards: Vec<&str> = lines[1].split(',').collect();
    let column = |name: &str| cards[header.iter().position(|h| *h == name).unwrap()];
    let group = &json["groups"][0];
    assert_eq!(group["key"]["queue"], "cards");
    assert_eq!(column("received"), group["figures"]["received"].to_string());
    assert_eq!(
        column("redress_paid"),
        group["figures"]["redress"]["paid"].as_str().unwrap()
    );
    assert_eq!(
        column("resolution_breached"),
        group["figures"]["slas"]["resolution"]["breached"].to_string()
    );
}

#[test]
fn bad_periods_dimensions_and_returns_are_refused() {
    let cases: [(&[&str], &str); 3] = [
        (&["--period", "2026-13"], "cannot read period `2026-13`"),
        (
            &["--period", "2026-03", "--by", "product"],
            "has no `product` to group by",
        ),
        (
            &["--period", "2026-03", "--return", "fca-disp1"],
            "has no `product` in `[reporting]`",
        ),
    ];
    let policy = root().join("engine/tests/fixtures/report/policy.toml");
    let events = root().join("engine/tests/fixtures/report/complaints.jsonl");
    for (extra, message) in cases {
        let out = redress()
            .args([
                "report",
                "--policy",
                policy.to_str().unwrap(),
                "--events",
                events.to_str().unwrap(),
            ])
            .args(extra)
            .output()
            .unwrap();
        assert_ne!(out.status.code(), Some(0), "{extra:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{extra:?}: {stderr}");
    }
}
