//! Request bodies: JSON only, bounded in size and in the time a client may
//! take to send them.
//!
//! actix reads bodies without a deadline: a client that announces 100 bytes
//! and sends one would hold its request open until it gives up. Here the
//! whole body must arrive within the configured time, or the answer is 408.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde_json::Value;

use crate::error::AppError;

/// How large a body may be and how long it may take to arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub timeout: Duration,
}

impl Default for BodyLimits {
    fn default() -> Self {
        Self {
            max_bytes: 1024 * 1024,
            timeout: Duration::from_secs(10),
        }
    }
}

/// A request body that is a JSON object (`application/json`, or
/// `application/merge-patch+json` for updates), with the raw bytes kept for
/// idempotency fingerprints.
#[derive(Debug)]
pub struct JsonBody {
    pub value: Value,
    pub bytes: web::Bytes,
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence == "application/merge-patch+json"
}

/// The limits configured for the app (the defaults when none are).
pub fn limits(req: &HttpRequest) -> BodyLimits {
    req.app_data::<web::Data<BodyLimits>>()
        .map(|limits| *limits.get_ref())
        .unwrap_or_default()
}

/// Reads a whole body within `limits`: 413 past `max_bytes`, whether the
/// client announced the length or streams it, 408 past `timeout`.
pub async fn collect(
    req: &HttpRequest,
    mut payload: Payload,
    limits: BodyLimits,
) -> Result<web::Bytes, AppError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limits.max_bytes) {
        return Err(AppError::PayloadTooLarge {
            limit: limits.max_bytes,
        });
    }
    let collect = async {
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk
                .map_err(|e| AppError::BadRequest(format!("the body could not be read: {e}")))?;
            if body.len() + chunk.len() > limits.max_bytes {
                return Err(AppError::PayloadTooLarge {
                    limit: limits.max_bytes,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    tokio::time::timeout(limits.timeout, collect)
        .await
        .map_err(|_| {
            AppError::RequestTimeout(format!(
                "the body did not arrive within {} s",
                limits.timeout.as_secs()
            ))
        })?
}

async fn read(req: HttpRequest, payload: Payload) -> Result<JsonBody, AppError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !is_json(content_type) {
        return Err(AppError::UnsupportedMediaType(format!(
            "send the body as application/json (or application/merge-patch+json), not `{}`",
            if content_type.is_empty() {
                "nothing"
            } else {
                content_type
            }
        )));
    }
    let bytes = collect(&req, payload, limits(&req)).await?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| AppError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(AppError::Unprocessable(vec![
            crate::error::InvalidInput::field("", "must be a JSON object"),
        ]));
    }
    Ok(JsonBody { value, bytes })
}

impl FromRequest for JsonBody {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        Box::pin(read(req.clone(), payload.take()))
    }
}
