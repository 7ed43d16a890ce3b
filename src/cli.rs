//! Command line: `jowi serve`, `jowi migrate`, `jowi demo`, `jowi reports rebuild`.

use crate::settings::Settings;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "jowi",
    about = "JOWi Shop server: multi-tenant retail POS backend"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate, then serve HTTP (configuration: config/default.toml + environment).
    Serve,
    /// Apply pending migrations and create time partitions ahead.
    Migrate,
    /// Create (or refresh) the demo tenant: 2 stores, registers, categories,
    /// products with barcodes and stock. Prints tokens and barcodes.
    Demo {
        /// Number of products.
        #[arg(long, default_value_t = 10_000)]
        products: usize,
    },
    /// Import products from a CSV file (product,category,sku,barcode,price).
    ImportCatalog {
        file: std::path::PathBuf,
        /// The tenant to import into.
        #[arg(long)]
        tenant: uuid::Uuid,
    },
    /// Sales report totals.
    #[command(subcommand)]
    Reports(ReportsCommand),
}

#[derive(Subcommand)]
enum ReportsCommand {
    /// Recompute the running totals from receipts (idempotent).
    Rebuild(crate::reports_cli::RebuildArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("jowi: {e:#}");
            return ExitCode::from(2);
        }
    };
    let result = actix_rt::System::new().block_on(async move {
        match cli.command {
            Command::Serve => crate::startup::serve(settings).await,
            Command::Migrate => {
                crate::telemetry::init();
                let n = jowi_actors::pg::migrate(&settings.database.url).await?;
                println!("migrations applied: {n}; partitions ensured");
                Ok(())
            }
            Command::Demo { products } => crate::demo::run(&settings, products).await,
            Command::ImportCatalog { file, tenant } => {
                crate::catalog_import::run(&settings, &file, tenant).await
            }
            Command::Reports(ReportsCommand::Rebuild(args)) => {
                crate::reports_cli::run_rebuild(&settings, args).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jowi: {e:#}");
            ExitCode::FAILURE
        }
    }
}
