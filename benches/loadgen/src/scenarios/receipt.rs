//! `receipt`: POST /api/v1/receipts, 3 items and 1 payment, a random
//! register (its own register token, its open shift), a fresh client UUID
//! per receipt. Durable: only a 2xx counts, and the server answers 2xx only
//! after COMMIT.

use super::Ctx;
use crate::fixture::{Fixture, RegisterRef, Variant};
use crate::http::Conn;
use crate::load::{Op, WorkerState, Workload};
use bytes::Bytes;
use hyper::Method;
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::Rng;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// One register ready to sell.
#[derive(Clone)]
pub struct Till {
    pub reg: RegisterRef,
    pub store_id: Uuid,
    pub register_id: Uuid,
    pub shift_id: Uuid,
    pub token: Arc<str>,
}

pub fn tills(fixture: &Fixture, shifts: &[Uuid]) -> Vec<Till> {
    fixture
        .registers()
        .into_iter()
        .zip(shifts)
        .map(|(reg, shift)| {
            let r = fixture.register(reg);
            Till {
                reg,
                store_id: fixture.tenants[reg.tenant].stores[reg.store].id,
                register_id: r.id,
                shift_id: *shift,
                token: Arc::from(r.token.as_str()),
            }
        })
        .collect()
}

/// The JSON body of a sale of `items` (quantity 1 each, catalog price).
/// Cash pays the total rounded up to 1,000 (change is due); card pays it exactly.
pub fn sale_body(id: Uuid, till: &Till, items: &[&Variant], cash: bool) -> Bytes {
    let total: i64 = items.iter().map(|v| v.price).sum();
    let (method, amount) = if cash {
        ("cash", (total + 999) / 1000 * 1000)
    } else {
        ("card", total)
    };
    let lines: Vec<_> = items
        .iter()
        .map(|v| json!({"variant_id": v.id, "quantity": 1, "price": v.price, "discount": 0}))
        .collect();
    let body = json!({
        "id": id,
        "store_id": till.store_id,
        "register_id": till.register_id,
        "shift_id": till.shift_id,
        "kind": "sale",
        "items": lines,
        "payments": [{"method": method, "amount": amount}],
    });
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}

pub struct Receipts {
    fixture: Arc<Fixture>,
    tills: Vec<Till>,
}

impl Receipts {
    pub fn new(fixture: Arc<Fixture>, shifts: &[Uuid]) -> Self {
        let tills = tills(&fixture, shifts);
        Self { fixture, tills }
    }

    pub fn op(&self, rng: &mut StdRng) -> Op {
        let till = &self.tills[rng.gen_range(0..self.tills.len())];
        let variants = &self.fixture.tenants[till.reg.tenant].variants;
        let picked: Vec<&Variant> = sample(rng, variants.len(), 3)
            .into_iter()
            .map(|i| &variants[i])
            .collect();
        Op {
            kind: "receipt",
            method: Method::POST,
            path: "/api/v1/receipts".to_owned(),
            token: Some(till.token.clone()),
            body: Some(sale_body(Uuid::now_v7(), till, &picked, rng.gen_bool(0.5))),
            cursor_tenant: None,
        }
    }
}

impl Workload for Receipts {
    fn next(&self, rng: &mut StdRng, _: &mut WorkerState) -> Op {
        self.op(rng)
    }
}

/// Opens a shift on every register through the API (POST /api/v1/shifts);
/// an already open one (409 shift_already_open) is reused; if the API does
/// not answer either way the shift inserted by setup is used.
pub async fn prepare_shifts(ctx: &Ctx) -> (Vec<Uuid>, String) {
    let fixture = &ctx.fixture;
    let mut ids = Vec::new();
    let (mut opened, mut existing, mut fallback) = (0, 0, 0);
    let mut fallback_why = std::collections::BTreeMap::<String, u32>::new();
    let mut conn = match Conn::new(ctx.target.clone()) {
        Ok(c) => c,
        Err(e) => {
            let ids = fixture
                .registers()
                .iter()
                .map(|r| fixture.register(*r).shift_id)
                .collect();
            return (ids, format!("shifts: fixture shifts used ({e:#})"));
        }
    };
    for reg in fixture.registers() {
        let r = fixture.register(reg);
        let body = json!({"register_id": r.id, "opening_cash": 0});
        let resp = conn
            .request_within(
                Duration::from_secs(10),
                Method::POST,
                "/api/v1/shifts",
                Some(&r.token),
                Some(Bytes::from(body.to_string())),
            )
            .await;
        let parsed = resp.as_ref().ok().and_then(|resp| {
            let v: serde_json::Value = serde_json::from_slice(&resp.body).ok()?;
            let id = match resp.status {
                201 | 200 => v.get("id")?.as_str()?.to_owned(),
                // The id is in `existing_shift_id`, or at the end of the message.
                409 => match v
                    .pointer("/error/existing_shift_id")
                    .and_then(|x| x.as_str())
                {
                    Some(id) => id.to_owned(),
                    None => v
                        .pointer("/error/message")?
                        .as_str()?
                        .rsplit(' ')
                        .next()?
                        .to_owned(),
                },
                _ => return None,
            };
            Some((resp.status, Uuid::parse_str(&id).ok()?))
        });
        match parsed {
            Some((409, id)) => {
                existing += 1;
                ids.push(id);
            }
            Some((_, id)) => {
                opened += 1;
                ids.push(id);
            }
            None => {
                fallback += 1;
                let why = match &resp {
                    Ok(r) => format!("HTTP {}", r.status),
                    Err(e) => format!("{e:#}"),
                };
                *fallback_why.entry(why).or_default() += 1;
                ids.push(r.shift_id);
            }
        }
    }
    let mut note = format!(
        "shifts: {opened} opened via POST /api/v1/shifts, {existing} already open (409), {fallback} inserted by setup"
    );
    if !fallback_why.is_empty() {
        note.push_str(&format!(" (API answered: {fallback_why:?})"));
    }
    (ids, note)
}
