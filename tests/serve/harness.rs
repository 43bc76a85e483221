//! Runs `redress serve` as a real process on loopback, in a folder of its own: a
//! copy of the shipped policies plus `quick.toml`, a configuration with two
//! organisations, and a SQLite file that outlives restarts.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

/// Tokens of the test configuration.
pub const BANK_AGENT: &str = "bank-agent-token-0001";
pub const BANK_SUPERVISOR: &str = "bank-supervisor-token-0001";
pub const BANK_AUDITOR: &str = "bank-auditor-token-0001";
pub const RETAIL_AGENT: &str = "retail-agent-token-0001";

const CONFIG: &str = r#"
[[organisations]]
id = "bank"
policies = ["quick", "bank-cn"]

[[organisations]]
id = "retailer"
policies = ["retail"]

[[tokens]]
name = "ann"
organisation = "bank"
role = "agent"
token = "bank-agent-token-0001"

[[tokens]]
name = "sam"
organisation = "bank"
role = "supervisor"
token = "bank-supervisor-token-0001"

[[tokens]]
name = "audrey"
organisation = "bank"
role = "auditor"
token = "bank-auditor-token-0001"

[[tokens]]
name = "rita"
organisation = "retailer"
role = "agent"
token = "retail-agent-token-0001"

[limits]
max_body_bytes = 4096
"#;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A folder holding what a server needs; it outlives the servers started on it.
pub struct Site {
    pub dir: tempfile::TempDir,
}

impl Site {
    pub fn new() -> Self {
        Self::with_config("")
    }

    /// A site whose configuration has `extra` appended (webhooks, say).
    pub fn with_config(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&root().join("policies"), &dir.path().join("policies"));
        for policy in ["quick.toml", "ticks.toml"] {
            std::fs::copy(
                root().join("tests/serve").join(policy),
                dir.path().join("policies").join(policy),
            )
            .unwrap();
        }
        std::fs::write(dir.path().join("server.toml"), format!("{CONFIG}{extra}")).unwrap();
        Site { dir }
    }

    /// A site whose `[limits]` table has `lines` added (timeouts, connections).
    pub fn with_limits(lines: &str) -> Self {
        let site = Self::new();
        let config = std::fs::read_to_string(site.path("server.toml")).unwrap();
        let config = config.replace(
            "max_body_bytes = 4096",
            &format!("max_body_bytes = 4096\n{lines}"),
        );
        std::fs::write(site.path("server.toml"), config).unwrap();
        site
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts a server and waits until it listens.
    pub fn start(&self) -> Server {
        self.start_on("sqlite://cases.db")
    }

    /// Starts a server on the database `url` and waits until it listens.
    pub fn start_on(&self, url: &str) -> Server {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("server.log"))
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_redress"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(["--policies", "policies"])
            .args(["--database", url])
            .args(["--config", "server.toml"])
            .env("RUST_LOG", "debug")
            .current_dir(self.dir.path())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("Redress listening on ") {
                    let _ = tx.send(url.to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("the server did not start:\n{}", self.log()));
        Server {
            child,
            url,
            client: Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("server.log")).unwrap_or_default()
    }
}

/// A running server.
pub struct Server {
    child: Child,
    pub url: String,
    pub client: Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response: status and body (JSON when it is JSON, else the text as a string).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
}

impl Answer {
    fn from(response: Response) -> Self {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = response.text().unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            content_type,
            body,
        }
    }

    /// The problem code, for an error.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

impl Server {
    pub fn request(&self, method: &str, path: &str, token: Option<&str>) -> RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let builder = self.client.request(method, format!("{}{path}", self.url));
        match token {
            Some(t) => builder.bearer_auth(t),
            None => builder,
        }
    }

    pub fn send(&self, builder: RequestBuilder) -> Answer {
        Answer::from(builder.send().unwrap())
    }

    pub fn get(&self, path: &str, token: &str) -> Answer {
        self.send(self.request("GET", path, Some(token)))
    }

    pub fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(self.request("POST", path, Some(token)).json(&body))
    }

    /// Files a complaint on `quick`; returns the case.
    pub fn file(&self, token: &str, body: Value) -> Value {
        let answer = self.post("/v1/cases", token, body);
        assert_eq!(answer.status, 201, "{answer:?}");
        answer.body["case"].clone()
    }

    pub fn case(&self, id: &str, token: &str) -> Value {
        let answer = self.get(&format!("/v1/cases/{id}"), token);
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body
    }

    pub fn history(&self, id: &str, token: &str) -> Vec<Value> {
        let answer = self.get(&format!("/v1/cases/{id}/history?limit=5000"), token);
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body["events"].as_array().unwrap().clone()
    }

    /// Stops the process at once, as a crash would.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM and returns at once.
    pub fn terminate(&self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    }

    /// Waits for the process to end; whether it ended cleanly.
    pub fn wait(mut self) -> bool {
        self.child.wait().unwrap().success()
    }

    /// A raw TCP connection to the server, for what an HTTP client would not send.
    pub fn connect(&self) -> std::net::TcpStream {
        let address = self.url.trim_start_matches("http://");
        let stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream
    }

    /// Asks the process to stop (SIGTERM) and waits for it.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "the server did not stop cleanly: {status}"
        );
    }
}

/// A `quick` complaint received `ago` seconds before now.
pub fn quick(category: &str, ago: i64) -> Value {
    let received = chrono::Utc::now() - chrono::Duration::seconds(ago);
    json!({
        "policy": "quick",
        "data": {"category": category, "amount": "120.50", "name": "Li Wei"},
        "received_at": received.to_rfc3339(),
    })
}

/// The clock of an SLA in a case view.
pub fn clock<'a>(case: &'a Value, sla: &str) -> &'a Value {
    case["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["sla"] == sla)
        .unwrap()
}

/// Events of a type in a history.
pub fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["kind"]["type"] == kind)
        .collect()
}

/// Polls until `check` holds, for at most `seconds`.
pub fn eventually(seconds: u64, mut check: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + Duration::from_secs(seconds);
    while std::time::Instant::now() < until {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    check()
}

/// A request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: std::collections::BTreeMap<String, String>,
    pub body: String,
    pub status: u16,
}

/// A webhook receiver on loopback: answers 503 to the first `failures` requests,
/// then 200, and keeps every request.
pub struct Receiver {
    pub url: String,
    pub got: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn start(failures: usize) -> Self {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks/redress", listener.local_addr().unwrap());
        let got: std::sync::Arc<std::sync::Mutex<Vec<Received>>> = Default::default();
        let keep = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut headers = std::collections::BTreeMap::new();
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                loop {
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    let Some((name, value)) = line.trim_end().split_once(": ") else {
                        break;
                    };
                    headers.insert(name.to_ascii_lowercase(), value.to_string());
                }
                let length: usize = headers["content-length"].parse().unwrap();
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let mut all = keep.lock().unwrap();
                let status = if all.len() < failures { 503 } else { 200 };
                all.push(Received {
                    headers,
                    body: String::from_utf8(body).unwrap(),
                    status,
                });
                drop(all);
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        Receiver { url, got }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

/// The PostgreSQL server the multi-node tests create their databases on.
pub const POSTGRES_ENV: &str = "REDRESS_TEST_POSTGRES";

/// A database of its own on the PostgreSQL server, dropped with it.
pub struct Postgres {
    server: String,
    pub url: String,
    name: String,
}

fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            url,
            "-c",
            sql,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psql `{sql}`: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Postgres {
    /// A fresh database; `None`, said loudly, when no server is configured.
    pub fn new(test: &str) -> Option<Self> {
        let Ok(server) = std::env::var(POSTGRES_ENV) else {
            eprintln!("SKIPPED {test}: {POSTGRES_ENV} is not set (CI sets it)");
            return None;
        };
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("pg_redress_serve_{}_{n}", std::process::id());
        psql(
            &server,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
        psql(&server, &format!("CREATE DATABASE {name}"));
        let base = server.split('?').next().unwrap_or(&server);
        let (scheme, rest) = base.split_once("://").unwrap();
        let host = rest.split('/').next().unwrap();
        let url = format!("{scheme}://{host}/{name}");
        Some(Postgres { server, url, name })
    }

    /// What a query prints.
    pub fn query(&self, sql: &str) -> String {
        psql(&self.url, sql)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-X", "-q", &self.server, "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .output();
    }
}
