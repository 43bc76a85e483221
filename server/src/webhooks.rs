//! Webhook delivery: messages wait in the store's outbox, written in the same
//! transaction as the events they tell of, and are POSTed here until the receiver
//! answers 2xx, with exponential back-off and jitter. Delivery is at least once: a
//! crash after a POST and before its outcome is stored sends it again, with the
//! same `webhook-id` (and `Redress-Delivery`), so receivers can drop repeats.
//!
//! Signed per Standard Webhooks (<https://www.standardwebhooks.com>): `webhook-id`,
//! `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64>`, the
//! HMAC-SHA256 of `{id}.{timestamp}.{body}`, so a receiver can check the body and
//! refuse a replayed or stale message. A secret written `whsec_<base64>` is used as
//! those bytes (as the standard's libraries expect); any other, as its UTF-8 bytes.
//!
//! Several nodes on one database: each batch is claimed for this node under a
//! lease, so each attempt is made by one node; a node that dies mid-delivery
//! leaves its messages due again when the lease ends. The clock is the service's.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use redress_store::{Lease, Pending};
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

/// [`backoff`] with jitter: between half the wait and the whole of it, as `unit`
/// (0 to 1) says, so that receivers coming back after an outage are not hit by
/// every retry at once.
pub fn jittered(failures: u32, unit: f64) -> Duration {
    backoff(failures).mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
}

/// A random number from 0 to 1, for jitter (0.5 should randomness be unavailable).
fn random_unit() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX),
        Err(_) => 0.5,
    }
}

/// The message id a receiver sees in `webhook-id`: the same on every attempt.
pub fn message_id(outbox_id: i64) -> String {
    format!("msg_{outbox_id}")
}

/// The signing key of a secret: `whsec_<base64>` decoded, else the text's bytes.
fn key_of(secret: &str) -> Vec<u8> {
    use base64::Engine;
    secret
        .strip_prefix("whsec_")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// `v1,<base64>`: the Standard Webhooks signature of a message.
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    use base64::Engine;
    let mut mac = match Hmac::<Sha256>::new_from_slice(&key_of(secret)) {
        Ok(mac) => mac,
        Err(_) => return String::new(), // HMAC takes keys of any length
    };
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    let signed = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("v1,{signed}")
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
        let now = service.now();
        let lease = Lease {
            node: service.node.clone(),
            now,
            until: now + service.config.lease,
        };
        let due = match service.read(move |s| s.claim_outbox(&lease, BATCH)).await {
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
            .map(|at| (at - service.now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(Duration::from_secs(60))
            .clamp(crate::scheduler::MIN_RECHECK, Duration::from_secs(60));
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
            // The wall clock, not the service's: the receiver checks the timestamp against its own.
            let (id, timestamp) = (message_id(message.id), chrono::Utc::now().timestamp());
            let mut request = client
                .post(&hook.url)
                .header("content-type", "application/json")
                .header("redress-webhook", &hook.name)
                .header("redress-delivery", message.id.to_string())
                .header("webhook-id", &id)
                .header("webhook-timestamp", timestamp.to_string())
                .body(message.body.clone());
            if let Some(secret) = &hook.secret {
                let signed = signature(secret, &id, timestamp, &message.body);
                request = request.header("webhook-signature", signed);
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
            let next = service.now() + jittered(message.attempts, random_unit());
            (false, Some(error), Some(next), "failed")
        }
    };
    service
        .metrics
        .webhooks
        .with_label_values(&[&message.webhook, label])
        .inc();
    let (org, id) = (message.org.clone(), message.id);
    if let Err(error) = service
        .read(move |s| s.outbox_attempted(&org, id, delivered, error, next))
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
    fn jitter_keeps_each_wait_between_half_and_all_of_the_back_off() {
        for failures in [0, 3, 12] {
            let base = backoff(failures);
            assert_eq!(jittered(failures, 0.0), base / 2);
            assert_eq!(jittered(failures, 1.0), base);
            let drawn = jittered(failures, random_unit());
            assert!(base / 2 <= drawn && drawn <= base, "{drawn:?}");
        }
    }

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The example of the Standard Webhooks specification and its libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
