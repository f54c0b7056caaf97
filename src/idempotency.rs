//! Safe retries for creates: the first response to an `Idempotency-Key` is
//! stored in the same transaction as the create it answers, and a repeat of
//! the key (by the same API key) gets that response again instead of a
//! second create.
//!
//! The key is claimed before anything is written. A concurrent repeat blocks
//! on the claim until the first request commits, then replays its answer; if
//! the first request fails, its claim is rolled back with it.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{AppError, InvalidInput};
use crate::schema::idempotent_requests;

pub const HEADER: &str = "Idempotency-Key";

/// The request's `Idempotency-Key`, if it sent one.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub Option<String>);

impl FromRequest for IdempotencyKey {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = match req.headers().get(HEADER) {
            None => Ok(Self(None)),
            Some(value) => match value.to_str() {
                Ok(key)
                    if (1..=255).contains(&key.len())
                        && key.bytes().all(|b| b.is_ascii_graphic()) =>
                {
                    Ok(Self(Some(key.to_string())))
                }
                _ => Err(AppError::InvalidInputs(vec![InvalidInput::new(
                    HEADER,
                    "must be 1 to 255 visible ASCII characters",
                )])),
            },
        };
        std::future::ready(parsed)
    }
}

/// A response stored for replay.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = idempotent_requests, check_for_backend(diesel::pg::Pg))]
pub struct Stored {
    request_hash: Vec<u8>,
    status: i16,
    headers: Value,
    body: Vec<u8>,
}

impl Stored {
    /// The stored response, marked as a replay.
    pub fn replay(self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status as u16).unwrap_or(StatusCode::OK);
        let mut response = HttpResponse::build(status);
        if let Value::Object(headers) = self.headers {
            for (name, value) in headers {
                if let Some(value) = value.as_str() {
                    response.insert_header((name, value.to_string()));
                }
            }
        }
        response
            .insert_header(("Idempotent-Replayed", "true"))
            .insert_header(("Cache-Control", "private, no-store"))
            .content_type("application/json")
            .body(self.body)
    }
}

/// A fingerprint of what was asked, so that a key reused for a different
/// request is refused rather than answered with an unrelated response.
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    Sha256::new()
        .chain_update(method.as_bytes())
        .chain_update(b" ")
        .chain_update(path.as_bytes())
        .chain_update(b"\n")
        .chain_update(body)
        .finalize()
        .to_vec()
}

/// Claims `key` for this request inside the current transaction. `Some` is the
/// first request's response, to replay instead of writing anything.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    api_key_id: i64,
    key: &str,
    request_hash: &[u8],
) -> Result<Option<Stored>, AppError> {
    let claimed = diesel::insert_into(idempotent_requests::table)
        .values((
            idempotent_requests::api_key_id.eq(api_key_id),
            idempotent_requests::idempotency_key.eq(key),
            idempotent_requests::request_hash.eq(request_hash),
            idempotent_requests::status.eq(0),
            idempotent_requests::body.eq(Vec::<u8>::new()),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if claimed == 1 {
        return Ok(None);
    }
    let stored: Stored = idempotent_requests::table
        .filter(idempotent_requests::api_key_id.eq(api_key_id))
        .filter(idempotent_requests::idempotency_key.eq(key))
        .select(Stored::as_select())
        .first(conn)
        .await?;
    if stored.request_hash != request_hash {
        return Err(AppError::Unprocessable(vec![InvalidInput::new(
            HEADER,
            "was already used for a different request; use a new key for a new request",
        )]));
    }
    Ok(Some(stored))
}

/// Stores the response to the claimed key, in the same transaction as the write.
pub async fn record(
    conn: &mut AsyncPgConnection,
    api_key_id: i64,
    key: &str,
    status: StatusCode,
    headers: &[(&str, &str)],
    body: &[u8],
) -> QueryResult<()> {
    let headers: Map<String, Value> = headers
        .iter()
        .map(|(name, value)| (name.to_string(), Value::String(value.to_string())))
        .collect();
    diesel::update(
        idempotent_requests::table
            .filter(idempotent_requests::api_key_id.eq(api_key_id))
            .filter(idempotent_requests::idempotency_key.eq(key)),
    )
    .set((
        idempotent_requests::status.eq(status.as_u16() as i16),
        idempotent_requests::headers.eq(Value::Object(headers)),
        idempotent_requests::body.eq(body),
    ))
    .execute(conn)
    .await
    .map(drop)
}

#[cfg(test)]
mod fuzz {
    use actix_web::http::header::HeaderValue;
    use actix_web::test::TestRequest;
    use actix_web::ResponseError;
    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing::{config, hostile_text, json_value};

    proptest! {
        #![proptest_config(config(256))]

        /// `Idempotency-Key`: any header value is read without a panic;
        /// accepted, as sent, exactly when it is 1 to 255 visible ASCII
        /// characters; else a 400 naming the header.
        #[test]
        fn fuzz_an_idempotency_key_is_visible_ascii(
            raw in prop_oneof![
                hostile_text().prop_map(String::into_bytes),
                proptest::collection::vec(any::<u8>(), 0..300),
                "[!-~]{250,260}".prop_map(String::into_bytes),
            ],
        ) {
            let Ok(value) = HeaderValue::from_bytes(&raw) else {
                return Ok(());
            };
            let req = TestRequest::default().insert_header((HEADER, value)).to_http_request();
            let read = IdempotencyKey::from_request(&req, &mut Payload::None).into_inner();
            let rule = (1..=255).contains(&raw.len()) && raw.iter().all(u8::is_ascii_graphic);
            match read {
                Ok(IdempotencyKey(key)) => {
                    prop_assert!(rule);
                    prop_assert_eq!(key.map(String::into_bytes), Some(raw));
                }
                Err(error) => {
                    prop_assert!(!rule);
                    prop_assert_eq!(error.status_code(), StatusCode::BAD_REQUEST);
                }
            }
        }

        /// A stored answer replays whatever its stored parts hold, without
        /// a panic, marked as a replay.
        #[test]
        fn fuzz_a_stored_answer_replays_whatever_it_holds(
            status in any::<i16>(),
            headers in json_value(),
            body in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let stored = Stored { request_hash: Vec::new(), status, headers, body };
            let replayed = stored.replay();
            if replayed.status() != StatusCode::INTERNAL_SERVER_ERROR {
                prop_assert!(replayed.headers().contains_key("idempotent-replayed"));
            }
        }
    }
}
