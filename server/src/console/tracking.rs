//! Complainants' tracking links and the status page they open.
//!
//! A link is `/track/{token}`: 32 random bytes (hex), shown once when issued and
//! kept only as its SHA-256 in the store (issued and revoked by
//! `service::tracking`, as for the API), so neither a copy of the database nor a
//! log opens anyone's page. Issuing a new link revokes the case's older ones; a
//! handler can also revoke them all. The page shows the reference, the stage in
//! the policy's plain words, what happens next, the date the organisation must
//! answer by and how to escalate: no field of the case, no note, no name. A wrong
//! token, a revoked one and a closed-off case all get the same 404; requests are
//! limited per client address.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use chrono_tz::Tz;
use serde::Deserialize;

use super::i18n::Lang;
use super::{Chrome, Console, CsrfOnly, Ctx, Signed, check_csrf, html, service_error, url_encode};
use crate::config::{Caller, token_hash};
use crate::service::ServiceError;

/// Client addresses remembered before old windows are swept out.
const SWEEP_AT: usize = 10_000;

/// A fixed one-minute window of requests per client address.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    /// At most `per_minute` requests a minute from one address.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request; `false` when the address is over its limit.
    pub fn allow(&self, address: Option<IpAddr>, now: Instant) -> bool {
        let key = address.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let minute = Duration::from_secs(60);
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= SWEEP_AT {
            windows.retain(|_, (start, _)| now.duration_since(*start) < minute);
        }
        let window = windows.entry(key).or_insert((now, 0));
        if now.duration_since(window.0) >= minute {
            *window = (now, 0);
        }
        window.1 += 1;
        window.1 <= self.per_minute
    }
}

/// The client's address, when the server was started with connection info.
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// Issues a new tracking link for a case, revoking its older ones; returns the
/// link's path. Refused for read-only callers and cases outside their organisation.
pub async fn issue_link(
    app: &Console,
    caller: &Caller,
    case: &str,
) -> Result<String, ServiceError> {
    Ok(app.service.issue_tracking_link(caller, case).await?.path)
}

/// `POST /cases/{id}/tracking`: a new link, shown once on the case page.
pub async fn issue(
    State(app): Ctx,
    signed: Signed,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<CsrfOnly>,
) -> Response {
    if let Some(refused) = check_csrf(&signed, form.csrf.as_deref()) {
        return refused;
    }
    match issue_link(&app, signed.caller(), &id).await {
        Ok(link) => {
            app.sessions.set_flash(&signed.id, (id.clone(), link));
            Redirect::to(&format!("/cases/{}", url_encode(&id))).into_response()
        }
        Err(e) => service_error(&signed, e),
    }
}

/// `POST /cases/{id}/tracking/revoke`: every link of the case stops working.
pub async fn revoke(
    State(app): Ctx,
    signed: Signed,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<CsrfOnly>,
) -> Response {
    if let Some(refused) = check_csrf(&signed, form.csrf.as_deref()) {
        return refused;
    }
    match app
        .service
        .revoke_tracking_links(signed.caller(), &id)
        .await
    {
        Ok(n) => Redirect::to(&format!("/cases/{}?revoked={n}", url_encode(&id))).into_response(),
        Err(e) => service_error(&signed, e),
    }
}

#[derive(Template)]
#[template(path = "track.html")]
struct TrackPage {
    chrome: Chrome,
    reference: String,
    status: String,
    next: String,
    answer_by: String,
    zone: String,
    escalation: String,
    zones: Vec<(String, bool)>,
    token_path: String,
}

/// Query of the status page: language and the complainant's time zone.
#[derive(Debug, Deserialize, Default)]
pub struct TrackQuery {
    lang: Option<String>,
    tz: Option<String>,
}

/// Time zones a complainant can choose from, besides the policy's own.
const ZONES: [&str; 6] = [
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
];

fn not_found(lang: Lang, here: &str) -> Response {
    let t = lang.texts();
    super::message(
        Chrome::new(lang, here, t.not_found_title),
        StatusCode::NOT_FOUND,
        t.track_not_found,
    )
}

/// `GET /track/{token}`: the complainant's status page.
pub async fn page(
    State(app): Ctx,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Path(token): Path<String>,
    Query(q): Query<TrackQuery>,
) -> Response {
    let lang = Lang::of_request(q.lang.as_deref(), &headers);
    let t = lang.texts();
    let token_path = format!("/track/{token}");
    let here = token_path.as_str();
    if !app.limiter.allow(address, Instant::now()) {
        let mut response = super::message(
            Chrome::new(lang, here, t.error_title),
            StatusCode::TOO_MANY_REQUESTS,
            t.too_many,
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return response;
    }
    // Only well-formed tokens are looked up; every other answer is the same 404.
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return not_found(lang, here);
    }
    let hash = token_hash(&token.to_ascii_lowercase());
    let link = match app.service.read(move |s| s.tracking_link(&hash)).await {
        Ok(Some(link)) => link,
        Ok(None) => return not_found(lang, here),
        Err(e) => {
            tracing::error!(error = %e, "tracking link lookup failed");
            return not_found(lang, here);
        }
    };
    let org: std::sync::Arc<str> = std::sync::Arc::from(link.org.as_str());
    let slot = match app.service.get(&org, &link.case).await {
        Ok(slot) => slot,
        Err(_) => return not_found(lang, here),
    };
    let policy = &slot.policy;
    let zone: Tz =
        q.tz.as_deref()
            .and_then(|z| z.parse().ok())
            .unwrap_or(policy.timezone());
    let said = policy.complainant();
    let stage = policy.stages().get(&slot.case.stage);
    let described = said.and_then(|c| c.stages.get(&slot.case.stage));
    let status = match described {
        Some(d) => d.status.in_language(lang.tag()).to_string(),
        None => stage
            .and_then(|s| s.label.clone())
            .unwrap_or_else(|| slot.case.stage.clone()),
    };
    let next = described
        .and_then(|d| d.next.as_ref())
        .map(|n| n.in_language(lang.tag()).to_string())
        .unwrap_or_default();
    let now = Utc::now();
    let answer_by = answer_by(&slot, said.map(|c| c.deadlines.as_slice()), now)
        .map(|d| format!("{}", d.with_timezone(&zone).format("%Y-%m-%d %H:%M")))
        .unwrap_or_default();
    let mut zones: Vec<(String, bool)> = std::iter::once(policy.timezone().name())
        .chain(ZONES)
        .fold(Vec::new(), |mut acc, z| {
            if !acc.iter().any(|(n, _): &(String, bool)| n == z) {
                acc.push((z.to_string(), z == zone.name()));
            }
            acc
        });
    if !zones.iter().any(|(_, on)| *on) {
        zones.push((zone.name().to_string(), true));
    }
    let page = TrackPage {
        chrome: Chrome::new(lang, here, t.track_title),
        reference: slot.case.id.clone(),
        status,
        next,
        answer_by,
        zone: zone.name().to_string(),
        escalation: said
            .and_then(|c| c.escalation.as_ref())
            .map(|e| e.in_language(lang.tag()).to_string())
            .unwrap_or_default(),
        zones,
        token_path: token_path.clone(),
    };
    html(StatusCode::OK, &page)
}

/// The date the organisation must answer by: the deadline of the first clock the
/// policy's `[complainant] deadlines` names that is running, paused or breached;
/// without that list, the nearest live deadline.
fn answer_by(
    slot: &crate::slot::Slot,
    named: Option<&[String]>,
    now: chrono::DateTime<Utc>,
) -> Option<chrono::DateTime<Utc>> {
    use redress_engine::sla::ClockState;
    let policy = &slot.policy;
    let live = |name: &str| {
        let clock = slot.case.clocks.get(name)?;
        let sla = policy.slas().get(name)?;
        let calendar = policy.calendar_of(sla);
        let state = clock.state(&sla.rule, calendar, now).ok()?;
        let running = matches!(
            state,
            ClockState::Running | ClockState::Paused | ClockState::Breached
        );
        running
            .then(|| clock.deadline(&sla.rule, calendar).ok().flatten())
            .flatten()
    };
    match named {
        Some(names) if !names.is_empty() => names.iter().find_map(|n| live(n)),
        _ => super::pages::nearest_deadline(slot, now).map(|(_, d)| d),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::RateLimiter;

    #[test]
    fn an_address_over_its_limit_waits_for_the_next_minute() {
        let limiter = RateLimiter::new(3);
        let (a, b) = (Some([10, 0, 0, 1].into()), Some([10, 0, 0, 2].into()));
        let start = Instant::now();
        let allowed: Vec<bool> = (0..4).map(|_| limiter.allow(a, start)).collect();
        assert_eq!(allowed, [true, true, true, false]);
        assert!(limiter.allow(b, start), "another address has its own count");
        assert!(limiter.allow(a, start + Duration::from_secs(61)));
    }
}
