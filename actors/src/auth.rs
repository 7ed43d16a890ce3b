//! Bearer tokens. A token is `jw_<tenant id>_<43 chars of randomness>`: it
//! names its tenant, so the lookup is keyed by tenant first, and only its
//! sha256 is stored. Verified tokens are cached in memory; revocation drops
//! them here and, through the bus, on every other instance.

use crate::bus::{Bus, BusEvent};
use crate::domain::{Role, TenantId};
use crate::error::{Error, Result};
use crate::pg::{self, Db};
use base64::Engine;
use dashmap::DashMap;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Who is calling: derived from the token, never from the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant_id: TenantId,
    pub token_id: Uuid,
    pub role: Role,
    /// Set for register tokens: the device the token belongs to.
    pub register_id: Option<Uuid>,
}

pub type TokenHash = [u8; 32];

/// Bound on cached principals; past it the cache is cleared (tokens are
/// few per tenant, so this only bites under a token-spraying attack).
const CACHE_MAX: usize = 100_000;

pub struct Authenticator {
    db: Db,
    cache: DashMap<TokenHash, Principal>,
    /// Hashes looked up and not found. A token is 256 random bits, so a hash
    /// that was unknown never becomes valid later: no expiry is needed, and
    /// repeated bad tokens cost no database round trip.
    unknown: DashMap<TokenHash, ()>,
    /// Revoked token hashes, for long-lived sessions (stock WebSockets)
    /// authenticated before the revocation: they close when theirs is sent.
    revoked: tokio::sync::broadcast::Sender<TokenHash>,
}

pub fn hash_token(raw: &str) -> TokenHash {
    Sha256::digest(raw.as_bytes()).into()
}

/// A token hash from its hex form (bus messages).
pub fn parse_token_hash(hex_text: &str) -> Option<TokenHash> {
    hex::decode(hex_text).ok()?.try_into().ok()
}

/// A new random token for `tenant`, and its hash.
pub fn new_token(tenant: TenantId) -> (String, TokenHash) {
    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    let token = format!(
        "jw_{}_{}",
        tenant.simple(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let hash = hash_token(&token);
    (token, hash)
}

/// The tenant a token claims, when the token is well-formed.
fn token_tenant(raw: &str) -> Option<TenantId> {
    let rest = raw.strip_prefix("jw_")?;
    let (tenant, secret) = rest.split_once('_')?;
    if secret.len() != 43 {
        return None;
    }
    Uuid::try_parse(tenant).ok()
}

/// The answer of `Authenticator::lookup_cached`.
pub enum Lookup {
    Known(Principal),
    NeedsDatabase(TenantId),
}

fn unknown_token() -> Error {
    Error::Unauthorized("the bearer token is unknown or revoked".into())
}

impl Authenticator {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            cache: DashMap::new(),
            unknown: DashMap::new(),
            revoked: tokio::sync::broadcast::channel(1024).0,
        }
    }

    pub async fn authenticate(&self, raw: &str) -> Result<Principal> {
        match self.lookup_cached(raw)? {
            Lookup::Known(p) => Ok(p),
            Lookup::NeedsDatabase(tenant) => self.lookup_database(raw, tenant).await,
        }
    }

    /// What memory knows of `raw`: a principal, or that the database must
    /// be asked (for the tenant the token claims). Malformed tokens and
    /// hashes already looked up and not found are refused here.
    pub fn lookup_cached(&self, raw: &str) -> Result<Lookup> {
        let tenant = token_tenant(raw)
            .ok_or_else(|| Error::Unauthorized("the bearer token is malformed".into()))?;
        let hash = hash_token(raw);
        if let Some(p) = self.cache.get(&hash) {
            return Ok(Lookup::Known(p.clone()));
        }
        if self.unknown.contains_key(&hash) {
            return Err(unknown_token());
        }
        Ok(Lookup::NeedsDatabase(tenant))
    }

    /// Looks `raw` up in the database and caches the answer either way.
    pub async fn lookup_database(&self, raw: &str, tenant: TenantId) -> Result<Principal> {
        let hash = hash_token(raw);
        let unknown = unknown_token;
        let Some((token_id, role, register_id, register_active)) =
            pg::org::find_token(&self.db, tenant, &hash).await?
        else {
            if self.unknown.len() >= CACHE_MAX {
                self.unknown.clear();
            }
            self.unknown.insert(hash, ());
            return Err(unknown());
        };
        if !register_active {
            // Not cached either way: the register may be activated again.
            return Err(Error::Unauthorized("the register is deactivated".into()));
        }
        let principal = Principal {
            tenant_id: tenant,
            token_id,
            role,
            register_id,
        };
        if self.cache.len() >= CACHE_MAX {
            self.cache.clear();
        }
        self.cache.insert(hash, principal.clone());
        Ok(principal)
    }

    /// Creates and stores a token inside `tx`; answers the token text, shown once.
    pub async fn issue(
        &self,
        tx: &pg::Tx<'_>,
        tenant: TenantId,
        role: Role,
        register: Option<Uuid>,
        name: Option<&str>,
    ) -> Result<(Uuid, String)> {
        let (token, hash) = new_token(tenant);
        let id = pg::org::insert_token(tx, tenant, &hash, role, register, name).await?;
        Ok((id, token))
    }

    /// Drops a revoked token from the cache and tells the sessions it
    /// opened (here or, through the bus, on another instance).
    pub fn forget(&self, hash: &TokenHash) {
        self.cache.remove(hash);
        // No receiver (no open session) is fine.
        let _ = self.revoked.send(*hash);
    }

    /// Revocations from now on. A receiver that lags must re-authenticate.
    pub fn revocations(&self) -> tokio::sync::broadcast::Receiver<TokenHash> {
        self.revoked.subscribe()
    }

    /// Issues a token in its own transaction (the owner's `POST /tokens`).
    pub async fn issue_token(
        &self,
        tenant: TenantId,
        role: Role,
        name: &str,
    ) -> Result<(Uuid, String)> {
        let mut client = self.db.client().await?;
        let tx = self.db.begin(&mut client).await?;
        let issued = self.issue(&tx, tenant, role, None, Some(name)).await?;
        tx.commit().await?;
        Ok(issued)
    }

    /// A new token for a register (the back office's "issue a register
    /// token"), in its own transaction; the secret is answered once.
    pub async fn issue_register_token(
        &self,
        tenant: TenantId,
        register: Uuid,
        name: &str,
    ) -> Result<(Uuid, String)> {
        let mut client = self.db.client().await?;
        let tx = self.db.begin(&mut client).await?;
        let issued = self
            .issue(&tx, tenant, Role::Register, Some(register), Some(name))
            .await?;
        tx.commit().await?;
        Ok(issued)
    }

    /// Revokes a token: stored first, then dropped from this cache and, over
    /// the bus, from every other instance's.
    pub async fn revoke(&self, tenant: TenantId, id: Uuid, bus: &dyn Bus) -> Result<()> {
        let hash = pg::org::revoke_token(&self.db, tenant, id).await?;
        if let Ok(hash) = <TokenHash>::try_from(hash.as_slice()) {
            self.forget(&hash);
            bus.publish(BusEvent::TokenRevoked {
                tenant_id: tenant,
                token_hash: hex::encode(hash),
            });
        }
        Ok(())
    }

    /// A new tenant and its owner token, inside `tx`. The one place tenants
    /// are made: the admin route (`create_tenant`) and `jowi demo`.
    pub async fn create_tenant_on(
        &self,
        tx: &pg::Tx<'_>,
        id: TenantId,
        name: &str,
        token_name: &str,
    ) -> Result<String> {
        pg::org::insert_tenant(tx, id, name).await?;
        let (_, token) = self
            .issue(tx, id, Role::Owner, None, Some(token_name))
            .await?;
        Ok(token)
    }

    /// A new tenant and its owner token, in one transaction.
    pub async fn create_tenant(&self, name: &str) -> Result<(TenantId, String)> {
        let id = crate::domain::new_id();
        let mut client = self.db.client().await?;
        let tx = self.db.begin(&mut client).await?;
        let token = self.create_tenant_on(&tx, id, name, "owner").await?;
        tx.commit().await?;
        Ok((id, token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_names_its_tenant() {
        let t = Uuid::now_v7();
        let (token, hash) = new_token(t);
        assert_eq!(token_tenant(&token), Some(t));
        assert_eq!(hash_token(&token), hash);
        assert_eq!(token_tenant("jw_nothex_abc"), None);
        assert_eq!(token_tenant("Bearer x"), None);
    }
}
