//! `jowi import-catalog FILE --tenant ID`: the catalog CSV import from the
//! command line, with a progress bar (bytes read, rows imported). Writes
//! PostgreSQL directly; running servers pick the changes up through the bus
//! (a resync) or on their next catalog load.

use crate::settings::Settings;
use crate::startup::pool_settings;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use jowi_actors::bus::{redis_bus::RedisBus, Bus, BusEvent};
use jowi_actors::import;
use jowi_actors::metrics::Metrics;
use jowi_actors::pg::{self, Db};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use tokio::io::{AsyncRead, ReadBuf};
use uuid::Uuid;

/// Counts the bytes read through it (for the progress bar).
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Counting<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        res
    }
}

pub async fn run(settings: &Settings, file: &Path, tenant: Uuid) -> anyhow::Result<()> {
    let db = Db::new(
        pg::connect(&pool_settings(settings))?,
        settings.database.statement_cache,
    );
    if !pg::org::tenant_exists(&db, tenant).await? {
        anyhow::bail!("tenant {tenant} does not exist");
    }
    let f = tokio::fs::File::open(file)
        .await
        .with_context(|| format!("opening {}", file.display()))?;
    let size = f.metadata().await.map(|m| m.len()).unwrap_or(0);
    let read = Arc::new(AtomicU64::new(0));
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let reader = Counting {
        inner: tokio::io::BufReader::with_capacity(256 * 1024, f),
        read: Arc::clone(&read),
    };
    let job = jowi_actors::domain::new_id();
    pg::import::start_job(&db, tenant, job).await?;
    let report = import::import_csv(&db, tenant, reader, Some(job), |r| {
        bar.set_position(read.load(Ordering::Relaxed));
        bar.set_message(format!(
            "{} rows: {} imported, {} unchanged, {} bad",
            r.rows_read, r.imported, r.unchanged, r.failed
        ));
    })
    .await?;
    bar.finish();
    if !settings.redis.url.is_empty() {
        // Running servers resync their catalogs (best effort: they also
        // reload a tenant on its next load).
        if let Ok(bus) = RedisBus::start(
            &settings.redis.url,
            settings.redis.channel.clone(),
            Metrics::register(&prometheus::Registry::new())?,
        ) {
            bus.publish(BusEvent::Resync);
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    }
    println!(
        "{} rows read: {} imported, {} unchanged, {} bad",
        report.rows_read, report.imported, report.unchanged, report.failed
    );
    for e in &report.errors {
        println!("  line {}, column {}: {}", e.line, e.column, e.reason);
    }
    if report.failed as usize > report.errors.len() {
        println!(
            "  ... and {} more",
            report.failed as usize - report.errors.len()
        );
    }
    Ok(())
}
