//! Webhook delivery: messages wait in the store's outbox, written in the same
//! transaction as the events they tell of, and are POSTed here until the receiver
//! answers 2xx, with exponential back-off. Delivery is at least once: a crash after
//! a POST and before its outcome is stored sends it again, with the same
//! `Redress-Delivery` id, so receivers can drop repeats.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, Mac};
use redress_store::Pending;
use sha2::Sha256;
use tokio::task::JoinSet;

use crate::service::Service;

/// Messages sent together, at most.
const BATCH: usize = 64;

/// Attempts before a message is given up on (about 4 hours of retries).
pub const MAX_ATTEMPTS: u32 = 16;

/// The longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// How long a receiver may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The wait before attempt `n + 1` after `n` failures: 1 s, 2 s, 4 s, ... up to an hour.
pub fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.min(12)).min(MAX_BACKOFF)
}

/// `sha256=<hex>`: the HMAC-SHA256 of the body under the secret.
pub fn signature(secret: &str, body: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(), // HMAC takes keys of any length
    };
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// Delivers outbox messages until the service stops.
pub async fn run(service: Arc<Service>) {
    let client = match reqwest::Client::builder().timeout(TIMEOUT).build() {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "no HTTP client: webhooks will not be delivered");
            return;
        }
    };
    loop {
        let due = match service.read(|s| s.outbox_due(Utc::now(), BATCH)).await {
            Ok(due) => due,
            Err(error) => {
                tracing::error!(%error, "cannot read the outbox");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if !due.is_empty() {
            let mut batch = JoinSet::new();
            for message in due {
                batch.spawn(deliver(service.clone(), client.clone(), message));
            }
            while batch.join_next().await.is_some() {}
            continue;
        }
        let next = service.read(|s| s.outbox_next()).await.ok().flatten();
        let wait = next
            .map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(Duration::from_secs(60))
            .min(Duration::from_secs(60));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = service.outbox_wake.notified() => {}
        }
    }
}

async fn deliver(service: Arc<Service>, client: reqwest::Client, message: Pending) {
    let hook = service
        .config
        .webhooks
        .iter()
        .find(|w| w.name == message.webhook && w.org == message.org);
    let outcome = match hook {
        None => Err("the webhook is no longer configured".to_string()),
        Some(hook) => {
            let mut request = client
                .post(&hook.url)
                .header("content-type", "application/json")
                .header("redress-webhook", &hook.name)
                .header("redress-delivery", message.id.to_string())
                .body(message.body.clone());
            if let Some(secret) = &hook.secret {
                request = request.header("redress-signature", signature(secret, &message.body));
            }
            match request.send().await {
                Ok(answer) if answer.status().is_success() => Ok(()),
                Ok(answer) => Err(format!("the receiver answered {}", answer.status())),
                Err(error) => Err(format!("cannot reach the receiver: {error}")),
            }
        }
    };
    let failures = message.attempts + 1;
    let (delivered, error, next, label) = match outcome {
        Ok(()) => (true, None, None, "delivered"),
        Err(error) if failures >= MAX_ATTEMPTS || hook.is_none() => {
            tracing::error!(webhook = message.webhook, delivery = message.id, %error, "webhook given up");
            (false, Some(error), None, "given-up")
        }
        Err(error) => {
            tracing::warn!(webhook = message.webhook, delivery = message.id, %error, "webhook failed; will retry");
            let next = Utc::now() + backoff(message.attempts);
            (false, Some(error), Some(next), "failed")
        }
    };
    service
        .metrics
        .webhooks
        .with_label_values(&[&message.webhook, label])
        .inc();
    let id = message.id;
    if let Err(error) = service
        .read(move |s| s.outbox_attempted(id, delivered, error, next))
        .await
    {
        tracing::error!(
            delivery = id,
            %error,
            "cannot record a webhook attempt"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_an_hour() {
        let waits: Vec<u64> = [0, 1, 2, 10, 11, 12, 15]
            .map(|n| backoff(n).as_secs())
            .to_vec();
        assert_eq!(waits, [1, 2, 4, 1024, 2048, 3600, 3600]);
    }

    /// docs/api.md says a message is retried for about 4 hours.
    #[test]
    fn retries_span_about_four_hours() {
        let span: u64 = (0..MAX_ATTEMPTS - 1).map(|n| backoff(n).as_secs()).sum();
        assert!(
            (3 * 3600 + 1800..4 * 3600 + 1800).contains(&span),
            "{span} s"
        );
    }

    #[test]
    fn signatures_are_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
