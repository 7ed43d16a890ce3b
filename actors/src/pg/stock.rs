//! Stock levels and stock documents (receiving, write-off, transfer,
//! inventory count). A document is idempotent by its client id, like a
//! receipt: same id and body -> the stored answer; other body -> 409.

use super::{Db, Tx};
use crate::domain::stock::{
    DocumentKind, Level, LevelUpdate, Movement, PostedDocument, StockDocument,
};
use crate::error::{Code, Error, Result};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// A store's levels with their versions (see `LevelUpdate::version`).
pub async fn load_levels(
    db: &Db,
    tenant: Uuid,
    warehouses: &[Uuid],
) -> Result<HashMap<(Uuid, Uuid), (Decimal, i64)>> {
    let rows = db
        .query(
            "SELECT warehouse_id, variant_id, quantity, version FROM stock_levels \
             WHERE tenant_id = $1 AND warehouse_id = ANY($2)",
            &[&tenant, &warehouses],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| ((r.get(0), r.get(1)), (r.get(2), r.get(3))))
        .collect())
}

pub async fn levels(
    db: &Db,
    tenant: Uuid,
    warehouses: &[Uuid],
    variant: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Level>> {
    let rows = db
        .query(
            "SELECT warehouse_id, variant_id, quantity, avg_cost FROM stock_levels \
             WHERE tenant_id = $1 AND warehouse_id = ANY($2) AND ($3::uuid IS NULL OR variant_id = $3) \
             ORDER BY variant_id, warehouse_id LIMIT $4",
            &[&tenant, &warehouses, &variant, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let q: Decimal = r.get(2);
            Level {
                warehouse_id: r.get(0),
                variant_id: r.get(1),
                quantity: q,
                negative: Level::is_negative(q),
                avg_cost: r.get(3),
            }
        })
        .collect())
}

pub enum DocumentOutcome {
    Created(PostedDocument, Vec<LevelUpdate>),
    Replayed(PostedDocument),
}

/// Posts a document in one transaction; `store_of` maps each warehouse to
/// its store (for live updates).
pub async fn post_document(
    db: &Db,
    tenant: Uuid,
    doc: &StockDocument,
    store_of: &HashMap<Uuid, Uuid>,
) -> Result<DocumentOutcome> {
    let mut client = db.client().await?;
    let tx = db.begin(&mut client).await?;
    let stmt = tx
        .prepare(
            "INSERT INTO stock_documents (tenant_id, id, kind, body_hash) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, id) DO NOTHING",
        )
        .await?;
    let inserted = tx
        .execute(
            &stmt,
            &[
                &tenant,
                &doc.id,
                &doc.kind.as_str(),
                &doc.body_hash.as_slice(),
            ],
        )
        .await?;
    if inserted == 0 {
        let stmt = tx
            .prepare("SELECT body_hash, kind FROM stock_documents WHERE tenant_id = $1 AND id = $2")
            .await?;
        let row = tx.query_one(&stmt, &[&tenant, &doc.id]).await?;
        let hash: Vec<u8> = row.get(0);
        if hash.as_slice() != doc.body_hash {
            return Err(Error::conflict(
                Code::IdempotencyConflict,
                "this document id was already used with a different body",
            ));
        }
        let movements = stored_movements(&tx, tenant, doc.id).await?;
        tx.commit().await?;
        return Ok(DocumentOutcome::Replayed(PostedDocument {
            id: doc.id,
            kind: doc.kind,
            movements,
        }));
    }

    // Deltas per (warehouse, variant), in key order (lock order).
    let mut deltas: BTreeMap<(Uuid, Uuid), (Decimal, &'static str)> = BTreeMap::new();
    match doc.kind {
        DocumentKind::Receiving | DocumentKind::WriteOff => {
            let sign = if doc.kind == DocumentKind::Receiving {
                Decimal::ONE
            } else {
                Decimal::NEGATIVE_ONE
            };
            for (v, q) in &doc.lines {
                deltas
                    .entry((doc.warehouse_id, *v))
                    .or_insert((Decimal::ZERO, doc.kind.as_str()))
                    .0 += *q * sign;
            }
        }
        DocumentKind::Transfer => {
            let to = doc.to_warehouse_id.ok_or_else(|| {
                Error::invalid("to_warehouse_id", "a transfer names its destination")
            })?;
            for (v, q) in &doc.lines {
                deltas
                    .entry((doc.warehouse_id, *v))
                    .or_insert((Decimal::ZERO, "transfer_out"))
                    .0 -= *q;
                deltas
                    .entry((to, *v))
                    .or_insert((Decimal::ZERO, "transfer_in"))
                    .0 += *q;
            }
        }
        DocumentKind::Inventory => {
            let variants: Vec<Uuid> = doc.lines.iter().map(|(v, _)| *v).collect();
            // Lock the counted rows (creating missing ones at 0) in order.
            let stmt = tx
                .prepare(
                    "INSERT INTO stock_levels (tenant_id, warehouse_id, variant_id, quantity) \
                     SELECT $1, $2, v, 0 FROM UNNEST($3::uuid[]) AS v ORDER BY v \
                     ON CONFLICT (tenant_id, warehouse_id, variant_id) DO NOTHING",
                )
                .await?;
            tx.execute(&stmt, &[&tenant, &doc.warehouse_id, &variants])
                .await?;
            let stmt = tx.prepare("SELECT variant_id, quantity FROM stock_levels WHERE tenant_id = $1 AND warehouse_id = $2 \
                     AND variant_id = ANY($3) ORDER BY variant_id FOR UPDATE",
                )
                .await?;
            let current: HashMap<Uuid, Decimal> = tx
                .query(&stmt, &[&tenant, &doc.warehouse_id, &variants])
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            for (v, counted) in &doc.lines {
                let have = current.get(v).copied().unwrap_or_default();
                let d = *counted - have;
                if !d.is_zero() {
                    deltas.insert((doc.warehouse_id, *v), (d, "inventory"));
                }
            }
        }
    }

    if doc.kind == DocumentKind::Receiving && !doc.costs.is_empty() {
        super::retail::apply_receiving_costs(&tx, tenant, doc.warehouse_id, &doc.costs).await?;
    }
    let levels = apply_deltas(&tx, tenant, doc.id, &deltas, store_of).await?;
    super::outbox::append_stock_changes(&tx, tenant, &levels, doc.kind.as_str(), doc.id).await?;
    tx.commit().await?;
    let movements = deltas
        .iter()
        .map(|((w, v), (d, c))| Movement {
            warehouse_id: *w,
            variant_id: *v,
            delta: *d,
            cause: (*c).to_owned(),
        })
        .collect();
    Ok(DocumentOutcome::Created(
        PostedDocument {
            id: doc.id,
            kind: doc.kind,
            movements,
        },
        levels,
    ))
}

async fn apply_deltas(
    tx: &Tx<'_>,
    tenant: Uuid,
    document: Uuid,
    deltas: &BTreeMap<(Uuid, Uuid), (Decimal, &'static str)>,
    store_of: &HashMap<Uuid, Uuid>,
) -> Result<Vec<LevelUpdate>> {
    if deltas.is_empty() {
        return Ok(Vec::new());
    }
    let (mut w, mut v, mut d, mut c) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((wh, var), (delta, cause)) in deltas {
        w.push(*wh);
        v.push(*var);
        d.push(*delta);
        c.push(*cause);
    }
    let stmt = tx.prepare("INSERT INTO stock_movements (tenant_id, warehouse_id, variant_id, delta, cause, document_id) \
             SELECT $1, u.w, u.v, u.d, u.c, $2 FROM UNNEST($3::uuid[], $4::uuid[], $5::numeric[], $6::text[]) AS u(w, v, d, c)",
        )
        .await?;
    tx.execute(&stmt, &[&tenant, &document, &w, &v, &d, &c])
        .await?;
    let stmt = tx.prepare("INSERT INTO stock_levels (tenant_id, warehouse_id, variant_id, quantity, updated_at, version) \
             SELECT $1, u.w, u.v, u.d, now(), 1 FROM UNNEST($2::uuid[], $3::uuid[], $4::numeric[]) AS u(w, v, d) \
             ORDER BY 2, 3 \
             ON CONFLICT (tenant_id, warehouse_id, variant_id) \
             DO UPDATE SET quantity = stock_levels.quantity + EXCLUDED.quantity, updated_at = now(), \
               version = stock_levels.version + 1 \
             RETURNING warehouse_id, variant_id, quantity, version",
        )
        .await?;
    let rows = tx.query(&stmt, &[&tenant, &w, &v, &d]).await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let key: (Uuid, Uuid) = (r.get(0), r.get(1));
            Some(LevelUpdate {
                tenant_id: tenant,
                store_id: *store_of.get(&key.0)?,
                warehouse_id: key.0,
                variant_id: key.1,
                quantity: r.get(2),
                delta: deltas.get(&key)?.0,
                version: r.get(3),
            })
        })
        .collect())
}

async fn stored_movements(tx: &Tx<'_>, tenant: Uuid, document: Uuid) -> Result<Vec<Movement>> {
    let stmt = tx
        .prepare(
            "SELECT warehouse_id, variant_id, delta, cause FROM stock_movements \
             WHERE tenant_id = $1 AND document_id = $2 AND cause NOT IN ('sale', 'return') \
             ORDER BY warehouse_id, variant_id",
        )
        .await?;
    Ok(tx
        .query(&stmt, &[&tenant, &document])
        .await?
        .iter()
        .map(|r| Movement {
            warehouse_id: r.get(0),
            variant_id: r.get(1),
            delta: r.get(2),
            cause: r.get(3),
        })
        .collect())
}
