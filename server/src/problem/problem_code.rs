//! [`ProblemCode`]: every stable `code` a problem document can carry, with its HTTP
//! status and title from exhaustive matches, so that no code can be answered with
//! two statuses and none can be missing from `docs/api.md` (a test compares the
//! two).

use axum::http::StatusCode;
use redress_engine::runtime::RefusalCode;

/// The stable code of a problem: the word after `https://redress.dev/problems/`
/// and its `code` member. A refused command carries the refusal's own code, the
/// same word as its `refusal.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::EnumIter)]
pub enum ProblemCode {
    /// No bearer token, or one this server does not know.
    Unauthorized,
    /// A read-only token sent a command.
    ReadOnly,
    /// The token's role may not do this.
    Forbidden,
    /// No such endpoint.
    NotFound,
    /// The endpoint does not take this method.
    MethodNotAllowed,
    /// No such case in the token's organisation.
    CaseNotFound,
    /// No such policy in the token's organisation.
    UnknownPolicy,
    /// No such version of a policy.
    UnknownVersion,
    /// An intake named a case id that is taken.
    CaseExists,
    /// An idempotency key first used with a different request.
    IdempotencyKeyReused,
    /// The case changed while the command was written.
    Conflict,
    /// `If-Match` names a version the case is no longer at.
    PreconditionFailed,
    /// The body is not JSON.
    MalformedJson,
    /// JSON of the wrong shape, an unknown member, a bad query parameter.
    InvalidRequest,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// The body is over the limit.
    BodyTooLarge,
    /// A reload found errors in the organisation's policies.
    InvalidPolicies,
    /// The organisation's policy files have errors.
    PoliciesNotLoaded,
    /// Too many connections, or the service is stopping.
    Unavailable,
    /// No answer within the request timeout.
    Timeout,
    /// The request head is over the limit.
    HeadersTooLarge,
    /// A fault, logged.
    Internal,
    /// The engine refused the command: the refusal's code.
    #[strum(disabled)]
    Refused(RefusalCode),
}

impl ProblemCode {
    /// The code as the API writes it (`case-not-found`; a refusal's own code).
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemCode::Unauthorized => "unauthorized",
            ProblemCode::ReadOnly => "read-only",
            ProblemCode::Forbidden => "forbidden",
            ProblemCode::NotFound => "not-found",
            ProblemCode::MethodNotAllowed => "method-not-allowed",
            ProblemCode::CaseNotFound => "case-not-found",
            ProblemCode::UnknownPolicy => "unknown-policy",
            ProblemCode::UnknownVersion => "unknown-version",
            ProblemCode::CaseExists => "case-exists",
            ProblemCode::IdempotencyKeyReused => "idempotency-key-reused",
            ProblemCode::Conflict => "conflict",
            ProblemCode::PreconditionFailed => "precondition-failed",
            ProblemCode::MalformedJson => "malformed-json",
            ProblemCode::InvalidRequest => "invalid-request",
            ProblemCode::UnsupportedMediaType => "unsupported-media-type",
            ProblemCode::BodyTooLarge => "body-too-large",
            ProblemCode::InvalidPolicies => "invalid-policies",
            ProblemCode::PoliciesNotLoaded => "policies-not-loaded",
            ProblemCode::Unavailable => "unavailable",
            ProblemCode::Timeout => "timeout",
            ProblemCode::HeadersTooLarge => "headers-too-large",
            ProblemCode::Internal => "internal",
            ProblemCode::Refused(code) => code.into(),
        }
    }

    /// Every code: the service's own, then each refusal's.
    pub fn all() -> impl Iterator<Item = ProblemCode> {
        use strum::IntoEnumIterator;
        // `Refused` is left out of `iter` (`strum(disabled)`): its codes follow.
        ProblemCode::iter().chain(RefusalCode::iter().map(ProblemCode::Refused))
    }

    /// The HTTP status it is answered with. An exhaustive match: a new code does not
    /// compile until it has one.
    pub fn status(self) -> StatusCode {
        match self {
            ProblemCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ProblemCode::ReadOnly | ProblemCode::Forbidden => StatusCode::FORBIDDEN,
            ProblemCode::NotFound
            | ProblemCode::CaseNotFound
            | ProblemCode::UnknownPolicy
            | ProblemCode::UnknownVersion => StatusCode::NOT_FOUND,
            ProblemCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProblemCode::CaseExists | ProblemCode::Conflict => StatusCode::CONFLICT,
            ProblemCode::IdempotencyKeyReused | ProblemCode::InvalidPolicies => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ProblemCode::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ProblemCode::MalformedJson | ProblemCode::InvalidRequest => StatusCode::BAD_REQUEST,
            ProblemCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemCode::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemCode::PoliciesNotLoaded | ProblemCode::Unavailable | ProblemCode::Timeout => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ProblemCode::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ProblemCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ProblemCode::Refused(code) => refusal_status(code),
        }
    }

    /// Its title: what kind of problem, in a few words.
    pub fn title(self) -> &'static str {
        match self {
            ProblemCode::Unauthorized => "Unauthorized",
            ProblemCode::ReadOnly => "Read-only token",
            ProblemCode::Forbidden => "Forbidden",
            ProblemCode::NotFound => "Not found",
            ProblemCode::MethodNotAllowed => "Method not allowed",
            ProblemCode::CaseNotFound => "No such case",
            ProblemCode::UnknownPolicy => "No such policy",
            ProblemCode::UnknownVersion => "No such policy version",
            ProblemCode::CaseExists => "Case exists",
            ProblemCode::IdempotencyKeyReused => "Idempotency key reused",
            ProblemCode::Conflict => "Conflict",
            ProblemCode::PreconditionFailed => "Precondition failed",
            ProblemCode::MalformedJson => "Malformed JSON",
            ProblemCode::InvalidRequest => "Invalid request",
            ProblemCode::UnsupportedMediaType => "Unsupported media type",
            ProblemCode::BodyTooLarge => "Body too large",
            ProblemCode::InvalidPolicies => "Invalid policies",
            ProblemCode::PoliciesNotLoaded => "Policies not loaded",
            ProblemCode::Unavailable => "Unavailable",
            ProblemCode::Timeout => "Timed out",
            ProblemCode::HeadersTooLarge => "Request headers too large",
            ProblemCode::Internal => "Internal error",
            ProblemCode::Refused(_) => "Refused",
        }
    }
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status a refusal is answered with: 409 when the case's state is in the
/// way (another stage, closed, changed meanwhile), 403 for a role, 422 for what
/// was sent.
///
/// An exhaustive match: a new kind of refusal does not compile until it has a
/// status.
pub fn refusal_status(code: RefusalCode) -> StatusCode {
    match code {
        RefusalCode::NotAllowedFromStage
        | RefusalCode::CaseClosed
        | RefusalCode::StaleVersion
        | RefusalCode::AlreadyReceived
        | RefusalCode::ClockNotRunning
        | RefusalCode::TimerNotDue
        | RefusalCode::BeforeLastEvent
        | RefusalCode::PolicyMismatch => StatusCode::CONFLICT,
        RefusalCode::RoleNotAllowed => StatusCode::FORBIDDEN,
        RefusalCode::UnknownEvent
        | RefusalCode::GuardFailed
        | RefusalCode::MissingFields
        | RefusalCode::InvalidValue
        | RefusalCode::UnknownField
        | RefusalCode::SetByActions
        | RefusalCode::NotReceived
        | RefusalCode::ReceivedInFuture
        | RefusalCode::UnknownSla
        | RefusalCode::UnknownExtension
        | RefusalCode::ScriptFailed
        | RefusalCode::CalendarFailed => StatusCode::UNPROCESSABLE_ENTITY,
    }
}
