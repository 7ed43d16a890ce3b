//! Derived writer: the running sales totals (migrations V8, V11). The batch's
//! deltas (`domain::totals::SalesDelta`, coalesced per row) become one
//! sorted UNNEST upsert per totals table, in this transaction and this
//! round trip: totals commit with their receipts. `pg::totals::rebuild`
//! recomputes the same rows from the receipts; the tests compare the two.
//!
//! Contention: shift rows (and their per-tax-rate rows) belong to one register; hour and payment rows
//! carry the register as a lane; employee rows are one cashier's; variant
//! rows (daily and monthly) contend like stock levels. No row is shared by a whole store, let
//! alone by the whole write path.

use super::pipeline::{Param, Sql};
use super::{BatchWriter, Effects};
use crate::domain::receipt::PreparedReceipt;
use crate::domain::totals::{Figures, SalesDelta, ShiftContext, VariantDelta, VariantKey};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use tokio_postgres::Row;
use uuid::Uuid;

macro_rules! add_figures {
    () => {
        "sales_count = t.sales_count + EXCLUDED.sales_count, \
         returns_count = t.returns_count + EXCLUDED.returns_count, gross = t.gross + EXCLUDED.gross, \
         discounts = t.discounts + EXCLUDED.discounts, sales = t.sales + EXCLUDED.sales, \
         returns = t.returns + EXCLUDED.returns"
    };
}

const SQL_SHIFTS: &str = concat!(
    "INSERT INTO shift_totals AS t (tenant_id, shift_id, sales_count, returns_count, gross, discounts, \
        sales, returns, change_given, cash_sales, card_sales, other_sales, points_sales, cash_refunds, \
        card_refunds, other_refunds, points_refunds, money_discounts, money_tax, money_rounding, \
        points_earned, points_redeemed) \
     SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[], $4::int8[], $5::int8[], $6::int8[], \
        $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::int8[], $13::int8[], \
        $14::int8[], $15::int8[], $16::int8[], $17::int8[], $18::int8[], $19::int8[], $20::int8[], \
        $21::int8[], $22::int8[]) ORDER BY 1, 2 \
     ON CONFLICT (tenant_id, shift_id) DO UPDATE SET ",
    add_figures!(),
    ", change_given = t.change_given + EXCLUDED.change_given, \
     cash_sales = t.cash_sales + EXCLUDED.cash_sales, card_sales = t.card_sales + EXCLUDED.card_sales, \
     other_sales = t.other_sales + EXCLUDED.other_sales, \
     points_sales = t.points_sales + EXCLUDED.points_sales, \
     cash_refunds = t.cash_refunds + EXCLUDED.cash_refunds, \
     card_refunds = t.card_refunds + EXCLUDED.card_refunds, \
     other_refunds = t.other_refunds + EXCLUDED.other_refunds, \
     points_refunds = t.points_refunds + EXCLUDED.points_refunds, \
     money_discounts = t.money_discounts + EXCLUDED.money_discounts, \
     money_tax = t.money_tax + EXCLUDED.money_tax, \
     money_rounding = t.money_rounding + EXCLUDED.money_rounding, \
     points_earned = t.points_earned + EXCLUDED.points_earned, \
     points_redeemed = t.points_redeemed + EXCLUDED.points_redeemed"
);

/// Per shift and tax rate (V11): the X/Z report's taxes.
const SQL_SHIFT_TAXES: &str =
    "INSERT INTO shift_tax_totals AS t (tenant_id, shift_id, tax_rate_id, taxable, tax) \
     SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::int8[], $5::int8[]) ORDER BY 1, 2, 3 \
     ON CONFLICT (tenant_id, shift_id, tax_rate_id) DO UPDATE SET \
        taxable = t.taxable + EXCLUDED.taxable, tax = t.tax + EXCLUDED.tax";

const SQL_HOURS: &str = concat!(
    "INSERT INTO sales_hourly AS t (tenant_id, store_id, business_day, hour, register_id, \
        sales_count, returns_count, gross, discounts, sales, returns) \
     SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::date[], $4::int2[], $5::uuid[], $6::int8[], \
        $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[]) ORDER BY 1, 2, 3, 4, 5 \
     ON CONFLICT (tenant_id, store_id, business_day, hour, register_id) DO UPDATE SET ",
    add_figures!()
);

const SQL_EMPLOYEES: &str = concat!(
    "INSERT INTO sales_daily_employee AS t (tenant_id, store_id, business_day, employee_id, register_id, \
        sales_count, returns_count, gross, discounts, sales, returns) \
     SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::date[], $4::uuid[], $5::uuid[], $6::int8[], \
        $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[]) ORDER BY 1, 2, 3, 4, 5 \
     ON CONFLICT (tenant_id, store_id, business_day, employee_id, register_id) DO UPDATE SET ",
    add_figures!()
);

macro_rules! variant_rows {
    () => {
        " SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::date[], $4::uuid[], $5::uuid[], $6::numeric[], \
            $7::numeric[], $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::int8[], $13::int8[], \
            $14::int8[], $15::int8[], $16::int8[]) ORDER BY 1, 2, 3, 4 "
    };
}

macro_rules! add_variant {
    () => {
        " DO UPDATE SET \
            qty_sold = t.qty_sold + EXCLUDED.qty_sold, qty_returned = t.qty_returned + EXCLUDED.qty_returned, \
            gross = t.gross + EXCLUDED.gross, discounts = t.discounts + EXCLUDED.discounts, \
            sales = t.sales + EXCLUDED.sales, returns = t.returns + EXCLUDED.returns, \
            tax = t.tax + EXCLUDED.tax, returns_tax = t.returns_tax + EXCLUDED.returns_tax, \
            cost = t.cost + EXCLUDED.cost, returns_cost = t.returns_cost + EXCLUDED.returns_cost, \
            uncosted_lines = t.uncosted_lines + EXCLUDED.uncosted_lines"
    };
}

const SQL_VARIANTS: &str = concat!(
    "INSERT INTO sales_daily_variant AS t (tenant_id, store_id, business_day, variant_id, product_id, \
        qty_sold, qty_returned, gross, discounts, sales, returns, tax, returns_tax, cost, returns_cost, \
        uncosted_lines)",
    variant_rows!(),
    "ON CONFLICT (tenant_id, store_id, business_day, variant_id)",
    add_variant!()
);

const SQL_MONTH_VARIANTS: &str = concat!(
    "INSERT INTO sales_monthly_variant AS t (tenant_id, store_id, month, variant_id, product_id, \
        qty_sold, qty_returned, gross, discounts, sales, returns, tax, returns_tax, cost, returns_cost, \
        uncosted_lines)",
    variant_rows!(),
    "ON CONFLICT (tenant_id, store_id, month, variant_id)",
    add_variant!()
);

const SQL_PAYMENTS: &str =
    "INSERT INTO sales_daily_payment AS t (tenant_id, store_id, business_day, \
        method, register_id, paid, refunded, change_given) \
     SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::date[], $4::text[], $5::uuid[], $6::int8[], \
        $7::int8[], $8::int8[]) ORDER BY 1, 2, 3, 4, 5 \
     ON CONFLICT (tenant_id, store_id, business_day, method, register_id) DO UPDATE SET \
        paid = t.paid + EXCLUDED.paid, refunded = t.refunded + EXCLUDED.refunded, \
        change_given = t.change_given + EXCLUDED.change_given";

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

    fn params(&self) -> [Param<'_>; 6] {
        [
            &self.sales_count,
            &self.returns_count,
            &self.gross,
            &self.discounts,
            &self.sales,
            &self.returns,
        ]
    }
}

/// Per-variant rows (daily or monthly) as column arrays.
#[derive(Debug, Default)]
struct VariantColumns {
    tenant: Vec<Uuid>,
    store: Vec<Uuid>,
    day: Vec<NaiveDate>,
    variant: Vec<Uuid>,
    product: Vec<Uuid>,
    qty_sold: Vec<Decimal>,
    qty_returned: Vec<Decimal>,
    gross: Vec<i64>,
    discounts: Vec<i64>,
    sales: Vec<i64>,
    returns: Vec<i64>,
    tax: Vec<i64>,
    returns_tax: Vec<i64>,
    cost: Vec<i64>,
    returns_cost: Vec<i64>,
    uncosted_lines: Vec<i64>,
}

impl VariantColumns {
    fn push(&mut self, (t, s, day, variant): &VariantKey, v: &VariantDelta) {
        self.tenant.push(*t);
        self.store.push(*s);
        self.day.push(*day);
        self.variant.push(*variant);
        self.product.push(v.product_id);
        self.qty_sold.push(v.qty_sold);
        self.qty_returned.push(v.qty_returned);
        self.gross.push(v.gross);
        self.discounts.push(v.discounts);
        self.sales.push(v.sales);
        self.returns.push(v.returns);
        self.tax.push(v.tax);
        self.returns_tax.push(v.returns_tax);
        self.cost.push(v.cost);
        self.returns_cost.push(v.returns_cost);
        self.uncosted_lines.push(v.uncosted_lines);
    }

    fn params(&self) -> Vec<Param<'_>> {
        vec![
            &self.tenant,
            &self.store,
            &self.day,
            &self.variant,
            &self.product,
            &self.qty_sold,
            &self.qty_returned,
            &self.gross,
            &self.discounts,
            &self.sales,
            &self.returns,
            &self.tax,
            &self.returns_tax,
            &self.cost,
            &self.returns_cost,
            &self.uncosted_lines,
        ]
    }
}

/// The batch's deltas, then (after `seal`) their column arrays.
#[derive(Debug, Default)]
pub struct TotalsWriter {
    delta: SalesDelta,
    s_tenant: Vec<Uuid>,
    s_shift: Vec<Uuid>,
    s_fig: FigureColumns,
    s_change: Vec<i64>,
    s_paid: [Vec<i64>; 4],
    s_refunded: [Vec<i64>; 4],
    /// discounts, tax, rounding, points earned, points redeemed.
    s_money: [Vec<i64>; 5],
    x_tenant: Vec<Uuid>,
    x_shift: Vec<Uuid>,
    x_rate: Vec<Uuid>,
    x_taxable: Vec<i64>,
    x_tax: Vec<i64>,
    h_tenant: Vec<Uuid>,
    h_store: Vec<Uuid>,
    h_day: Vec<NaiveDate>,
    h_hour: Vec<i16>,
    h_register: Vec<Uuid>,
    h_fig: FigureColumns,
    e_tenant: Vec<Uuid>,
    e_store: Vec<Uuid>,
    e_day: Vec<NaiveDate>,
    e_employee: Vec<Uuid>,
    e_register: Vec<Uuid>,
    e_fig: FigureColumns,
    daily: VariantColumns,
    monthly: VariantColumns,
    p_tenant: Vec<Uuid>,
    p_store: Vec<Uuid>,
    p_day: Vec<NaiveDate>,
    p_method: Vec<&'static str>,
    p_register: Vec<Uuid>,
    p_paid: Vec<i64>,
    p_refunded: Vec<i64>,
    p_change: Vec<i64>,
}

impl TotalsWriter {
    /// Adds an accepted receipt sold on a shift with `ctx`, with its lines'
    /// costs.
    pub fn push(&mut self, r: &PreparedReceipt, ctx: &ShiftContext, costs: &[Option<i64>]) {
        self.delta.add(r, ctx, costs);
    }

    /// Lays the coalesced rows out as sorted column arrays (after the last push).
    pub fn seal(&mut self) {
        let d = &self.delta;
        for ((t, id), v) in &d.shifts {
            self.s_tenant.push(*t);
            self.s_shift.push(*id);
            self.s_fig.push(&v.figures);
            self.s_change.push(v.change_given);
            for i in 0..4 {
                self.s_paid[i].push(v.paid[i]);
                self.s_refunded[i].push(v.refunded[i]);
            }
            let m = &v.money;
            for (col, x) in self.s_money.iter_mut().zip([
                m.discounts,
                m.tax,
                m.rounding,
                m.points_earned,
                m.points_redeemed,
            ]) {
                col.push(x);
            }
        }
        for ((t, shift, rate), x) in &d.shift_taxes {
            self.x_tenant.push(*t);
            self.x_shift.push(*shift);
            self.x_rate.push(*rate);
            self.x_taxable.push(x.taxable);
            self.x_tax.push(x.tax);
        }
        for ((t, s, day, hour, reg), f) in &d.hours {
            self.h_tenant.push(*t);
            self.h_store.push(*s);
            self.h_day.push(*day);
            self.h_hour.push(*hour);
            self.h_register.push(*reg);
            self.h_fig.push(f);
        }
        for ((t, s, day, e, reg), f) in &d.employees {
            self.e_register.push(*reg);
            self.e_tenant.push(*t);
            self.e_store.push(*s);
            self.e_day.push(*day);
            self.e_employee.push(*e);
            self.e_fig.push(f);
        }
        for (key, v) in &d.variants {
            self.daily.push(key, v);
        }
        for (key, v) in &d.month_variants {
            self.monthly.push(key, v);
        }
        for ((t, s, day, method, reg), p) in &d.payments {
            self.p_tenant.push(*t);
            self.p_store.push(*s);
            self.p_day.push(*day);
            self.p_method.push(method);
            self.p_register.push(*reg);
            self.p_paid.push(p.paid);
            self.p_refunded.push(p.refunded);
            self.p_change.push(p.change_given);
        }
    }
}

impl BatchWriter for TotalsWriter {
    fn statements(&self) -> Vec<Sql<'_>> {
        if self.delta.is_empty() {
            return Vec::new();
        }
        let mut shifts: Vec<Param> = vec![&self.s_tenant, &self.s_shift];
        shifts.extend(self.s_fig.params());
        shifts.push(&self.s_change);
        shifts.extend(self.s_paid.iter().map(|v| v as Param));
        shifts.extend(self.s_refunded.iter().map(|v| v as Param));
        shifts.extend(self.s_money.iter().map(|v| v as Param));
        let mut hours: Vec<Param> = vec![
            &self.h_tenant,
            &self.h_store,
            &self.h_day,
            &self.h_hour,
            &self.h_register,
        ];
        hours.extend(self.h_fig.params());
        let mut employees: Vec<Param> = vec![
            &self.e_tenant,
            &self.e_store,
            &self.e_day,
            &self.e_employee,
            &self.e_register,
        ];
        employees.extend(self.e_fig.params());
        let payments: Vec<Param> = vec![
            &self.p_tenant,
            &self.p_store,
            &self.p_day,
            &self.p_method,
            &self.p_register,
            &self.p_paid,
            &self.p_refunded,
            &self.p_change,
        ];
        let mut out = vec![Sql::new(SQL_SHIFTS, shifts)];
        // Shift rows, then their tax rows: the same lock order in every batch.
        if !self.x_tenant.is_empty() {
            let taxes: Vec<Param> = vec![
                &self.x_tenant,
                &self.x_shift,
                &self.x_rate,
                &self.x_taxable,
                &self.x_tax,
            ];
            out.push(Sql::new(SQL_SHIFT_TAXES, taxes));
        }
        out.extend([
            Sql::new(SQL_HOURS, hours),
            Sql::new(SQL_EMPLOYEES, employees),
            Sql::new(SQL_VARIANTS, self.daily.params()),
            Sql::new(SQL_MONTH_VARIANTS, self.monthly.params()),
            Sql::new(SQL_PAYMENTS, payments),
        ]);
        out
    }

    fn collect(&self, _rows: Vec<Vec<Row>>, _effects: &mut Effects) {}
}
