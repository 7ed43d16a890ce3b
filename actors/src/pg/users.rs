//! Back-office users, their sessions and the failed-login ledger. The
//! decisions (hashing, expiry, limits) live in `crate::sessions`; this file
//! only reads and writes rows.

use super::Db;
use crate::domain::{Role, TenantId};
use crate::error::Code;
use crate::error::{constraint, Error, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    #[schema(value_type = uuid::Uuid)]
    pub tenant_id: TenantId,
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// A user row with its password hash: never serialized.
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
    pub disabled: bool,
}

const USER_COLS: &str = "tenant_id, id, email, name, role, created_at";

fn user_row(r: &tokio_postgres::Row) -> Result<User> {
    Ok(User {
        tenant_id: r.get(0),
        id: r.get(1),
        email: r.get(2),
        name: r.get(3),
        role: Role::parse(r.get(4))?,
        created_at: r.get(5),
    })
}

pub struct NewUser<'a> {
    pub tenant: TenantId,
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
}

pub async fn insert_user(db: &Db, u: NewUser<'_>) -> Result<User> {
    let id = crate::domain::new_id();
    let sql = format!(
        "INSERT INTO users (tenant_id, id, email, name, role, password_hash) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {USER_COLS}"
    );
    match db
        .query(
            &sql,
            &[
                &u.tenant,
                &id,
                &u.email,
                &u.name,
                &u.role.as_str(),
                &u.password_hash,
            ],
        )
        .await
    {
        Ok(rows) => rows
            .first()
            .map(user_row)
            .unwrap_or_else(|| Err(Error::Internal(anyhow::anyhow!("insert returned no row")))),
        Err(Error::Internal(e))
            if e.downcast_ref::<tokio_postgres::Error>()
                .and_then(constraint)
                == Some("users_email") =>
        {
            Err(Error::conflict(
                Code::EmailTaken,
                "a user with this e-mail already exists",
            ))
        }
        Err(e) => Err(e),
    }
}

/// Sets a user's password hash (the demo refreshes its owner's password).
pub async fn set_password(db: &Db, tenant: TenantId, user: Uuid, hash: &str) -> Result<()> {
    db.query(
        "UPDATE users SET password_hash = $3 WHERE tenant_id = $1 AND id = $2",
        &[&tenant, &user, &hash],
    )
    .await?;
    Ok(())
}

pub async fn credentials_by_email(db: &Db, email: &str) -> Result<Option<Credentials>> {
    let sql = format!(
        "SELECT {USER_COLS}, password_hash, disabled_at IS NOT NULL FROM users WHERE email = $1"
    );
    let rows = db.query(&sql, &[&email]).await?;
    rows.first()
        .map(|r| {
            Ok(Credentials {
                user: user_row(r)?,
                password_hash: r.get(6),
                disabled: r.get(7),
            })
        })
        .transpose()
}

pub async fn credentials_by_id(db: &Db, tenant: TenantId, id: Uuid) -> Result<Credentials> {
    let sql = format!(
        "SELECT {USER_COLS}, password_hash, disabled_at IS NOT NULL FROM users \
         WHERE tenant_id = $1 AND id = $2"
    );
    let rows = db.query(&sql, &[&tenant, &id]).await?;
    let r = rows.first().ok_or(Error::not_found("user"))?;
    Ok(Credentials {
        user: user_row(r)?,
        password_hash: r.get(6),
        disabled: r.get(7),
    })
}

pub async fn list_users(db: &Db, tenant: TenantId) -> Result<Vec<User>> {
    let sql = format!(
        "SELECT {USER_COLS} FROM users WHERE tenant_id = $1 AND disabled_at IS NULL ORDER BY created_at"
    );
    db.query(&sql, &[&tenant])
        .await?
        .iter()
        .map(user_row)
        .collect()
}

// --- sessions ---

pub struct NewSession<'a> {
    pub id_hash: &'a [u8],
    pub tenant: TenantId,
    pub user: Uuid,
    pub csrf_token: &'a str,
    pub expires_at: DateTime<Utc>,
    pub address: Option<&'a str>,
}

pub async fn insert_session(db: &Db, s: NewSession<'_>) -> Result<()> {
    db.query(
        "INSERT INTO sessions (id_hash, tenant_id, user_id, csrf_token, expires_at, address) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &s.id_hash,
            &s.tenant,
            &s.user,
            &s.csrf_token,
            &s.expires_at,
            &s.address,
        ],
    )
    .await?;
    Ok(())
}

/// A live session as stored, joined with its (enabled) user.
pub struct SessionRow {
    pub user: User,
    pub csrf_token: String,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The unrevoked session with this hash whose user is enabled. Expiry is
/// judged by the caller (it knows the idle limit).
pub async fn find_session(db: &Db, id_hash: &[u8]) -> Result<Option<SessionRow>> {
    let rows = db
        .query(
            "SELECT u.tenant_id, u.id, u.email, u.name, u.role, u.created_at, \
                    s.csrf_token, s.last_seen_at, s.expires_at \
             FROM sessions s JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id \
             WHERE s.id_hash = $1 AND s.revoked_at IS NULL AND u.disabled_at IS NULL",
            &[&id_hash],
        )
        .await?;
    rows.first()
        .map(|r| {
            Ok(SessionRow {
                user: user_row(r)?,
                csrf_token: r.get(6),
                last_seen_at: r.get(7),
                expires_at: r.get(8),
            })
        })
        .transpose()
}

pub async fn touch_session(db: &Db, id_hash: &[u8]) -> Result<()> {
    db.query(
        "UPDATE sessions SET last_seen_at = now() WHERE id_hash = $1 AND revoked_at IS NULL",
        &[&id_hash],
    )
    .await?;
    Ok(())
}

pub async fn revoke_session(db: &Db, id_hash: &[u8]) -> Result<()> {
    db.query(
        "UPDATE sessions SET revoked_at = now() WHERE id_hash = $1 AND revoked_at IS NULL",
        &[&id_hash],
    )
    .await?;
    Ok(())
}

/// Ends every session of a user (password change); answers how many.
pub async fn revoke_user_sessions(db: &Db, tenant: TenantId, user: Uuid) -> Result<u64> {
    let rows = db
        .query(
            "UPDATE sessions SET revoked_at = now() \
             WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING 1",
            &[&tenant, &user],
        )
        .await?;
    Ok(rows.len() as u64)
}

// --- failed sign-ins ---

/// Failures of `key` in the window that is still open (older windows count 0).
pub async fn failures(db: &Db, scope: &str, key: &str, window_s: i64) -> Result<(i32, i64)> {
    let rows = db
        .query(
            "SELECT failures, \
                    GREATEST(0, $3::float8 - extract(epoch FROM now() - window_start)::float8)::bigint \
             FROM login_failures WHERE scope = $1 AND key = $2 \
               AND window_start > now() - make_interval(secs => $3::float8)",
            &[&scope, &key, &(window_s as f64)],
        )
        .await?;
    Ok(rows
        .first()
        .map(|r| (r.get::<_, i32>(0), r.get::<_, i64>(1)))
        .unwrap_or((0, 0)))
}

/// Counts one failure; a window that has run out starts again at 1.
pub async fn record_failure(db: &Db, scope: &str, key: &str, window_s: i64) -> Result<i32> {
    let rows = db
        .query(
            "INSERT INTO login_failures (scope, key, failures, window_start) VALUES ($1, $2, 1, now()) \
             ON CONFLICT (scope, key) DO UPDATE SET \
               failures = CASE WHEN login_failures.window_start > now() - make_interval(secs => $3::float8) \
                               THEN login_failures.failures + 1 ELSE 1 END, \
               window_start = CASE WHEN login_failures.window_start > now() - make_interval(secs => $3::float8) \
                                   THEN login_failures.window_start ELSE now() END \
             RETURNING failures",
            &[&scope, &key, &(window_s as f64)],
        )
        .await?;
    Ok(rows.first().map(|r| r.get(0)).unwrap_or(1))
}

pub async fn clear_failures(db: &Db, scope: &str, key: &str) -> Result<()> {
    db.query(
        "DELETE FROM login_failures WHERE scope = $1 AND key = $2",
        &[&scope, &key],
    )
    .await?;
    Ok(())
}
