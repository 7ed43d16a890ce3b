//! Webhook signatures: `X-Jowi-Signature: v1=<hex>` where `<hex>` is
//! HMAC-SHA256 with the subscription's secret over `"{timestamp}.{body}"`,
//! and `X-Jowi-Timestamp: <unix seconds>`. Signing the timestamp with the
//! body lets a receiver refuse replays older than its tolerance.

use sha2::{Digest, Sha256};

pub const SIGNATURE_HEADER: &str = "X-Jowi-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Jowi-Timestamp";
pub const EVENT_ID_HEADER: &str = "X-Jowi-Event-Id";
pub const EVENT_TYPE_HEADER: &str = "X-Jowi-Event-Type";

const BLOCK: usize = 64;

/// HMAC-SHA256 (RFC 2104) over the concatenation of `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
    }
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The `X-Jowi-Signature` value for a body sent at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    Signer::new(secret).sign(timestamp, body)
}

/// HMAC-SHA256 with one key, its padded key blocks hashed once: the
/// delivery worker makes one per claim and signs every event of the claim
/// with it (each signature then costs the body's hashing only).
#[derive(Clone)]
pub struct Signer {
    inner: Sha256,
    outer: Sha256,
}

impl Signer {
    pub fn new(secret: &str) -> Signer {
        let key = secret.as_bytes();
        let mut k = [0u8; BLOCK];
        if key.len() > BLOCK {
            k[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let mut inner = Sha256::new();
        inner.update(k.map(|b| b ^ 0x36));
        let mut outer = Sha256::new();
        outer.update(k.map(|b| b ^ 0x5c));
        Signer { inner, outer }
    }

    /// The `X-Jowi-Signature` value for `body` sent at `timestamp`.
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        let mut inner = self.inner.clone();
        inner.update(timestamp.to_string().as_bytes());
        inner.update(b".");
        inner.update(body);
        let mut outer = self.outer.clone();
        outer.update(inner.finalize());
        let mac: [u8; 32] = outer.finalize().into();
        format!("v1={}", hex::encode(mac))
    }
}

/// Checks a signature as a receiver would (constant-time comparison).
pub fn verify(secret: &str, timestamp: i64, body: &[u8], signature: &str) -> bool {
    let expected = sign(secret, timestamp, body);
    let (a, b) = (expected.as_bytes(), signature.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new secret: 32 random bytes, hex, with a recognisable prefix.
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test cases 1 and 6 (short key; key longer than a block).
    #[test]
    fn matches_rfc_4231() {
        let mac = hmac_sha256(&[0x0b; 20], &[b"Hi There"]);
        assert_eq!(
            hex::encode(mac),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        let mac = hmac_sha256(
            &[0xaa; 131],
            &[b"Test Using Larger Than Block-Size Key - Hash Key First"],
        );
        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn verify_refuses_another_body_or_time() {
        let sig = sign("whsec_x", 1700000000, b"{\"a\":1}");
        assert!(verify("whsec_x", 1700000000, b"{\"a\":1}", &sig));
        assert!(!verify("whsec_x", 1700000001, b"{\"a\":1}", &sig));
        assert!(!verify("whsec_x", 1700000000, b"{\"a\":2}", &sig));
        assert!(!verify("whsec_y", 1700000000, b"{\"a\":1}", &sig));
    }

    /// The reusable signer agrees with the one-shot HMAC, short and long keys.
    #[test]
    fn signer_matches_hmac() {
        for key in ["whsec_x".to_owned(), "k".repeat(131)] {
            let mac = hmac_sha256(key.as_bytes(), &[b"1700000000", b".", b"{}"]);
            assert_eq!(
                Signer::new(&key).sign(1700000000, b"{}"),
                format!("v1={}", hex::encode(mac))
            );
        }
    }
}
