//! `jowi reports rebuild`: recompute the running totals from receipts
//! (set-based, one tenant-month per transaction, idempotent) with a
//! progress bar. For data written before the totals existed, and as the
//! repair tool should a total ever be doubted.

use crate::settings::Settings;
use crate::startup::pool_settings;
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use jowi_actors::pg::totals::{rebuild, RebuildScope};
use jowi_actors::pg::{self, Db};
use uuid::Uuid;

#[derive(Debug, clap::Args)]
pub struct RebuildArgs {
    /// Only this tenant (default: all).
    #[arg(long)]
    pub tenant: Option<Uuid>,
    /// First business day, YYYY-MM-DD (default: the first receipt's).
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// Last business day, inclusive (default: the last receipt's).
    #[arg(long)]
    pub to: Option<NaiveDate>,
}

pub async fn run_rebuild(settings: &Settings, args: RebuildArgs) -> anyhow::Result<()> {
    if let (Some(f), Some(t)) = (args.from, args.to) {
        anyhow::ensure!(f <= t, "--from must not be after --to");
    }
    pg::migrate(&settings.database.url).await?;
    let db = Db::new(
        pg::connect(&pool_settings(settings))?,
        settings.database.statement_cache,
    );
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} chunks {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let scope = RebuildScope {
        tenant: args.tenant,
        store: None,
        from: args.from,
        to: args.to,
    };
    let started = std::time::Instant::now();
    let report = rebuild(&db, &scope, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .await?;
    bar.finish();
    println!(
        "rebuilt {} chunks: {} receipts, {} shifts in {:.1}s",
        report.chunks,
        report.receipts,
        report.shifts,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
