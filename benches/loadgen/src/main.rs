//! `jowi-bench`: load generator and benchmark report for the JOWi Shop
//! server. See benches/README.md.

mod cli;
mod db;
mod fixture;
mod history;
mod http;
mod load;
mod report;
mod sampler;
mod scenarios;
mod setup;
mod soak;
mod stats;

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Setup(args) => setup::run(&args).await,
        cli::Command::Run(args) => run(*args).await,
        cli::Command::History(args) => history::run(&args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jowi-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: cli::RunArgs) -> anyhow::Result<()> {
    use std::sync::Arc;

    let target = http::Target::parse(&args.url)?;
    let fixture = Arc::new(fixture::Fixture::load(&args.fixture)?);
    let server_config = report::ServerConfig::read(&args.server_config);
    let pg = match &args.database_url {
        Some(url) => Some((db::maintenance_config(url)?, db::database_name(url)?)),
        None => None,
    };
    let sampler = sampler::SamplerConfig {
        target: target.clone(),
        pg,
        server_pid: args.server_pid,
    };
    let batch = server_config.batch_max_receipts.unwrap_or(128) as usize;
    let ctx = scenarios::Ctx::new(args.clone(), target, fixture.clone(), sampler, batch);
    println!(
        "jowi-bench: {} tenants, {} products, {} registers; {}; {} s per scenario; {} connections",
        fixture.tenants.len(),
        fixture.variant_count(),
        fixture.registers().len(),
        ctx.spec().mode(),
        args.duration,
        args.connections
    );

    if args.soak {
        return soak::run(&ctx).await;
    }
    let started = chrono::Local::now();
    let busy_before = sampler::machine_busy_over(std::time::Duration::from_secs(1)).await;
    if let Some(b) = busy_before {
        println!("machine busy before the run: {b:.0}% of all cores (1 s sample)");
    }
    scenarios::warm_up(&ctx, args.warmup).await;
    let mut results = Vec::new();
    for name in &args.scenarios {
        match scenarios::run(&ctx, *name).await {
            Ok(r) => {
                println!("{}", report::one_line(&r));
                results.push(r);
            }
            Err(e) => eprintln!("{}: not run: {e:#}", name.as_str()),
        }
    }
    let report = report::Report::new(
        &args,
        &fixture,
        server_config,
        started,
        busy_before,
        results,
    );
    let (json_path, md_path) = report.write(&args.out_dir)?;
    println!();
    println!("{}", report.markdown());
    println!("wrote {} and {}", json_path.display(), md_path.display());
    Ok(())
}
