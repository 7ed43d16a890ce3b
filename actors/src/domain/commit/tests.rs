//! Every branch of `decide`, then properties over random batches.

use super::*;
use crate::domain::receipt::ReceiptPayment;
use crate::domain::Quantity;
use chrono::TimeZone;
use proptest::prelude::*;

const T: Uuid = Uuid::from_u128(1);
const REG: Uuid = Uuid::from_u128(10);
const REG2: Uuid = Uuid::from_u128(11);
const SHIFT: Uuid = Uuid::from_u128(20);
const V1: Uuid = Uuid::from_u128(30);
const V2: Uuid = Uuid::from_u128(31);
const SALE: Uuid = Uuid::from_u128(40);

fn at(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + s, 0)
        .single()
        .unwrap_or_default()
}

fn line(variant: VariantId, qty: i64) -> ReceiptLine {
    ReceiptLine {
        line_no: 1,
        variant_id: variant,
        product_id: Uuid::nil(),
        quantity: Quantity(Decimal::from(qty)),
        price: 100,
        discount: 0,
        receipt_discount: 0,
        tax: 0,
        tax_rate_id: None,
        discount_id: None,
        total: 100 * qty,
        tax_included: true,
    }
}

fn receipt(id: u128, lines: Vec<ReceiptLine>) -> PreparedReceipt {
    PreparedReceipt {
        tenant_id: T,
        id: Uuid::from_u128(id),
        body_hash: [id as u8; 32],
        store_id: Uuid::nil(),
        warehouse_id: Uuid::nil(),
        register_id: REG,
        register_number: 3,
        shift_id: SHIFT,
        kind: ReceiptKind::Sale,
        original_receipt_id: None,
        customer_id: None,
        client_seq: None,
        occurred_at: at(0),
        lines,
        payments: vec![ReceiptPayment {
            method: crate::domain::receipt::PaymentMethod::Cash,
            amount: 100,
        }],
        subtotal: 100,
        discount_total: 0,
        total: 100,
        paid: 100,
        change: 0,
        money: Default::default(),
        points: None,
        return_basis: None,
    }
}

fn sale(id: u128) -> PreparedReceipt {
    receipt(id, vec![line(V1, 1)])
}

fn ret(id: u128, lines: Vec<ReceiptLine>) -> PreparedReceipt {
    PreparedReceipt {
        kind: ReceiptKind::Return,
        original_receipt_id: Some(SALE),
        ..receipt(id, lines)
    }
}

fn open_shift() -> Facts {
    let mut f = Facts::default();
    f.shifts.insert(
        (T, SHIFT),
        ShiftFacts {
            register_id: REG,
            opened_at: at(-3600),
            closed_at: None,
        },
    );
    f
}

fn one(r: PreparedReceipt, facts: &Facts) -> Verdict {
    decide(&[r], facts).verdicts.remove(0)
}

#[test]
fn a_new_sale_is_accepted_with_the_next_server_number() {
    let d = decide(&[sale(1), sale(2)], &open_shift());
    assert_eq!(
        d.verdicts,
        vec![
            Verdict::Accept(Number::Server { ord: 1 }),
            Verdict::Accept(Number::Server { ord: 2 })
        ]
    );
    assert_eq!(
        d.registers,
        vec![RegisterBump {
            tenant_id: T,
            register_id: REG,
            max_client_seq: 0,
            server_numbered: 2
        }]
    );
}

#[test]
fn a_stored_id_replays_with_its_body_and_conflicts_with_another() {
    let mut f = open_shift();
    let r = sale(1);
    f.stored.insert((T, r.id), r.body_hash.to_vec());
    assert_eq!(one(r.clone(), &f), Verdict::Replay);
    let changed = PreparedReceipt {
        body_hash: [9; 32],
        ..r
    };
    assert_eq!(one(changed, &f), Verdict::Reject(Rejection::IdConflict));
}

#[test]
fn the_same_id_twice_in_a_batch_writes_the_first_only() {
    let a = sale(1);
    let same = a.clone();
    let other = PreparedReceipt {
        body_hash: [9; 32],
        ..a.clone()
    };
    let d = decide(&[a, same, other], &open_shift());
    assert_eq!(
        d.verdicts,
        vec![
            Verdict::Accept(Number::Server { ord: 1 }),
            Verdict::Reject(Rejection::InFlight),
            Verdict::Reject(Rejection::IdConflict),
        ]
    );
}

#[test]
fn shift_must_exist_belong_to_the_register_and_be_open_when_sold() {
    assert_eq!(
        one(sale(1), &Facts::default()),
        Verdict::Reject(Rejection::NoSuchShift)
    );
    let mut f = open_shift();
    let other_register = PreparedReceipt {
        register_id: REG2,
        ..sale(1)
    };
    assert_eq!(
        one(other_register, &f),
        Verdict::Reject(Rejection::ShiftOfAnotherRegister)
    );
    f.shifts.insert(
        (T, SHIFT),
        ShiftFacts {
            register_id: REG,
            opened_at: at(-3600),
            closed_at: Some(at(10)),
        },
    );
    // Sold before the close (an offline backlog): accepted.
    let before = PreparedReceipt {
        occurred_at: at(5),
        ..sale(1)
    };
    assert!(matches!(one(before, &f), Verdict::Accept(_)));
    let after = PreparedReceipt {
        occurred_at: at(11),
        ..sale(2)
    };
    assert_eq!(one(after, &f), Verdict::Reject(Rejection::ShiftClosed));
}

#[test]
fn client_numbers_are_kept_unless_taken_and_move_the_counter() {
    let mut f = open_shift();
    f.taken.insert((T, "3-5".into()));
    let numbered = |id, seq| PreparedReceipt {
        client_seq: Some(seq),
        ..sale(id)
    };
    let d = decide(
        &[numbered(1, 7), numbered(2, 5), numbered(3, 7), sale(4)],
        &f,
    );
    assert_eq!(
        d.verdicts,
        vec![
            Verdict::Accept(Number::Client("3-7".into())),
            Verdict::Reject(Rejection::NumberTaken("3-5".into())),
            Verdict::Reject(Rejection::NumberTaken("3-7".into())),
            Verdict::Accept(Number::Server { ord: 1 }),
        ]
    );
    assert_eq!(d.registers[0].max_client_seq, 7);
    assert_eq!(d.registers[0].server_numbered, 1);
}

#[test]
fn a_return_needs_a_sale_and_stays_within_what_is_left() {
    let mut f = open_shift();
    assert_eq!(
        one(ret(1, vec![line(V1, 1)]), &f),
        Verdict::Reject(Rejection::NoSuchSale)
    );
    f.returnable
        .insert((T, SALE), HashMap::from([(V1, Decimal::from(3))]));
    let d = decide(
        &[
            ret(1, vec![line(V1, 2)]),
            ret(2, vec![line(V1, 1), line(V1, 1)]),
            ret(3, vec![line(V1, 1)]),
            ret(4, vec![line(V2, 1)]),
        ],
        &f,
    );
    assert!(matches!(d.verdicts[0], Verdict::Accept(_)));
    assert_eq!(
        d.verdicts[1],
        Verdict::Reject(Rejection::ReturnExceedsSale {
            variant: V1,
            returning: Decimal::from(2),
            left: Decimal::from(1)
        })
    );
    assert!(matches!(d.verdicts[2], Verdict::Accept(_)));
    assert_eq!(
        d.verdicts[3],
        Verdict::Reject(Rejection::ReturnExceedsSale {
            variant: V2,
            returning: Decimal::ONE,
            left: Decimal::ZERO
        })
    );
}

#[test]
fn a_rejected_receipt_leaves_its_number_free() {
    let f = open_shift();
    let bad = PreparedReceipt {
        client_seq: Some(9),
        ..ret(1, vec![line(V1, 1)])
    };
    let good = PreparedReceipt {
        client_seq: Some(9),
        ..sale(2)
    };
    let d = decide(&[bad, good], &f);
    assert_eq!(d.verdicts[0], Verdict::Reject(Rejection::NoSuchSale));
    assert_eq!(d.verdicts[1], Verdict::Accept(Number::Client("3-9".into())));
}

#[test]
fn every_rejection_has_its_error_code() {
    use crate::error::Error as E;
    let code = |r: Rejection| match Error::from(r) {
        E::Conflict { code, .. } => code.as_str().to_owned(),
        E::Invalid { field, .. } => format!("invalid:{field}"),
        E::Unavailable(_) => "unavailable".to_owned(),
        other => format!("{other:?}"),
    };
    assert_eq!(code(Rejection::IdConflict), "idempotency_conflict");
    assert_eq!(code(Rejection::InFlight), "unavailable");
    assert_eq!(code(Rejection::NoSuchShift), "invalid:shift_id");
    assert_eq!(code(Rejection::ShiftOfAnotherRegister), "invalid:shift_id");
    assert_eq!(code(Rejection::ShiftClosed), "shift_closed");
    assert_eq!(code(Rejection::NumberTaken("1-1".into())), "number_taken");
    assert_eq!(code(Rejection::NoSuchSale), "invalid:original_receipt_id");
    assert_eq!(
        code(Rejection::ReturnExceedsSale {
            variant: V1,
            returning: Decimal::ONE,
            left: Decimal::ZERO
        }),
        "return_exceeds_sale"
    );
}

// ---- properties --------------------------------------------------------

/// One receipt of a random batch: ids and bodies drawn from small ranges so
/// duplicates, conflicts and repeated numbers are common.
#[derive(Debug, Clone)]
struct Draw {
    id: u8,
    body: u8,
    register: bool,
    is_return: bool,
    client_seq: Option<u8>,
    lines: Vec<(bool, u8)>,
}

fn draw() -> impl Strategy<Value = Draw> {
    (
        0u8..12,
        0u8..2,
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(1u8..6),
        proptest::collection::vec((any::<bool>(), 1u8..4), 1..3),
    )
        .prop_map(|(id, body, register, is_return, client_seq, lines)| Draw {
            id,
            body,
            register,
            is_return,
            client_seq,
            lines,
        })
}

fn build(d: &Draw) -> PreparedReceipt {
    let lines = d
        .lines
        .iter()
        .map(|(v2, q)| line(if *v2 { V2 } else { V1 }, i64::from(*q)))
        .collect();
    let mut r = if d.is_return {
        ret(100 + u128::from(d.id), lines)
    } else {
        receipt(100 + u128::from(d.id), lines)
    };
    r.body_hash = [d.body; 32];
    r.register_id = if d.register { REG2 } else { REG };
    r.register_number = if d.register { 4 } else { 3 };
    r.client_seq = d.client_seq.map(i64::from);
    r
}

fn facts_for(stored: &[(u8, u8)], taken: &[u8], left: (u8, u8)) -> Facts {
    let mut f = Facts::default();
    for reg in [REG, REG2] {
        // One shift per register: the draw picks the register, the shift follows.
        let shift = if reg == REG {
            SHIFT
        } else {
            Uuid::from_u128(21)
        };
        f.shifts.insert(
            (T, shift),
            ShiftFacts {
                register_id: reg,
                opened_at: at(-3600),
                closed_at: None,
            },
        );
    }
    for (id, body) in stored {
        f.stored
            .insert((T, Uuid::from_u128(100 + u128::from(*id))), vec![*body; 32]);
    }
    for seq in taken {
        f.taken.insert((T, format!("3-{seq}")));
    }
    f.returnable.insert(
        (T, SALE),
        HashMap::from([(V1, Decimal::from(left.0)), (V2, Decimal::from(left.1))]),
    );
    f
}

fn shift_of(r: &mut PreparedReceipt) {
    if r.register_id == REG2 {
        r.shift_id = Uuid::from_u128(21);
    }
}

proptest! {
    /// Accepted returns never take more than was left on the sale.
    #[test]
    fn returns_never_exceed_what_was_sold(
        draws in proptest::collection::vec(draw(), 1..24),
        stored in proptest::collection::vec((0u8..12, 0u8..2), 0..4),
        left in (0u8..6, 0u8..6),
    ) {
        let mut batch: Vec<_> = draws.iter().map(build).collect();
        batch.iter_mut().for_each(shift_of);
        let facts = facts_for(&stored, &[], left);
        let d = decide(&batch, &facts);
        let mut returned: HashMap<VariantId, Decimal> = HashMap::new();
        for (r, _) in d.accepted(&batch).filter(|(r, _)| r.kind == ReceiptKind::Return) {
            for l in &r.lines {
                *returned.entry(l.variant_id).or_default() += l.quantity.decimal();
            }
        }
        prop_assert!(returned.get(&V1).copied().unwrap_or_default() <= Decimal::from(left.0));
        prop_assert!(returned.get(&V2).copied().unwrap_or_default() <= Decimal::from(left.1));
    }

    /// No number is given twice: client numbers are unique and unused, and
    /// each register's server numbers are 1..=n in batch order.
    #[test]
    fn no_number_is_given_twice(
        draws in proptest::collection::vec(draw(), 1..24),
        taken in proptest::collection::vec(1u8..6, 0..3),
    ) {
        let mut batch: Vec<_> = draws.iter().map(build).collect();
        batch.iter_mut().for_each(shift_of);
        let facts = facts_for(&[], &taken, (5, 5));
        let d = decide(&batch, &facts);
        let mut clients = HashSet::new();
        let mut ords: HashMap<RegisterId, Vec<i64>> = HashMap::new();
        for (r, n) in d.accepted(&batch) {
            match n {
                Number::Client(c) => {
                    prop_assert!(clients.insert(c.clone()), "number {} given twice", c);
                    prop_assert!(!facts.taken.contains(&(T, c.clone())));
                }
                Number::Server { ord } => ords.entry(r.register_id).or_default().push(*ord),
            }
        }
        for (reg, got) in ords {
            let want: Vec<i64> = (1..=got.len() as i64).collect();
            prop_assert_eq!(&got, &want);
            let bump = d.registers.iter().find(|b| b.register_id == reg);
            prop_assert_eq!(bump.map(|b| b.server_numbered), Some(want.len() as i64));
        }
    }

    /// The same id always gets one answer: at most one copy is written; a
    /// stored id is replayed (same body) or refused (other body) every time;
    /// and deciding again gives the same decisions.
    #[test]
    fn the_same_id_gets_the_same_answer(
        draws in proptest::collection::vec(draw(), 1..24),
        stored in proptest::collection::vec((0u8..12, 0u8..2), 0..4),
    ) {
        let mut batch: Vec<_> = draws.iter().map(build).collect();
        batch.iter_mut().for_each(shift_of);
        let facts = facts_for(&stored, &[], (5, 5));
        let d = decide(&batch, &facts);
        prop_assert_eq!(&d, &decide(&batch, &facts));
        let mut written = HashSet::new();
        for (r, v) in batch.iter().zip(&d.verdicts) {
            if let Some(hash) = facts.stored.get(&(T, r.id)) {
                let want = if hash.as_slice() == r.body_hash {
                    Verdict::Replay
                } else {
                    Verdict::Reject(Rejection::IdConflict)
                };
                prop_assert_eq!(v, &want);
            }
            if matches!(v, Verdict::Accept(_)) {
                prop_assert!(written.insert(r.id), "id {} written twice", r.id);
            }
        }
    }
}
