//! Receipt numbers, written last in the pipeline: lock the batch's register
//! rows (sorted), raise each register's counter past its client numbers
//! and by its count of server-numbered receipts, and write those numbers
//! over the placeholders in batch order. The register rows are the only
//! locks every batch of a store shares, so they are taken last and held
//! only while PostgreSQL finishes the pipeline and commits.

use super::pipeline::{Param, Sql};
use super::{BatchWriter, Effects};
use crate::domain::commit::{Decisions, Number, Verdict};
use crate::domain::receipt::PreparedReceipt;
use std::collections::HashMap;
use tokio_postgres::Row;
use uuid::Uuid;

const SQL_LOCK_REGISTERS: &str = "SELECT 1 FROM registers r \
     JOIN UNNEST($1::uuid[], $2::uuid[]) AS u(t, id) ON r.tenant_id = u.t AND r.id = u.id \
     ORDER BY r.tenant_id, r.id FOR UPDATE OF r";
const SQL_NUMBER: &str = "WITH bump AS ( \
       UPDATE registers r SET last_receipt_seq = GREATEST(r.last_receipt_seq, u.maxc) + u.n \
       FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[], $4::int8[]) AS u(t, id, maxc, n) \
       WHERE r.tenant_id = u.t AND r.id = u.id \
       RETURNING r.tenant_id, r.id, r.number AS regno, r.last_receipt_seq - u.n AS base) \
     UPDATE receipt_keys k SET number = b.regno || '-' || (b.base + x.ord) \
     FROM bump b, UNNEST($5::uuid[], $6::uuid[], $7::uuid[], $8::int8[]) AS x(t, rid, reg, ord) \
     WHERE b.tenant_id = x.t AND b.id = x.reg AND k.tenant_id = x.t AND k.id = x.rid \
     RETURNING k.tenant_id, k.id, k.number";

/// Inputs of the numbering: per register (sorted) and per server-numbered
/// receipt.
#[derive(Debug, Default)]
pub struct NumberWriter {
    reg_tenant: Vec<Uuid>,
    reg_id: Vec<Uuid>,
    max_client: Vec<i64>,
    count: Vec<i64>,
    x_tenant: Vec<Uuid>,
    x_receipt: Vec<Uuid>,
    x_register: Vec<Uuid>,
    x_ord: Vec<i64>,
}

impl NumberWriter {
    pub fn new(batch: &[PreparedReceipt], decisions: &Decisions) -> Self {
        let mut w = NumberWriter::default();
        for b in &decisions.registers {
            w.reg_tenant.push(b.tenant_id);
            w.reg_id.push(b.register_id);
            w.max_client.push(b.max_client_seq);
            w.count.push(b.server_numbered);
        }
        for (r, v) in batch.iter().zip(&decisions.verdicts) {
            if let Verdict::Accept(Number::Server { ord }) = v {
                w.x_tenant.push(r.tenant_id);
                w.x_receipt.push(r.id);
                w.x_register.push(r.register_id);
                w.x_ord.push(*ord);
            }
        }
        w
    }
}

impl BatchWriter for NumberWriter {
    fn statements(&self) -> Vec<Sql<'_>> {
        let lock: Vec<Param> = vec![&self.reg_tenant, &self.reg_id];
        let number: Vec<Param> = vec![
            &self.reg_tenant,
            &self.reg_id,
            &self.max_client,
            &self.count,
            &self.x_tenant,
            &self.x_receipt,
            &self.x_register,
            &self.x_ord,
        ];
        vec![
            Sql::new(SQL_LOCK_REGISTERS, lock),
            Sql::new(SQL_NUMBER, number),
        ]
    }

    fn collect(&self, rows: Vec<Vec<Row>>, effects: &mut Effects) {
        if let Some(numbered) = rows.get(1) {
            effects.numbers.extend(
                numbered
                    .iter()
                    .map(|row| ((row.get(0), row.get(1)), row.get(2))),
            );
        }
    }
}

/// Server numbers by (tenant, receipt id).
pub type Numbers = HashMap<(Uuid, Uuid), String>;
