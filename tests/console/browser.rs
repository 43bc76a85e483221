//! End-to-end in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`) over WebDriver (fantoccini) against `redress serve` on
//! loopback. One browser session walks the paths people rely on; each step saves
//! a screenshot under `target/console-screenshots/`. Without `chromedriver` on
//! the PATH the test says so and passes, except under CI (`CI` set), where
//! `.ci/run` installs it and its absence fails.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use super::harness::*;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn shots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
}

fn start_driver() -> Option<(Driver, String)> {
    let found = Command::new("chromedriver")
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromedriver is not installed; .ci/run installs chromium-driver"
        );
        eprintln!(
            "skipped: chromedriver is not installed (apt-get install chromium chromium-driver)"
        );
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some((Driver(child), format!("http://127.0.0.1:{port}")))
}

async fn connect(driver: &str) -> Client {
    let mut caps = serde_json::Map::new();
    let mut options = json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000", "--lang=en-GB"]
    });
    if std::path::Path::new("/usr/bin/chromium").exists() {
        options["binary"] = json!("/usr/bin/chromium");
    }
    caps.insert("goog:chromeOptions".into(), options);
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver)
        .await
        .unwrap()
}

async fn text(client: &Client, css: &str) -> String {
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no `{css}`: {e}"))
        .text()
        .await
        .unwrap()
}

async fn click(client: &Client, css: &str) {
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no `{css}`: {e}"))
        .click()
        .await
        .unwrap();
}

async fn fill(client: &Client, css: &str, value: &str) {
    let input = client.find(Locator::Css(css)).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(value).await.unwrap();
}

/// Waits until the page's source contains `needle`.
async fn until_source(client: &Client, needle: &str) -> String {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let source = client.source().await.unwrap();
        if source.contains(needle) {
            return source;
        }
        assert!(
            Instant::now() < until,
            "the page never showed `{needle}`:\n{source}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_in(client: &Client, url: &str, token: &str) {
    client.goto(&format!("{url}/sign-in")).await.unwrap();
    fill(client, "#token", token).await;
    click(client, "#sign-in").await;
    until_source(client, "Signed in as").await;
}

async fn sign_out(client: &Client) {
    click(client, "form[action='/sign-out'] button").await;
    until_source(client, "id=\"token\"").await;
}

async fn set_value(client: &Client, css: &str, value: &str) {
    client
        .execute(
            "document.querySelector(arguments[0]).value = arguments[1];",
            vec![Value::from(css), Value::from(value)],
        )
        .await
        .unwrap();
}

/// Complaints of the autumn for the Reports page, one of them withdrawn.
fn file_autumn(server: &Server) {
    let autumn = [
        ("fees", "web", "2026-10-09T10:00:00+08:00"),
        ("cards", "phone", "2026-10-20T15:30:00+08:00"),
        ("fees", "branch", "2026-11-03T09:10:00+08:00"),
        ("loans", "web", "2026-11-18T11:00:00+08:00"),
        ("cards", "regulator", "2026-11-25T14:00:00+08:00"),
    ];
    for (n, (category, channel, received)) in autumn.into_iter().enumerate() {
        let case = server.file(
            BANK_AGENT,
            json!({"policy": "bank-cn", "received_at": received,
                   "data": {"category": category, "channel": channel, "summary": "see the letter"}}),
        );
        if n == 1 {
            let id = case["id"].as_str().unwrap();
            let events = format!("/v1/cases/{id}/events");
            let withdrawn = server.post(&events, BANK_AGENT, json!({"withdraw": true}));
            assert_eq!(withdrawn.status, 200, "{withdrawn:?}");
        }
    }
}

#[test]
fn people_handle_a_complaint_in_a_real_browser() {
    let Some((_driver, driver_url)) = start_driver() else {
        return;
    };
    let site = Site::new();
    let server = site.start();
    let short = Site::with_config("\n[console]\nsession_seconds = 2\n");
    let short_server = short.start();
    // Other open cases for the queue (filed before the browser starts: the
    // harness's client blocks).
    for (category, ago) in [("fees", 0), ("fraud", 40)] {
        server.file(BANK_AGENT, quick(category, ago));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = connect(&driver_url).await;
        let url = server.url.clone();

        // An agent signs in and files a complaint received on the eve of National Day.
        sign_in(&client, &url, BANK_AGENT).await;
        client
            .goto(&format!("{url}/cases/new?policy=bank-cn"))
            .await
            .unwrap();
        client
            .find(Locator::Css("#new-category"))
            .await
            .unwrap()
            .select_by_value("fees")
            .await
            .unwrap();
        fill(&client, "#new-summary", "Charged twice for one transfer").await;
        fill(&client, "#new-amount", "120.50").await;
        fill(&client, "#new-name", "Li Wei").await;
        set_value(&client, "#new-received_at", "2026-09-30T16:00").await;
        shot(&client, "01-new-complaint").await;
        click(&client, "#file").await;
        let link = client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("#tracking-link"))
            .await
            .unwrap()
            .attr("href")
            .await
            .unwrap()
            .unwrap();
        let id = text(&client, ".ref").await;

        // Among other open cases, it is at the top of the queue: its deadlines have
        // passed.
        client.goto(&format!("{url}/")).await.unwrap();
        assert_eq!(
            text(&client, "table.queue tbody tr:first-child .case-link").await,
            id
        );
        shot(&client, "02-queue").await;

        // Acknowledged; its acknowledgement clock explains the holiday it skipped.
        client.goto(&format!("{url}/cases/{id}")).await.unwrap();
        click(&client, "#action-acknowledge summary").await;
        click(&client, "#action-acknowledge button[type=submit]").await;
        until_source(&client, "id=\"stage\">Acknowledged").await;
        click(&client, "#clock-acknowledgement details summary").await;
        let explained = text(&client, "#clock-acknowledgement .intervals").await;
        assert!(explained.contains("National Day"), "{explained}");
        shot(&client, "03-case-acknowledged").await;

        // The agent sets the reason but may not grant the extension, and sees why.
        click(&client, "#action-update summary").await;
        click(&client, "#update-complex").await;
        fill(
            &client,
            "#update-extension_reason",
            "Records from two branches are needed",
        )
        .await;
        click(&client, "#action-update button[type=submit]").await;
        until_source(&client, "Records from two branches").await;
        let before = text(&client, "#clock-decision .deadline").await;
        click(&client, "#action-extend summary").await;
        click(&client, "#action-extend button[type=submit]").await;
        let refusal = text(&client, "#action-extend .refusal").await;
        assert!(refusal.contains("supervisor"), "{refusal}");
        assert_eq!(text(&client, "#clock-decision .deadline").await, before);
        shot(&client, "04-extension-refused").await;
        sign_out(&client).await;

        // The supervisor grants it and the deadline moves.
        sign_in(&client, &url, BANK_SUPERVISOR).await;
        client.goto(&format!("{url}/cases/{id}")).await.unwrap();
        click(&client, "#action-extend summary").await;
        click(&client, "#action-extend button[type=submit]").await;
        until_source(&client, "Done").await;
        let after = text(&client, "#clock-decision .deadline").await;
        assert_ne!(after, before, "the decision deadline moved");
        shot(&client, "05-extension-granted").await;
        client
            .goto(&format!("{url}/policies/bank-cn"))
            .await
            .unwrap();
        assert!(text(&client, ".graph-box").await.contains("Review (核查)"));
        shot(&client, "05b-policy").await;
        sign_out(&client).await;

        // The auditor reads the trail with personal fields masked and no buttons.
        sign_in(&client, &url, BANK_AUDITOR).await;
        client.goto(&format!("{url}/cases/{id}")).await.unwrap();
        let source = until_source(&client, "id=\"trail\"").await;
        assert!(!source.contains("Li Wei"));
        assert!(text(&client, "dd[data-field=name]").await.contains("***"));
        assert!(
            client
                .find(Locator::Css("form[action$='/commands']"))
                .await
                .is_err()
        );
        shot(&client, "06-auditor").await;

        // The auditor reads the reports: the autumn's complaints by category, from
        // a plain form. (Filed from a thread of its own: the harness's client blocks.)
        std::thread::scope(|scope| {
            scope.spawn(|| file_autumn(&server)).join().unwrap();
        });
        client.goto(&format!("{url}/")).await.unwrap();
        until_source(&client, "table class=\"queue\"").await;
        shot(&client, "06a-queue-autumn").await;
        click(&client, "#nav-reports").await;
        client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("#report-policy"))
            .await
            .unwrap()
            .select_by_value("bank-cn")
            .await
            .unwrap();
        click(&client, "#kind-dates").await;
        set_value(&client, "#report-from", "2026-09-01").await;
        set_value(&client, "#report-to", "2026-12-31").await;
        click(&client, "input[name=by][value=category]").await;
        click(&client, "#show-report").await;
        until_source(&client, "id=\"groups\"").await;
        let overview = text(&client, "#overview").await;
        assert!(overview.contains("Received 6"), "{overview}");
        let groups = text(&client, "#groups").await;
        assert!(groups.contains("cards") && groups.contains("loans"), "{groups}");
        assert!(
            client
                .find(Locator::Css("#trend-h + .chart svg"))
                .await
                .is_ok()
        );
        // Tall enough for the charts (this screenshot is docs/console-reports.png).
        client.set_window_size(1280, 2600).await.unwrap();
        shot(&client, "06b-reports").await;
        client.set_window_size(1280, 1000).await.unwrap();
        click(&client, "a.lang").await;
        until_source(&client, "投诉解决率").await;
        shot(&client, "06c-reports-zh").await;
        click(&client, "a.lang").await;
        until_source(&client, "Resolution rate").await;
        sign_out(&client).await;

        // Another organisation's token: the case's address answers as if it did not exist.
        sign_in(&client, &url, RETAIL_AGENT).await;
        client.goto(&format!("{url}/cases/{id}")).await.unwrap();
        assert_eq!(text(&client, "main h1").await, "Not found");
        shot(&client, "07-other-organisation").await;

        // A forged CSRF token is refused.
        sign_out(&client).await;
        sign_in(&client, &url, BANK_AGENT).await;
        client.goto(&format!("{url}/cases/{id}")).await.unwrap();
        click(&client, "#action-note summary").await;
        fill(&client, "#note-text", "forged").await;
        client
            .execute(
                "document.querySelectorAll('input[name=csrf]').forEach(i => i.value = 'forged');",
                vec![],
            )
            .await
            .unwrap();
        click(&client, "#action-note form button[type=submit]").await;
        until_source(&client, "nothing was changed").await;
        shot(&client, "08-forged-csrf").await;

        // At phone width the case page reflows: nothing wider than the screen.
        client.set_window_size(390, 844).await.unwrap();
        client.goto(&format!("{url}/cases/{id}")).await.unwrap();
        until_source(&client, "id=\"trail\"").await;
        let overflow = client
            .execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                vec![],
            )
            .await
            .unwrap();
        assert!(overflow.as_i64().unwrap() <= 0, "wider than the phone by {overflow}");
        shot(&client, "08b-case-phone").await;
        client.set_window_size(1280, 1000).await.unwrap();

        // The complainant's link shows the deadline and no personal data.
        client.goto(&format!("{url}{link}")).await.unwrap();
        let answer_by = text(&client, "#answer-by").await;
        assert!(answer_by.contains("2026-"), "{answer_by}");
        let source = client.source().await.unwrap();
        assert!(!source.contains("Li Wei") && !source.contains("120.50"));
        shot(&client, "09-status-page").await;

        // A session cookie expires (a server whose sessions last two seconds): the
        // browser drops it and the queue asks to sign in again.
        sign_in(&client, &short_server.url, BANK_AGENT).await;
        tokio::time::sleep(Duration::from_millis(2200)).await;
        client
            .goto(&format!("{}/", short_server.url))
            .await
            .unwrap();
        until_source(&client, "id=\"token\"").await;
        let at = client.current_url().await.unwrap();
        assert_eq!(at.path(), "/sign-in", "{at}");
        shot(&client, "10-session-ended").await;

        client.close().await.unwrap();
    });
}
