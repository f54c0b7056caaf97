//! Webhooks: admins subscribe URLs to the change log, and every instance
//! delivers each webhook its events, signed, in order, at least once
//! (`engine`, `outbound`). This module holds the admin API: the webhooks
//! themselves, their delivery attempts, and redelivery. It never writes
//! the change log; it reads it from a cursor of its own.

pub mod commands;
pub mod engine;
pub mod outbound;
pub mod queries;
pub mod settings;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, web, FromRequest, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::AsyncConnection;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{Ref, Required};
use utoipa::{IntoParams, ToSchema};

use crate::body::JsonBody;
use crate::changes::{queries as log, Reader};
use crate::db::DbPool;
use crate::editing::{self, Created};
use crate::error::{responses, AppError};
use crate::idempotency::IdempotencyKey;
use crate::keys::{Admin, Authorized};
use crate::pagination::{CursorKey, Page, Position, Scope};
use crate::params::{self, Checker, ResourceId};
use crate::representation::{self, Provenance, Representation};
use commands::{NewWebhook, WebhookPatch};
use queries::{DeliveryRow, NewWebhookRow, WebhookChanges, WebhookRow};
pub use settings::WebhookSettings;

/// Who a webhook delivers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookAudience {
    /// The events the public may read, as the public reads them.
    Public,
    /// Every event.
    Editor,
}

impl WebhookAudience {
    /// As stored; anything else reads as the narrower `public`.
    pub fn parse(stored: &str) -> Self {
        match stored {
            "editor" => Self::Editor,
            _ => Self::Public,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Editor => "editor",
        }
    }

    /// How the change log is read for it.
    pub fn reader(self) -> Reader {
        match self {
            Self::Public => Reader::Public,
            Self::Editor => Reader::Editor,
        }
    }
}

/// Where a webhook stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookStatus {
    /// Delivering.
    Active,
    /// Switched off by an admin.
    Paused,
    /// An event kept failing past the give-up time; nothing is delivered
    /// until an admin sets `active` to true again.
    Failing,
}

/// The settings the admin API needs from the engine's: whether private
/// targets are allowed.
#[derive(Debug, Clone, Copy)]
pub struct TargetPolicy {
    pub allow_private: bool,
}

/// A webhook, as admins see it. Its secret is never shown but in the
/// response that set it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Webhook {
    #[schema(example = 3)]
    pub id: i64,
    #[schema(example = "https://hooks.example.org/broadsheet")]
    pub url: String,
    /// The event types delivered; empty: every type.
    pub event_types: Vec<String>,
    pub audience: WebhookAudience,
    /// Whether an admin wants events delivered.
    pub active: bool,
    pub status: WebhookStatus,
    /// The last 4 characters of the secret, to tell secrets apart.
    #[schema(example = "x9Qa")]
    pub secret_hint: String,
    /// The secret: only in the response to the create, or to the patch
    /// that set a new one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The webhook's cursor in the change log: the last event delivered
    /// (or passed over as not its concern). It starts at the log's head
    /// when the webhook is created.
    #[schema(example = 42)]
    pub last_delivered_event_id: i64,
    /// Since when the event after the cursor has been failing.
    pub failing_since: Option<DateTime<Utc>>,
    /// What the last failed attempt met.
    #[schema(example = "answered 503")]
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[schema(example = "/v1/webhooks/3/deliveries")]
    pub deliveries_url: String,
}

impl Webhook {
    fn of(row: WebhookRow, show_secret: bool) -> Self {
        let status = if row.given_up_at.is_some() {
            WebhookStatus::Failing
        } else if row.active {
            WebhookStatus::Active
        } else {
            WebhookStatus::Paused
        };
        let hint: String = {
            let chars: Vec<char> = row.secret.chars().collect();
            chars[chars.len().saturating_sub(4)..].iter().collect()
        };
        Self {
            deliveries_url: format!("/v1/webhooks/{}/deliveries", row.id),
            id: row.id,
            url: row.url,
            event_types: row.event_types,
            audience: WebhookAudience::parse(&row.audience),
            active: row.active,
            status,
            secret_hint: hint,
            secret: show_secret.then_some(row.secret),
            last_delivered_event_id: row.last_delivered_event_id,
            failing_since: row.failing_since,
            last_error: row.last_error,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }

    fn url(id: i64) -> String {
        format!("/v1/webhooks/{id}")
    }
}

/// What became of a delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// The receiver answered 2xx.
    Succeeded,
    /// Anything else; the event is tried again later.
    Failed,
    /// It failed, and the event had been failing longer than the give-up
    /// time: the webhook is now failing.
    GivenUp,
}

/// One delivery attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    /// Sent as `Broadsheet-Delivery-Id`.
    #[schema(example = 981)]
    pub id: i64,
    /// The event delivered, sent as `Broadsheet-Event-Id`.
    #[schema(example = 42)]
    pub event_id: i64,
    #[schema(example = "article.published")]
    pub event_type: String,
    /// Which attempt at this event this was, from 1 (a redelivery: 1).
    #[schema(example = 1)]
    pub attempt: i32,
    pub outcome: DeliveryOutcome,
    /// The receiver's status code, when it answered.
    #[schema(example = 200)]
    pub status_code: Option<i32>,
    /// Why it failed: `timeout`, `connection refused`, `refused private
    /// address`, `answered 500`, …
    pub error: Option<String>,
    #[schema(example = 35)]
    pub duration_ms: i32,
    pub attempted_at: DateTime<Utc>,
    /// Whether an admin asked for it, outside the ordered stream.
    pub redelivery: bool,
    #[schema(example = "/v1/webhooks/3/deliveries/981/redeliver")]
    pub redeliver_url: String,
}

impl From<DeliveryRow> for Delivery {
    fn from(row: DeliveryRow) -> Self {
        Self {
            redeliver_url: format!(
                "/v1/webhooks/{}/deliveries/{}/redeliver",
                row.webhook_id, row.id
            ),
            id: row.id,
            event_id: row.event_id,
            event_type: row.event_type,
            attempt: row.attempt,
            outcome: match row.outcome.as_str() {
                "succeeded" => DeliveryOutcome::Succeeded,
                "given_up" => DeliveryOutcome::GivenUp,
                _ => DeliveryOutcome::Failed,
            },
            status_code: row.status_code,
            error: row.error,
            duration_ms: row.duration_ms,
            attempted_at: row.attempted_at,
            redelivery: row.redelivery,
        }
    }
}

/// A redelivery accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct RedeliveryQueued {
    /// The event that will be delivered once more.
    #[schema(example = 42)]
    pub event_id: i64,
    /// Where its attempt will be listed.
    #[schema(example = "/v1/webhooks/3/deliveries")]
    pub deliveries_url: String,
}

fn answer<T: Serialize>(
    req: &HttpRequest,
    status: StatusCode,
    view: &T,
) -> Result<HttpResponse, AppError> {
    Ok(Representation::of(view)?.respond(req, status, representation::Audience::Private))
}

fn not_found(id: i64) -> AppError {
    AppError::not_found("webhook", id)
}

/// Create a webhook
///
/// Subscribes a URL to the change log: every event after this moment that
/// the `audience` may read and whose type is among `event_types` is POSTed
/// to it, signed, in order. The secret (given, or made by the server) is in
/// this response only (and in the repeat of this response to a repeated
/// `Idempotency-Key`). Admins only.
#[utoipa::path(
    tag = "webhooks",
    request_body(content = NewWebhook, description = "The webhook", content_type = "application/json"),
    responses(
        (status = 201, description = "Created, with its secret", body = Webhook,
            headers(("Location" = String, description = "The webhook's URL"), ("ETag" = String, description = "Strong entity tag"))),
        responses::CreateErrors,
    ),
    security(("api_key" = [])),
)]
#[post("/v1/webhooks")]
pub async fn create_webhook(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    policy: web::Data<TargetPolicy>,
    Authorized(caller, ()): Admin,
    key: IdempotencyKey,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let members = commands::parse(&body.value, policy.allow_private)?;
    let secret = match members.secret {
        Some(secret) => secret,
        None => commands::generate_secret()?,
    };
    let mut conn = pool.get().await?;
    editing::create(&req, &mut conn, &caller, key, &body, |conn| {
        async move {
            // It gets what happens after its creation.
            let head = log::latest(conn).await?;
            let new = NewWebhookRow {
                url: members.url,
                event_types: members.event_types.unwrap_or_default(),
                audience: members
                    .audience
                    .unwrap_or(WebhookAudience::Public)
                    .as_str()
                    .into(),
                secret,
                active: members.active.unwrap_or(true),
                last_delivered_event_id: head,
            };
            let row = queries::insert(conn, &new).await?;
            let location = Webhook::url(row.id);
            Created::new(&Webhook::of(row, true), location)
        }
        .scope_boxed()
    })
    .await
}

/// Query parameters of the admin lists.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AdminPageQuery {
    /// Page size.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// List webhooks
///
/// Every webhook, oldest first. Admins only.
#[utoipa::path(
    tag = "webhooks",
    params(AdminPageQuery),
    responses(
        (status = 200, description = "One page of webhooks", body = Page<Webhook>),
        responses::BadRequest,
        responses::Unauthorized,
        responses::Forbidden,
        responses::Unavailable,
    ),
    security(("api_key" = [])),
)]
#[get("/v1/webhooks")]
pub async fn list_webhooks(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(_caller, ()): Admin,
    query: web::Query<AdminPageQuery>,
    cursors: web::Data<CursorKey>,
) -> Result<HttpResponse, AppError> {
    let scope = Scope::new(&cursors, "webhooks", &[]);
    let mut checker = Checker::new();
    let limit = checker.check(params::limit(query.limit.as_deref(), 20, 100));
    let after = checker
        .check(scope.after_id(query.cursor.as_deref()))
        .flatten();
    checker.finish()?;
    let limit = limit.unwrap_or_default();
    let mut conn = pool.get().await?;
    let rows = queries::page(&mut conn, after, limit).await?;
    let page = Page::from_rows(
        rows,
        limit,
        &scope,
        |row| Position::Id(row.id),
        |row| Webhook::of(row, false),
    );
    page.respond(&req, representation::Audience::Private, &Provenance::new())
}

/// Find a webhook
///
/// One webhook, with where its deliveries stand. Admins only.
#[utoipa::path(
    tag = "webhooks",
    params(ResourceId),
    responses(
        (status = 200, description = "The webhook", body = Webhook,
            headers(("ETag" = String, description = "Strong entity tag"))),
        responses::BadRequest,
        responses::Unauthorized,
        responses::Forbidden,
        responses::NotFound,
        responses::Unavailable,
    ),
    security(("api_key" = [])),
)]
#[get("/v1/webhooks/{id}")]
pub async fn find_webhook(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(_caller, ResourceId(id)): Admin<ResourceId>,
) -> Result<HttpResponse, AppError> {
    let mut conn = pool.get().await?;
    let row = queries::find(&mut conn, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    answer(&req, StatusCode::OK, &Webhook::of(row, false))
}

/// Update a webhook
///
/// A JSON merge patch (RFC 7396) of `url`, `event_types`, `audience`,
/// `secret` and `active`. `active: false` pauses deliveries (the cursor
/// stays, so nothing is lost); `active: true` on a failing webhook resumes
/// it at the event it gave up on. A new `secret` is shown in the response.
/// Admins only.
#[utoipa::path(
    tag = "webhooks",
    params(ResourceId),
    request_body(content = WebhookPatch, description = "A JSON merge patch of the webhook's members", content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated webhook", body = Webhook,
            headers(("ETag" = String, description = "Strong entity tag of the new representation"))),
        responses::BadBody,
        responses::WriteErrors,
        responses::NotFound,
    ),
    security(("api_key" = [])),
)]
#[patch("/v1/webhooks/{id}")]
pub async fn update_webhook(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    policy: web::Data<TargetPolicy>,
    Authorized(_caller, ResourceId(id)): Admin<ResourceId>,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let patch = body.value.clone();
    let allow_private = policy.allow_private;
    let mut conn = pool.get().await?;
    let (row, new_secret) = conn
        .transaction::<_, AppError, _>(|conn| {
            async move {
                let current = queries::lock(conn, id)
                    .await?
                    .ok_or_else(|| not_found(id))?;
                if !patch.is_object() {
                    return Err(AppError::Unprocessable(vec![
                        crate::error::InvalidInput::field("", "must be an object"),
                    ]));
                }
                if patch.get("secret").is_some_and(Value::is_null) {
                    return Err(AppError::Unprocessable(vec![
                        crate::error::InvalidInput::field(
                            "/secret",
                            "cannot be removed; send a new one",
                        ),
                    ]));
                }
                let stored = json!({
                    "url": current.url,
                    "event_types": current.event_types,
                    "audience": current.audience,
                    "active": current.active,
                });
                let merged = editing::merge(stored, &patch);
                let members = commands::parse(&merged, allow_private)?;
                let resumes = members.active == Some(true) && current.given_up_at.is_some();
                let new_secret = members.secret.is_some();
                let changes = WebhookChanges {
                    url: Some(members.url),
                    event_types: Some(members.event_types.unwrap_or_default()),
                    audience: Some(
                        members
                            .audience
                            .unwrap_or(WebhookAudience::Public)
                            .as_str()
                            .into(),
                    ),
                    secret: members.secret,
                    active: Some(members.active.unwrap_or(true)),
                    updated_at: Some(Utc::now()),
                };
                if resumes {
                    queries::resume(conn, id).await?;
                }
                Ok((queries::update(conn, id, &changes).await?, new_secret))
            }
            .scope_boxed()
        })
        .await?;
    answer(&req, StatusCode::OK, &Webhook::of(row, new_secret))
}

/// Delete a webhook
///
/// Stops its deliveries and forgets it with its delivery history. Admins only.
#[utoipa::path(
    tag = "webhooks",
    params(ResourceId),
    responses(
        (status = 204, description = "Deleted"),
        responses::BadRequest,
        responses::WriteErrors,
        responses::NotFound,
    ),
    security(("api_key" = [])),
)]
#[delete("/v1/webhooks/{id}")]
pub async fn delete_webhook(
    pool: web::Data<DbPool>,
    Authorized(_caller, ResourceId(id)): Admin<ResourceId>,
) -> Result<HttpResponse, AppError> {
    let mut conn = pool.get().await?;
    if queries::delete(&mut conn, id).await? == 0 {
        return Err(not_found(id));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// List a webhook's deliveries
///
/// Every attempt to deliver to it, newest first: the event, the attempt
/// number, the outcome, the receiver's status code or the error met, and
/// how long it took. Admins only.
#[utoipa::path(
    tag = "webhooks",
    params(ResourceId, AdminPageQuery),
    responses(
        (status = 200, description = "One page of attempts", body = Page<Delivery>),
        responses::BadRequest,
        responses::Unauthorized,
        responses::Forbidden,
        responses::NotFound,
        responses::Unavailable,
    ),
    security(("api_key" = [])),
)]
#[get("/v1/webhooks/{id}/deliveries")]
pub async fn list_deliveries(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(_caller, ResourceId(id)): Admin<ResourceId>,
    query: web::Query<AdminPageQuery>,
    cursors: web::Data<CursorKey>,
) -> Result<HttpResponse, AppError> {
    let scope = Scope::new(
        &cursors,
        "webhook-deliveries",
        &[("webhook", Some(&id.to_string()))],
    );
    let mut checker = Checker::new();
    let limit = checker.check(params::limit(query.limit.as_deref(), 20, 100));
    let before = checker
        .check(scope.after_id(query.cursor.as_deref()))
        .flatten();
    checker.finish()?;
    let limit = limit.unwrap_or_default();
    let mut conn = pool.get().await?;
    queries::find(&mut conn, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let rows = queries::deliveries(&mut conn, id, before, limit).await?;
    let page = Page::from_rows(
        rows,
        limit,
        &scope,
        |row| Position::Id(row.id),
        Delivery::from,
    );
    page.respond(&req, representation::Audience::Private, &Provenance::new())
}

/// The `{id}` and `{delivery_id}` of a delivery's path.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryPath {
    pub webhook: i64,
    pub delivery: i64,
}

impl FromRequest for DeliveryPath {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let info = req.match_info();
        std::future::ready((|| {
            let webhook = params::id("id", info.get("id").unwrap_or_default())?;
            let delivery = params::id("delivery_id", info.get("delivery_id").unwrap_or_default())?;
            Ok(Self { webhook, delivery })
        })())
    }
}

impl IntoParams for DeliveryPath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let id = |name: &str, description: &str| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(description))
                .schema(Some(Ref::from_schema_name("Id")))
                .build()
        };
        vec![
            id("id", "The webhook's id"),
            id("delivery_id", "The delivery's id"),
        ]
    }
}

/// Redeliver an event
///
/// Delivers the event of this attempt once more, soon, outside the ordered
/// stream (which goes on undisturbed); the attempt is listed among the
/// deliveries with `redelivery: true`. Admins only.
#[utoipa::path(
    tag = "webhooks",
    params(DeliveryPath),
    responses(
        (status = 202, description = "Queued", body = RedeliveryQueued),
        responses::BadRequest,
        responses::WriteErrors,
        responses::NotFound,
    ),
    security(("api_key" = [])),
)]
#[post("/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver")]
pub async fn redeliver(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(_caller, path): Admin<DeliveryPath>,
) -> Result<HttpResponse, AppError> {
    let mut conn = pool.get().await?;
    let delivery = queries::find_delivery(&mut conn, path.webhook, path.delivery)
        .await?
        .ok_or_else(|| AppError::not_found("delivery of this webhook", path.delivery))?;
    queries::queue_redelivery(&mut conn, path.webhook, delivery.event_id).await?;
    let queued = RedeliveryQueued {
        event_id: delivery.event_id,
        deliveries_url: format!("/v1/webhooks/{}/deliveries", path.webhook),
    };
    answer(&req, StatusCode::ACCEPTED, &queued)
}
