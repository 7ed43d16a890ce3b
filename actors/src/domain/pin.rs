//! Employee PINs: 4 to 8 digits, stored as an argon2id PHC string. Hashing
//! is deliberately slow (that is its point), so callers run it on a
//! blocking thread, never on an actor or HTTP worker.

use crate::error::{Error, Result};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

/// Wrong PINs in a row before the employee is locked out ...
pub const MAX_FAILURES: i32 = 5;
/// ... for this long.
pub const LOCKOUT_S: i64 = 300;

/// A PIN as typed on the register.
#[derive(Clone)]
pub struct Pin(String);

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(***)")
    }
}

impl Pin {
    pub fn parse(field: &str, raw: &str) -> Result<Pin> {
        if (4..=8).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Pin(raw.to_owned()))
        } else {
            Err(Error::invalid(field, "a PIN is 4 to 8 digits"))
        }
    }

    /// argon2id with the crate's defaults (19 MiB, 2 passes), random salt.
    pub fn hash(&self) -> Result<String> {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(self.0.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(anyhow::anyhow!("hashing a PIN: {e}")))
    }

    /// False for a wrong PIN and for an unreadable stored hash.
    pub fn verify(&self, stored: &str) -> bool {
        PasswordHash::new(stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(self.0.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_digits_and_verify_only_themselves() {
        assert!(Pin::parse("pin", "12a4").is_err());
        assert!(Pin::parse("pin", "123").is_err());
        assert!(Pin::parse("pin", "123456789").is_err());
        let Ok(pin) = Pin::parse("pin", "2468") else {
            panic!("valid pin refused")
        };
        let Ok(hash) = pin.hash() else {
            panic!("hash failed")
        };
        assert!(hash.starts_with("$argon2id$"));
        assert!(pin.verify(&hash));
        let Ok(other) = Pin::parse("pin", "2469") else {
            panic!()
        };
        assert!(!other.verify(&hash));
        assert!(!pin.verify("not a hash"));
    }
}
