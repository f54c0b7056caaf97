//! The one way this server calls out: a POST of one signed event to a
//! webhook's URL. Redirects are not followed, no proxy is taken from the
//! environment, at most 64 KiB of an answer is read, and no address inward
//! (loopback, private, link-local, shared, multicast, unspecified, unique
//! local) is connected to unless private targets are allowed: an IP literal
//! is refused before connecting, and a host name through the resolver, so
//! that a name which resolves inward (DNS rebinding) is refused too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sha2::Sha256;

use super::settings::WebhookSettings;

/// What a delivery sends as `User-Agent`.
pub const USER_AGENT: &str = concat!("Broadsheet-Webhooks/", env!("CARGO_PKG_VERSION"));

/// The most of an answer's body read before it is dropped.
const MAX_ANSWER: usize = 64 * 1024;

/// Whether an address is one a webhook may not reach: anything but the
/// public internet.
pub fn is_inward(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_inward_v4(v4),
        IpAddr::V6(v6) => is_inward_v6(v6),
    }
}

fn is_inward_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || a == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, 192.0.0.0/24.
        || (a == 192 && b == 0 && c == 0)
        // Benchmarking, 198.18.0.0/15.
        || (a == 198 && (18..20).contains(&b))
        // Reserved, 240.0.0.0/4.
        || a >= 240
}

fn is_inward_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_inward_v4(v4);
    }
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local, fc00::/7.
        || (first & 0xfe00) == 0xfc00
        // Link-local, fe80::/10.
        || (first & 0xffc0) == 0xfe80
        // Site-local (deprecated), fec0::/10.
        || (first & 0xffc0) == 0xfec0
}

/// Why a URL's host may not be a target, when it is an IP literal inward.
pub fn refused_literal(url: &url::Url) -> Option<IpAddr> {
    let ip = match url.host()? {
        url::Host::Ipv4(v4) => IpAddr::V4(v4),
        url::Host::Ipv6(v6) => IpAddr::V6(v6),
        url::Host::Domain(_) => return None,
    };
    is_inward(ip).then_some(ip)
}

/// Every resolved address inward was dropped.
#[derive(Debug, thiserror::Error)]
#[error("{0} resolves only to private addresses")]
struct ResolvesInward(String);

/// The system resolver, dropping inward addresses.
struct OutwardResolver;

impl Resolve for OutwardResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let outward: Vec<SocketAddr> = found.filter(|addr| !is_inward(addr.ip())).collect();
            if outward.is_empty() {
                return Err(Box::new(ResolvesInward(host)) as _);
            }
            Ok(Box::new(outward.into_iter()) as Addrs)
        })
    }
}

/// What became of one attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub delivered: bool,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration: Duration,
}

/// The error of an attempt refused before connecting.
pub const REFUSED_PRIVATE: &str = "refused private address";

/// The HTTP client every delivery of an instance shares.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    allow_private: bool,
}

impl Outbound {
    pub fn new(settings: &WebhookSettings) -> Result<Self, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if !settings.allow_private_targets {
            builder = builder.dns_resolver(std::sync::Arc::new(OutwardResolver));
        }
        Ok(Self {
            client: builder.build()?,
            allow_private: settings.allow_private_targets,
        })
    }

    /// POSTs `body`, signed with `secret`, to `url`.
    pub async fn deliver(
        &self,
        url: &str,
        secret: &str,
        body: &[u8],
        event: Headers<'_>,
    ) -> Attempt {
        let started = Instant::now();
        let failed = |error: String, status_code: Option<u16>| Attempt {
            delivered: false,
            status_code,
            error: Some(error),
            duration: started.elapsed(),
        };
        let Ok(parsed) = url::Url::parse(url) else {
            return failed("invalid URL".into(), None);
        };
        if !self.allow_private && refused_literal(&parsed).is_some() {
            return failed(REFUSED_PRIVATE.into(), None);
        }
        let timestamp = chrono::Utc::now().timestamp();
        let request = self
            .client
            .post(parsed)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Broadsheet-Event-Id", event.id.to_string())
            .header("Broadsheet-Event-Type", event.event_type)
            .header("Broadsheet-Delivery-Id", event.delivery_id.to_string())
            .header("Broadsheet-Signature", signature(secret, timestamp, body))
            .body(body.to_vec());
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) => return failed(describe(&error), None),
        };
        let status = response.status();
        // Read a little of the answer, so that the connection can be reused
        // when the receiver answers briefly, and drop the rest.
        let mut read = 0;
        while read < MAX_ANSWER {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                _ => break,
            }
        }
        if status.is_success() {
            Attempt {
                delivered: true,
                status_code: Some(status.as_u16()),
                error: None,
                duration: started.elapsed(),
            }
        } else {
            failed(
                format!("answered {}", status.as_u16()),
                Some(status.as_u16()),
            )
        }
    }
}

/// The event's headers.
#[derive(Debug, Clone, Copy)]
pub struct Headers<'a> {
    pub id: i64,
    pub event_type: &'a str,
    pub delivery_id: i64,
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// A short, stable account of why a request failed, for admins to read.
fn describe(error: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if cause.downcast_ref::<ResolvesInward>().is_some() {
            return REFUSED_PRIVATE.into();
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused".into(),
                std::io::ErrorKind::ConnectionReset => return "connection reset".into(),
                std::io::ErrorKind::TimedOut => return "timeout".into(),
                _ => {}
            }
        }
        source = cause.source();
    }
    if error.is_timeout() {
        return "timeout".into();
    }
    let mut root: &dyn std::error::Error = error;
    while let Some(cause) = root.source() {
        root = cause;
    }
    if error.is_connect() {
        format!("connection failed: {root}")
    } else {
        format!("request failed: {root}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inward_addresses_are_told_from_public_ones() {
        for inward in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_inward(inward.parse().unwrap()), "{inward}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "100.128.0.1",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_inward(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn the_signature_is_the_hmac_of_the_timestamp_and_body() {
        // Computed independently:
        // `printf '1700000000.{}' | openssl dgst -sha256 -hmac secret`.
        assert_eq!(
            signature("secret", 1_700_000_000, b"{}"),
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }
}
