//! Read scenarios: `static` (the HTTP stack's ceiling), `barcode`, `list`.

use crate::fixture::Fixture;
use crate::load::{Op, WorkerState, Workload};
use rand::rngs::StdRng;
use rand::Rng;
use std::sync::Arc;

/// Bearer tokens as shared strings (cloned per request without copying).
pub struct Tokens {
    /// Per tenant.
    pub owner: Vec<Arc<str>>,
    /// Per tenant, its register tokens.
    pub registers: Vec<Vec<Arc<str>>>,
}

impl Tokens {
    pub fn new(f: &Fixture) -> Self {
        Self {
            owner: f
                .tenants
                .iter()
                .map(|t| Arc::from(t.owner_token.as_str()))
                .collect(),
            registers: f
                .tenants
                .iter()
                .map(|t| {
                    t.stores
                        .iter()
                        .flat_map(|s| s.registers.iter().map(|r| Arc::from(r.token.as_str())))
                        .collect()
                })
                .collect(),
        }
    }

    /// A random register token of `tenant` (the owner's if it has none).
    pub fn register_of(&self, tenant: usize, rng: &mut StdRng) -> Arc<str> {
        let regs = &self.registers[tenant];
        if regs.is_empty() {
            self.owner[tenant].clone()
        } else {
            regs[rng.gen_range(0..regs.len())].clone()
        }
    }
}

/// GET /api/v1/health: no auth, no tenant state.
pub struct Static;

impl Workload for Static {
    fn next(&self, _: &mut StdRng, _: &mut WorkerState) -> Op {
        Op::get("static", "/api/v1/health".to_owned(), None)
    }
}

/// GET /api/v1/products/barcode/{barcode}: a uniformly random variant of any
/// tenant, with a register token of that tenant.
pub struct Barcode {
    fixture: Arc<Fixture>,
    tokens: Arc<Tokens>,
    /// Cumulative variant counts: tenant i owns [offsets[i], offsets[i+1]).
    offsets: Vec<usize>,
}

impl Barcode {
    pub fn new(fixture: Arc<Fixture>, tokens: Arc<Tokens>) -> Self {
        let mut offsets = vec![0];
        for t in &fixture.tenants {
            offsets.push(offsets[offsets.len() - 1] + t.variants.len());
        }
        Self {
            fixture,
            tokens,
            offsets,
        }
    }

    pub fn op(&self, rng: &mut StdRng) -> Op {
        let total = self.offsets[self.offsets.len() - 1];
        let g = rng.gen_range(0..total);
        let tenant = self.offsets.partition_point(|&o| o <= g) - 1;
        let v = &self.fixture.tenants[tenant].variants[g - self.offsets[tenant]];
        Op::get(
            "barcode",
            format!("/api/v1/products/barcode/{}", v.barcode),
            Some(self.tokens.register_of(tenant, rng)),
        )
    }
}

impl Workload for Barcode {
    fn next(&self, rng: &mut StdRng, _: &mut WorkerState) -> Op {
        self.op(rng)
    }
}

/// GET /api/v1/products?limit=50 of a random tenant (owner token); half of
/// the time the next page after this worker's previous page of that tenant.
pub struct List {
    tokens: Arc<Tokens>,
}

impl List {
    pub fn new(_fixture: Arc<Fixture>, tokens: Arc<Tokens>) -> Self {
        Self { tokens }
    }

    pub fn op(&self, rng: &mut StdRng, state: &WorkerState) -> Op {
        let tenant = rng.gen_range(0..self.tokens.owner.len());
        let path = match state.cursors.get(&tenant) {
            Some(c) if rng.gen_bool(0.5) => format!("/api/v1/products?limit=50&cursor={c}"),
            _ => "/api/v1/products?limit=50".to_owned(),
        };
        let mut op = Op::get("list", path, Some(self.tokens.owner[tenant].clone()));
        op.cursor_tenant = Some(tenant);
        op
    }
}

impl Workload for List {
    fn next(&self, rng: &mut StdRng, state: &mut WorkerState) -> Op {
        self.op(rng, state)
    }
}

/// Warm-up: mostly barcodes, some list pages, every tenant.
pub struct WarmUp {
    barcode: Barcode,
    list: List,
}

impl WarmUp {
    pub fn new(fixture: Arc<Fixture>, tokens: Arc<Tokens>) -> Self {
        Self {
            barcode: Barcode::new(fixture.clone(), tokens.clone()),
            list: List::new(fixture, tokens),
        }
    }
}

impl Workload for WarmUp {
    fn next(&self, rng: &mut StdRng, state: &mut WorkerState) -> Op {
        if rng.gen_bool(0.9) {
            self.barcode.op(rng)
        } else {
            self.list.op(rng, state)
        }
    }
}
