//! `receipt-rich`: the `receipt` scenario with the money rules at work, to
//! measure what they cost. Before the load, every bench tenant gets (through
//! the API) a 12% inclusive VAT as its default rate, a named 5% discount,
//! an active points program, cash rounding to 100 in every store, and 100
//! customers. Each receipt: 3 items, 10% off its first line, the named
//! receipt discount, and on every other receipt a customer (points earned
//! in the same commit, the customer's account locked by it); cash paid,
//! rounded up to 1,000. Compare its receipts/s with `receipt` in the same run.

use super::receipt::{tills, Till};
use super::Ctx;
use crate::fixture::{Fixture, Variant};
use crate::http::Conn;
use crate::load::{Op, WorkerState, Workload};
use bytes::Bytes;
use hyper::Method;
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::Rng;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

const CUSTOMERS: usize = 100;

/// What one tenant's rich receipts name.
#[derive(Clone, Default)]
pub struct TenantRules {
    pub discount_id: Option<Uuid>,
    pub customers: Vec<Uuid>,
}

async fn call(
    conn: &mut Conn,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Option<(u16, Value)> {
    let resp = conn
        .request_within(
            Duration::from_secs(10),
            method,
            path,
            Some(token),
            body.map(|b| Bytes::from(b.to_string())),
        )
        .await
        .ok()?;
    let v = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    Some((resp.status, v))
}

fn id_of(v: &Value) -> Option<Uuid> {
    v.get("id")?.as_str()?.parse().ok()
}

/// Sets the rules up on every tenant; safe to run again (a second run finds
/// what the first made). Answers the rules per tenant and a note.
pub async fn prepare(ctx: &Ctx) -> (Arc<Vec<TenantRules>>, String) {
    let mut out = Vec::new();
    let mut problems = 0usize;
    let mut conn = match Conn::new(ctx.target.clone()) {
        Ok(c) => c,
        Err(e) => {
            return (
                Arc::new(Vec::new()),
                format!("rules: no connection ({e:#})"),
            )
        }
    };
    for (ti, t) in ctx.fixture.tenants.iter().enumerate() {
        let tok = t.owner_token.as_str();
        let mut rules = TenantRules::default();
        // VAT as the tenant's default rate (reuse one named VAT 12%).
        let rates = call(&mut conn, Method::GET, "/api/v1/tax-rates", tok, None).await;
        let existing = rates.and_then(|(_, v)| {
            v.as_array()?
                .iter()
                .find(|r| r["name"] == "VAT 12%")
                .and_then(id_of)
        });
        let vat = match existing {
            Some(id) => Some(id),
            None => call(
                &mut conn,
                Method::POST,
                "/api/v1/tax-rates",
                tok,
                Some(json!({
                "name": "VAT 12%", "rate_bp": 1200, "mode": "inclusive",
                "effective_from": "2020-01-01T00:00:00Z"})),
            )
            .await
            .and_then(|(_, v)| id_of(&v)),
        };
        match vat {
            Some(vat) => {
                let r = call(
                    &mut conn,
                    Method::PUT,
                    "/api/v1/tax-assignments",
                    tok,
                    Some(json!({"target": "tenant", "tax_rate_id": vat})),
                )
                .await;
                problems += usize::from(r.map(|(s, _)| s) != Some(204));
            }
            None => problems += 1,
        }
        // The named receipt discount.
        let discounts = call(&mut conn, Method::GET, "/api/v1/discounts", tok, None).await;
        rules.discount_id = discounts.and_then(|(_, v)| {
            v.as_array()?
                .iter()
                .find(|d| d["name"] == "Bench 5%")
                .and_then(id_of)
        });
        if rules.discount_id.is_none() {
            rules.discount_id = call(
                &mut conn,
                Method::POST,
                "/api/v1/discounts",
                tok,
                Some(json!({
                "name": "Bench 5%", "kind": "percent", "value": 500, "max_percent_bp": 1000,
                "roles": ["cashier", "manager", "owner"]})),
            )
            .await
            .and_then(|(_, v)| id_of(&v));
        }
        problems += usize::from(rules.discount_id.is_none());
        // The points program.
        let version = call(&mut conn, Method::GET, "/api/v1/loyalty/program", tok, None)
            .await
            .and_then(|(_, v)| v["version"].as_i64())
            .unwrap_or(0);
        let r = call(
            &mut conn,
            Method::PUT,
            "/api/v1/loyalty/program",
            tok,
            Some(json!({
            "version": version, "active": true, "earn_points": 1, "earn_per_amount": 1000,
            "point_value": 100, "expiry_days": null})),
        )
        .await;
        problems += usize::from(r.map(|(s, _)| s) != Some(200));
        // Cash rounding in every store.
        for s in &t.stores {
            let path = format!("/api/v1/stores/{}/settings", s.id);
            let version = call(&mut conn, Method::GET, &path, tok, None)
                .await
                .and_then(|(_, v)| v["version"].as_i64())
                .unwrap_or(1);
            let r = call(
                &mut conn,
                Method::PATCH,
                &path,
                tok,
                Some(json!({"version": version, "cash_rounding_unit": 100})),
            )
            .await;
            problems += usize::from(r.map(|(s, _)| s) != Some(200));
        }
        // Customers (found by phone when they exist already).
        for i in 0..CUSTOMERS {
            let phone = format!("+99899{ti:03}{i:04}");
            let made = call(
                &mut conn,
                Method::POST,
                "/api/v1/customers",
                tok,
                Some(json!({"name": format!("Bench {i}"), "phone": phone})),
            )
            .await;
            let id = match made {
                Some((201, v)) => id_of(&v),
                _ => call(
                    &mut conn,
                    Method::GET,
                    &format!("/api/v1/customers?phone=%2B{}", &phone[1..]),
                    tok,
                    None,
                )
                .await
                .and_then(|(_, v)| id_of(&v)),
            };
            match id {
                Some(id) => rules.customers.push(id),
                None => problems += 1,
            }
        }
        out.push(rules);
    }
    let note = format!(
        "rules: VAT 12% inclusive, a named 5% receipt discount, 10% off line 1, points program, cash rounding 100, {CUSTOMERS} customers per tenant (customer on every other receipt); {problems} setup calls failed"
    );
    (Arc::new(out), note)
}

/// The JSON body of a rich sale.
fn rich_body(
    id: Uuid,
    till: &Till,
    items: &[&Variant],
    rules: &TenantRules,
    customer: Option<Uuid>,
) -> Bytes {
    let gross: i64 = items.iter().map(|v| v.price).sum();
    let lines: Vec<_> = items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if i == 0 {
                json!({"variant_id": v.id, "quantity": 1, "discount_percent_bp": 1000})
            } else {
                json!({"variant_id": v.id, "quantity": 1})
            }
        })
        .collect();
    let mut body = json!({
        "id": id,
        "store_id": till.store_id,
        "register_id": till.register_id,
        "shift_id": till.shift_id,
        "kind": "sale",
        "items": lines,
        // Discounts only lower the total: cash rounded up to 1,000 covers it.
        "payments": [{"method": "cash", "amount": (gross + 999) / 1000 * 1000 + 1000}],
    });
    if let Some(d) = rules.discount_id {
        body["discount"] = json!({"discount_id": d});
    }
    if let Some(c) = customer {
        body["customer_id"] = json!(c);
    }
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}

pub struct RichReceipts {
    fixture: Arc<Fixture>,
    tills: Vec<Till>,
    rules: Arc<Vec<TenantRules>>,
}

impl RichReceipts {
    pub fn new(fixture: Arc<Fixture>, shifts: &[Uuid], rules: Arc<Vec<TenantRules>>) -> Self {
        let tills = tills(&fixture, shifts);
        Self {
            fixture,
            tills,
            rules,
        }
    }
}

impl Workload for RichReceipts {
    fn next(&self, rng: &mut StdRng, _: &mut WorkerState) -> Op {
        let till = &self.tills[rng.gen_range(0..self.tills.len())];
        let variants = &self.fixture.tenants[till.reg.tenant].variants;
        let picked: Vec<&Variant> = sample(rng, variants.len(), 3)
            .into_iter()
            .map(|i| &variants[i])
            .collect();
        let default = TenantRules::default();
        let rules = self.rules.get(till.reg.tenant).unwrap_or(&default);
        let customer = if rules.customers.is_empty() || rng.gen_bool(0.5) {
            None
        } else {
            Some(rules.customers[rng.gen_range(0..rules.customers.len())])
        };
        Op {
            kind: "receipt-rich",
            method: Method::POST,
            path: "/api/v1/receipts".to_owned(),
            token: Some(till.token.clone()),
            body: Some(rich_body(Uuid::now_v7(), till, &picked, rules, customer)),
            cursor_tenant: None,
        }
    }
}
