//! The batch commit's business rules as one pure function. The writer reads
//! the facts of a batch from PostgreSQL (one round trip, under the batch's
//! locks), `decide` answers every receipt, then the writer writes exactly
//! what was decided (one pipelined round trip). No I/O here, so every rule
//! is unit- and property-tested without a database.
//!
//! The rules, in the order they are checked for each receipt:
//! 1. An id already stored: same body -> `Replay`, other body -> `IdConflict`.
//! 2. An id earlier in this batch: same body -> `InFlight` (retry: the
//!    first copy is being written), other body -> `IdConflict`.
//! 3. The shift must exist, belong to the receipt's register, and the
//!    receipt must have happened within it: not before it opened (less the
//!    allowed clock skew) and not after it closed — so a closed shift's Z
//!    report never changes.
//! 4. A client number must be unused (in PostgreSQL and earlier in the batch).
//! 5. A return may not exceed what is left to return on its sale, counting
//!    the returns accepted earlier in this batch; and what was returned
//!    before must still be what the return was priced against (else retry).
//! 6. Points: the customer must exist, and a redemption may not take the
//!    balance (locked, counting the batch's earlier receipts) below zero.
//!
//! Accepted receipts keep their client number or get the next server number
//! of their register, in batch order (the numbers themselves are taken in
//! the write, under the register's row lock).

use super::receipt::{PreparedReceipt, ReceiptKind, ReceiptLine, StoredReceipt};
use super::{RegisterId, TenantId, VariantId};
use crate::error::{Code, Error};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

/// The answer to one receipt: stored by this request, or stored before
/// (by an earlier request, another instance, before a restart) and
/// answered as a replay.
#[derive(Debug, Clone)]
pub enum Posted {
    Created(StoredReceipt),
    Replayed(StoredReceipt),
}

impl Posted {
    pub fn receipt(&self) -> &StoredReceipt {
        match self {
            Posted::Created(r) | Posted::Replayed(r) => r,
        }
    }
}

/// A shift as the commit sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShiftFacts {
    pub register_id: RegisterId,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// What PostgreSQL holds about a batch, read before anything is written.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Body hash of every id of the batch that is already stored.
    pub stored: HashMap<(TenantId, Uuid), Vec<u8>>,
    /// Every shift the batch names that exists.
    pub shifts: HashMap<(TenantId, Uuid), ShiftFacts>,
    /// Client numbers of the batch that are already used.
    pub taken: HashSet<(TenantId, String)>,
    /// Per sale named by a return of the batch: quantity per variant left
    /// to return. Absent: no such sale in this tenant.
    pub returnable: HashMap<(TenantId, Uuid), HashMap<VariantId, Decimal>>,
    /// How far a receipt's clock may run behind its shift's opening (the
    /// configured `sales.max_clock_skew_s`; set by the writer, not read).
    pub clock_skew: chrono::Duration,
    /// Per sale named by a return of the batch: quantity sold per variant.
    pub sold: HashMap<(TenantId, Uuid), HashMap<VariantId, Decimal>>,
    /// Points balance of every existing customer the batch moves points
    /// of, locked until COMMIT.
    pub balances: HashMap<(TenantId, Uuid), i64>,
    /// Per shift: who sells on it and its store's business clock (for the
    /// running totals; `decide` does not use it).
    pub sold_by: HashMap<(TenantId, Uuid), super::totals::ShiftContext>,
    /// Unit cost per (tenant, warehouse, variant) sold by the batch: the
    /// warehouse's moving average cost, else the variant's cost price
    /// (absent: unknown). For the lines' cost; `decide` does not use it.
    pub unit_costs: HashMap<(TenantId, Uuid, VariantId), i64>,
    /// Per sale named by a return of the batch: per variant, the cost of
    /// its lines (None when one had no cost).
    pub sold_costs: HashMap<(TenantId, Uuid), HashMap<VariantId, Option<i64>>>,
}

impl Facts {
    /// The cost of each line of an accepted receipt (see
    /// `totals::line_costs`).
    pub fn line_costs(&self, r: &super::receipt::PreparedReceipt) -> Vec<Option<i64>> {
        let t = r.tenant_id;
        super::totals::line_costs(
            r,
            |v| self.unit_costs.get(&(t, r.warehouse_id, v)).copied(),
            |v| {
                let orig = r.original_receipt_id?;
                let qty = *self.sold.get(&(t, orig))?.get(&v)?;
                let cost = (*self.sold_costs.get(&(t, orig))?.get(&v)?)?;
                Some((qty, cost))
            },
        )
    }
}

/// How an accepted receipt is numbered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Number {
    /// The register numbered it offline: `{register number}-{seq}`.
    Client(String),
    /// The server numbers it: the `ord`-th server-numbered receipt of its
    /// register in this batch (1-based), after the register's last number.
    Server { ord: i64 },
}

/// Why a receipt is not written. Each maps to one error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The id is stored (or earlier in the batch) with another body.
    IdConflict,
    /// The same id and body earlier in this batch: retry, it is being written.
    InFlight,
    NoSuchShift,
    ShiftOfAnotherRegister,
    ShiftClosed,
    /// `occurred_at` lies before its shift opened (beyond the clock skew).
    BeforeShiftOpened,
    NumberTaken(String),
    NoSuchSale,
    ReturnExceedsSale {
        variant: VariantId,
        returning: Decimal,
        left: Decimal,
    },
    /// Another return of the sale committed after this one was priced.
    ReturnRaced,
    NoSuchCustomer,
    InsufficientPoints {
        balance: i64,
        wanted: i64,
    },
}

impl From<Rejection> for Error {
    fn from(r: Rejection) -> Self {
        match r {
            Rejection::IdConflict => Error::conflict(
                Code::IdempotencyConflict,
                "this receipt id was already used with a different body",
            ),
            Rejection::InFlight => {
                Error::Unavailable("the same receipt is being stored; retry".into())
            }
            Rejection::NoSuchShift => Error::invalid("shift_id", "no such shift"),
            Rejection::ShiftOfAnotherRegister => {
                Error::invalid("shift_id", "the shift belongs to another register")
            }
            Rejection::ShiftClosed => {
                Error::conflict(Code::ShiftClosed, "the shift is closed; open a new one")
            }
            Rejection::BeforeShiftOpened => Error::invalid(
                "occurred_at",
                "is before its shift opened; a receipt belongs to the shift it happened in",
            ),
            Rejection::NumberTaken(n) => Error::conflict(
                Code::NumberTaken,
                format!("receipt number {n} is already used by another receipt"),
            ),
            Rejection::NoSuchSale => {
                Error::invalid("original_receipt_id", "no such sale to return")
            }
            Rejection::ReturnExceedsSale {
                variant,
                returning,
                left,
            } => Error::conflict(
                Code::ReturnExceedsSale,
                format!(
                    "variant {variant}: returning {returning}, only {left} left to return on that sale"
                ),
            ),
            Rejection::ReturnRaced => Error::Unavailable(
                "another return of that sale was stored meanwhile; retry".into(),
            ),
            Rejection::NoSuchCustomer => Error::invalid("customer_id", "no such customer"),
            Rejection::InsufficientPoints { balance, wanted } => Error::conflict(
                Code::InsufficientPoints,
                format!("paying {wanted} points, the customer has {balance}"),
            ),
        }
    }
}

/// The answer to one receipt of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept(Number),
    Replay,
    Reject(Rejection),
}

/// How far one register's counter moves: past its highest client number,
/// then by its count of server-numbered receipts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterBump {
    pub tenant_id: TenantId,
    pub register_id: RegisterId,
    pub max_client_seq: i64,
    pub server_numbered: i64,
}

/// Every receipt's verdict (same order as the batch) and the register
/// counters the accepted ones move, sorted by (tenant, register): the
/// order the write locks them in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decisions {
    pub verdicts: Vec<Verdict>,
    pub registers: Vec<RegisterBump>,
}

impl Decisions {
    /// The accepted receipts with their numbers, in batch order.
    pub fn accepted<'a>(
        &'a self,
        batch: &'a [PreparedReceipt],
    ) -> impl Iterator<Item = (&'a PreparedReceipt, &'a Number)> + 'a {
        batch
            .iter()
            .zip(&self.verdicts)
            .filter_map(|(r, v)| match v {
                Verdict::Accept(n) => Some((r, n)),
                _ => None,
            })
    }
}

/// A client number as stored: `{register number}-{seq}`.
pub fn client_number(r: &PreparedReceipt) -> Option<String> {
    r.client_seq.map(|s| format!("{}-{}", r.register_number, s))
}

/// Decides every receipt of `batch` against `facts`. Pure: the same batch
/// and facts always give the same decisions.
pub fn decide(batch: &[PreparedReceipt], facts: &Facts) -> Decisions {
    let mut verdicts = Vec::with_capacity(batch.len());
    let mut first_of_id: HashMap<(TenantId, Uuid), usize> = HashMap::new();
    let mut running = Running::default();
    let mut registers: BTreeMap<(TenantId, RegisterId), (i64, i64)> = BTreeMap::new();
    for (i, r) in batch.iter().enumerate() {
        let verdict = match check(r, i, facts, batch, &first_of_id, &mut running) {
            Ok(()) => {
                first_of_id.insert((r.tenant_id, r.id), i);
                let reg = registers
                    .entry((r.tenant_id, r.register_id))
                    .or_insert((0, 0));
                match r.client_seq {
                    Some(seq) => {
                        reg.0 = reg.0.max(seq);
                        Verdict::Accept(Number::Client(client_number(r).unwrap_or_default()))
                    }
                    None => {
                        reg.1 += 1;
                        Verdict::Accept(Number::Server { ord: reg.1 })
                    }
                }
            }
            Err(v) => v,
        };
        verdicts.push(verdict);
    }
    Decisions {
        verdicts,
        registers: registers
            .into_iter()
            .map(|((tenant_id, register_id), (max, n))| RegisterBump {
                tenant_id,
                register_id,
                max_client_seq: max,
                server_numbered: n,
            })
            .collect(),
    }
}

/// What the receipts accepted so far in a batch changed.
#[derive(Default)]
struct Running {
    taken: HashSet<(TenantId, String)>,
    /// Only the sales this batch returns from, copied on first use.
    returnable: HashMap<(TenantId, Uuid), HashMap<VariantId, Decimal>>,
    /// Points balances, copied from the facts on first use.
    balances: HashMap<(TenantId, Uuid), i64>,
}

/// The rules for one receipt; `Err` carries the verdict of a receipt that
/// is not accepted. Only an accepted receipt changes the running state
/// (taken numbers, what is left to return).
fn check(
    r: &PreparedReceipt,
    i: usize,
    facts: &Facts,
    batch: &[PreparedReceipt],
    first_of_id: &HashMap<(TenantId, Uuid), usize>,
    running: &mut Running,
) -> Result<(), Verdict> {
    let Running {
        taken,
        returnable,
        balances,
    } = running;
    let reject = |x| Err(Verdict::Reject(x));
    let key = (r.tenant_id, r.id);
    if let Some(hash) = facts.stored.get(&key) {
        return if hash.as_slice() == r.body_hash {
            Err(Verdict::Replay)
        } else {
            reject(Rejection::IdConflict)
        };
    }
    if let Some(&first) = first_of_id.get(&key) {
        debug_assert!(first < i);
        return reject(if batch[first].body_hash == r.body_hash {
            Rejection::InFlight
        } else {
            Rejection::IdConflict
        });
    }
    match facts.shifts.get(&(r.tenant_id, r.shift_id)) {
        None => return reject(Rejection::NoSuchShift),
        Some(s) if s.register_id != r.register_id => {
            return reject(Rejection::ShiftOfAnotherRegister)
        }
        Some(ShiftFacts {
            closed_at: Some(closed),
            ..
        }) if r.occurred_at > *closed => return reject(Rejection::ShiftClosed),
        Some(s) if r.occurred_at < s.opened_at - facts.clock_skew => {
            return reject(Rejection::BeforeShiftOpened)
        }
        Some(_) => {}
    }
    let number = client_number(r).map(|n| (r.tenant_id, n));
    if let Some(n) = &number {
        if facts.taken.contains(n) || taken.contains(n) {
            return reject(Rejection::NumberTaken(n.1.clone()));
        }
    }
    if let (ReceiptKind::Return, Some(original)) = (r.kind, r.original_receipt_id) {
        let okey = (r.tenant_id, original);
        let left = match returnable.entry(okey) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => match facts.returnable.get(&okey) {
                Some(left) => e.insert(left.clone()),
                None => return reject(Rejection::NoSuchSale),
            },
        };
        if let Some(basis) = &r.return_basis {
            let sold = facts.sold.get(&okey);
            for (variant, before) in basis {
                let sold = sold
                    .and_then(|s| s.get(variant))
                    .copied()
                    .unwrap_or_default();
                let left = left.get(variant).copied().unwrap_or_default();
                if sold - left != *before {
                    return reject(Rejection::ReturnRaced);
                }
            }
        }
        let points_ok = points_check(r, facts, balances);
        if let Err(why) = points_ok {
            return reject(why);
        }
        take_return(left, &r.lines).map_err(Verdict::Reject)?;
    } else if let Err(why) = points_check(r, facts, balances) {
        return reject(why);
    }
    if let Some(p) = r.points {
        if let Some(b) = balances.get_mut(&(r.tenant_id, p.customer_id)) {
            *b += p.earned - p.redeemed;
        }
    }
    if let Some(n) = number {
        taken.insert(n);
    }
    Ok(())
}

/// The customer of a points move exists and can pay its redemption
/// (balances are copied from the facts on first use; nothing changes here).
fn points_check(
    r: &PreparedReceipt,
    facts: &Facts,
    balances: &mut HashMap<(TenantId, Uuid), i64>,
) -> Result<(), Rejection> {
    let Some(p) = r.points else {
        return Ok(());
    };
    let key = (r.tenant_id, p.customer_id);
    let balance = match balances.entry(key) {
        std::collections::hash_map::Entry::Occupied(e) => *e.get(),
        std::collections::hash_map::Entry::Vacant(e) => match facts.balances.get(&key) {
            Some(b) => *e.insert(*b),
            None => return Err(Rejection::NoSuchCustomer),
        },
    };
    if p.redeemed > 0 && balance < p.redeemed {
        return Err(Rejection::InsufficientPoints {
            balance,
            wanted: p.redeemed,
        });
    }
    Ok(())
}

/// Subtracts a return's lines from what is left to return on its sale, or
/// changes nothing and says which variant would go below zero.
fn take_return(
    left: &mut HashMap<VariantId, Decimal>,
    lines: &[ReceiptLine],
) -> Result<(), Rejection> {
    let mut want: BTreeMap<VariantId, Decimal> = BTreeMap::new();
    for l in lines {
        *want.entry(l.variant_id).or_default() += l.quantity.decimal();
    }
    for (variant, qty) in &want {
        let have = left.get(variant).copied().unwrap_or_default();
        if *qty > have {
            return Err(Rejection::ReturnExceedsSale {
                variant: *variant,
                returning: *qty,
                left: have,
            });
        }
    }
    for (variant, qty) in want {
        if let Some(h) = left.get_mut(&variant) {
            *h -= qty;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
