//! Tracking links for integrators: the API issues and revokes a case's link, and
//! the acknowledgement's webhook carries a new one when the webhook asks for it.

use serde_json::{Value, json};

use super::Visitor;
use super::harness::*;

#[test]
fn the_api_issues_and_revokes_a_cases_tracking_link_for_tokens_that_may_write() {
    let site = Site::new();
    let server = site.start();
    let case = server.file(BANK_AGENT, quick("fees", 0));
    let id = case["id"].as_str().unwrap();
    let path = format!("/v1/cases/{id}/tracking-link");

    let first = server.post(&path, BANK_AGENT, json!({}));
    assert_eq!(first.status, 201, "{first:?}");
    let token = first.body["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(first.body["path"], format!("/track/{token}"));
    assert_eq!(first.body["revoked"], 0);
    let mut complainant = Visitor::new(&server);
    let status = complainant.get(&format!("/track/{token}"));
    assert_eq!(status.status, 200);
    assert!(status.body.contains(id));

    // A new link revokes the old one.
    let second = server.post(&path, BANK_SUPERVISOR, json!({}));
    assert_eq!(
        (second.status, second.body["revoked"].as_u64()),
        (201, Some(1))
    );
    assert_eq!(complainant.get(&format!("/track/{token}")).status, 404);
    let newer = second.body["path"].as_str().unwrap().to_string();
    assert_eq!(complainant.get(&newer).status, 200);

    // Read-only tokens may not; another organisation's case is not found.
    let auditor = server.post(&path, BANK_AUDITOR, json!({}));
    assert_eq!((auditor.status, auditor.code()), (403, "read-only"));
    let retail = server.post(&path, RETAIL_AGENT, json!({}));
    let missing = server.post("/v1/cases/C-999999/tracking-link", RETAIL_AGENT, json!({}));
    assert_eq!((retail.status, retail.code()), (404, "case-not-found"));
    assert_eq!(retail.body["title"], missing.body["title"]);
    let delete = |token: &str| server.send(server.request("DELETE", &path, Some(token)));
    assert_eq!(delete(BANK_AUDITOR).status, 403);
    assert_eq!(delete(RETAIL_AGENT).status, 404);
    assert_eq!(
        complainant.get(&newer).status,
        200,
        "refusals changed nothing"
    );

    let revoked = delete(BANK_AGENT);
    assert_eq!(revoked.status, 200, "{revoked:?}");
    assert_eq!(revoked.body, json!({"case": id, "revoked": 1}));
    assert_eq!(complainant.get(&newer).status, 404);
    assert_eq!(delete(BANK_AGENT).body["revoked"], 0);
}

#[test]
fn the_acknowledgement_webhook_carries_a_new_tracking_link_when_asked() {
    let receiver = Receiver::start(0);
    let site = Site::with_config(&format!(
        "\n[[webhooks]]\nname = \"mailer\"\norganisation = \"bank\"\nurl = \"{}\"\nevents = [\"notified\"]\ntracking_links = [\"acknowledgement\"]\n\n[[webhooks]]\nname = \"crm\"\norganisation = \"bank\"\nurl = \"{}\"\nevents = [\"notified\"]\n",
        receiver.url, receiver.url
    ));
    let server = site.start();
    let case = server.file(
        BANK_AGENT,
        json!({"policy": "bank-cn", "data": {"category": "fees", "summary": "charged twice"}}),
    );
    let id = case["id"].as_str().unwrap();
    let acknowledged = server.post(
        &format!("/v1/cases/{id}/events"),
        BANK_AGENT,
        json!({"event": "acknowledge"}),
    );
    assert_eq!(acknowledged.status, 200, "{acknowledged:?}");
    let bodies = || -> Vec<Value> {
        receiver
            .received()
            .iter()
            .map(|r| serde_json::from_str(&r.body).unwrap())
            .collect()
    };
    assert!(
        eventually(20, || bodies().len() >= 2),
        "{:#?}",
        receiver.received()
    );
    let bodies = bodies();
    let of = |hook: &str| {
        bodies
            .iter()
            .find(|b| b["webhook"] == hook)
            .unwrap()
            .clone()
    };
    let (mailer, crm) = (of("mailer"), of("crm"));
    assert_eq!(mailer["event"]["kind"]["to"], "complainant");
    assert_eq!(mailer["event"]["kind"]["message"], "acknowledgement");
    assert!(
        crm.get("tracking_link").is_none(),
        "only the webhook that asks: {crm}"
    );
    let link = mailer["tracking_link"].as_str().unwrap();
    assert!(link.starts_with("/track/") && link.len() == "/track/".len() + 64);
    let mut complainant = Visitor::new(&server);
    let page = complainant.get(link);
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains(id));
    assert!(
        page.body.contains("您的投诉已受理") || page.body.contains("Your complaint is accepted")
    );
}
