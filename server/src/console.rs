//! The web console at `/`, for the people who handle complaints, and the
//! complainant's status page at `/track/{token}`. Pages are rendered on the server
//! from askama templates compiled into the binary (`server/templates/`); the CSS
//! and a vendored htmx are embedded too (`server/assets/`), so the console works
//! offline and every core action is a plain form that needs no script.
//!
//! Every page goes through the same service and view as the API: the same
//! organisation isolation (another organisation's case is a 404, told apart from
//! nothing), the same refusals, the same masking of personal fields by role.
//!
//! Modules: `i18n` (the interface in English and Chinese), `session` (sign-in
//! sessions), `csrf`, `stage_svg` (the stage graph drawn as SVG), `present` (case
//! data turned into what templates show), `pages` (queue, case, new complaint,
//! policies), `refusal` (the engine's refusals in the interface's language),
//! `reports` (the Reports page), `tracking` (tracking links and the
//! status page).

pub mod csrf;
pub mod i18n;
pub mod pages;
pub mod present;
pub mod refusal;
pub mod reports;
pub mod session;
pub mod stage_svg;
pub mod tracking;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::config::{Caller, random_hex};
use crate::service::{Service, ServiceError};
use i18n::{LANG_COOKIE, Lang, Texts};
use session::{SESSION_COOKIE, Session, Sessions};

/// The console's state: the service, the sessions, the status page's rate limit.
pub struct Console {
    /// The service every page goes through.
    pub service: Arc<Service>,
    /// Signed-in browsers.
    pub sessions: Sessions,
    /// Requests to the status page per client address.
    pub limiter: tracking::RateLimiter,
}

type Ctx = State<Arc<Console>>;

/// The console's routes, to be merged beside the API's (in a router of any state).
pub fn router<S: Clone + Send + Sync + 'static>(service: Arc<Service>) -> Router<S> {
    let settings = service.config.console;
    let console = Arc::new(Console {
        sessions: Sessions::new(settings.session),
        limiter: tracking::RateLimiter::new(settings.track_per_minute),
        service,
    });
    Router::new()
        .route("/", get(pages::queue))
        .route("/sign-in", get(sign_in_form).post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/language/{tag}", get(language))
        .route("/assets/{name}", get(asset))
        .route("/cases/new", get(pages::new_form).post(pages::file))
        .route("/cases/{id}", get(pages::case))
        .route("/cases/{id}/commands", post(pages::command))
        .route("/cases/{id}/tracking", post(tracking::issue))
        .route("/cases/{id}/tracking/revoke", post(tracking::revoke))
        .route("/policies", get(pages::policies))
        .route("/policies/{id}", get(pages::policy))
        .route("/reports", get(reports::page))
        .route("/track/{token}", get(tracking::page))
        .with_state(console)
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, path `/`, Secure when the
/// request came over TLS (as a proxy in front says with `X-Forwarded-Proto`).
fn set_cookie(headers: &HeaderMap, name: &str, value: &str, max_age: u64) -> String {
    let tls = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let secure = if tls { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// What every page's frame needs: the texts, the language switch, who is signed
/// in, the CSRF token for its forms.
pub struct Chrome {
    /// The texts in the page's language.
    pub t: &'static Texts,
    /// The page's language tag.
    pub lang: &'static str,
    /// The other language: its tag and name.
    pub other_lang: (&'static str, &'static str),
    /// Who is signed in: name, role, organisation.
    pub user: Option<(String, String, String)>,
    /// The CSRF token of the session.
    pub csrf: String,
    /// The page's own path and query, for the language switch to come back to.
    pub here: String,
    /// The page's title.
    pub title: String,
    /// Whether the caller may read reports (the Reports link is shown).
    pub reports: bool,
}

impl Chrome {
    fn new(lang: Lang, here: &str, title: &str) -> Self {
        let other = lang.other();
        Chrome {
            t: lang.texts(),
            lang: lang.tag(),
            other_lang: (other.tag(), other.texts().language_name),
            user: None,
            csrf: String::new(),
            here: here.to_string(),
            title: title.to_string(),
            reports: false,
        }
    }

    /// The frame of a signed-in page.
    pub fn signed(signed: &Signed, title: &str) -> Self {
        let c = &signed.session.caller;
        Chrome {
            user: Some((c.name.clone(), c.role.clone(), c.org.to_string())),
            csrf: signed.session.csrf.clone(),
            reports: crate::service::reports::may_read_reports(c),
            ..Chrome::new(signed.lang, &signed.here, title)
        }
    }

    /// The language tag as a query value for links that keep it.
    pub fn back(&self) -> String {
        url_encode(&self.here)
    }
}

/// Percent-encodes a query value.
pub fn url_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A signed-in request: the session, its id, the page's language.
pub struct Signed {
    /// The session.
    pub session: Session,
    /// The session id from the cookie.
    pub id: String,
    /// The page's language.
    pub lang: Lang,
    /// The path and query asked for.
    pub here: String,
}

impl Signed {
    /// The caller the session stands for.
    pub fn caller(&self) -> &Caller {
        &self.session.caller
    }
}

fn lang_of(parts: &Parts) -> Lang {
    let query = parts.uri.query().unwrap_or("");
    let asked = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == "lang")
        .map(|(_, v)| v);
    Lang::of_request(asked, &parts.headers)
}

impl FromRequestParts<Arc<Console>> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<Console>) -> Result<Self, Response> {
        let here = parts
            .uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string());
        let cookie_id = cookie(&parts.headers, SESSION_COOKIE);
        let session = cookie_id
            .as_deref()
            .and_then(|id| app.sessions.get(id).map(|s| (id.to_string(), s)));
        match session {
            Some((id, session)) => Ok(Signed {
                session,
                id,
                lang: lang_of(parts),
                here,
            }),
            None => {
                let ended = if cookie_id.is_some() { "&ended=1" } else { "" };
                let back = match parts.method == axum::http::Method::GET {
                    true => here,
                    false => "/".to_string(),
                };
                let to = format!("/sign-in?next={}{ended}", url_encode(&back));
                Err(Redirect::to(&to).into_response())
            }
        }
    }
}

/// An HTML response with the headers every console page carries: no caching, no
/// framing, no referrer (a tracking link must not leak), scripts and styles only
/// from this server.
pub fn html(status: StatusCode, page: &impl Template) -> Response {
    let body = match page.render() {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "a console template failed");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response();
        }
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-type", "text/html; charset=utf-8"),
        ("cache-control", "no-store"),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        (
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A page that only says something: errors, not found, too many requests.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    /// The frame.
    pub chrome: Chrome,
    /// What it says.
    pub message: String,
}

/// A message page.
pub fn message(chrome: Chrome, status: StatusCode, text: &str) -> Response {
    html(
        status,
        &MessagePage {
            chrome,
            message: text.to_string(),
        },
    )
}

/// The page for a service error: a missing case (or another organisation's) is
/// the plain not-found page; other errors say what they are.
pub fn service_error(signed: &Signed, error: ServiceError) -> Response {
    let t = signed.lang.texts();
    match error {
        ServiceError::CaseNotFound(_) | ServiceError::UnknownPolicy { .. } => message(
            Chrome::signed(signed, t.not_found_title),
            StatusCode::NOT_FOUND,
            t.not_found,
        ),
        other => {
            let problem = crate::problem::Problem::from(other);
            message(
                Chrome::signed(signed, t.error_title),
                problem.status,
                &problem.detail,
            )
        }
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    next: String,
    error: Option<&'static str>,
    form_token: String,
}

#[derive(Debug, Deserialize)]
struct SignInQuery {
    next: Option<String>,
    ended: Option<String>,
    lang: Option<String>,
}

/// Only paths on this site may be returned to after signing in.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_string(),
        _ => "/".to_string(),
    }
}

fn sign_in_page(
    headers: &HeaderMap,
    lang: Lang,
    next: &str,
    error: Option<&'static str>,
    status: StatusCode,
) -> Response {
    let t = lang.texts();
    let Ok(form_token) = random_hex(32) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no randomness").into_response();
    };
    let here = format!("/sign-in?next={}", url_encode(next));
    let page = SignInPage {
        chrome: Chrome::new(lang, &here, t.sign_in_title),
        next: next.to_string(),
        error,
        form_token: form_token.clone(),
    };
    let mut response = html(status, &page);
    let cookie = set_cookie(headers, csrf::SIGN_IN_COOKIE, &form_token, 3600);
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

async fn sign_in_form(headers: HeaderMap, Query(q): Query<SignInQuery>) -> Response {
    let lang = Lang::of_request(q.lang.as_deref(), &headers);
    let error = q.ended.as_ref().map(|_| lang.texts().session_ended);
    let next = local_path(q.next.as_deref());
    sign_in_page(&headers, lang, &next, error, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
struct SignInForm {
    token: String,
    next: Option<String>,
    csrf: Option<String>,
}

async fn sign_in(
    State(app): Ctx,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SignInForm>,
) -> Response {
    let lang = Lang::of_request(None, &headers);
    let t = lang.texts();
    let next = local_path(form.next.as_deref());
    let expected = cookie(&headers, csrf::SIGN_IN_COOKIE).unwrap_or_default();
    if !csrf::matches(&expected, form.csrf.as_deref()) {
        return sign_in_page(
            &headers,
            lang,
            &next,
            Some(t.csrf_refused),
            StatusCode::FORBIDDEN,
        );
    }
    let Some(caller) = app.service.config.caller(form.token.trim()).cloned() else {
        return sign_in_page(
            &headers,
            lang,
            &next,
            Some(t.token_unknown),
            StatusCode::UNAUTHORIZED,
        );
    };
    tracing::info!(who = caller.name, role = caller.role, "console sign-in");
    let Ok(id) = app.sessions.start(caller) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no randomness").into_response();
    };
    let mut response = Redirect::to(&next).into_response();
    let max_age = app.sessions.lifetime().as_secs();
    for value in [
        set_cookie(&headers, SESSION_COOKIE, &id, max_age),
        set_cookie(&headers, csrf::SIGN_IN_COOKIE, "", 0),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// The fields every console form sends besides its own.
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    csrf: Option<String>,
}

/// The refusal of a form whose CSRF token is not the session's (nothing is
/// changed); `None` when the token is the session's.
pub fn check_csrf(signed: &Signed, given: Option<&str>) -> Option<Response> {
    match csrf::matches(&signed.session.csrf, given) {
        true => None,
        false => {
            let t = signed.lang.texts();
            Some(message(
                Chrome::signed(signed, t.error_title),
                StatusCode::FORBIDDEN,
                t.csrf_refused,
            ))
        }
    }
}

async fn sign_out(
    State(app): Ctx,
    signed: Signed,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CsrfOnly>,
) -> Response {
    if let Some(refused) = check_csrf(&signed, form.csrf.as_deref()) {
        return refused;
    }
    app.sessions.end(&signed.id);
    let mut response = Redirect::to("/sign-in").into_response();
    if let Ok(value) = HeaderValue::from_str(&set_cookie(&headers, SESSION_COOKIE, "", 0)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// A path without its `lang` query parameter, which would otherwise outrank the
/// language just chosen.
fn without_lang(path: &str) -> String {
    let Some((base, query)) = path.split_once('?') else {
        return path.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some("lang"))
        .collect();
    match kept.is_empty() {
        true => base.to_string(),
        false => format!("{base}?{}", kept.join("&")),
    }
}

#[derive(Debug, Deserialize)]
struct LanguageQuery {
    back: Option<String>,
}

/// Switches the interface language (kept in a cookie for a year) and goes back.
async fn language(
    headers: HeaderMap,
    Path(tag): Path<String>,
    Query(q): Query<LanguageQuery>,
) -> Response {
    let lang = Lang::from_tag(&tag).unwrap_or(Lang::En);
    let back = without_lang(&local_path(q.back.as_deref()));
    let mut response = Redirect::to(&back).into_response();
    let value = set_cookie(&headers, LANG_COOKIE, lang.tag(), 365 * 86_400);
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The embedded assets: the console's CSS and the vendored htmx with its licence.
const ASSETS: [(&str, &str, &str); 3] = [
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../assets/console.css"),
    ),
    (
        "htmx.min.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/htmx.min.js"),
    ),
    (
        "htmx-LICENSE",
        "text/plain; charset=utf-8",
        include_str!("../assets/htmx-LICENSE"),
    ),
];

async fn asset(Path(name): Path<String>) -> Response {
    let Some((_, media, body)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let mut response = (*body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::{cookie, local_path, url_encode, without_lang};

    #[test]
    fn switching_language_drops_the_lang_parameter_of_the_page_returned_to() {
        for (path, back) in [
            ("/reports?lang=en&kind=month", "/reports?kind=month"),
            (
                "/track/ab?tz=Asia%2FShanghai&lang=zh",
                "/track/ab?tz=Asia%2FShanghai",
            ),
            ("/?lang=zh", "/"),
            ("/cases/C-1", "/cases/C-1"),
            ("/?language=x", "/?language=x"),
        ] {
            assert_eq!(without_lang(path), back, "{path}");
        }
    }

    #[test]
    fn only_local_paths_are_returned_to() {
        for (next, to) in [
            (Some("/cases/C-1"), "/cases/C-1"),
            (Some("//evil.example/x"), "/"),
            (Some("https://evil.example"), "/"),
            (Some("/\\evil"), "/"),
            (None, "/"),
        ] {
            assert_eq!(local_path(next), to, "{next:?}");
        }
    }

    #[test]
    fn cookies_and_query_values_round_trip() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("cookie", "a=1; redress_session=abc".parse().unwrap());
        assert_eq!(cookie(&headers, "redress_session").as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, "b"), None);
        assert_eq!(url_encode("/cases/C-1?x=a b"), "%2Fcases%2FC-1%3Fx%3Da%20b");
    }
}
