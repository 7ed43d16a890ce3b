//! Sign-in of back-office users: argon2id passwords, server-side sessions
//! (PostgreSQL, revocable, idle and absolute expiry) and the limits on
//! failed sign-ins (per account and per address, counted in PostgreSQL so
//! every instance sees the same numbers).
//!
//! The session id travels only in an HttpOnly cookie; the database keeps
//! its sha256. Each session has its own CSRF token, which the page sends
//! back with every write. Nothing here logs or returns a password.

use crate::auth::{hash_token, Principal};
use crate::domain::{parse_name, Role, TenantId};
use crate::error::{Error, Result};
use crate::pg::users::{self, NewSession, NewUser, User};
use crate::pg::Db;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use std::time::Duration;

/// Limits of sessions and sign-in, from the binary's configuration.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub idle: Duration,
    pub absolute: Duration,
    /// Failed sign-ins per account, then per address, allowed in a window.
    pub account_failures_max: i32,
    pub address_failures_max: i32,
    pub failure_window: Duration,
    pub min_password_chars: usize,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(2 * 3600),
            absolute: Duration::from_secs(24 * 3600),
            account_failures_max: 5,
            address_failures_max: 50,
            failure_window: Duration::from_secs(15 * 60),
            min_password_chars: 10,
        }
    }
}

/// A started session: the cookie value and its CSRF token (both shown to
/// this client only).
pub struct NewSessionKeys {
    pub cookie: String,
    pub csrf_token: String,
    pub user: User,
    pub expires_at: DateTime<Utc>,
}

/// What a valid session cookie stands for.
#[derive(Debug, Clone)]
pub struct SessionPrincipal {
    pub principal: Principal,
    pub user: User,
    pub csrf_token: String,
}

/// The answer to a failed sign-in: how long the caller should wait first
/// (the failure is slowed), and the error to return.
pub struct LoginFailure {
    pub delay: Duration,
    pub error: Error,
}

pub struct Sessions {
    db: Db,
    settings: SessionSettings,
}

/// Random, URL-safe, 256 bits.
fn random_key() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Lower-cased, trimmed, shaped like an address (the mail server is the
/// real check; this keeps junk out of the table).
pub fn parse_email(raw: &str) -> Result<String> {
    let e = raw.trim().to_lowercase();
    let ok = (3..=254).contains(&e.len())
        && e.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(e)
    } else {
        Err(Error::invalid("email", "not an e-mail address"))
    }
}

/// argon2id with the crate's default (OWASP) cost, off the async threads.
pub async fn hash_password(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(anyhow::anyhow!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(anyhow::anyhow!("password hashing task: {e}")))?
}

async fn verify_password(password: &str, hash: &str) -> bool {
    let password = password.to_owned();
    let hash = hash.to_owned();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A hash no password matches: unknown e-mails cost the same time as wrong
/// passwords, so timing does not tell which addresses have accounts.
const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Q9ck7wLHZfnT1mDOQxVsHFmBtlMQPSBlWw8TLH5K0hY";

/// The delay before answering the n-th failure in a window: 250 ms doubling,
/// at most 4 s.
pub fn failure_delay(failures: i32) -> Duration {
    let n = failures.clamp(1, 5) as u32;
    Duration::from_millis(250 * 2u64.pow(n - 1)).min(Duration::from_secs(4))
}

impl Sessions {
    pub fn new(db: Db, settings: SessionSettings) -> Self {
        Self { db, settings }
    }

    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    pub fn check_password_rules(&self, field: &str, password: &str) -> Result<()> {
        let n = password.chars().count();
        if n < self.settings.min_password_chars || n > 200 {
            return Err(Error::invalid(
                field,
                format!(
                    "a password has {} to 200 characters",
                    self.settings.min_password_chars
                ),
            ));
        }
        Ok(())
    }

    /// Creates a back-office user (owner or manager).
    pub async fn create_user(
        &self,
        tenant: TenantId,
        email: &str,
        name: &str,
        role: Role,
        password: &str,
    ) -> Result<User> {
        if !matches!(role, Role::Owner | Role::Manager) {
            return Err(Error::invalid("role", "users are owners or managers"));
        }
        let email = parse_email(email)?;
        let name = parse_name("name", name, 200)?;
        self.check_password_rules("password", password)?;
        let hash = hash_password(password).await?;
        users::insert_user(
            &self.db,
            NewUser {
                tenant,
                email: &email,
                name: &name,
                role,
                password_hash: &hash,
            },
        )
        .await
    }

    fn window_s(&self) -> i64 {
        self.settings.failure_window.as_secs() as i64
    }

    /// Checks the password and starts a session. Refused before the password
    /// is even looked at when the account or the address has used up its
    /// failures in the window.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        address: &str,
    ) -> std::result::Result<NewSessionKeys, LoginFailure> {
        let fail = |error: Error| LoginFailure {
            delay: Duration::ZERO,
            error,
        };
        let email = parse_email(email).map_err(fail)?;
        let window = self.window_s();
        for (scope, key, max) in [
            (
                "account",
                email.as_str(),
                self.settings.account_failures_max,
            ),
            ("address", address, self.settings.address_failures_max),
        ] {
            let (n, retry_after_s) = users::failures(&self.db, scope, key, window)
                .await
                .map_err(fail)?;
            if n >= max {
                return Err(fail(Error::RateLimited {
                    message: format!(
                        "too many failed sign-ins for this {scope}; try again in {} minutes",
                        (retry_after_s + 59) / 60
                    ),
                    retry_after_s: retry_after_s.max(1).unsigned_abs(),
                }));
            }
        }
        let creds = users::credentials_by_email(&self.db, &email)
            .await
            .map_err(fail)?;
        let hash = creds
            .as_ref()
            .map(|c| c.password_hash.as_str())
            .unwrap_or(DECOY_HASH);
        let ok = verify_password(password, hash).await;
        let creds = match creds {
            Some(c) if ok && !c.disabled => c,
            _ => {
                let a = users::record_failure(&self.db, "account", &email, window)
                    .await
                    .map_err(fail)?;
                let b = users::record_failure(&self.db, "address", address, window)
                    .await
                    .map_err(fail)?;
                return Err(LoginFailure {
                    delay: failure_delay(a.max(b.min(5))),
                    error: Error::Unauthorized("wrong e-mail or password".into()),
                });
            }
        };
        users::clear_failures(&self.db, "account", &email)
            .await
            .map_err(fail)?;
        self.start(creds.user, Some(address)).await.map_err(fail)
    }

    async fn start(&self, user: User, address: Option<&str>) -> Result<NewSessionKeys> {
        let cookie = random_key();
        let csrf_token = random_key();
        let expires_at = Utc::now()
            + chrono::Duration::from_std(self.settings.absolute)
                .map_err(|e| Error::Internal(e.into()))?;
        users::insert_session(
            &self.db,
            NewSession {
                id_hash: &hash_token(&cookie),
                tenant: user.tenant_id,
                user: user.id,
                csrf_token: &csrf_token,
                expires_at,
                address,
            },
        )
        .await?;
        Ok(NewSessionKeys {
            cookie,
            csrf_token,
            user,
            expires_at,
        })
    }

    /// The principal of a session cookie; expired sessions (idle or
    /// absolute) are revoked on sight.
    pub async fn authenticate(&self, cookie: &str) -> Result<SessionPrincipal> {
        let gone = || Error::Unauthorized("the session has ended; sign in again".into());
        if cookie.len() != 43 {
            return Err(gone());
        }
        let hash = hash_token(cookie);
        let row = users::find_session(&self.db, &hash)
            .await?
            .ok_or_else(gone)?;
        let now = Utc::now();
        let idle = chrono::Duration::from_std(self.settings.idle)
            .map_err(|e| Error::Internal(e.into()))?;
        if now >= row.expires_at || now - row.last_seen_at >= idle {
            users::revoke_session(&self.db, &hash).await?;
            return Err(gone());
        }
        // Idle expiry has minute resolution: one write a minute per session.
        if now - row.last_seen_at > chrono::Duration::seconds(60) {
            users::touch_session(&self.db, &hash).await?;
        }
        Ok(SessionPrincipal {
            principal: Principal {
                tenant_id: row.user.tenant_id,
                token_id: row.user.id,
                role: row.user.role,
                register_id: None,
            },
            user: row.user,
            csrf_token: row.csrf_token,
        })
    }

    pub async fn logout(&self, cookie: &str) -> Result<()> {
        users::revoke_session(&self.db, &hash_token(cookie)).await
    }

    /// Changes the password after checking the current one; every session of
    /// the user ends, then a new one starts for the caller.
    pub async fn change_password(
        &self,
        user: &User,
        current: &str,
        new: &str,
    ) -> Result<NewSessionKeys> {
        self.check_password_rules("new_password", new)?;
        let creds = users::credentials_by_id(&self.db, user.tenant_id, user.id).await?;
        if !verify_password(current, &creds.password_hash).await {
            return Err(Error::invalid(
                "current_password",
                "the current password is wrong",
            ));
        }
        let hash = hash_password(new).await?;
        users::set_password(&self.db, user.tenant_id, user.id, &hash).await?;
        users::revoke_user_sessions(&self.db, user.tenant_id, user.id).await?;
        self.start(creds.user, None).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(parse_email("  Owner@Shop.UZ ").unwrap(), "owner@shop.uz");
        assert!(parse_email("no-at-sign").is_err());
        assert!(parse_email("a@b").is_err());
        assert!(parse_email("a b@c.uz").is_err());
    }

    #[test]
    fn failures_are_slowed_more_each_time_up_to_a_bound() {
        assert_eq!(failure_delay(1), Duration::from_millis(250));
        assert_eq!(failure_delay(3), Duration::from_millis(1000));
        assert_eq!(failure_delay(50), Duration::from_secs(4));
    }

    #[tokio::test]
    async fn the_decoy_hash_parses_and_matches_nothing() {
        assert!(PasswordHash::new(DECOY_HASH).is_ok());
        assert!(!verify_password("", DECOY_HASH).await);
        let h = hash_password("correct horse").await.unwrap();
        assert!(verify_password("correct horse", &h).await);
        assert!(!verify_password("wrong horse", &h).await);
    }
}
