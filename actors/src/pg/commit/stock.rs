//! Derived writer: the stock a batch moves. One `stock_movements` row per
//! receipt line (the ledger), and the batch's deltas coalesced per
//! (tenant, warehouse, variant) into one `stock_levels` upsert, in key
//! order so concurrent batches lock level rows in the same order. The
//! upsert answers the new quantities: the only values memory ever takes.

use super::pipeline::{Param, Sql};
use super::{BatchWriter, Effects};
use crate::domain::receipt::{PreparedReceipt, ReceiptKind};
use crate::domain::stock::LevelUpdate;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use tokio_postgres::Row;
use uuid::Uuid;

const SQL_MOVEMENTS: &str = "INSERT INTO stock_movements (tenant_id, created_at, warehouse_id, variant_id, delta, cause, document_id) \
     SELECT u.t, $7::timestamptz, u.w, u.v, u.d, u.c, u.doc \
     FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::numeric[], $5::text[], $6::uuid[]) AS u(t, w, v, d, c, doc)";
/// One upsert for all levels of the batch, in key order (lock order);
/// answers the new quantities with their versions (commit order).
const SQL_LEVELS: &str = "INSERT INTO stock_levels (tenant_id, warehouse_id, variant_id, quantity, updated_at, version) \
     SELECT u.t, u.w, u.v, u.d, now(), 1 FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::numeric[]) \
       AS u(t, w, v, d) ORDER BY 1, 2, 3 \
     ON CONFLICT (tenant_id, warehouse_id, variant_id) \
     DO UPDATE SET quantity = stock_levels.quantity + EXCLUDED.quantity, updated_at = now(), \
       version = stock_levels.version + 1 \
     RETURNING tenant_id, warehouse_id, variant_id, quantity, version";

/// Key of one stock level: (tenant, warehouse, variant). Ordered, so the
/// upsert locks rows in the same order in every transaction.
pub type LevelKey = (Uuid, Uuid, Uuid);

#[derive(Debug)]
pub struct StockWriter {
    created_at: DateTime<Utc>,
    m_tenant: Vec<Uuid>,
    m_warehouse: Vec<Uuid>,
    m_variant: Vec<Uuid>,
    m_delta: Vec<Decimal>,
    m_cause: Vec<&'static str>,
    m_document: Vec<Uuid>,
    /// Coalesced deltas per level, and the store each warehouse belongs to.
    levels: BTreeMap<LevelKey, (Decimal, Uuid)>,
    l_tenant: Vec<Uuid>,
    l_warehouse: Vec<Uuid>,
    l_variant: Vec<Uuid>,
    l_delta: Vec<Decimal>,
}

impl StockWriter {
    pub fn new(created_at: DateTime<Utc>, lines: usize) -> Self {
        StockWriter {
            created_at,
            m_tenant: Vec::with_capacity(lines),
            m_warehouse: Vec::with_capacity(lines),
            m_variant: Vec::with_capacity(lines),
            m_delta: Vec::with_capacity(lines),
            m_cause: Vec::with_capacity(lines),
            m_document: Vec::with_capacity(lines),
            levels: BTreeMap::new(),
            l_tenant: Vec::new(),
            l_warehouse: Vec::new(),
            l_variant: Vec::new(),
            l_delta: Vec::new(),
        }
    }

    /// Adds an accepted receipt's lines: a sale takes stock, a return puts it back.
    pub fn push(&mut self, r: &PreparedReceipt) {
        let sign = match r.kind {
            ReceiptKind::Sale => Decimal::NEGATIVE_ONE,
            ReceiptKind::Return => Decimal::ONE,
        };
        for l in &r.lines {
            let delta = l.quantity.decimal() * sign;
            self.m_tenant.push(r.tenant_id);
            self.m_warehouse.push(r.warehouse_id);
            self.m_variant.push(l.variant_id);
            self.m_delta.push(delta);
            self.m_cause.push(r.kind.as_str());
            self.m_document.push(r.id);
            self.levels
                .entry((r.tenant_id, r.warehouse_id, l.variant_id))
                .or_insert((Decimal::ZERO, r.store_id))
                .0 += delta;
        }
    }

    /// Lays the coalesced levels out as sorted column arrays (after the last push).
    pub fn seal(&mut self) {
        for ((tenant, warehouse, variant), (delta, _)) in &self.levels {
            self.l_tenant.push(*tenant);
            self.l_warehouse.push(*warehouse);
            self.l_variant.push(*variant);
            self.l_delta.push(*delta);
        }
    }
}

impl BatchWriter for StockWriter {
    fn statements(&self) -> Vec<Sql<'_>> {
        let movements: Vec<Param> = vec![
            &self.m_tenant,
            &self.m_warehouse,
            &self.m_variant,
            &self.m_delta,
            &self.m_cause,
            &self.m_document,
            &self.created_at,
        ];
        let levels: Vec<Param> = vec![
            &self.l_tenant,
            &self.l_warehouse,
            &self.l_variant,
            &self.l_delta,
        ];
        vec![
            Sql::new(SQL_MOVEMENTS, movements),
            Sql::new(SQL_LEVELS, levels),
        ]
    }

    fn collect(&self, rows: Vec<Vec<Row>>, effects: &mut Effects) {
        let Some(level_rows) = rows.get(1) else {
            return;
        };
        effects.levels.extend(level_rows.iter().filter_map(|row| {
            let key: LevelKey = (row.get(0), row.get(1), row.get(2));
            let (delta, store) = self.levels.get(&key)?;
            Some(LevelUpdate {
                tenant_id: key.0,
                store_id: *store,
                warehouse_id: key.1,
                variant_id: key.2,
                quantity: row.get(3),
                delta: *delta,
                version: row.get(4),
            })
        }));
    }
}
