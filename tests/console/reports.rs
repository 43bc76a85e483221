//! The Reports page over HTTP: who may see it, the figures it shows (the API's,
//! counted by the store), other organisations' cases never counted, the period
//! form without a script, the interface's language.

use chrono::Datelike;
use serde_json::json;

use super::harness::*;
use super::{Visitor, main_of};

/// The text of the overview row labelled `label`.
fn overview_value(body: &str, label: &str) -> String {
    let table = &body[body.find(r#"id="overview""#).expect("an overview")..];
    let row = &table[table
        .find(&format!("<th scope=\"row\">{label}</th>"))
        .unwrap_or_else(|| panic!("no row `{label}`"))..];
    let cell = &row[row.find("<td>").unwrap() + 4..];
    cell[..cell.find("</td>").unwrap()].to_string()
}

#[test]
fn the_reports_page_shows_the_apis_figures_for_the_roles_that_may_read_them() {
    let site = Site::new();
    let server = site.start();
    for category in ["fees", "fees", "fraud"] {
        server.file(BANK_AGENT, quick(category, 0));
    }
    let retail = json!({"policy": "retail", "data": {"market": "EU", "category": "billing", "summary": "billed twice"}});
    for _ in 0..4 {
        server.file(RETAIL_AGENT, retail.clone());
    }
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (today.pred_opt().unwrap(), today.succ_opt().unwrap());

    let mut auditor = Visitor::new(&server);
    assert_eq!(auditor.sign_in(BANK_AUDITOR).status, 303);
    let queue = auditor.get("/");
    assert!(
        queue
            .body
            .contains(r#"<a href="/reports" id="nav-reports">Reports</a>"#)
    );
    // With nothing chosen: this month, of the organisation's first policy.
    let first = auditor.get("/reports");
    assert_eq!(first.status, 200, "{first:?}");
    assert!(
        first
            .body
            .contains(r#"id="kind-month" name="kind" value="month" checked"#)
    );

    let path = format!("/reports?policy=quick&kind=dates&from={from}&to={to}&by=category");
    let page = auditor.get(&path);
    assert_eq!(page.status, 200, "{}", main_of(&page.body));
    let api = server.get(
        &format!("/v1/reports?policy=quick&from={from}&to={to}&by=category"),
        BANK_AUDITOR,
    );
    assert_eq!(api.status, 200);
    // The same numbers as the API: 3 received, the retailer's 4 not among them.
    assert_eq!(api.body["total"]["received"], 3);
    assert_eq!(overview_value(&page.body, "Received"), "3");
    assert_eq!(
        overview_value(&page.body, "Open at end"),
        api.body["total"]["open_at_end"].to_string()
    );
    let groups = &page.body[page.body.find(r#"id="groups""#).unwrap()..];
    assert!(
        groups.contains(r#"<th scope="row">fees</th><td>2</td>"#),
        "{groups}"
    );
    assert!(groups.contains(r#"<th scope="row">fraud</th><td>1</td>"#));
    assert!(
        !page.body.contains("billing"),
        "another organisation's data"
    );
    // The charts are the bulletin's, inlined, with the legend in the interface's words.
    assert!(page.body.contains("<svg") && page.body.contains("viewBox"));
    assert!(page.body.contains("</svg> Received</span>"));
    // The same form by quarter and by month, a plain GET.
    for query in [
        format!(
            "kind=quarter&quarter={}-Q{}",
            today.year(),
            today.month0() / 3 + 1
        ),
        format!("kind=month&month={}", today.format("%Y-%m")),
    ] {
        let page = auditor.get(&format!("/reports?policy=quick&{query}"));
        assert_eq!(page.status, 200, "{query}");
        assert!(page.body.contains(r#"id="overview""#), "{query}");
    }
    // In Chinese: the interface's words, the same figure.
    let chinese = auditor.get_with(&path, "zh-CN,zh;q=0.9");
    assert_eq!(overview_value(&chinese.body, "受理"), "3");
    assert!(chinese.body.contains("投诉解决率"));
    // A period that is not one is refused beside the form, as by the API.
    let backwards = auditor.get(&format!(
        "/reports?policy=quick&kind=dates&from={to}&to={from}"
    ));
    assert_eq!(backwards.status, 400, "{backwards:?}");
    assert!(backwards.body.contains(r#"id="report-error""#));
    let not_a_date = auditor.get("/reports?policy=quick&kind=dates&from=yesterday&to=2026-01-01");
    assert_eq!(not_a_date.status, 400);
    assert!(not_a_date.body.contains("`yesterday` is not a date"));
    // Another organisation's policy is not found.
    assert_eq!(auditor.get("/reports?policy=retail").status, 404);
}

#[test]
fn roles_that_may_not_read_reports_get_the_apis_answer_and_no_link() {
    let site = Site::new();
    let server = site.start();
    for (token, name) in [(BANK_AGENT, "agent"), (BANK_SUPERVISOR, "supervisor")] {
        let mut visitor = Visitor::new(&server);
        assert_eq!(visitor.sign_in(token).status, 303);
        let queue = visitor.get("/");
        assert!(!queue.body.contains(r#"href="/reports""#), "{name}");
        let page = visitor.get("/reports?policy=quick&kind=month&month=2026-11");
        let api = server.get("/v1/reports?policy=quick&period=2026-11", token);
        assert_eq!((page.status, api.status), (403, 403), "{name}");
        assert!(
            page.body.contains(api.body["detail"].as_str().unwrap()),
            "{name}: {}",
            main_of(&page.body)
        );
        assert!(!page.body.contains(r#"id="overview""#));
    }
}
