//! The client's address behind a reverse proxy. The TCP peer is the client
//! unless it is one of `server.trusted_proxies`; then the client is the
//! right-most address of `X-Forwarded-For` that is not itself a trusted
//! proxy (each proxy appends the address it received from, so everything
//! left of that may be forged by the client), else `X-Real-IP`, else the
//! peer. A header from an untrusted peer is ignored. Used by the sign-in
//! limit per address and in the request log.

use actix_web::dev::ServiceRequest;
use actix_web::{web, HttpRequest};
use std::net::IpAddr;

/// An address block: `10.0.0.0/8`, `::1/128`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    len: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Cidr {
            net: net.to_canonical(),
            len,
        })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// `server.trusted_proxies`, parsed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    pub fn parse(list: &[String]) -> Result<Self, String> {
        list.iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.parse())
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client of a request that came from `peer` with these headers.
    pub fn client(
        &self,
        peer: Option<IpAddr>,
        forwarded_for: Option<&str>,
        real_ip: Option<&str>,
    ) -> Option<IpAddr> {
        let peer = peer?.to_canonical();
        if !self.trusts(peer) {
            return Some(peer);
        }
        if let Some(xff) = forwarded_for {
            let mut last = None;
            for hop in xff.rsplit(',') {
                let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                    // Garbage: nothing left of it can be believed.
                    break;
                };
                let ip = ip.to_canonical();
                last = Some(ip);
                if !self.trusts(ip) {
                    return Some(ip);
                }
            }
            // Every hop is a trusted proxy: the left-most one is the client.
            if let Some(ip) = last {
                return Some(ip);
            }
        }
        if let Some(ip) = real_ip.and_then(|v| v.trim().parse::<IpAddr>().ok()) {
            return Some(ip.to_canonical());
        }
        Some(peer)
    }

    pub fn of_request(&self, req: &HttpRequest) -> Option<IpAddr> {
        self.of_parts(req.peer_addr().map(|a| a.ip()), req.headers())
    }

    pub fn of_service_request(&self, req: &ServiceRequest) -> Option<IpAddr> {
        self.of_parts(req.peer_addr().map(|a| a.ip()), req.headers())
    }

    fn of_parts(
        &self,
        peer: Option<IpAddr>,
        headers: &actix_web::http::header::HeaderMap,
    ) -> Option<IpAddr> {
        // Several X-Forwarded-For lines are one list, in order.
        let xff: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .collect();
        let xff = (!xff.is_empty()).then(|| xff.join(","));
        let real = headers.get("x-real-ip").and_then(|v| v.to_str().ok());
        self.client(peer, xff.as_deref(), real)
    }
}

/// The server's `server.trusted_proxies` (none in tests' in-process calls).
fn proxies_of(req: &HttpRequest) -> Option<&TrustedProxies> {
    req.app_data::<web::Data<crate::state::AppState>>()
        .map(|s| &s.proxies)
}

/// Whether the client reached us over TLS. This server listens in plain HTTP
/// (TLS ends at the proxy), so only a trusted proxy can say so, with
/// `X-Forwarded-Proto: https` or `Forwarded: proto=https`; from any other
/// peer those headers are the client's own words and are ignored (else a
/// client could get a Secure cookie over plain HTTP, or deny one to others).
pub fn over_tls(req: &HttpRequest) -> bool {
    if req.app_config().secure() {
        return true;
    }
    let peer = req.peer_addr().map(|a| a.ip());
    match (proxies_of(req), peer) {
        (Some(p), Some(peer)) if p.trusts(peer) => forwarded_https(req.headers()),
        _ => false,
    }
}

/// `https` named by the proxy's scheme headers (the first hop's, which is the
/// one the client used).
fn forwarded_https(headers: &actix_web::http::header::HeaderMap) -> bool {
    if let Some(proto) = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        return proto
            .split(',')
            .next()
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    }
    headers
        .get("forwarded")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|hop| {
            hop.split(';').any(|pair| {
                pair.split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("proto")
                        && v.trim().trim_matches('"').eq_ignore_ascii_case("https")
                })
            })
        })
}

/// The client address of a request (see the module), as text for the
/// sign-in limit and logs; "unknown" without a peer (tests' in-process calls).
pub fn client_addr(req: &HttpRequest) -> String {
    let ip = match proxies_of(req) {
        Some(p) => p.of_request(req),
        None => req.peer_addr().map(|a| a.ip()),
    };
    ip.map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_blocks() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains(ip("10.200.1.2")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.0.0.1")));
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")) && !all.contains(ip("::1")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("localhost".parse::<Cidr>().is_err());
    }

    #[test]
    fn headers_count_only_from_a_trusted_peer() {
        let p = TrustedProxies::parse(&["127.0.0.1/32".into(), "10.0.0.0/8".into()]).unwrap();
        let proxy = Some(ip("127.0.0.1"));
        // Right-most untrusted hop; a forged left part is skipped.
        assert_eq!(
            p.client(proxy, Some("6.6.6.6, 203.0.113.7, 10.1.1.1"), None),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            p.client(proxy, None, Some("203.0.113.8")),
            Some(ip("203.0.113.8"))
        );
        // Garbage in the list: the peer's own view wins.
        assert_eq!(
            p.client(proxy, Some("203.0.113.7, nonsense"), None),
            Some(ip("127.0.0.1"))
        );
        // From an untrusted peer the headers are ignored.
        assert_eq!(
            p.client(
                Some(ip("198.51.100.1")),
                Some("203.0.113.7"),
                Some("1.2.3.4")
            ),
            Some(ip("198.51.100.1"))
        );
        // No proxies configured: always the peer.
        assert_eq!(
            TrustedProxies::default().client(proxy, Some("203.0.113.7"), None),
            proxy
        );
    }
}
