//! `mix`: the shape of a shop day — 70% barcode lookups, 10% list pages,
//! 15% receipts, 5% stock and shift-report reads.

use super::catalog::{Barcode, List};
use super::receipt::{tills, Receipts, Till};
use super::Tokens;
use crate::fixture::Fixture;
use crate::load::{Op, WorkerState, Workload};
use rand::rngs::StdRng;
use rand::Rng;
use std::sync::Arc;
use uuid::Uuid;

pub const DESCRIPTION: &str = "mix: 70% barcode, 10% list, 15% receipt, \
    2.5% GET /stores/{id}/stock?variant_id=, 2.5% GET /shifts/{id}/report";

pub struct Mix {
    fixture: Arc<Fixture>,
    tokens: Arc<Tokens>,
    barcode: Barcode,
    list: List,
    receipts: Receipts,
    tills: Vec<Till>,
}

impl Mix {
    pub fn new(fixture: Arc<Fixture>, tokens: Arc<Tokens>, shifts: Arc<Vec<Uuid>>) -> Self {
        Self {
            barcode: Barcode::new(fixture.clone(), tokens.clone()),
            list: List::new(fixture.clone(), tokens.clone()),
            receipts: Receipts::new(fixture.clone(), &shifts),
            tills: tills(&fixture, &shifts),
            fixture,
            tokens,
        }
    }

    fn stock(&self, rng: &mut StdRng) -> Op {
        let tenant = rng.gen_range(0..self.fixture.tenants.len());
        let t = &self.fixture.tenants[tenant];
        let store = &t.stores[rng.gen_range(0..t.stores.len())];
        let v = &t.variants[rng.gen_range(0..t.variants.len())];
        Op::get(
            "stock",
            format!("/api/v1/stores/{}/stock?variant_id={}", store.id, v.id),
            Some(self.tokens.owner[tenant].clone()),
        )
    }

    fn shift_report(&self, rng: &mut StdRng) -> Op {
        let till = &self.tills[rng.gen_range(0..self.tills.len())];
        Op::get(
            "shift-report",
            format!("/api/v1/shifts/{}/report", till.shift_id),
            Some(self.tokens.owner[till.reg.tenant].clone()),
        )
    }
}

impl Workload for Mix {
    fn next(&self, rng: &mut StdRng, state: &mut WorkerState) -> Op {
        match rng.gen_range(0..1000) {
            0..=699 => self.barcode.op(rng),
            700..=799 => self.list.op(rng, state),
            800..=949 => self.receipts.op(rng),
            950..=974 => self.stock(rng),
            _ => self.shift_report(rng),
        }
    }
}
