//! The one error type of the HTTP layer and its RFC 9457 problem details.
//!
//! Queries return `QueryResult`; they become `AppError` only at the handler
//! boundary. Unexpected failures are logged with their cause and answered with
//! an opaque 500: nothing about SQL, hosts or internals ever reaches a client.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::PoolError;

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
    #[error("internal error: {0}")]
    Internal(String),
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
            Self::TooManyRequests { .. } => ("/problems/too-many-requests", "Too many requests"),
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
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(cause) = self {
            log::error!("internal error: {cause}");
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
            Self::TooManyRequests { retry_after } => {
                response.insert_header((header::RETRY_AFTER, *retry_after));
            }
            _ => {}
        }
        response.body(serde_json::to_vec(&self.to_problem()).unwrap_or_default())
    }
}

impl From<DieselError> for AppError {
    fn from(error: DieselError) -> Self {
        match &error {
            DieselError::NotFound => Self::NotFound("no such resource".into()),
            DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation | DatabaseErrorKind::ForeignKeyViolation,
                info,
            ) => Self::Conflict(conflict_detail(info.constraint_name())),
            DieselError::DatabaseError(
                DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection,
                _,
            ) => {
                log::warn!("database connection failed: {error}");
                Self::Unavailable("the database is unreachable; retry shortly".into())
            }
            DieselError::DatabaseError(_, info) if info.message().contains("statement timeout") => {
                log::warn!("query timed out: {error}");
                Self::Unavailable(
                    "the database is too busy to answer in time; retry shortly".into(),
                )
            }
            DieselError::DatabaseError(_, info) if info.message().contains("deadlock detected") => {
                log::warn!("write aborted by a deadlock: {error}");
                Self::Unavailable("concurrent writes collided; retry shortly".into())
            }
            DieselError::DatabaseError(_, info)
                if info.message().contains("invalid byte sequence") =>
            {
                Self::BadRequest("the request contains bytes that are not valid text".into())
            }
            _ => Self::Internal(error.to_string()),
        }
    }
}

/// Says which uniqueness rule a write broke, in the API's words.
fn conflict_detail(constraint: Option<&str>) -> String {
    match constraint {
        Some("articles_slug_key") => "another article has this slug".into(),
        Some("article_slug_history_pkey") => {
            "this slug is an old slug of another article; an admin can release it".into()
        }
        Some("outlets_slug_key") => "another outlet has this slug".into(),
        Some("excerpts_outlet_id_fkey" | "roundup_links_outlet_id_fkey") => {
            "an outlet this write names was deleted meanwhile, or one it deletes is still cited"
                .into()
        }
        Some("tags_slug_key") => "another tag has this slug".into(),
        Some("api_keys_name_key") => "a key with this name exists".into(),
        _ => "the write conflicts with stored content".into(),
    }
}

impl From<PoolError> for AppError {
    fn from(error: PoolError) -> Self {
        log::warn!("no database connection available: {error}");
        Self::Unavailable("no database connection is available; retry shortly".into())
    }
}

/// Problem responses shared by the OpenAPI descriptions of many operations.
pub mod responses {
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

    /// 429: too many failed authentications from this client address.
    #[derive(IntoResponses)]
    #[response(
        status = 429,
        description = "Too many failed authentications from this client address (10 a minute by default): the key is not even looked at until `Retry-After` seconds have passed",
        content_type = "application/problem+json",
        headers(("Retry-After" = u32, description = "Seconds until the address may try a key again"))
    )]
    pub struct TooManyRequests(pub Problem);
}
