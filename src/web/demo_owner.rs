//! The demo's back-office owner: created on the first `jowi demo`, given a
//! fresh random password on every run (stored passwords are hashed and
//! cannot be shown again), printed next to the URL.

use crate::settings::Settings;
use jowi_actors::domain::Role;
use jowi_actors::pg::{users, Db};
use jowi_actors::sessions::{hash_password, Sessions};
use rand::distributions::{Alphanumeric, DistString};
use uuid::Uuid;

pub const DEMO_EMAIL: &str = "owner@demo.jowi.uz";

pub async fn ensure(db: &Db, settings: &Settings, tenant: Uuid) -> anyhow::Result<()> {
    let password = Alphanumeric.sample_string(&mut rand::thread_rng(), 16);
    match users::credentials_by_email(db, DEMO_EMAIL).await? {
        Some(c) => {
            let hash = hash_password(&password).await?;
            users::set_password(db, c.user.tenant_id, c.user.id, &hash).await?;
            users::revoke_user_sessions(db, c.user.tenant_id, c.user.id).await?;
        }
        None => {
            Sessions::new(db.clone(), settings.backoffice.sessions())
                .create_user(tenant, DEMO_EMAIL, "Demo Owner", Role::Owner, &password)
                .await?;
        }
    }
    println!();
    println!("back office:  http://{}/", settings.server.listen);
    println!("  e-mail:     {DEMO_EMAIL}");
    println!("  password:   {password}");
    Ok(())
}
