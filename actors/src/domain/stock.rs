//! Stock: levels after a commit, and stock documents (receiving, write-off,
//! transfer, inventory count) as the client sends them, as validated
//! (`prepare_document`, pure) and as posted.

use super::{JsonDecimal, Money, Quantity, VariantId, WarehouseId};
use crate::error::{Error, Result};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use utoipa::ToSchema;
use uuid::Uuid;

/// Bound on one document's lines.
pub const MAX_DOCUMENT_LINES: usize = 1000;

/// A stock level as PostgreSQL answered it after a commit (receipt batch,
/// stock document, or another instance's commit heard on the bus). Memory
/// only ever takes these values, so it never runs ahead of the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelUpdate {
    pub tenant_id: Uuid,
    pub store_id: Uuid,
    pub warehouse_id: Uuid,
    pub variant_id: Uuid,
    /// The level after the commit.
    pub quantity: Decimal,
    /// What this commit changed it by.
    pub delta: Decimal,
    /// The level's version after this commit (bumped by every upsert of
    /// the row): commit order, so an older level never overwrites a newer
    /// one when two commits' answers arrive swapped.
    #[serde(default)]
    pub version: i64,
}

/// One (warehouse, variant) level as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Level {
    pub warehouse_id: Uuid,
    pub variant_id: Uuid,
    #[schema(value_type = String)]
    pub quantity: Decimal,
    /// Stock may go negative (goods were sold anyway); flagged for review.
    pub negative: bool,
    /// Moving average cost of one unit here (minor units), once received with a cost.
    pub avg_cost: Option<i64>,
}

impl Level {
    pub fn is_negative(quantity: Decimal) -> bool {
        quantity.is_sign_negative() && !quantity.is_zero()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Receiving,
    WriteOff,
    Transfer,
    /// Lines carry the counted quantity; the movement is counted - level.
    Inventory,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Receiving => "receiving",
            DocumentKind::WriteOff => "write_off",
            DocumentKind::Transfer => "transfer",
            DocumentKind::Inventory => "inventory",
        }
    }
}

/// A validated stock document.
#[derive(Debug, Clone)]
pub struct StockDocument {
    pub id: Uuid,
    pub kind: DocumentKind,
    pub warehouse_id: Uuid,
    pub to_warehouse_id: Option<Uuid>,
    /// (variant, quantity); quantity > 0 except inventory (>= 0).
    pub lines: Vec<(Uuid, Decimal)>,
    /// Receiving: (variant, quantity, unit cost) of the lines with a cost.
    pub costs: Vec<(Uuid, Decimal, i64)>,
    pub body_hash: [u8; 32],
}

pub fn document_hash(canonical: &[u8]) -> [u8; 32] {
    Sha256::digest(canonical).into()
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Movement {
    pub warehouse_id: Uuid,
    pub variant_id: Uuid,
    #[schema(value_type = String)]
    pub delta: Decimal,
    pub cause: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PostedDocument {
    pub id: Uuid,
    pub kind: DocumentKind,
    pub movements: Vec<Movement>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentLine {
    pub variant_id: Uuid,
    /// > 0; for an inventory count, the counted quantity (>= 0).
    #[schema(schema_with = super::decimal_input_schema)]
    pub quantity: JsonDecimal,
    /// Receiving only: cost of one unit in minor units; moves the
    /// warehouse's moving average cost of the variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_cost: Option<i64>,
}

/// A stock document as the client sends it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDocument {
    /// Client-generated; the idempotency key.
    pub id: Uuid,
    pub kind: DocumentKind,
    pub warehouse_id: Uuid,
    /// Transfers: the receiving warehouse.
    pub to_warehouse_id: Option<Uuid>,
    #[schema(min_items = 1, max_items = 1000)]
    pub lines: Vec<DocumentLine>,
}

/// Validates a document against the tenant's warehouses (`store_of`: the
/// store of every warehouse) and variants. Pure, like `receipt::prepare`.
pub fn prepare_document(
    body: &NewDocument,
    store_of: &HashMap<WarehouseId, Uuid>,
    variant_exists: impl Fn(VariantId) -> bool,
) -> Result<StockDocument> {
    if !store_of.contains_key(&body.warehouse_id) {
        return Err(Error::invalid("warehouse_id", "no such warehouse"));
    }
    match (body.kind, body.to_warehouse_id) {
        (DocumentKind::Transfer, Some(to)) if to == body.warehouse_id => {
            return Err(Error::invalid(
                "to_warehouse_id",
                "must differ from warehouse_id",
            ))
        }
        (DocumentKind::Transfer, Some(to)) if !store_of.contains_key(&to) => {
            return Err(Error::invalid("to_warehouse_id", "no such warehouse"))
        }
        (DocumentKind::Transfer, None) => {
            return Err(Error::invalid(
                "to_warehouse_id",
                "a transfer names its destination",
            ))
        }
        (DocumentKind::Transfer, Some(_)) => {}
        (_, Some(_)) => {
            return Err(Error::invalid(
                "to_warehouse_id",
                "only transfers have a destination",
            ))
        }
        (_, None) => {}
    }
    if body.lines.is_empty() || body.lines.len() > MAX_DOCUMENT_LINES {
        return Err(Error::invalid(
            "lines",
            format!("a document has 1 to {MAX_DOCUMENT_LINES} lines"),
        ));
    }
    let mut lines = Vec::with_capacity(body.lines.len());
    let mut costs = Vec::new();
    let mut seen = HashSet::new();
    for (i, l) in body.lines.iter().enumerate() {
        if !variant_exists(l.variant_id) {
            return Err(Error::invalid(
                format!("lines[{i}].variant_id"),
                "no such variant",
            ));
        }
        if !seen.insert(l.variant_id) {
            return Err(Error::invalid(
                format!("lines[{i}].variant_id"),
                "appears twice",
            ));
        }
        let field = format!("lines[{i}].quantity");
        let q = if body.kind == DocumentKind::Inventory && l.quantity.0.is_zero() {
            Decimal::ZERO
        } else {
            Quantity::parse(&field, l.quantity.0, false)?.decimal()
        };
        lines.push((l.variant_id, q));
        if let Some(c) = l.unit_cost {
            let field = format!("lines[{i}].unit_cost");
            if body.kind != DocumentKind::Receiving {
                return Err(Error::invalid(field, "only receiving carries a cost"));
            }
            costs.push((l.variant_id, q, Money::parse_non_negative(&field, c)?.0));
        }
    }
    Ok(StockDocument {
        id: body.id,
        kind: body.kind,
        warehouse_id: body.warehouse_id,
        to_warehouse_id: body.to_warehouse_id,
        lines,
        costs,
        body_hash: document_hash(&serde_json::to_vec(body).unwrap_or_default()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(kind: DocumentKind, to: Option<Uuid>, lines: Vec<(Uuid, &str)>) -> NewDocument {
        NewDocument {
            id: Uuid::from_u128(1),
            kind,
            warehouse_id: Uuid::from_u128(2),
            to_warehouse_id: to,
            lines: lines
                .into_iter()
                .map(|(v, q)| DocumentLine {
                    variant_id: v,
                    quantity: JsonDecimal(q.parse().unwrap_or_default()),
                    unit_cost: None,
                })
                .collect(),
        }
    }

    fn field(r: Result<StockDocument>) -> String {
        match r {
            Err(Error::Invalid { field, .. }) => field,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn documents_are_checked_against_warehouses_and_variants() {
        let (w, w2, v) = (Uuid::from_u128(2), Uuid::from_u128(3), Uuid::from_u128(9));
        let store_of = HashMap::from([(w, Uuid::nil()), (w2, Uuid::nil())]);
        let known = |x| x == v;
        let ok = prepare_document(
            &doc(DocumentKind::Receiving, None, vec![(v, "2.5")]),
            &store_of,
            known,
        );
        assert_eq!(
            ok.map(|d| d.lines).ok(),
            Some(vec![(v, Decimal::new(25, 1))])
        );
        let cases = [
            (
                doc(DocumentKind::Transfer, None, vec![(v, "1")]),
                "to_warehouse_id",
            ),
            (
                doc(DocumentKind::Transfer, Some(w), vec![(v, "1")]),
                "to_warehouse_id",
            ),
            (
                doc(DocumentKind::Receiving, Some(w2), vec![(v, "1")]),
                "to_warehouse_id",
            ),
            (doc(DocumentKind::Receiving, None, vec![]), "lines"),
            (
                doc(DocumentKind::Receiving, None, vec![(Uuid::nil(), "1")]),
                "lines[0].variant_id",
            ),
            (
                doc(DocumentKind::Receiving, None, vec![(v, "1"), (v, "1")]),
                "lines[1].variant_id",
            ),
            (
                doc(DocumentKind::WriteOff, None, vec![(v, "0")]),
                "lines[0].quantity",
            ),
        ];
        for (d, want) in cases {
            assert_eq!(field(prepare_document(&d, &store_of, known)), want, "{d:?}");
        }
        // An inventory count may count zero.
        let zero = prepare_document(
            &doc(DocumentKind::Inventory, None, vec![(v, "0")]),
            &store_of,
            known,
        );
        assert!(zero.is_ok());
    }
}
