//! PostgreSQL access: the pool, migrations and the queries each owner uses.
//! Reads on the hot path never come here: they are served from actor memory.

pub mod backoffice;
pub mod catalog;
pub mod commit;
pub mod demo;
pub mod import;
pub mod manage;
pub mod org;
pub mod outbox;
pub mod partitions;
pub mod pins;
pub mod points;
pub mod receipts;
pub mod replica;
pub mod reports;
pub mod retail;
pub mod shifts;
pub mod stock;
pub mod timing;
pub mod totals;
pub mod users;
pub mod vacuum;
pub mod webhooks;

use crate::error::{Error, Result};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::time::Duration;

refinery::embed_migrations!("../migrations");

/// The parser of PostgreSQL URLs (configuration checks use it).
pub use tokio_postgres::Config as PgConfig;

/// Pool settings, from the binary's configuration.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub url: String,
    pub max_size: usize,
    /// Time to wait for a free connection before answering 503.
    pub wait_timeout: Duration,
    pub connect_timeout: Duration,
    /// False behind PgBouncer in transaction mode: statements then go
    /// unnamed instead of being prepared once per connection.
    pub statement_cache: bool,
}

pub fn connect(settings: &PoolSettings) -> Result<Pool> {
    let mut cfg: tokio_postgres::Config = settings
        .url
        .parse()
        .map_err(|e| Error::invalid("database.url", format!("not a PostgreSQL URL: {e}")))?;
    cfg.connect_timeout(settings.connect_timeout);
    if cfg.get_application_name().is_none() {
        cfg.application_name("jowi");
    }
    let mgr = Manager::from_config(
        cfg,
        tokio_postgres::NoTls,
        ManagerConfig {
            // Fast: a broken connection shows up as an error on first use
            // and is dropped then; no round trip per checkout.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(mgr)
        .max_size(settings.max_size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(settings.wait_timeout))
        .create_timeout(Some(settings.connect_timeout))
        .recycle_timeout(Some(settings.connect_timeout))
        .build()
        .map_err(|e| Error::Internal(anyhow::anyhow!("building the database pool: {e}")))
}

/// Applies pending migrations, then makes sure time partitions exist ahead.
/// Serialized across instances by an advisory lock so N instances starting
/// at once do not race.
pub async fn migrate(url: &str) -> anyhow::Result<usize> {
    let (mut client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let conn_task = tokio::spawn(conn);
    client
        .execute("SELECT pg_advisory_lock(7220300)", &[])
        .await?;
    let result = migrations::runner().run_async(&mut client).await;
    let partitions = client
        .query_one("SELECT jowi_ensure_partitions(3)", &[])
        .await;
    client
        .execute("SELECT pg_advisory_unlock(7220300)", &[])
        .await?;
    drop(client);
    conn_task.abort();
    let report = result?;
    partitions?;
    Ok(report.applied_migrations().len())
}

/// The pool plus how statements are prepared on it.
#[derive(Clone)]
pub struct Db {
    pub pool: Pool,
    pub statement_cache: bool,
    /// Statement latency and slow-statement log (None: not measured).
    pub timer: Option<std::sync::Arc<timing::StatementTimer>>,
}

/// A transaction that knows how statements are prepared on its pool, so
/// queries take one `&Tx` instead of a `(&Db, &Transaction)` pair.
pub struct Tx<'a> {
    inner: deadpool_postgres::Transaction<'a>,
    statement_cache: bool,
}

impl<'a> std::ops::Deref for Tx<'a> {
    type Target = deadpool_postgres::Transaction<'a>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl Tx<'_> {
    /// Prepares `sql`: cached per connection normally; fresh per
    /// transaction behind a transaction-mode PgBouncer, where a statement
    /// prepared on one server connection is unknown on the next.
    pub async fn prepare(&self, sql: &str) -> Result<tokio_postgres::Statement> {
        if self.statement_cache {
            Ok(self.inner.prepare_cached(sql).await?)
        } else {
            Ok(self.inner.prepare(sql).await?)
        }
    }

    pub async fn commit(self) -> Result<()> {
        Ok(self.inner.commit().await?)
    }
}

impl Db {
    pub fn new(pool: Pool, statement_cache: bool) -> Self {
        Self {
            pool,
            statement_cache,
            timer: None,
        }
    }

    /// Measures statements run through `query` and `timed` from now on.
    pub fn with_timer(mut self, timer: timing::StatementTimer) -> Self {
        self.timer = Some(std::sync::Arc::new(timer));
        self
    }

    /// Runs `fut` as the statement `name` (measured when a timer is set).
    pub async fn timed<T>(
        &self,
        name: &str,
        tenant: &str,
        fut: impl std::future::Future<Output = T>,
    ) -> T {
        match &self.timer {
            Some(t) => t.time(name, tenant, fut).await,
            None => fut.await,
        }
    }

    pub async fn client(&self) -> Result<deadpool_postgres::Object> {
        Ok(self.pool.get().await?)
    }

    /// Starts a transaction on `client` (a connection of this pool).
    pub async fn begin<'a>(&self, client: &'a mut deadpool_postgres::Object) -> Result<Tx<'a>> {
        Ok(Tx {
            inner: client.transaction().await?,
            statement_cache: self.statement_cache,
        })
    }

    /// True when PostgreSQL answers a trivial query (readiness).
    pub async fn ping(&self) -> bool {
        match self.client().await {
            Ok(c) => c.simple_query("SELECT 1").await.is_ok(),
            Err(_) => false,
        }
    }

    /// Runs one read-only statement in its own short transaction.
    pub async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>> {
        let run = async {
            let mut client = self.client().await?;
            let tx = self.begin(&mut client).await?;
            let stmt = tx.prepare(sql).await?;
            let rows = tx.query(&stmt, params).await?;
            tx.commit().await?;
            Ok(rows)
        };
        match &self.timer {
            Some(t) => t.time(&timing::statement_name(sql), "", run).await,
            None => run.await,
        }
    }
}

/// Per-tenant advisory lock key: catalog writes of one tenant commit in
/// change_seq order even across instances, so the change feed never skips.
pub fn tenant_lock_key(tenant: uuid::Uuid) -> i64 {
    let b = tenant.as_bytes();
    i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}
