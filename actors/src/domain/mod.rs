//! The bottom layer: plain types every other layer shares, and the rules
//! that are pure functions (`receipt::prepare`, `commit::decide`). Nothing
//! here does I/O or imports from another module of this crate except
//! `error`. Everything that crosses the API boundary is parsed here once, so
//! the actors only ever see valid values.

pub mod business_day;
pub mod catalog;
pub mod commit;
pub mod events;
pub mod import;
mod money;
pub mod money_rules;
pub mod phone;
pub mod pin;
mod quantity;
pub mod receipt;
pub mod receipt_money;
pub mod stock;
pub mod store_settings;
mod text;
mod time;
pub mod totals;

pub use money::{Money, MAX_AMOUNT};
pub use quantity::{decimal_input_schema, JsonDecimal, Quantity};
pub use text::check_text;
pub use time::check_timestamp;

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub type TenantId = Uuid;
pub type StoreId = Uuid;
pub type ProductId = Uuid;
pub type VariantId = Uuid;
pub type CategoryId = Uuid;
pub type WarehouseId = Uuid;
pub type RegisterId = Uuid;

/// What a bearer token may do. Checked at the HTTP edge per endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including tokens.
    Owner,
    /// Back office: catalog, stores, stock, employees.
    Manager,
    /// A POS device: reads the catalog, sells, runs its shifts.
    Register,
    /// Reports and screens: reads only.
    ReadOnly,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Manager => "manager",
            Role::Register => "register",
            Role::ReadOnly => "read_only",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "owner" => Ok(Role::Owner),
            "manager" => Ok(Role::Manager),
            "register" => Ok(Role::Register),
            "read_only" => Ok(Role::ReadOnly),
            other => Err(Error::invalid("role", format!("unknown role {other:?}"))),
        }
    }

    /// Back-office writes: catalog, stores, registers, stock documents.
    pub fn can_manage(self) -> bool {
        matches!(self, Role::Owner | Role::Manager)
    }

    /// Point-of-sale writes: receipts, shifts.
    pub fn can_sell(self) -> bool {
        matches!(self, Role::Owner | Role::Manager | Role::Register)
    }
}

/// A barcode as scanned: 1..=64 printable ASCII characters, no spaces.
pub fn parse_barcode(field: &str, raw: &str) -> Result<String> {
    let ok = !raw.is_empty() && raw.len() <= 64 && raw.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(Error::invalid(
            field,
            "a barcode is 1 to 64 printable ASCII characters without spaces",
        ))
    }
}

/// A human name: trimmed, 1..=max characters, no control characters.
pub fn parse_name(field: &str, raw: &str, max: usize) -> Result<String> {
    let trimmed = raw.trim();
    check_text(field, trimmed)?;
    if trimmed.is_empty() || trimmed.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// A phone number: digits with an optional leading '+', 5..=20 digits.
/// Stored normalised (spaces, dashes and brackets removed) so lookups match.
pub fn parse_phone(field: &str, raw: &str) -> Result<String> {
    let mut out = String::with_capacity(raw.len());
    for (i, c) in raw.trim().chars().enumerate() {
        match c {
            '0'..='9' => out.push(c),
            '+' if i == 0 => out.push(c),
            ' ' | '-' | '(' | ')' => {}
            _ => {
                return Err(Error::invalid(
                    field,
                    "a phone number holds digits and an optional leading +",
                ))
            }
        }
    }
    let digits = out.trim_start_matches('+').len();
    if !(5..=20).contains(&digits) {
        return Err(Error::invalid(field, "a phone number has 5 to 20 digits"));
    }
    Ok(out)
}

/// Time-ordered ids (UUIDv7): newest-first listings order by id.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}
