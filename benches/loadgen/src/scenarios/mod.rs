//! The scenarios. Each returns a `ScenarioResult`; failures of single
//! requests are counted there, only a scenario that cannot start at all
//! returns an error.

mod catalog;
mod connections;
mod mix;
mod pg_insert;
mod receipt;
mod receipt_rich;
mod reports;
mod webhook;
mod ws;

use crate::cli::{RunArgs, ScenarioName};
use crate::fixture::Fixture;
use crate::http::Target;
use crate::load::{self, LoadResult, LoadSpec, Workload};
use crate::sampler::{Sampler, SamplerConfig, Samples};
use crate::stats::{KindSummary, Latency};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;
use uuid::Uuid;

pub use catalog::Tokens;

/// Everything the scenarios share.
pub struct Ctx {
    pub args: RunArgs,
    pub target: Arc<Target>,
    pub fixture: Arc<Fixture>,
    pub tokens: Arc<Tokens>,
    pub sampler: SamplerConfig,
    /// Receipts per group-commit batch in the server configuration.
    pub server_batch: usize,
    /// Open shift per register (in `Fixture::registers()` order), prepared once.
    shifts: OnceCell<(Arc<Vec<Uuid>>, String)>,
}

impl Ctx {
    pub fn new(
        args: RunArgs,
        target: Arc<Target>,
        fixture: Arc<Fixture>,
        sampler: SamplerConfig,
        server_batch: usize,
    ) -> Self {
        let tokens = Arc::new(Tokens::new(&fixture));
        Self {
            args,
            target,
            fixture,
            tokens,
            sampler,
            server_batch,
            shifts: OnceCell::new(),
        }
    }

    pub fn spec(&self) -> LoadSpec {
        LoadSpec {
            connections: self.args.connections.max(1),
            duration: Duration::from_secs(self.args.duration.max(1)),
            rate: self.args.rate,
            timeout: Duration::from_millis(self.args.timeout_ms.max(1)),
            seed: self.args.seed,
        }
    }

    /// The open shift of every register: opened through the API, or the
    /// one already open, or (API missing) the one setup inserted.
    pub async fn shifts(&self) -> (Arc<Vec<Uuid>>, String) {
        self.shifts
            .get_or_init(|| async {
                let (ids, note) = receipt::prepare_shifts(self).await;
                (Arc::new(ids), note)
            })
            .await
            .clone()
    }
}

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    pub name: String,
    pub mode: String,
    pub connections: usize,
    pub duration_s: f64,
    /// Successful operations (2xx responses; committed receipts; deliveries).
    pub ok: u64,
    pub per_s: f64,
    pub unit: String,
    pub non_2xx: u64,
    pub errors: u64,
    pub latency: Latency,
    /// What the latency measures in this scenario.
    pub latency_of: String,
    pub kinds: Vec<KindSummary>,
    pub samples: Samples,
    pub extra: serde_json::Value,
    pub notes: Vec<String>,
}

impl ScenarioResult {
    fn from_load(
        name: ScenarioName,
        spec: &LoadSpec,
        load: &LoadResult,
        samples: Samples,
        unit: &str,
        latency_of: &str,
    ) -> Self {
        let total = load.recorder.total();
        let kinds = load
            .recorder
            .kinds()
            .iter()
            .map(|(k, s)| KindSummary::of(k, s, load.elapsed))
            .collect();
        let secs = load.elapsed.as_secs_f64().max(1e-9);
        let mut notes = Vec::new();
        if load.connects > spec.connections as u64 {
            notes.push(format!(
                "{} connections opened for {} workers ({} reconnects)",
                load.connects,
                spec.connections,
                load.connects - spec.connections as u64
            ));
        }
        Self {
            name: name.as_str().to_owned(),
            mode: spec.mode(),
            connections: spec.connections,
            duration_s: secs,
            ok: total.ok,
            per_s: total.ok as f64 / secs,
            unit: unit.to_owned(),
            non_2xx: total.non_2xx,
            errors: total.errors,
            latency: Latency::of(&total.hist),
            latency_of: latency_of.to_owned(),
            kinds,
            samples,
            extra: serde_json::Value::Null,
            notes,
        }
    }
}

/// Runs an HTTP workload with the sampler around it.
async fn http_scenario(
    ctx: &Ctx,
    name: ScenarioName,
    workload: Arc<dyn Workload>,
    unit: &str,
) -> ScenarioResult {
    let spec = ctx.spec();
    let sampler = Sampler::start(&ctx.sampler).await;
    let load = load::drive(ctx.target.clone(), workload, spec, name.as_str()).await;
    let samples = sampler.finish().await;
    let latency_of = if spec.rate.is_some() {
        "request, from its scheduled send time to the full response (2xx only)"
    } else {
        "request, from send to the full response (2xx only; closed loop)"
    };
    ScenarioResult::from_load(name, &spec, &load, samples, unit, latency_of)
}

pub async fn run(ctx: &Ctx, name: ScenarioName) -> anyhow::Result<ScenarioResult> {
    let f = ctx.fixture.clone();
    let t = ctx.tokens.clone();
    Ok(match name {
        ScenarioName::Static => http_scenario(ctx, name, Arc::new(catalog::Static), "req/s").await,
        ScenarioName::Barcode => {
            http_scenario(ctx, name, Arc::new(catalog::Barcode::new(f, t)), "req/s").await
        }
        ScenarioName::List => {
            http_scenario(ctx, name, Arc::new(catalog::List::new(f, t)), "req/s").await
        }
        ScenarioName::Receipt => {
            let (shifts, note) = ctx.shifts().await;
            let w = receipt::Receipts::new(f, &shifts);
            let mut r = http_scenario(ctx, name, Arc::new(w), "receipts/s").await;
            r.notes.push(note);
            r
        }
        ScenarioName::ReceiptRich => {
            let (shifts, note) = ctx.shifts().await;
            let (rules, rules_note) = receipt_rich::prepare(ctx).await;
            let w = receipt_rich::RichReceipts::new(f, &shifts, rules);
            let mut r = http_scenario(ctx, name, Arc::new(w), "receipts/s").await;
            r.notes.push(note);
            r.notes.push(rules_note);
            r
        }
        ScenarioName::Mix => {
            let (shifts, note) = ctx.shifts().await;
            let w = mix::Mix::new(f, t, shifts);
            let mut r = http_scenario(ctx, name, Arc::new(w), "req/s").await;
            r.notes.push(note);
            r.notes.push(mix::DESCRIPTION.to_owned());
            r
        }
        ScenarioName::ReceiptWebhook => webhook::run(ctx).await?,
        ScenarioName::Ws => ws::run(ctx).await?,
        ScenarioName::PgInsert => pg_insert::run(ctx).await?,
        ScenarioName::Connections => connections::run(ctx).await?,
        ScenarioName::Reports => {
            let (shifts, note) = ctx.shifts().await;
            let w = reports::Reports::new(f, t, shifts);
            let mut r = http_scenario(ctx, name, Arc::new(w), "req/s").await;
            r.notes.push(note);
            r.notes.push(reports::DESCRIPTION.to_owned());
            r
        }
    })
}

/// Unrecorded load before the first scenario: barcode lookups and list
/// pages across every tenant (loads each tenant's catalog into memory).
pub async fn warm_up(ctx: &Ctx, secs: u64) {
    if secs == 0 {
        return;
    }
    let spec = LoadSpec {
        duration: Duration::from_secs(secs),
        rate: None,
        ..ctx.spec()
    };
    let w = catalog::WarmUp::new(ctx.fixture.clone(), ctx.tokens.clone());
    let r = load::drive(ctx.target.clone(), Arc::new(w), spec, "warm-up").await;
    let t = r.recorder.total();
    println!(
        "warm-up: {:.1} s, {} ok, {} non-2xx, {} errors",
        r.elapsed.as_secs_f64(),
        t.ok,
        t.non_2xx,
        t.errors
    );
}

/// The POS mix as a workload (for the soak), with the shift note.
pub async fn mix_workload(ctx: &Ctx) -> (Arc<dyn crate::load::Workload>, String) {
    let (shifts, note) = ctx.shifts().await;
    let w = mix::Mix::new(ctx.fixture.clone(), ctx.tokens.clone(), shifts);
    (Arc::new(w), note)
}

pub const MIX_DESCRIPTION: &str = mix::DESCRIPTION;
