//! The listener: accepts connections and serves HTTP/1.1 on them with hyper, within
//! limits, and stops gracefully.
//!
//! - A client has `header_timeout` to send a request's head; a keep-alive connection
//!   waiting for its next request is closed after the same time (hyper's header-read
//!   timer runs while it waits).
//! - At most `max_connections` are served at once (below the descriptor limit, so
//!   the store can always open its files). A connection over the limit is answered
//!   `503` with `Retry-After` and closed, by a bounded number of refusers; past those
//!   it is closed at once.
//! - On stop: the service answers new requests `503` with `Retry-After` (and new
//!   connections get the same), every request in flight is answered, connections
//!   close as they fall idle; after `drain` the rest are dropped.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::problem::Problem;
use crate::service::Service;

/// Connections being answered `503` at once, at most; past these a connection over
/// the limit is closed unanswered.
const REFUSERS: usize = 256;

/// How long a refuser waits for the request's head before answering.
const REFUSER_READ: Duration = Duration::from_millis(500);

/// Headers in one request, at most (hyper's own limit, above the service's).
const HYPER_MAX_HEADERS: usize = 1000;

/// Why a connection is refused.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    Busy,
    Stopping,
}

impl Refusal {
    fn problem(self) -> Problem {
        match self {
            Refusal::Busy => Problem::unavailable(
                "the server is serving as many connections as it may; retry shortly",
            ),
            Refusal::Stopping => Problem::unavailable("the service is stopping; retry shortly"),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Refusal::Busy => "connections",
            Refusal::Stopping => "stopping",
        }
    }
}

/// The app for one connection: each request carries the client's address as
/// `ConnectInfo` (the console's status page limits requests per address).
fn with_peer(
    app: Router,
    peer: Option<std::net::SocketAddr>,
) -> TowerToHyperService<
    tower::util::MapRequest<
        Router,
        impl Fn(hyper::Request<hyper::body::Incoming>) -> hyper::Request<hyper::body::Incoming> + Clone,
    >,
> {
    let tag = move |mut request: hyper::Request<hyper::body::Incoming>| {
        if let Some(peer) = peer {
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
        }
        request
    };
    TowerToHyperService::new(tower::ServiceExt::map_request(app, tag))
}

/// Serves `app` on `listener` until `stop` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    service: Arc<Service>,
    stop: impl Future<Output = ()>,
) {
    let limits = service.config.limits;
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let refusers = Arc::new(Semaphore::new(REFUSERS));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_headers(HYPER_MAX_HEADERS)
        .max_buf_size(limits.max_header.max(8192) * 4);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Some(stream) = accepted_or_wait(accepted).await else { continue };
                match permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let hyper_service = with_peer(app.clone(), stream.peer_addr().ok());
                        let connection = builder.serve_connection(TokioIo::new(stream), hyper_service);
                        let connection = graceful.watch(connection);
                        tokio::spawn(async move {
                            if let Err(error) = connection.await {
                                tracing::debug!(%error, "connection ended with an error");
                            }
                            drop(permit);
                        });
                    }
                    Err(_) => refuse(stream, &refusers, &service, Refusal::Busy),
                }
            }
            _ = &mut stop => break,
        }
    }
    service.draining.store(true, Ordering::SeqCst);
    let in_flight = graceful.count();
    tracing::info!(
        connections = in_flight,
        "stopping: answering the requests in flight"
    );
    let drained = graceful.shutdown();
    tokio::pin!(drained);
    let deadline = tokio::time::sleep(limits.drain);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut drained => break,
            _ = &mut deadline => {
                tracing::warn!(after = ?limits.drain, "stopping: connections still open are dropped");
                break;
            }
            accepted = listener.accept() => {
                if let Some(stream) = accepted_or_wait(accepted).await {
                    refuse(stream, &refusers, &service, Refusal::Stopping);
                }
            }
        }
    }
}

/// The accepted stream; on an error (out of descriptors, say) waits a moment so the
/// loop does not spin, and gives `None`.
async fn accepted_or_wait(
    accepted: std::io::Result<(TcpStream, std::net::SocketAddr)>,
) -> Option<TcpStream> {
    match accepted {
        Ok((stream, _)) => Some(stream),
        Err(error) => {
            tracing::warn!(%error, "cannot accept a connection");
            tokio::time::sleep(Duration::from_millis(50)).await;
            None
        }
    }
}

/// Answers a connection `503` with `Retry-After` and closes it, or closes it at once
/// when every refuser is busy.
fn refuse(stream: TcpStream, refusers: &Arc<Semaphore>, service: &Service, why: Refusal) {
    service.metrics.shed.with_label_values(&[why.label()]).inc();
    let Ok(permit) = refusers.clone().try_acquire_owned() else {
        return; // dropping the stream closes it
    };
    tokio::spawn(async move {
        let _ = answer_unavailable(stream, why).await;
        drop(permit);
    });
}

async fn answer_unavailable(mut stream: TcpStream, why: Refusal) -> std::io::Result<()> {
    // Read the request's head first (briefly), so that closing does not reset the
    // connection before the client reads the answer.
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(REFUSER_READ, async {
        while head.len() < 16 * 1024 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let body = why.problem().body_text();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(answer.as_bytes()).await?;
    stream.shutdown().await
}
