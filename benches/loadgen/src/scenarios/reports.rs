//! `reports`: back-office sales reports while registers keep selling —
//! 40% receipts, 40% a 30-day report of one store by day, 20% a year of a
//! whole tenant by day with its top-20 products and categories. Per-kind
//! latency rows; run it on the history of `jowi-bench history`.

use super::receipt::Receipts;
use super::Tokens;
use crate::fixture::Fixture;
use crate::load::{Op, WorkerState, Workload};
use rand::rngs::StdRng;
use rand::Rng;
use std::sync::Arc;
use uuid::Uuid;

pub const DESCRIPTION: &str = "reports: 40% receipt, 40% report-30d (GET /reports/sales, one store, \
    30 days by day), 20% report-year (whole tenant, 365 days by day, top=20 products and categories)";

pub struct Reports {
    fixture: Arc<Fixture>,
    tokens: Arc<Tokens>,
    receipts: Receipts,
}

impl Reports {
    pub fn new(fixture: Arc<Fixture>, tokens: Arc<Tokens>, shifts: Arc<Vec<Uuid>>) -> Self {
        Self {
            receipts: Receipts::new(fixture.clone(), &shifts),
            fixture,
            tokens,
        }
    }

    fn report(&self, rng: &mut StdRng, year: bool) -> Op {
        let tenant = rng.gen_range(0..self.fixture.tenants.len());
        let t = &self.fixture.tenants[tenant];
        let today = chrono::Utc::now().date_naive();
        let token = Some(self.tokens.owner[tenant].clone());
        if year {
            let from = today - chrono::Duration::days(364);
            Op::get(
                "report-year",
                format!("/api/v1/reports/sales?from={from}&to={today}&group_by=day&top=20"),
                token,
            )
        } else {
            let store = &t.stores[rng.gen_range(0..t.stores.len())];
            let from = today - chrono::Duration::days(29);
            Op::get(
                "report-30d",
                format!(
                    "/api/v1/reports/sales?from={from}&to={today}&group_by=day&store_id={}",
                    store.id
                ),
                token,
            )
        }
    }
}

impl Workload for Reports {
    fn next(&self, rng: &mut StdRng, _: &mut WorkerState) -> Op {
        match rng.gen_range(0..10) {
            0..=3 => self.receipts.op(rng),
            4..=7 => self.report(rng, false),
            _ => self.report(rng, true),
        }
    }
}
