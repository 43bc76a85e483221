//! LISTEN/NOTIFY between nodes: a write that sets a case due earlier than the
//! nodes planned to look sends `NOTIFY redress_due`; each node keeps one
//! connection outside the pool listening, and wakes its scheduler on each
//! notification (and after reconnecting, when one may have been missed).

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::{AsyncMessage, NoTls};

use super::{Connector, DUE_CHANNEL};

type Wake = Arc<dyn Fn() + Send + Sync>;

/// Listens until the store's runtime stops, reconnecting after a lost connection.
pub(super) async fn listen(config: tokio_postgres::Config, connector: Connector, wake: Wake) {
    loop {
        let outcome = match &connector {
            Connector::Plain => match config.connect(NoTls).await {
                Ok((client, connection)) => session(client, connection, &wake).await,
                Err(e) => Err(e),
            },
            Connector::Rustls(tls) => match config.connect(tls.clone()).await {
                Ok((client, connection)) => session(client, connection, &wake).await,
                Err(e) => Err(e),
            },
        };
        if let Err(error) = outcome {
            tracing::warn!(%error, "lost the connection that listens for other nodes' timers; reconnecting");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// One listening connection, until it fails.
async fn session<S, T>(
    client: tokio_postgres::Client,
    mut connection: tokio_postgres::Connection<S, T>,
    wake: &Wake,
) -> Result<(), tokio_postgres::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let sql = format!("LISTEN {DUE_CHANNEL}");
    let listen = client.batch_execute(&sql);
    tokio::pin!(listen);
    let mut listening = false;
    loop {
        tokio::select! {
            done = &mut listen, if !listening => {
                done?;
                listening = true;
                wake(); // anything announced while not listening
            }
            message = std::future::poll_fn(|cx| connection.poll_message(cx)) => match message {
                Some(Ok(AsyncMessage::Notification(_))) => wake(),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            },
        }
    }
}
