//! The one error type of the HTTP layer and its RFC 9457 problem details.
//!
//! Queries return `QueryResult`; they become `AppError` only at the handler
//! boundary. Unexpected failures are logged with their cause and answered with
//! an opaque 500: nothing about SQL, hosts or internals ever reaches a client.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// Seconds a client should wait before retrying when the database is unavailable.
const RETRY_AFTER_SECS: &str = "5";

/// One invalid input, named so that a client can point at it: a query or
/// path `parameter`, or a JSON `pointer` (RFC 6901) into the request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct InvalidInput {
    /// The query or path parameter at fault.
    #[schema(example = "limit")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// The request-body member at fault, as a JSON pointer.
    #[schema(example = "/excerpts/0/source_url")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// What is wrong with it.
    #[schema(example = "must be a whole number from 1 to 100")]
    pub detail: String,
}

impl InvalidInput {
    /// A bad query or path parameter.
    pub fn new(parameter: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            parameter: Some(parameter.into()),
            pointer: None,
            detail: detail.into(),
        }
    }

    /// A bad member of the request body, at this JSON pointer.
    pub fn field(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            parameter: None,
            pointer: Some(pointer.into()),
            detail: detail.into(),
        }
    }

    /// The same input, inside the body member at `pointer`: a member's
    /// pointer gets it as a prefix, and an input that names nothing is the
    /// member itself.
    pub fn within(self, pointer: &str) -> Self {
        match self.pointer {
            Some(inner) => Self::field(format!("{pointer}{inner}"), self.detail),
            None if self.parameter.is_none() => Self::field(pointer, self.detail),
            None => self,
        }
    }

    fn name(&self) -> &str {
        self.parameter
            .as_deref()
            .or(self.pointer.as_deref())
            .unwrap_or("input")
    }
}

/// An RFC 9457 problem details object, sent as `application/problem+json`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the kind of problem; `about:blank` when the status says it all.
    #[schema(example = "/problems/invalid-parameter")]
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// A short summary of the kind of problem.
    #[schema(example = "Invalid parameter")]
    pub title: &'static str,
    /// The HTTP status code.
    #[schema(example = 400)]
    pub status: u16,
    /// What went wrong in this occurrence.
    #[schema(example = "limit: must be an integer from 1 to 100")]
    pub detail: String,
    /// Each invalid parameter, for `invalid-parameter` problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<InvalidInput>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    NotFound(String),
    #[error("{}", describe_params(.0))]
    InvalidInputs(Vec<InvalidInput>),
    #[error("{}", describe_params(.0))]
    Unprocessable(Vec<InvalidInput>),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    RequestTimeout(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{method} is not allowed on {path}; allowed: {allow}")]
    MethodNotAllowed {
        method: String,
        path: String,
        allow: String,
    },
    #[error("{0}")]
    Unavailable(String),
    #[error("too many failed authentications from this address; retry in {retry_after} seconds")]
    TooManyRequests { retry_after: u32 },
    /// A client address over one of its request budgets (`rate_limit`).
    #[error("this client address is over its budget of {per_minute} {what} a minute; retry in {retry_after} seconds")]
    RateLimited {
        what: &'static str,
        per_minute: u32,
        retry_after: u32,
    },
    /// A fault of the server; the cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What failed, with the error that made it fail as its source.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
struct Because {
    what: String,
    #[source]
    cause: Box<dyn std::error::Error + Send + Sync>,
}

fn describe_params(params: &[InvalidInput]) -> String {
    params
        .iter()
        .map(|p| format!("{}: {}", p.name(), p.detail))
        .collect::<Vec<_>>()
        .join("; ")
}

impl AppError {
    pub fn invalid(parameter: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::InvalidInputs(vec![InvalidInput::new(parameter, detail)])
    }

    pub fn not_found(what: &str, key: impl std::fmt::Display) -> Self {
        Self::NotFound(format!("no {what} matches `{key}`"))
    }

    /// A fault of the server, keeping its cause (an error, or a message
    /// saying what went wrong) for the log.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(cause.into())
    }

    /// A fault of the server: `what` failed because of `cause`, both logged.
    pub fn internal_because(
        what: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Internal(Box::new(Because {
            what: what.into(),
            cause: Box::new(cause),
        }))
    }

    fn kind_and_title(&self) -> (&'static str, &'static str) {
        match self {
            Self::NotFound(_) => ("/problems/not-found", "Not found"),
            Self::InvalidInputs(_) => ("/problems/invalid-parameter", "Invalid parameter"),
            Self::BadRequest(_) => ("/problems/bad-request", "Bad request"),
            Self::Unprocessable(_) => ("/problems/invalid-body", "Invalid request body"),
            Self::Unauthorized(_) => ("/problems/unauthorized", "Unauthorized"),
            Self::Forbidden(_) => ("/problems/forbidden", "Forbidden"),
            Self::Conflict(_) => ("/problems/conflict", "Conflict"),
            Self::PreconditionFailed(_) => ("/problems/precondition-failed", "Precondition failed"),
            Self::PayloadTooLarge { .. } => ("/problems/payload-too-large", "Payload too large"),
            Self::UnsupportedMediaType(_) => {
                ("/problems/unsupported-media-type", "Unsupported media type")
            }
            Self::RequestTimeout(_) => ("/problems/request-timeout", "Request timeout"),
            Self::MethodNotAllowed { .. } => ("/problems/method-not-allowed", "Method not allowed"),
            Self::Unavailable(_) => ("/problems/unavailable", "Service unavailable"),
            Self::TooManyRequests { .. } | Self::RateLimited { .. } => {
                ("/problems/too-many-requests", "Too many requests")
            }
            Self::Internal(_) => ("/problems/internal", "Internal server error"),
        }
    }

    pub fn to_problem(&self) -> Problem {
        let (kind, title) = self.kind_and_title();
        let detail = match self {
            Self::Internal(_) => "the server failed to answer; the failure has been logged".into(),
            other => other.to_string(),
        };
        Problem {
            kind,
            title,
            status: self.status_code().as_u16(),
            detail,
            errors: match self {
                Self::InvalidInputs(params) | Self::Unprocessable(params) => params.clone(),
                _ => Vec::new(),
            },
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::InvalidInputs(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests { .. } | Self::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(cause) = self {
            log::error!(
                "internal error{}: {}",
                crate::request_id::in_log(),
                chain(cause.as_ref())
            );
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        match self {
            Self::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS));
            }
            Self::MethodNotAllowed { allow, .. } => {
                response.insert_header((header::ALLOW, allow.as_str()));
            }
            Self::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"broadsheet\""));
            }
            Self::TooManyRequests { retry_after } | Self::RateLimited { retry_after, .. } => {
                response.insert_header((header::RETRY_AFTER, *retry_after));
            }
            _ => {}
        }
        response.body(serde_json::to_vec(&self.to_problem()).unwrap_or_default())
    }
}

/// The message of an error and of each of its causes, for the log.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        text.push_str(": ");
        text.push_str(&error.to_string());
        cause = error.source();
    }
    text
}

/// Problem responses shared by the OpenAPI descriptions of many operations.
pub mod responses {
    use std::collections::BTreeMap;

    use utoipa::openapi::{RefOr, Response};
    use utoipa::IntoResponses;

    use super::Problem;

    /// 400: a parameter is invalid; `errors` names each one.
    #[derive(IntoResponses)]
    #[response(
        status = 400,
        description = "A parameter is invalid; `errors` names each one",
        content_type = "application/problem+json"
    )]
    pub struct BadRequest(pub Problem);

    /// 404: nothing has this slug or id, or it is not published.
    #[derive(IntoResponses)]
    #[response(
        status = 404,
        description = "Nothing public has this slug or id",
        content_type = "application/problem+json"
    )]
    pub struct NotFound(pub Problem);

    /// 401: no API key, or an unknown or revoked one.
    #[derive(IntoResponses)]
    #[response(
        status = 401,
        description = "An API key is needed, or the one given is unknown or revoked",
        content_type = "application/problem+json",
        headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"broadsheet\"`"))
    )]
    pub struct Unauthorized(pub Problem);

    /// 403: the key's role may not do this.
    #[derive(IntoResponses)]
    #[response(
        status = 403,
        description = "The key's role may not do this",
        content_type = "application/problem+json"
    )]
    pub struct Forbidden(pub Problem);

    /// 409: the write conflicts with stored content (a taken slug, say).
    #[derive(IntoResponses)]
    #[response(
        status = 409,
        description = "The write conflicts with stored content, such as a slug another article has or had",
        content_type = "application/problem+json"
    )]
    pub struct Conflict(pub Problem);

    /// 412: `If-Match` names a representation that is no longer current.
    #[derive(IntoResponses)]
    #[response(
        status = 412,
        description = "`If-Match` does not name the current representation: someone else changed it",
        content_type = "application/problem+json"
    )]
    pub struct PreconditionFailed(pub Problem);

    /// 400, 408, 413, 415 and 422: the request body cannot be used.
    #[derive(IntoResponses)]
    pub enum BadBody {
        /// Malformed JSON.
        #[response(
            status = 400,
            description = "The body is not valid JSON",
            content_type = "application/problem+json"
        )]
        Malformed(Problem),
        /// The body took too long to arrive.
        #[response(
            status = 408,
            description = "The body did not arrive in time",
            content_type = "application/problem+json"
        )]
        Slow(Problem),
        /// The body is over the size limit.
        #[response(
            status = 413,
            description = "The body is larger than the limit (1 MiB by default)",
            content_type = "application/problem+json"
        )]
        TooLarge(Problem),
        /// The body is not JSON.
        #[response(
            status = 415,
            description = "The body is not `application/json`",
            content_type = "application/problem+json"
        )]
        NotJson(Problem),
        /// Members of the body are invalid; `errors` points at each.
        #[response(
            status = 422,
            description = "Members of the body are invalid; `errors` points at each with a JSON pointer",
            content_type = "application/problem+json"
        )]
        Invalid(Problem),
    }

    /// 503: the database is unreachable or overloaded; retry after `Retry-After` seconds.
    #[derive(IntoResponses)]
    #[response(
        status = 503,
        description = "The database is unavailable; retry after `Retry-After` seconds",
        content_type = "application/problem+json",
        headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))
    )]
    pub struct Unavailable(pub Problem);

    /// 429: the client address is over a request budget, or has failed to
    /// authenticate too often.
    #[derive(IntoResponses)]
    #[response(
        status = 429,
        description = "The client address (an IPv6 client's /64) is over its budget of requests of this kind a minute (reads 1200, view beacons 120, other requests 120 by default), or, on an operation that reads a key, has made too many failed authentications (10 a minute by default; the key is not even looked at): retry after `Retry-After` seconds",
        content_type = "application/problem+json",
        headers(
            ("Retry-After" = u32, description = "Seconds until the client may try again"),
            ("RateLimit-Policy" = String, description = "The request budget this request counts against, e.g. `\"reads\";q=1200;w=60` (draft-ietf-httpapi-ratelimit-headers); absent when that budget is turned off"),
            ("RateLimit" = String, description = "Where the client stands in that budget, e.g. `\"reads\";r=0;t=60`: `r` requests left, `t` seconds until the budget is whole again; absent when that budget is turned off"),
        )
    )]
    pub struct TooManyRequests(pub Problem);

    /// Writes each set of responses that several operations share, made
    /// of the sets above, so that each operation lists one name for them.
    macro_rules! bundles {
        ($($(#[$doc:meta])* $name:ident = $($part:ident),+;)+) => {$(
            $(#[$doc])*
            pub struct $name;

            impl IntoResponses for $name {
                fn responses() -> BTreeMap<String, RefOr<Response>> {
                    let mut responses = BTreeMap::new();
                    $(responses.extend($part::responses());)+
                    responses
                }
            }
        )+};
    }

    bundles! {
        /// What every write may answer besides its own outcome: 401 without
        /// a key, 403 for a role that may not, 503 while the database is
        /// away. (The 429 of the request budgets is added to every operation
        /// at once.)
        WriteErrors = Unauthorized, Forbidden, Unavailable;
        /// A create: its body can be refused, and what it creates can
        /// conflict with what is stored (a taken slug, a reused idempotency key).
        CreateErrors = BadBody, WriteErrors, Conflict;
        /// A write to something that exists, guarded by `If-Match`, that
        /// takes no body: a deletion, a restore.
        GuardedErrors = WriteErrors, NotFound, PreconditionFailed;
        /// A guarded write whose body can be refused: a reorder, or a patch
        /// that cannot conflict.
        EditErrors = BadBody, GuardedErrors;
        /// A merge patch: an edit whose result can also conflict (a slug taken).
        PatchErrors = EditErrors, Conflict;
    }
}

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError};

    use super::*;

    /// An error as the server reports it, naming what it names.
    #[derive(Default)]
    struct Sent {
        message: &'static str,
        table: Option<&'static str>,
        column: Option<&'static str>,
        constraint: Option<&'static str>,
    }

    impl DatabaseErrorInformation for Sent {
        fn message(&self) -> &str {
            self.message
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            self.table
        }
        fn column_name(&self) -> Option<&str> {
            self.column
        }
        fn constraint_name(&self) -> Option<&str> {
            self.constraint
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn answer(kind: DatabaseErrorKind, sent: Sent) -> (u16, Problem, HttpResponse) {
        let error = AppError::from(DieselError::DatabaseError(kind, Box::new(sent)));
        let response = error.error_response();
        (response.status().as_u16(), error.to_problem(), response)
    }

    #[test]
    fn a_terminated_backend_or_a_stopping_server_is_a_503_with_retry_after() {
        for message in [
            "57P01: terminating connection due to administrator command",
            "57014: canceling statement due to statement timeout",
            "40P01: deadlock detected",
            "08006: connection failure",
            "53300: sorry, too many clients already",
        ] {
            let sent = Sent {
                message,
                ..Sent::default()
            };
            let (status, problem, response) = answer(DatabaseErrorKind::Unknown, sent);
            assert_eq!(status, 503, "{message}");
            assert_eq!(problem.kind, "/problems/unavailable");
            assert!(response.headers().contains_key(header::RETRY_AFTER));
            assert!(!problem.detail.contains(&message[7..]), "{problem:?}");
        }
    }

    #[test]
    fn check_and_not_null_violations_past_validation_are_422s_naming_the_member() {
        let cases = [
            (
                DatabaseErrorKind::CheckViolation,
                Sent {
                    message: "23514: new row for relation \"excerpts\" violates check constraint",
                    table: Some("excerpts"),
                    constraint: Some("excerpts_source_url_check"),
                    ..Sent::default()
                },
                InvalidInput::field("/source_url", "must be an absolute http(s) URL"),
            ),
            (
                DatabaseErrorKind::CheckViolation,
                Sent {
                    message: "23514: violates check constraint",
                    table: Some("articles"),
                    constraint: Some("published_articles_have_a_date"),
                    ..Sent::default()
                },
                InvalidInput::field("/published_at", "a published article needs a date"),
            ),
            (
                DatabaseErrorKind::NotNullViolation,
                Sent {
                    message: "23502: null value in column \"body\" violates not-null constraint",
                    table: Some("excerpts"),
                    column: Some("body"),
                    ..Sent::default()
                },
                InvalidInput::field("/body_markdown", "is required"),
            ),
            // No member is named: the problem says what, without a pointer.
            (
                DatabaseErrorKind::CheckViolation,
                Sent {
                    message: "23514: violates check constraint",
                    table: Some("view_counts"),
                    constraint: Some("bucket_start_is_aligned"),
                    ..Sent::default()
                },
                InvalidInput {
                    parameter: None,
                    pointer: None,
                    detail: "is not a value the stored content allows".into(),
                },
            ),
        ];
        for (kind, sent, expected) in cases {
            let (status, problem, _) = answer(kind, sent);
            assert_eq!((status, problem.errors), (422, vec![expected]));
        }
    }

    #[test]
    fn an_input_within_a_member_points_into_it() {
        let inner = InvalidInput::field("/source_url", "must be an absolute http(s) URL");
        assert_eq!(
            inner.within("/excerpts/2").pointer.as_deref(),
            Some("/excerpts/2/source_url")
        );
        let unnamed = InvalidInput {
            parameter: None,
            pointer: None,
            detail: "is not a value the stored content allows".into(),
        };
        assert_eq!(
            unnamed.within("/roundups/0").pointer.as_deref(),
            Some("/roundups/0")
        );
        let parameter = InvalidInput::new("limit", "too big").within("/x");
        assert_eq!(parameter, InvalidInput::new("limit", "too big"));
    }

    #[test]
    fn unique_and_foreign_key_violations_are_409s_in_the_apis_words() {
        for (kind, message, constraint, detail) in [
            (
                DatabaseErrorKind::UniqueViolation,
                "23505: duplicate key",
                "articles_slug_key",
                "another article has this slug",
            ),
            (
                DatabaseErrorKind::ForeignKeyViolation,
                "23503: violates foreign key constraint",
                "excerpts_outlet_id_fkey",
                "an outlet this write names was deleted meanwhile, or one it deletes is still cited",
            ),
        ] {
            let sent = Sent {
                message,
                constraint: Some(constraint),
                ..Sent::default()
            };
            let (status, problem, _) = answer(kind, sent);
            assert_eq!((status, problem.detail.as_str()), (409, detail));
        }
    }

    #[test]
    fn data_exceptions_are_400s() {
        for message in [
            "22021: invalid byte sequence for encoding \"UTF8\": 0x00",
            "22008: timestamp out of range",
        ] {
            let sent = Sent {
                message,
                ..Sent::default()
            };
            let (status, problem, _) = answer(DatabaseErrorKind::Unknown, sent);
            assert_eq!(status, 400, "{message}");
            assert_eq!(problem.kind, "/problems/bad-request");
        }
    }

    #[test]
    fn a_bug_is_an_opaque_500_that_keeps_its_cause_for_the_log() {
        let sent = Sent {
            message: "42703: column \"secret_column\" does not exist",
            ..Sent::default()
        };
        let error = AppError::from(DieselError::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new(sent),
        ));
        assert_eq!(error.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!error.to_problem().detail.contains("secret_column"));
        let source = std::error::Error::source(&error).map(ToString::to_string);
        assert_eq!(
            source.as_deref(),
            Some("42703: column \"secret_column\" does not exist")
        );
        let wrapped = AppError::internal_because("revision 3 is unreadable", error);
        assert_eq!(
            chain(&wrapped),
            "internal error: revision 3 is unreadable: internal error: \
             42703: column \"secret_column\" does not exist"
        );
    }
}
