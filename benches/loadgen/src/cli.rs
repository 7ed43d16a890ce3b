//! Command line of `jowi-bench`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "jowi-bench",
    about = "Load generator and benchmark report for the JOWi Shop server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Insert the bench tenants straight into PostgreSQL and write the fixture.
    Setup(SetupArgs),
    /// Run scenarios against a running server and write the JSON + markdown report.
    Run(Box<RunArgs>),
    /// Write sales history for the fixture's tenants straight into PostgreSQL.
    History(HistoryArgs),
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// PostgreSQL URL of the bench database (after `setup`).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// The fixture written by `setup`.
    #[arg(long, default_value = "benches/results/.fixture.json")]
    pub fixture: PathBuf,
    /// Receipts in total, spread evenly over registers and days.
    #[arg(long, default_value_t = 5_000_000)]
    pub receipts: usize,
    /// Days of history, ending yesterday.
    #[arg(long, default_value_t = 365)]
    pub days: i64,
    /// Tenants written at once (one connection each).
    #[arg(long, default_value_t = 2)]
    pub parallel: usize,
}

#[derive(Args, Debug)]
pub struct SetupArgs {
    /// PostgreSQL URL of the (already migrated) bench database.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// Number of tenants.
    #[arg(long, default_value_t = 10)]
    pub tenants: usize,
    /// Products in total, spread evenly over the tenants.
    #[arg(long, default_value_t = 100_000)]
    pub products: usize,
    /// Categories per tenant.
    #[arg(long, default_value_t = 20)]
    pub categories: usize,
    /// Opening stock of every variant in every warehouse.
    #[arg(long, default_value_t = 100_000)]
    pub opening_stock: i64,
    /// Where the ids, tokens and barcodes go.
    #[arg(long, default_value = "benches/results/.fixture.json")]
    pub fixture: PathBuf,
    /// Delete the tenants listed in an existing fixture before creating new ones
    /// (not needed on a fresh database; run.sh recreates the database instead).
    #[arg(long)]
    pub reset: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScenarioName {
    Static,
    Barcode,
    List,
    Receipt,
    /// `receipt` with taxes, discounts, cash rounding and points.
    ReceiptRich,
    /// `receipt` with active webhook subscriptions (`--webhook-subscriptions`).
    ReceiptWebhook,
    Mix,
    Ws,
    PgInsert,
    Connections,
    Reports,
}

impl ScenarioName {
    pub fn as_str(self) -> &'static str {
        match self {
            ScenarioName::Static => "static",
            ScenarioName::Barcode => "barcode",
            ScenarioName::List => "list",
            ScenarioName::Receipt => "receipt",
            ScenarioName::ReceiptRich => "receipt-rich",
            ScenarioName::ReceiptWebhook => "receipt-webhook",
            ScenarioName::Mix => "mix",
            ScenarioName::Ws => "ws",
            ScenarioName::PgInsert => "pg-insert",
            ScenarioName::Connections => "connections",
            ScenarioName::Reports => "reports",
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Base URL of the server (loopback only).
    #[arg(long, env = "BENCH_URL", default_value = "http://127.0.0.1:18090")]
    pub url: String,
    /// The fixture written by `setup`.
    #[arg(long, default_value = "benches/results/.fixture.json")]
    pub fixture: PathBuf,
    /// Comma-separated scenarios, run in this order.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "static,barcode,list,receipt,mix,ws,pg-insert,connections"
    )]
    pub scenarios: Vec<ScenarioName>,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Seconds of unrecorded warm-up load before the first scenario (0 = none).
    #[arg(long, default_value_t = 5)]
    pub warmup: u64,
    /// Concurrent client connections (one closed-loop worker each).
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Constant arrival rate in requests/s (open model). Latency is then measured
    /// from each request's scheduled send time, which corrects coordinated
    /// omission. Without it every worker is a closed loop (max throughput).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Per-request timeout in milliseconds (a timeout counts as an error).
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// Idle keep-alive connections held open by the `connections` check.
    #[arg(long, default_value_t = 1000)]
    pub idle_connections: usize,
    /// Each idle connection sends one barcode lookup this often, so that the
    /// server's keep-alive timer does not close it.
    #[arg(long, default_value_t = 2000)]
    pub idle_ping_ms: u64,
    /// `ws`: number of WebSocket subscribers to one store.
    #[arg(long, default_value_t = 64)]
    pub ws_subscribers: usize,
    /// `ws`: receipts per second posted to the watched store.
    #[arg(long, default_value_t = 100.0)]
    pub ws_receipt_rate: f64,
    /// PostgreSQL URL of the bench database: pg-insert writes there, and the
    /// sampler counts its connections (it connects to the `postgres` database
    /// of the same cluster for that, so it is not counted itself).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// `pg-insert`: concurrent writer connections.
    #[arg(long, default_value_t = 4)]
    pub pg_writers: usize,
    /// `pg-insert`: receipts per transaction (default: [sales].batch_max_receipts
    /// of the server configuration).
    #[arg(long)]
    pub pg_batch: Option<usize>,
    /// `pg-insert`: also bump registers.last_receipt_seq in each batch, as the
    /// receipt numbering does.
    #[arg(long)]
    pub pg_register_seq: bool,
    /// `receipt-webhook`: active webhook subscriptions during the load, one
    /// per tenant for the first N tenants (the comparison is 1).
    #[arg(long, default_value_t = 1)]
    pub webhook_subscriptions: usize,
    /// PID of the server process, for its RSS.
    #[arg(long, env = "BENCH_SERVER_PID")]
    pub server_pid: Option<u32>,
    /// Server configuration file, quoted in the report header.
    #[arg(long, default_value = "config/default.toml")]
    pub server_config: PathBuf,
    /// Directory of the JSON and markdown reports.
    #[arg(long, default_value = "benches/results")]
    pub out_dir: PathBuf,
    /// Free text put in the report header (how the server was started).
    #[arg(long, env = "BENCH_NOTE", default_value = "")]
    pub note: String,
    /// Seed of the random request mix.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Soak mode (see src/soak.rs): measure the mix's capacity, then run the
    /// mix at `--share` of it (open model) for `--duration` seconds,
    /// reporting every `--window-s`. `--rate` skips the capacity run.
    #[arg(long)]
    pub soak: bool,
    /// Soak: share of the measured capacity to offer.
    #[arg(long, default_value_t = 0.5)]
    pub share: f64,
    /// Soak: seconds of the closed-loop capacity run.
    #[arg(long, default_value_t = 20)]
    pub capacity_s: u64,
    /// Soak: seconds per reported window.
    #[arg(long, default_value_t = 60)]
    pub window_s: u64,
    /// Soak: seconds of idle after the load before the leak check.
    #[arg(long, default_value_t = 15)]
    pub idle_s: u64,
}
