//! A connection flood against `redress serve` (issue #17): opens `--connections`
//! connections to a server on loopback, half of them silent and half sending only
//! part of a request head, holds them for `--seconds`, and meanwhile asks
//! `GET /healthz` on fresh connections, as a monitor would. At the end it prints one
//! JSON summary: how many flood connections were served, answered 503, closed by
//! the server (the header timeout) or refused, and how `/healthz` fared.
//!
//! Loopback only, bounded in count (at most 20,000) and in time (at most 120 s):
//!
//! ```console
//! cargo build --release --bin redress --example flood
//! target/release/redress serve --listen 127.0.0.1:18710 --database sqlite:///tmp/flood.db &
//! target/release/examples/flood --url http://127.0.0.1:18710 --connections 6000 --seconds 20
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde_json::json;

/// Connection flood for `redress serve`, on loopback.
#[derive(Debug, Parser)]
#[command(name = "flood")]
struct Args {
    /// The server's base address (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Connections to open and hold (at most 20,000).
    #[arg(long, default_value_t = 4000)]
    connections: usize,
    /// How long to hold them, in seconds (at most 120).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
}

/// What became of the flood's connections.
#[derive(Debug, Default)]
struct Flood {
    opened: usize,
    refused_by_os: usize,
    answered_503: usize,
    closed_by_server: usize,
    still_open: usize,
}

fn address(url: &str) -> Result<SocketAddr> {
    let host = url
        .strip_prefix("http://")
        .context("the url must start with http://")?
        .trim_end_matches('/');
    let address: SocketAddr = host.parse().context("the url must be http://IP:PORT")?;
    if !address.ip().is_loopback() {
        bail!("the flood only runs against loopback, not {}", address.ip());
    }
    Ok(address)
}

/// One `GET /healthz` on a fresh connection: its status line's code and how long.
fn health(address: SocketAddr) -> (u16, Duration) {
    let started = Instant::now();
    let status = (|| -> std::io::Result<u16> {
        let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: flood\r\nconnection: close\r\n\r\n")?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(std::str::from_utf8(&head[9..12])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0))
    })()
    .unwrap_or(0);
    (status, started.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Whether the server closed the connection, answered it, or left it open.
fn fate(stream: &mut TcpStream) -> Option<bool> {
    let _ = stream.set_nonblocking(true);
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => Some(false),
        Ok(n) => Some(buf[..n].starts_with(b"HTTP/1.1 503")),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
        Err(_) => Some(false),
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.connections > 20_000 || args.seconds > 120 {
        bail!("at most 20,000 connections and 120 seconds");
    }
    let address = address(&args.url)?;
    let before = health(address);
    let mut flood = Flood::default();
    let mut held = Vec::with_capacity(args.connections);
    let started = Instant::now();
    for i in 0..args.connections {
        match TcpStream::connect_timeout(&address, Duration::from_secs(2)) {
            Ok(mut stream) => {
                if i % 2 == 1 {
                    let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: flood\r\n");
                }
                flood.opened += 1;
                held.push(stream);
            }
            Err(_) => flood.refused_by_os += 1,
        }
    }
    let open_time = started.elapsed();
    let mut latencies = Vec::new();
    let mut ok = 0usize;
    let mut failed = 0usize;
    let until = started + Duration::from_secs(args.seconds);
    while Instant::now() < until {
        let (status, took) = health(address);
        match status {
            200 => {
                ok += 1;
                latencies.push(took);
            }
            _ => failed += 1,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for stream in &mut held {
        match fate(stream) {
            Some(true) => flood.answered_503 += 1,
            Some(false) => flood.closed_by_server += 1,
            None => flood.still_open += 1,
        }
    }
    drop(held);
    latencies.sort();
    let after = health(address);
    let summary = json!({
        "connections": args.connections,
        "seconds": args.seconds,
        "opened": flood.opened,
        "refused_by_os": flood.refused_by_os,
        "open_seconds": open_time.as_secs_f64(),
        "flood_answered_503": flood.answered_503,
        "flood_closed_by_server": flood.closed_by_server,
        "flood_still_open_at_end": flood.still_open,
        "healthz_before": before.0,
        "healthz_during_ok": ok,
        "healthz_during_failed": failed,
        "healthz_during_ms_p50": percentile(&latencies, 0.5),
        "healthz_during_ms_p99": percentile(&latencies, 0.99),
        "healthz_after": after.0,
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
