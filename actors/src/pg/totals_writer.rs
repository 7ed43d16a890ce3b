//! The running-totals derived writer: from the receipts a group commit
//! accepted, the deltas of every totals table (migration V8), coalesced per
//! row in memory and written as one sorted UNNEST upsert per table inside
//! the commit's transaction and its pipelined round trip. Totals and
//! receipts therefore commit together; `totals::rebuild` recomputes the same
//! rows from receipts (the equality tests compare the two).

use super::Db;
use crate::domain::business_day::BusinessClock;
use crate::error::Result;
use crate::store::receipt::{PaymentMethod, PreparedReceipt, ReceiptKind};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

/// What the commit read about a receipt besides the receipt itself.
#[derive(Debug, Clone, Copy)]
pub struct ReceiptFacts {
    /// The shift's employee (None for shifts opened before V8).
    pub employee: Option<Uuid>,
    /// The store's business clock.
    pub clock: BusinessClock,
}

/// Receipt-level figures of one totals row.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Figures {
    sales_count: i64,
    returns_count: i64,
    gross: i64,
    discounts: i64,
    sales: i64,
    returns: i64,
}

impl Figures {
    fn add(&mut self, r: &PreparedReceipt) {
        match r.kind {
            ReceiptKind::Sale => {
                self.sales_count += 1;
                self.gross += r.subtotal;
                self.discounts += r.discount_total;
                self.sales += r.total;
            }
            ReceiptKind::Return => {
                self.returns_count += 1;
                self.returns += r.total;
            }
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct ShiftDelta {
    figures: Figures,
    change_given: i64,
    paid: [i64; 3],
    refunded: [i64; 3],
}

#[derive(Debug, Default, Clone, Copy)]
struct VariantDelta {
    product: Uuid,
    qty_sold: Decimal,
    qty_returned: Decimal,
    gross: i64,
    discounts: i64,
    sales: i64,
    returns: i64,
}

#[derive(Debug, Default, Clone, Copy)]
struct PaymentDelta {
    paid: i64,
    refunded: i64,
    change_given: i64,
}

fn method_index(m: PaymentMethod) -> usize {
    match m {
        PaymentMethod::Cash => 0,
        PaymentMethod::Card => 1,
        PaymentMethod::Other => 2,
    }
}

/// The nil uuid stands for "no employee" in keys.
const NO_EMPLOYEE: Uuid = Uuid::nil();

/// Deltas of one batch, one entry per totals row (BTreeMaps: rows come out
/// in key order, which is the lock order every batch shares).
#[derive(Debug, Default)]
pub struct TotalsDelta {
    shifts: BTreeMap<(Uuid, Uuid), ShiftDelta>,
    hourly: BTreeMap<(Uuid, Uuid, NaiveDate, i16, Uuid), Figures>,
    employees: BTreeMap<(Uuid, Uuid, NaiveDate, Uuid), Figures>,
    variants: BTreeMap<(Uuid, Uuid, NaiveDate, Uuid), VariantDelta>,
    payments: BTreeMap<(Uuid, Uuid, NaiveDate, &'static str, Uuid), PaymentDelta>,
}

impl TotalsDelta {
    pub fn add(&mut self, r: &PreparedReceipt, facts: &ReceiptFacts) {
        let slot = facts.clock.slot(r.occurred_at);
        let (t, s, d) = (r.tenant_id, r.store_id, slot.day);
        let shift = self.shifts.entry((t, r.shift_id)).or_default();
        shift.figures.add(r);
        let sale = r.kind == ReceiptKind::Sale;
        if sale {
            shift.change_given += r.change;
        }
        for p in &r.payments {
            let i = method_index(p.method);
            if sale {
                shift.paid[i] += p.amount;
            } else {
                shift.refunded[i] += p.amount;
            }
            let row = self
                .payments
                .entry((t, s, d, p.method.as_str(), r.register_id))
                .or_default();
            if sale {
                row.paid += p.amount;
            } else {
                row.refunded += p.amount;
            }
        }
        if sale && r.change != 0 {
            self.payments
                .entry((t, s, d, PaymentMethod::Cash.as_str(), r.register_id))
                .or_default()
                .change_given += r.change;
        }
        self.hourly
            .entry((t, s, d, slot.hour, r.register_id))
            .or_default()
            .add(r);
        self.employees
            .entry((t, s, d, facts.employee.unwrap_or(NO_EMPLOYEE)))
            .or_default()
            .add(r);
        for l in &r.lines {
            let v = self.variants.entry((t, s, d, l.variant_id)).or_default();
            v.product = l.product_id;
            if sale {
                v.qty_sold += l.quantity.decimal();
                v.gross += l.total + l.discount;
                v.discounts += l.discount;
                v.sales += l.total;
            } else {
                v.qty_returned += l.quantity.decimal();
                v.returns += l.total;
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.shifts.is_empty()
    }

    /// Column arrays for the upserts.
    pub fn columns(&self) -> TotalsColumns {
        let mut c = TotalsColumns::default();
        for ((t, id), v) in &self.shifts {
            c.s_key.0.push(*t);
            c.s_key.1.push(*id);
            c.s_fig.push(&v.figures);
            c.s_change.push(v.change_given);
            for i in 0..3 {
                c.s_paid[i].push(v.paid[i]);
                c.s_refunded[i].push(v.refunded[i]);
            }
        }
        for ((t, s, d, h, reg), f) in &self.hourly {
            c.h_t.push(*t);
            c.h_s.push(*s);
            c.h_d.push(*d);
            c.h_h.push(*h);
            c.h_r.push(*reg);
            c.h_fig.push(f);
        }
        for ((t, s, d, e), f) in &self.employees {
            c.e_t.push(*t);
            c.e_s.push(*s);
            c.e_d.push(*d);
            c.e_e.push(*e);
            c.e_fig.push(f);
        }
        for ((t, s, d, var), v) in &self.variants {
            c.v_t.push(*t);
            c.v_s.push(*s);
            c.v_d.push(*d);
            c.v_v.push(*var);
            c.v_p.push(v.product);
            c.v_qs.push(v.qty_sold);
            c.v_qr.push(v.qty_returned);
            c.v_fig.push(&Figures {
                sales_count: 0,
                returns_count: 0,
                gross: v.gross,
                discounts: v.discounts,
                sales: v.sales,
                returns: v.returns,
            });
        }
        for ((t, s, d, m, reg), p) in &self.payments {
            c.p_t.push(*t);
            c.p_s.push(*s);
            c.p_d.push(*d);
            c.p_m.push(m);
            c.p_r.push(*reg);
            c.p_paid.push(p.paid);
            c.p_refunded.push(p.refunded);
            c.p_change.push(p.change_given);
        }
        c
    }
}

#[derive(Debug, Default)]
struct FigureColumns {
    sales_count: Vec<i64>,
    returns_count: Vec<i64>,
    gross: Vec<i64>,
    discounts: Vec<i64>,
    sales: Vec<i64>,
    returns: Vec<i64>,
}

impl FigureColumns {
    fn push(&mut self, f: &Figures) {
        self.sales_count.push(f.sales_count);
        self.returns_count.push(f.returns_count);
        self.gross.push(f.gross);
        self.discounts.push(f.discounts);
        self.sales.push(f.sales);
        self.returns.push(f.returns);
    }
}

#[derive(Debug, Default)]
pub struct TotalsColumns {
    s_key: (Vec<Uuid>, Vec<Uuid>),
    s_fig: FigureColumns,
    s_change: Vec<i64>,
    s_paid: [Vec<i64>; 3],
    s_refunded: [Vec<i64>; 3],
    h_t: Vec<Uuid>,
    h_s: Vec<Uuid>,
    h_d: Vec<NaiveDate>,
    h_h: Vec<i16>,
    h_r: Vec<Uuid>,
    h_fig: FigureColumns,
    e_t: Vec<Uuid>,
    e_s: Vec<Uuid>,
    e_d: Vec<NaiveDate>,
    e_e: Vec<Uuid>,
    e_fig: FigureColumns,
    v_t: Vec<Uuid>,
    v_s: Vec<Uuid>,
    v_d: Vec<NaiveDate>,
    v_v: Vec<Uuid>,
    v_p: Vec<Uuid>,
    v_qs: Vec<Decimal>,
    v_qr: Vec<Decimal>,
    v_fig: FigureColumns,
    p_t: Vec<Uuid>,
    p_s: Vec<Uuid>,
    p_d: Vec<NaiveDate>,
    p_m: Vec<&'static str>,
    p_r: Vec<Uuid>,
    p_paid: Vec<i64>,
    p_refunded: Vec<i64>,
    p_change: Vec<i64>,
}

const ADD_FIGURES: &str = "sales_count = t.sales_count + EXCLUDED.sales_count, \
     returns_count = t.returns_count + EXCLUDED.returns_count, gross = t.gross + EXCLUDED.gross, \
     discounts = t.discounts + EXCLUDED.discounts, sales = t.sales + EXCLUDED.sales, \
     returns = t.returns + EXCLUDED.returns";

fn sql_shifts() -> String {
    format!(
        "INSERT INTO shift_totals AS t (tenant_id, shift_id, sales_count, returns_count, gross, discounts, \
            sales, returns, change_given, cash_sales, card_sales, other_sales, cash_refunds, card_refunds, \
            other_refunds) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[], $4::int8[], $5::int8[], $6::int8[], \
            $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::int8[], $13::int8[], \
            $14::int8[], $15::int8[]) ORDER BY 1, 2 \
         ON CONFLICT (tenant_id, shift_id) DO UPDATE SET {ADD_FIGURES}, \
            change_given = t.change_given + EXCLUDED.change_given, \
            cash_sales = t.cash_sales + EXCLUDED.cash_sales, card_sales = t.card_sales + EXCLUDED.card_sales, \
            other_sales = t.other_sales + EXCLUDED.other_sales, \
            cash_refunds = t.cash_refunds + EXCLUDED.cash_refunds, \
            card_refunds = t.card_refunds + EXCLUDED.card_refunds, \
            other_refunds = t.other_refunds + EXCLUDED.other_refunds"
    )
}

fn sql_hourly() -> String {
    format!(
        "INSERT INTO sales_hourly AS t (tenant_id, store_id, business_day, hour, register_id, \
            sales_count, returns_count, gross, discounts, sales, returns) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::date[], $4::int2[], $5::uuid[], $6::int8[], \
            $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[]) ORDER BY 1, 2, 3, 4, 5 \
         ON CONFLICT (tenant_id, store_id, business_day, hour, register_id) DO UPDATE SET {ADD_FIGURES}"
    )
}

fn sql_employees() -> String {
    format!(
        "INSERT INTO sales_daily_employee AS t (tenant_id, store_id, business_day, employee_id, \
            sales_count, returns_count, gross, discounts, sales, returns) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::date[], $4::uuid[], $5::int8[], \
            $6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::int8[]) ORDER BY 1, 2, 3, 4 \
         ON CONFLICT (tenant_id, store_id, business_day, employee_id) DO UPDATE SET {ADD_FIGURES}"
    )
}

const SQL_VARIANTS: &str = "INSERT INTO sales_daily_variant AS t (tenant_id, store_id, business_day, \
        variant_id, product_id, qty_sold, qty_returned, gross, discounts, sales, returns) \
     SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::date[], $4::uuid[], $5::uuid[], $6::numeric[], \
        $7::numeric[], $8::int8[], $9::int8[], $10::int8[], $11::int8[]) ORDER BY 1, 2, 3, 4 \
     ON CONFLICT (tenant_id, store_id, business_day, variant_id) DO UPDATE SET \
        qty_sold = t.qty_sold + EXCLUDED.qty_sold, qty_returned = t.qty_returned + EXCLUDED.qty_returned, \
        gross = t.gross + EXCLUDED.gross, discounts = t.discounts + EXCLUDED.discounts, \
        sales = t.sales + EXCLUDED.sales, returns = t.returns + EXCLUDED.returns";

const SQL_PAYMENTS: &str =
    "INSERT INTO sales_daily_payment AS t (tenant_id, store_id, business_day, \
        method, register_id, paid, refunded, change_given) \
     SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::date[], $4::text[], $5::uuid[], $6::int8[], \
        $7::int8[], $8::int8[]) ORDER BY 1, 2, 3, 4, 5 \
     ON CONFLICT (tenant_id, store_id, business_day, method, register_id) DO UPDATE SET \
        paid = t.paid + EXCLUDED.paid, refunded = t.refunded + EXCLUDED.refunded, \
        change_given = t.change_given + EXCLUDED.change_given";

/// The five upserts, prepared on the commit's connection.
pub struct TotalsStatements([tokio_postgres::Statement; 5]);

impl TotalsStatements {
    pub async fn prepare(db: &Db, c: &deadpool_postgres::ClientWrapper) -> Result<Self> {
        Ok(TotalsStatements([
            db.prepare_on(c, &sql_shifts()).await?,
            db.prepare_on(c, &sql_hourly()).await?,
            db.prepare_on(c, &sql_employees()).await?,
            db.prepare_on(c, SQL_VARIANTS).await?,
            db.prepare_on(c, SQL_PAYMENTS).await?,
        ]))
    }
}

type P<'a> = &'a (dyn ToSql + Sync);

/// Sends the five upserts (in table order, which every batch shares) when
/// first polled; the caller puts this future into its pipelined `join!`.
pub async fn write(
    c: &deadpool_postgres::ClientWrapper,
    st: &TotalsStatements,
    cols: &TotalsColumns,
) -> Result<()> {
    fn f(x: &FigureColumns) -> [&Vec<i64>; 6] {
        [
            &x.sales_count,
            &x.returns_count,
            &x.gross,
            &x.discounts,
            &x.sales,
            &x.returns,
        ]
    }
    let sf = f(&cols.s_fig);
    let sp: [P; 15] = [
        &cols.s_key.0,
        &cols.s_key.1,
        sf[0],
        sf[1],
        sf[2],
        sf[3],
        sf[4],
        sf[5],
        &cols.s_change,
        &cols.s_paid[0],
        &cols.s_paid[1],
        &cols.s_paid[2],
        &cols.s_refunded[0],
        &cols.s_refunded[1],
        &cols.s_refunded[2],
    ];
    let hf = f(&cols.h_fig);
    let hp: [P; 11] = [
        &cols.h_t, &cols.h_s, &cols.h_d, &cols.h_h, &cols.h_r, hf[0], hf[1], hf[2], hf[3], hf[4],
        hf[5],
    ];
    let ef = f(&cols.e_fig);
    let ep: [P; 10] = [
        &cols.e_t, &cols.e_s, &cols.e_d, &cols.e_e, ef[0], ef[1], ef[2], ef[3], ef[4], ef[5],
    ];
    let vf = f(&cols.v_fig);
    let vp: [P; 11] = [
        &cols.v_t, &cols.v_s, &cols.v_d, &cols.v_v, &cols.v_p, &cols.v_qs, &cols.v_qr, vf[2],
        vf[3], vf[4], vf[5],
    ];
    let pp: [P; 8] = [
        &cols.p_t,
        &cols.p_s,
        &cols.p_d,
        &cols.p_m,
        &cols.p_r,
        &cols.p_paid,
        &cols.p_refunded,
        &cols.p_change,
    ];
    let [s0, s1, s2, s3, s4] = &st.0;
    let (a, b, d, e, g) = futures::join!(
        c.execute(s0, &sp),
        c.execute(s1, &hp),
        c.execute(s2, &ep),
        c.execute(s3, &vp),
        c.execute(s4, &pp),
    );
    a?;
    b?;
    d?;
    e?;
    g?;
    Ok(())
}
