//! Server-side request forgery guard: webhook URLs must not reach the
//! server's own network (loopback, private, link-local, carrier-grade NAT,
//! unique-local, multicast, unspecified) unless `webhooks.allow_private_urls`
//! says so. Checked when a URL is saved and again at every connection
//! (the resolver below), so a name that later resolves inward is refused too.

use crate::error::{Error, Result};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// True for addresses a webhook may reach from the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link local fe80::/10
                || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 of anything
                || s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && (o[1] == 18 || o[1] == 19)) // benchmarking
        || o[0] >= 240)
}

/// A parsed, checked webhook URL and its host.
pub struct CheckedUrl {
    pub url: String,
    pub host: String,
}

/// Parses and checks a webhook URL: http(s), a host, no credentials, at
/// most 2,000 characters; the host must resolve and every address must be
/// public unless `allow_private`.
pub async fn check_url(raw: &str, allow_private: bool) -> Result<CheckedUrl> {
    let bad = |m: &str| Error::invalid("url", m.to_owned());
    let raw = raw.trim();
    if raw.len() > 2000 {
        return Err(bad("must be at most 2000 characters"));
    }
    let url = Url::parse(raw).map_err(|e| bad(&format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must be an http:// or https:// URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "must not carry credentials; the signature authenticates us",
        ));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("must name a host"))?
        .to_ascii_lowercase();
    let port = url.port_or_known_default().unwrap_or(80);
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<IpAddr> = match literal.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| bad(&format!("host {host} does not resolve: {e}")))?
            .map(|a| a.ip())
            .collect(),
    };
    if addrs.is_empty() {
        return Err(bad(&format!("host {host} does not resolve")));
    }
    if !allow_private {
        if let Some(ip) = addrs.iter().find(|ip| !is_public(**ip)) {
            return Err(Error::invalid(
                "url",
                format!(
                    "{host} resolves to {ip}, a loopback, private or link-local address; \
                     webhooks go to public addresses only"
                ),
            ));
        }
    }
    Ok(CheckedUrl {
        url: url.to_string(),
        host,
    })
}

/// True when a literal IP host may be connected to (names go through the
/// resolver, which filters by itself).
pub fn literal_allowed(url: &Url, allow_private: bool) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(ip) => allow_private || is_public(ip),
        Err(_) => true,
    }
}

/// The delivery client's resolver: drops non-public addresses at connect
/// time (DNS rebinding), unless private addresses are allowed.
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow || is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn inward_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn private_urls_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9/x",
            "http://localhost/x",
            "http://[::1]/x",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.5/hook",
        ] {
            match check_url(url, false).await {
                Err(Error::Invalid { field, .. }) => assert_eq!(field, "url"),
                other => panic!("{url}: expected refusal, got {:?}", other.map(|c| c.url)),
            }
        }
        assert!(check_url("http://127.0.0.1:9/x", true).await.is_ok());
        assert!(check_url("ftp://example.com/x", true).await.is_err());
        assert!(check_url("http://user:pw@example.com/x", true)
            .await
            .is_err());
    }
}
