//! The web console and the complainant's status page over real HTTP, without a
//! browser: status codes, sessions, CSRF, masking, organisations apart, tracking
//! links. (`browser.rs` drives headless Chromium for the few end-to-end paths.)

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod browser;
#[allow(dead_code)]
#[path = "../serve/harness.rs"]
mod harness;
mod reports;
mod tracking_api;

use std::collections::BTreeMap;

use harness::*;
use reqwest::blocking::{Client, Response};
use reqwest::redirect::Policy;
use serde_json::json;

/// A browser without a browser: keeps cookies, does not follow redirects.
struct Visitor<'a> {
    server: &'a Server,
    client: Client,
    cookies: BTreeMap<String, String>,
    /// `Set-Cookie` headers of the last response.
    set_cookies: Vec<String>,
}

/// A response: status, `Location`, body.
#[derive(Debug)]
struct Page {
    status: u16,
    location: String,
    body: String,
}

impl<'a> Visitor<'a> {
    fn new(server: &'a Server) -> Self {
        Visitor {
            server,
            client: Client::builder().redirect(Policy::none()).build().unwrap(),
            cookies: BTreeMap::new(),
            set_cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn read(&mut self, response: Response) -> Page {
        self.set_cookies.clear();
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap().to_string();
            let (pair, _) = text.split_once(';').unwrap_or((&text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            match text.contains("Max-Age=0") {
                true => self.cookies.remove(name),
                false => self.cookies.insert(name.to_string(), value.to_string()),
            };
            self.set_cookies.push(text);
        }
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        Page {
            status,
            location,
            body: response.text().unwrap(),
        }
    }

    fn get_with(&mut self, path: &str, language: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.server.url))
            .header("cookie", self.cookie_header())
            .header("accept-language", language)
            .send()
            .unwrap();
        self.read(response)
    }

    fn get(&mut self, path: &str) -> Page {
        self.get_with(path, "en")
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .client
            .post(format!("{}{path}", self.server.url))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .unwrap();
        self.read(response)
    }

    /// Signs in with a token; returns the answer to the form.
    fn sign_in(&mut self, token: &str) -> Page {
        let form = self.get("/sign-in");
        assert_eq!(form.status, 200, "{form:?}");
        let csrf = csrf_of(&form.body);
        self.post(
            "/sign-in",
            &[("token", token), ("next", "/"), ("csrf", &csrf)],
        )
    }

    /// The CSRF token of a signed-in page.
    fn csrf(&mut self) -> String {
        csrf_of(&self.get("/").body)
    }
}

fn csrf_of(body: &str) -> String {
    let at = body
        .find(r#"name="csrf" value=""#)
        .expect("a form with a CSRF token");
    let rest = &body[at + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// The text inside `<main>`, without the tokens that change on every render.
fn main_of(body: &str) -> String {
    let start = body.find("<main").unwrap();
    let end = body.find("</main>").unwrap();
    body[start..end].to_string()
}

fn tracking_link(body: &str) -> String {
    let at = body
        .find(r#"id="tracking-link" href=""#)
        .expect("a new tracking link");
    let rest = &body[at + r#"id="tracking-link" href=""#.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// Files a `quick` complaint through the console's form; returns the case page.
fn file_through_console(visitor: &mut Visitor, category: &str) -> Page {
    let csrf = visitor.csrf();
    let filed = visitor.post(
        "/cases/new",
        &[
            ("csrf", &csrf),
            ("policy", "quick"),
            ("f.category", category),
            ("f.amount", "120.50"),
            ("f.name", "Li Wei"),
        ],
    );
    assert_eq!(filed.status, 303, "{filed:?}");
    visitor.get(&filed.location)
}

#[test]
fn signing_in_gives_a_strict_session_cookie_and_signing_out_ends_it() {
    let site = Site::new();
    let server = site.start();
    let mut visitor = Visitor::new(&server);
    let before = visitor.get("/");
    assert_eq!(before.status, 303);
    assert!(before.location.starts_with("/sign-in?next="), "{before:?}");

    let unknown = visitor.sign_in("not-a-token-of-this-server");
    assert_eq!(unknown.status, 401);
    assert!(
        unknown.body.contains("This token is not known"),
        "{unknown:?}"
    );

    let signed = visitor.sign_in(BANK_AGENT);
    assert_eq!((signed.status, signed.location.as_str()), (303, "/"));
    let session = visitor
        .set_cookies
        .iter()
        .find(|c| c.starts_with("redress_session="))
        .unwrap()
        .clone();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(session.contains(part), "{session} lacks {part}");
    }
    assert!(
        !session.contains("Secure"),
        "plain HTTP on loopback: no Secure"
    );
    let queue = visitor.get("/");
    assert_eq!(queue.status, 200);
    assert!(
        queue
            .body
            .contains("Signed in as <strong>ann</strong> (agent, bank)")
    );

    let csrf = csrf_of(&queue.body);
    let out = visitor.post("/sign-out", &[("csrf", &csrf)]);
    assert_eq!((out.status, out.location.as_str()), (303, "/sign-in"));
    assert_eq!(visitor.get("/").status, 303);
}

#[test]
fn a_form_without_the_sessions_csrf_token_is_refused_and_changes_nothing() {
    let site = Site::new();
    let server = site.start();
    let mut visitor = Visitor::new(&server);
    // The sign-in form itself: a token from another page is refused.
    let csrf = csrf_of(&visitor.get("/sign-in").body);
    let forged = visitor.post(
        "/sign-in",
        &[("token", BANK_AGENT), ("csrf", &format!("{}0", &csrf[1..]))],
    );
    assert_eq!(forged.status, 403, "{forged:?}");
    assert_eq!(visitor.sign_in(BANK_AGENT).status, 303);

    let real = visitor.csrf();
    let case = server.file(BANK_AGENT, quick("fees", 0));
    let id = case["id"].as_str().unwrap();
    let forms: [(&str, Vec<(&str, &str)>); 4] = [
        (
            "/cases/new",
            vec![("policy", "quick"), ("f.category", "fees")],
        ),
        (
            &format!("/cases/{id}/commands"),
            vec![("action", "event"), ("event", "investigate")],
        ),
        (&format!("/cases/{id}/tracking"), vec![]),
        ("/sign-out", vec![]),
    ]
    .map(|(p, f)| (Box::leak(p.to_string().into_boxed_str()) as &str, f));
    for (path, fields) in forms {
        for token in [None, Some("0".repeat(64)), Some(real[..63].to_string())] {
            let mut form = fields.clone();
            if let Some(t) = &token {
                form.push(("csrf", t));
            }
            let answer = visitor.post(path, &form);
            assert_eq!(answer.status, 403, "{path} with {token:?}: {answer:?}");
            assert!(answer.body.contains("nothing was changed"), "{path}");
        }
    }
    let after = server.case(id, BANK_AGENT);
    assert_eq!(after["version"], case["version"], "nothing was written");
    let list = server.get("/v1/cases", BANK_AGENT);
    assert_eq!(list.body["cases"].as_array().unwrap().len(), 1);
    assert_eq!(visitor.get("/").status, 200, "still signed in");
}

#[test]
fn personal_fields_are_masked_by_role_and_the_auditor_has_no_actions() {
    let site = Site::new();
    let server = site.start();
    let case = server.file(BANK_AGENT, quick("fees", 0));
    let id = case["id"].as_str().unwrap();
    for (token, sees_name, acts) in [
        (BANK_AGENT, true, true),
        (BANK_SUPERVISOR, true, true),
        (BANK_AUDITOR, false, false),
    ] {
        let mut visitor = Visitor::new(&server);
        assert_eq!(visitor.sign_in(token).status, 303);
        let page = visitor.get(&format!("/cases/{id}"));
        assert_eq!(page.status, 200, "{token}");
        assert_eq!(page.body.contains("Li Wei"), sees_name, "{token}: the name");
        assert_eq!(page.body.contains("***"), !sees_name, "{token}: the mask");
        assert_eq!(
            page.body.contains("/commands"),
            acts,
            "{token}: action forms"
        );
        assert_eq!(page.body.contains(r#"id="no-actions""#), !acts, "{token}");
        // The trail too: the intake event lists the fields, masked alike.
        let trail = &page.body[page.body.find(r#"id="trail""#).unwrap()..];
        assert_eq!(trail.contains("name = Li Wei"), sees_name, "{token}: trail");
    }
}

#[test]
fn another_organisations_case_answers_exactly_as_a_missing_one() {
    let site = Site::new();
    let server = site.start();
    let case = server.file(BANK_AGENT, quick("fees", 0));
    let id = case["id"].as_str().unwrap();
    let mut retail = Visitor::new(&server);
    assert_eq!(retail.sign_in(RETAIL_AGENT).status, 303);
    let theirs = retail.get(&format!("/cases/{id}"));
    let missing = retail.get("/cases/C-999999");
    assert_eq!((theirs.status, missing.status), (404, 404));
    assert_eq!(main_of(&theirs.body), main_of(&missing.body));
    assert!(!theirs.body.contains("Li Wei"));
    // Nor can it act on it, or issue it a tracking link.
    let csrf = retail.csrf();
    for path in [
        format!("/cases/{id}/commands"),
        format!("/cases/{id}/tracking"),
    ] {
        let answer = retail.post(
            &path,
            &[
                ("csrf", &csrf),
                ("action", "event"),
                ("event", "investigate"),
            ],
        );
        assert_eq!(answer.status, 404, "{path}");
    }
    assert_eq!(server.case(id, BANK_AGENT)["version"], case["version"]);
    // Its queue shows none of the bank's cases, nor its policies.
    let queue = retail.get("/");
    assert!(!queue.body.contains(id));
    assert_eq!(retail.get("/policies/quick").status, 404);
}

#[test]
fn a_session_ends_after_its_configured_lifetime() {
    let site = Site::with_config("\n[console]\nsession_seconds = 1\n");
    let server = site.start();
    let mut visitor = Visitor::new(&server);
    assert_eq!(visitor.sign_in(BANK_AGENT).status, 303);
    assert_eq!(visitor.get("/").status, 200);
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let ended = visitor.get("/cases/new");
    assert_eq!(ended.status, 303);
    assert!(ended.location.contains("ended=1"), "{ended:?}");
    let again = visitor.get(&ended.location);
    assert!(again.body.contains("Your session has ended"));
}

#[test]
fn a_refused_step_is_shown_beside_its_form_and_changes_nothing() {
    let site = Site::new();
    let server = site.start();
    let mut visitor = Visitor::new(&server);
    assert_eq!(visitor.sign_in(BANK_AGENT).status, 303);
    let page = file_through_console(&mut visitor, "fees");
    let id = page.body[page.body.find(r#"<span class="ref">"#).unwrap() + 18..]
        .split('<')
        .next()
        .unwrap()
        .to_string();
    let before = server.case(&id, BANK_AGENT);
    // `fast-track` is the supervisor's: not offered to an agent, refused if sent.
    assert!(
        page.body
            .contains("fast-track → investigating <span class=\"help\">(not for your role)")
    );
    let csrf = csrf_of(&page.body);
    let refused = visitor.post(
        &format!("/cases/{id}/commands"),
        &[
            ("csrf", &csrf),
            ("action", "event"),
            ("event", "fast-track"),
        ],
    );
    assert_eq!(refused.status, 409, "{refused:?}");
    assert!(
        refused
            .body
            .contains("role `agent` may not send `fast-track`"),
        "{}",
        main_of(&refused.body)
    );
    assert_eq!(server.case(&id, BANK_AGENT)["version"], before["version"]);
    // A stale form (the case moved on since it was rendered) is refused too.
    let moved = visitor.post(
        &format!("/cases/{id}/commands"),
        &[
            ("csrf", &csrf),
            ("action", "event"),
            ("event", "investigate"),
            ("version", &before["version"].to_string()),
        ],
    );
    assert_eq!(moved.status, 303, "{moved:?}");
    let stale = visitor.post(
        &format!("/cases/{id}/commands"),
        &[
            ("csrf", &csrf),
            ("action", "note"),
            ("note", "late"),
            ("version", &before["version"].to_string()),
        ],
    );
    assert_eq!(stale.status, 409);
    assert!(stale.body.contains("stale version"));
    assert_eq!(server.case(&id, BANK_AGENT)["stage"], "investigating");
}

#[test]
fn the_status_page_shows_the_deadline_and_no_personal_data_or_notes() {
    let site = Site::new();
    let server = site.start();
    let mut visitor = Visitor::new(&server);
    assert_eq!(visitor.sign_in(BANK_AGENT).status, 303);
    let page = file_through_console(&mut visitor, "fees");
    let link = tracking_link(&page.body);
    assert_eq!(link.len(), "/track/".len() + 64);
    let id = server.get("/v1/cases", BANK_AGENT).body["cases"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let csrf = csrf_of(&page.body);
    visitor.post(
        &format!("/cases/{id}/commands"),
        &[
            ("csrf", &csrf),
            ("action", "note"),
            ("note", "caller sounded upset; staff only"),
        ],
    );
    // Shown once: the case page no longer carries the link.
    assert!(!visitor.get(&format!("/cases/{id}")).body.contains(&link));

    let mut complainant = Visitor::new(&server);
    let status = complainant.get(&link);
    assert_eq!(status.status, 200, "{status:?}");
    let case = server.case(&id, BANK_AGENT);
    let deadline: chrono::DateTime<chrono::Utc> = clock(&case, "respond")["deadline"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let london = deadline.with_timezone(&chrono_tz::Europe::London);
    assert!(
        status
            .body
            .contains(&london.format("%Y-%m-%d %H:%M").to_string())
    );
    assert!(status.body.contains("We have received your complaint"));
    assert!(status.body.contains("Not satisfied? Ask for a review."));
    for private in ["Li Wei", "120.50", "staff only", "fees", "ann", "agent"] {
        assert!(
            !main_of(&status.body).contains(private),
            "`{private}` on the status page"
        );
    }
    assert!(status.body.contains(&id));
    let chinese = complainant.get_with(&link, "zh-CN,zh;q=0.9");
    assert!(chinese.body.contains("我们已收到您的投诉"));
    let tokyo = complainant.get(&format!("{link}?tz=Asia/Shanghai"));
    let shanghai = deadline.with_timezone(&chrono_tz::Asia::Shanghai);
    assert!(
        tokyo
            .body
            .contains(&shanghai.format("%Y-%m-%d %H:%M").to_string())
    );

    // Wrong, malformed and revoked tokens all get the same answer.
    let wrong = complainant.get(&format!("/track/{}", "ab".repeat(32)));
    let malformed = complainant.get("/track/not-a-token");
    visitor.post(&format!("/cases/{id}/tracking/revoke"), &[("csrf", &csrf)]);
    let revoked = complainant.get(&link);
    for answer in [&wrong, &malformed, &revoked] {
        assert_eq!(answer.status, 404);
        assert_eq!(main_of(&answer.body), main_of(&wrong.body));
    }
    // A read-only role cannot issue links.
    let mut auditor = Visitor::new(&server);
    auditor.sign_in(BANK_AUDITOR);
    let csrf = auditor.csrf();
    let refused = auditor.post(&format!("/cases/{id}/tracking"), &[("csrf", &csrf)]);
    assert_eq!(refused.status, 403);
}

#[test]
fn the_status_page_is_rate_limited_per_address() {
    let site = Site::with_config("\n[console]\ntrack_per_minute = 3\n");
    let server = site.start();
    let mut visitor = Visitor::new(&server);
    let statuses: Vec<u16> = (0..4)
        .map(|_| visitor.get(&format!("/track/{}", "cd".repeat(32))).status)
        .collect();
    assert_eq!(statuses, [404, 404, 404, 429]);
}

#[test]
fn the_interface_follows_the_browsers_language_and_the_switch() {
    let site = Site::new();
    let server = site.start();
    let mut visitor = Visitor::new(&server);
    let cases = [
        ("/sign-in", "zh-CN,zh;q=0.9", "登录 Redress"),
        ("/sign-in", "en-GB", "Sign in to Redress"),
        ("/sign-in?lang=en", "zh-CN", "Sign in to Redress"),
    ];
    for (path, language, text) in cases {
        let page = visitor.get_with(path, language);
        assert!(page.body.contains(text), "{path} in {language}");
    }
    let switched = visitor.get("/language/zh?back=%2Fsign-in");
    assert_eq!(
        (switched.status, switched.location.as_str()),
        (303, "/sign-in")
    );
    assert!(
        visitor
            .get_with("/sign-in", "en")
            .body
            .contains("登录 Redress")
    );
    let away = visitor.get("/language/en?back=https%3A%2F%2Fevil.example");
    assert_eq!(away.location, "/", "only local paths");
}

#[test]
fn the_policy_page_draws_its_graph_without_anything_from_elsewhere() {
    let site = Site::new();
    let server = site.start();
    let mut visitor = Visitor::new(&server);
    visitor.sign_in(BANK_AGENT);
    let page = visitor.get("/policies/bank-cn");
    assert_eq!(page.status, 200);
    let svg = &page.body[page.body.find("<svg").unwrap()..page.body.find("</svg>").unwrap()];
    for label in [
        "Received",
        "Acknowledged",
        "Decided",
        "Review (核查)",
        "Closed",
    ] {
        assert!(svg.contains(&format!(">{label}</text>")), "stage {label}");
    }
    assert!(svg.contains("withdraw → Withdrawn (from any stage)"));
    assert!(page.body.contains("Art. 18"), "the SLA's citation");
    assert!(
        page.body.contains("contains_any(summary"),
        "the routing rules"
    );
    // Nothing is loaded from another site: scripts and styles are served here.
    for src in ["src=\"http", "href=\"http"] {
        assert!(!page.body.contains(src), "{src}");
    }
    let htmx = server.send(server.request("GET", "/assets/htmx.min.js", None));
    assert_eq!(htmx.status, 200);
    assert!(htmx.content_type.starts_with("text/javascript"));
    let headers = visitor
        .client
        .get(format!("{}/sign-in", server.url))
        .send()
        .unwrap();
    let csp = headers.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'"));
    assert_eq!(headers.headers()["referrer-policy"], "no-referrer");
}

#[test]
fn the_queue_lists_open_cases_soonest_due_first_with_filters() {
    let site = Site::new();
    let server = site.start();
    let later = server.file(BANK_AGENT, quick("fees", 0));
    let sooner = server.file(BANK_AGENT, quick("fraud", 20));
    let mut visitor = Visitor::new(&server);
    visitor.sign_in(BANK_AGENT);
    let queue = visitor.get("/");
    let (a, b) = (
        later["id"].as_str().unwrap(),
        sooner["id"].as_str().unwrap(),
    );
    let (at_a, at_b) = (
        queue.body.find(&format!(">{a}<")).unwrap(),
        queue.body.find(&format!(">{b}<")).unwrap(),
    );
    assert!(at_b < at_a, "the case due sooner comes first");
    let filtered = visitor.get("/?queue=escalations");
    assert!(filtered.body.contains(b) && !filtered.body.contains(&format!(">{a}<")));
    let none = visitor.get("/?clock=breached");
    assert!(none.body.contains("No open cases match."));
    // The API sees the same cases: the console adds none of its own.
    let list = server.get("/v1/cases?queue=escalations", BANK_AGENT);
    assert_eq!(list.body["cases"].as_array().unwrap().len(), 1);
    let _ = json!({});
}
