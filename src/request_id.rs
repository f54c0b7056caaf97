//! `X-Request-Id`: every request has one and every response says it, so
//! that what a client saw (a 500, a slow answer) can be found in the log.
//! A client's own id is kept when it is 1 to 128 characters of a safe set
//! (letters, digits and `._:@/+=-`, what trace and correlation ids use);
//! anything else, or none, is replaced by 128 random bits in hex. The
//! access log line (`app::build`'s `Logger`) prints the id, read from the
//! request after this middleware has settled it.
//!
//! It wraps everything else, so that no response, whichever layer made it
//! (a 429, a preflight, a problem for an unknown file under `/docs`), goes
//! out without the id.

use std::future::Future;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client id kept.
pub const MAX_LEN: usize = 128;

/// Whether a client's id is kept as it is.
fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=MAX_LEN).contains(&bytes.len())
        && bytes.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'.' | b'_' | b':' | b'@' | b'/' | b'+' | b'=' | b'-')
        })
}

/// A new id: 32 lowercase hex digits.
fn generate() -> HeaderValue {
    // A random 64-bit prefix per thread, drawn once, and a count of the
    // thread's ids: unique across threads, instances and restarts without a
    // system call per request. An id is a label to find log lines by, not a
    // secret, so it need not be unpredictable.
    thread_local! {
        static NEXT: std::cell::Cell<(u64, u64)> = std::cell::Cell::new((prefix(), 0));
    }
    let (prefix, count) = NEXT.with(|next| {
        let (prefix, count) = next.get();
        next.set((prefix, count.wrapping_add(1)));
        (prefix, count)
    });
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 32];
    let bits = (u128::from(prefix) << 64) | u128::from(count);
    for (i, digit) in text.iter_mut().enumerate() {
        *digit = HEX[((bits >> (124 - 4 * i)) & 0xf) as usize];
    }
    HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

fn prefix() -> u64 {
    let mut random = [0u8; 8];
    if let Err(error) = getrandom::fill(&mut random) {
        log::warn!("no random bytes for request ids: {error}");
    }
    u64::from_ne_bytes(random)
}

/// The middleware: settles the request's id (the client's, or a new one),
/// so that everything inside reads the same one, and puts it on the response.
pub fn tag<S, B>(
    mut req: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: 'static,
{
    let id = match req.headers().get(&X_REQUEST_ID) {
        Some(id) if acceptable(id) && req.headers().get_all(&X_REQUEST_ID).count() == 1 => {
            id.clone()
        }
        _ => {
            let id = generate();
            req.headers_mut().insert(X_REQUEST_ID.clone(), id.clone());
            id
        }
    };
    let response = CURRENT.scope(id.clone(), service.call(req));
    async move {
        let mut response = response.await?;
        response.headers_mut().insert(X_REQUEST_ID.clone(), id);
        Ok(response)
    }
}

tokio::task_local! {
    /// The id of the request being answered, for log lines written on its
    /// way (an internal error's cause), which have no request at hand.
    static CURRENT: HeaderValue;
}

/// ` (request ID)` while a request is being answered, else nothing: for
/// log lines about a request.
pub fn in_log() -> String {
    CURRENT
        .try_with(|id| format!(" (request {})", String::from_utf8_lossy(id.as_bytes())))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_safe_id_of_up_to_128_characters_is_kept() {
        for kept in [
            "a",
            "0af7651916cd43dd8448eb211c80319c",
            "trace:1/2@edge+x=y-z_w.v",
        ] {
            assert!(acceptable(&HeaderValue::from_static(kept)), "{kept}");
        }
        assert!(acceptable(
            &HeaderValue::from_str(&"x".repeat(128)).unwrap()
        ));
        for replaced in ["", "has space", "semi;colon", "quote\"", "é"] {
            let value = HeaderValue::from_bytes(replaced.as_bytes()).unwrap();
            assert!(!acceptable(&value), "{replaced}");
        }
        assert!(!acceptable(
            &HeaderValue::from_str(&"x".repeat(129)).unwrap()
        ));
    }

    #[test]
    fn a_new_id_is_32_hex_digits_and_new_each_time() {
        let (one, two) = (generate(), generate());
        assert_eq!(one.len(), 32);
        assert!(one.as_bytes().iter().all(u8::is_ascii_hexdigit));
        assert_ne!(one, two);
    }
}
