//! Who a request comes from: the socket peer, or, behind trusted proxies,
//! the client they name. Everything that treats clients apart (the view
//! beacon's visitors, the throttle on failed authentications) asks here, so
//! that all of them agree on who a client is and none can be fooled by a
//! header the client wrote itself.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use actix_web::http::header::{self, HeaderMap, HeaderName};
use actix_web::HttpRequest;

/// Finds a request's client address, given the proxies trusted to name it.
#[derive(Debug, Clone, Default)]
pub struct ClientAddresses {
    trusted_proxies: Vec<IpAddr>,
}

impl ClientAddresses {
    pub fn new(trusted_proxies: Vec<IpAddr>) -> Self {
        Self { trusted_proxies }
    }

    /// The client's address: the socket peer, or what a trusted proxy in
    /// front of us says the client was.
    pub fn of(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        forwarded_for(req, &self.trusted_proxies).or(Some(peer))
    }
}

/// The network one machine answers from: an IPv4 address itself, but for
/// IPv6 the /64 it sits in, since one host commonly holds a whole /64 and can
/// take a new address from it for every request.
pub fn host_network(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

/// The client as the trusted proxies in front of us name it: the entries of
/// `Forwarded` (RFC 7239), or else of `X-Forwarded-For`, read from the right
/// (each proxy appends the address it was sent from) past those naming a
/// trusted proxy. Entries further left are whatever the client sent, so a
/// client cannot pass for another by sending the header itself.
fn forwarded_for(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
    let headers = req.headers();
    if headers.contains_key(header::FORWARDED) {
        let elements = from_the_right(headers, &header::FORWARDED);
        return nearest_untrusted(elements.map(forwarded_node), trusted);
    }
    let entries = from_the_right(headers, &X_FORWARDED_FOR);
    nearest_untrusted(
        entries.map(|entry| parse_ip(std::str::from_utf8(entry).ok()?.trim())),
        trusted,
    )
}

/// The comma-separated entries of every `name` header line, the last first.
fn from_the_right<'a>(headers: &'a HeaderMap, name: &HeaderName) -> impl Iterator<Item = &'a [u8]> {
    headers
        .get_all(name)
        .rev()
        .flat_map(|line| line.as_bytes().rsplit(|b| *b == b','))
}

/// The first address, from the nearest proxy on, that is not a trusted
/// proxy; `None` at an entry that names no address, as nothing left of it
/// can be vouched for.
fn nearest_untrusted(
    entries: impl Iterator<Item = Option<IpAddr>>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    for entry in entries {
        match entry {
            Some(ip) if trusted.contains(&ip) => continue,
            other => return other,
        }
    }
    None
}

/// The address in one `Forwarded` element's `for=` (`for=192.0.2.43:47011`,
/// `for="[2001:db8::17]:4711"`); `None` for `unknown`, obfuscated names or
/// no `for` at all.
fn forwarded_node(element: &[u8]) -> Option<IpAddr> {
    let element = std::str::from_utf8(element).ok()?;
    element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        if !name.eq_ignore_ascii_case("for") {
            return None;
        }
        let value = value.trim_matches('"');
        let host = value
            .strip_prefix('[')
            .and_then(|v| v.split(']').next())
            .unwrap_or_else(|| value.split(':').next().unwrap_or(value));
        parse_ip(host)
    })
}

/// Parses an address as the family its text shows (`IpAddr`'s own parser
/// tries IPv4 first, even on IPv6 text).
fn parse_ip(text: &str) -> Option<IpAddr> {
    if text.contains(':') {
        text.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        text.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_host_is_its_64_and_an_ipv4_host_its_address() {
        let network = |text: &str| host_network(text.parse().unwrap()).to_string();
        assert_eq!(network("203.0.113.7"), "203.0.113.7");
        assert_eq!(
            network("2001:db8:1:2:aaaa:bbbb:cccc:dddd"),
            "2001:db8:1:2::"
        );
        assert_eq!(network("::ffff:203.0.113.7"), "203.0.113.7");
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_anyone_else_is_the_client() {
        use actix_web::test::TestRequest;
        let proxy = "10.0.0.1:40000".parse().unwrap();
        let clients = ClientAddresses::new(vec!["10.0.0.1".parse().unwrap()]);
        let address = |peer, name: &str, value: &str| {
            let req = TestRequest::default().peer_addr(peer);
            let req = if name.is_empty() {
                req
            } else {
                req.insert_header((name, value))
            };
            clients.of(&req.to_http_request()).map(|ip| ip.to_string())
        };
        let cases = [
            ("x-forwarded-for", "203.0.113.7, 10.0.0.1", "203.0.113.7"),
            ("x-forwarded-for", " 2001:db8::7 ", "2001:db8::7"),
            (
                "forwarded",
                "for=192.0.2.60;proto=http, for=10.0.0.1",
                "192.0.2.60",
            ),
            (
                "forwarded",
                "for=\"[2001:db8:cafe::17]:4711\"",
                "2001:db8:cafe::17",
            ),
            ("forwarded", "for=192.0.2.43:47011", "192.0.2.43"),
            ("x-forwarded-for", "unknown", "10.0.0.1"),
            // What the client sent sits left of what the proxy appended.
            (
                "x-forwarded-for",
                "198.51.100.1, 203.0.113.7",
                "203.0.113.7",
            ),
            (
                "x-forwarded-for",
                "198.51.100.1, 203.0.113.7, 10.0.0.1",
                "203.0.113.7",
            ),
            (
                "forwarded",
                "for=198.51.100.1, for=203.0.113.7;proto=https",
                "203.0.113.7",
            ),
            ("", "", "10.0.0.1"),
        ];
        for (name, value, client) in cases {
            assert_eq!(
                address(proxy, name, value).as_deref(),
                Some(client),
                "{name}: {value}"
            );
        }
        let stranger = "198.51.100.9:5000".parse().unwrap();
        assert_eq!(
            address(stranger, "x-forwarded-for", "203.0.113.7").as_deref(),
            Some("198.51.100.9"),
            "an untrusted peer cannot name another client"
        );
    }
}
