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

#[cfg(test)]
mod fuzz {
    use actix_web::http::StatusCode;
    use actix_web::test::TestRequest;
    use actix_web::ResponseError;
    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing::{config, hostile_text, json_value};

    const MAX: usize = 2048;

    fn content_type() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(
                &[
                    "application/json",
                    "application/merge-patch+json",
                    "APPLICATION/JSON",
                    "application/json; charset=utf-8",
                    " application/json ;x",
                    "application/jsonx",
                    "application/json-seq",
                    "text/plain",
                    "multipart/form-data; boundary=x",
                    "",
                ][..]
            )
            .prop_map(str::to_string),
            hostile_text(),
        ]
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            3 => json_value().prop_map(|value| serde_json::to_vec(&value).unwrap()),
            1 => proptest::collection::vec(any::<u8>(), 0..64),
            1 => hostile_text().prop_map(String::into_bytes),
            1 => (1..4 * MAX).prop_map(|n| format!("{{\"a\":\"{}\"}}", "x".repeat(n)).into_bytes()),
            1 => (1..200usize).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()),
        ]
    }

    proptest! {
        #![proptest_config(config(128))]

        /// Any body under any content type and declared length: never a
        /// panic, and the answer is the one its rule gives: 415 unless
        /// JSON, 413 past the limit (announced or sent), 400 unless JSON
        /// parses, 422 unless an object; else the object, bytes kept.
        #[test]
        fn fuzz_a_json_body_is_read_or_refused_by_its_rule(
            content_type in content_type(),
            bytes in body(),
            declared in proptest::option::of(prop_oneof![
                (0..3 * MAX).prop_map(|n| n.to_string()),
                hostile_text(),
            ]),
        ) {
            let mut request = TestRequest::post()
                .app_data(web::Data::new(BodyLimits {
                    max_bytes: MAX,
                    timeout: Duration::from_secs(10),
                }))
                .set_payload(bytes.clone());
            if let Ok(value) = header::HeaderValue::from_str(&content_type) {
                request = request.insert_header((header::CONTENT_TYPE, value));
            }
            if let Some(value) = declared.and_then(|d| header::HeaderValue::from_str(&d).ok()) {
                request = request.insert_header((header::CONTENT_LENGTH, value));
            }
            let (req, mut payload) = request.to_http_parts();
            let read = actix_web::rt::System::new()
                .block_on(JsonBody::from_request(&req, &mut payload));

            let sent_type = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let announced = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok());
            let parsed = serde_json::from_slice::<Value>(&bytes);
            let expected = if !is_json(sent_type) {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            } else if bytes.len() > MAX || announced.is_some_and(|n| n > MAX) {
                StatusCode::PAYLOAD_TOO_LARGE
            } else if parsed.is_err() {
                StatusCode::BAD_REQUEST
            } else if !parsed.as_ref().is_ok_and(Value::is_object) {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            match read {
                Ok(body) => {
                    prop_assert_eq!(expected, StatusCode::OK);
                    prop_assert_eq!(&body.bytes[..], &bytes[..]);
                    prop_assert_eq!(Some(body.value), parsed.ok());
                }
                Err(error) => prop_assert_eq!(error.status_code(), expected),
            }
        }

        /// The media type's essence decides, in any case and with any
        /// parameters.
        #[test]
        fn fuzz_only_json_media_types_are_json(content_type in content_type()) {
            let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            prop_assert_eq!(
                is_json(&content_type),
                essence == "application/json" || essence == "application/merge-patch+json"
            );
        }
    }
}
