//! A store's settings: plain data with defaults and validation. Stored as
//! JSON in `store_settings.settings` beside a version; the tenant actor
//! holds them in memory (`tenant::retail`).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum NegativeStock {
    /// Sell anyway and flag the level (the goods are in the customer's hands).
    #[default]
    Allow,
    /// Refuse an online sale that would take a level below zero
    /// (`insufficient_stock`); offline uploads are always accepted.
    Refuse,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct StoreSettings {
    /// ISO 4217 code.
    pub currency: String,
    /// Digits after the decimal point of the currency (UZS 2, JPY 0).
    pub minor_units: i16,
    /// IANA time zone name, e.g. `Asia/Tashkent`.
    pub time_zone: String,
    pub receipt_header: Option<String>,
    pub receipt_footer: Option<String>,
    /// Cash payments round to a multiple of this many minor units (1: none).
    pub cash_rounding_unit: i64,
    pub negative_stock: NegativeStock,
    /// Tax rate for goods with no rate of their own or of their category;
    /// falls back to the tenant's default rate.
    pub default_tax_rate_id: Option<Uuid>,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            currency: "UZS".into(),
            minor_units: 2,
            time_zone: "Asia/Tashkent".into(),
            receipt_header: None,
            receipt_footer: None,
            cash_rounding_unit: 1,
            negative_stock: NegativeStock::Allow,
            default_tax_rate_id: None,
        }
    }
}

/// Settings with the version a PATCH must name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, Default)]
pub struct VersionedSettings {
    pub store_id: Uuid,
    pub version: i32,
    #[serde(flatten)]
    pub settings: StoreSettings,
}

/// Fields a PATCH may name.
const FIELDS: [&str; 8] = [
    "currency",
    "minor_units",
    "time_zone",
    "receipt_header",
    "receipt_footer",
    "cash_rounding_unit",
    "negative_stock",
    "default_tax_rate_id",
];

impl StoreSettings {
    /// These settings with `patch`'s fields over them (`null` clears an
    /// optional field), validated.
    pub fn patched(&self, patch: &serde_json::Map<String, serde_json::Value>) -> Result<Self> {
        let mut merged = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => {
                return Err(Error::Internal(anyhow::anyhow!(
                    "settings are not an object"
                )))
            }
        };
        for (k, v) in patch {
            if !FIELDS.contains(&k.as_str()) {
                return Err(Error::invalid(k.clone(), "unknown setting"));
            }
            merged.insert(k.clone(), v.clone());
        }
        let next: StoreSettings = serde_json::from_value(serde_json::Value::Object(merged))
            .map_err(|e| Error::invalid("settings", format!("{e}")))?;
        next.validate()?;
        Ok(next)
    }

    /// Checks every field; answers the first bad one.
    pub fn validate(&self) -> Result<()> {
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Error::invalid("currency", "an ISO 4217 code such as UZS"));
        }
        if !(0..=4).contains(&self.minor_units) {
            return Err(Error::invalid("minor_units", "must be 0 to 4"));
        }
        let tz_ok = (1..=64).contains(&self.time_zone.len())
            && self
                .time_zone
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(&b))
            && !self.time_zone.starts_with('/');
        if !tz_ok {
            return Err(Error::invalid(
                "time_zone",
                "an IANA time zone name such as Asia/Tashkent",
            ));
        }
        for (field, text) in [
            ("receipt_header", &self.receipt_header),
            ("receipt_footer", &self.receipt_footer),
        ] {
            if text
                .as_deref()
                .is_some_and(|t| t.chars().count() > 1000 || t.contains('\0'))
            {
                return Err(Error::invalid(field, "at most 1000 characters"));
            }
        }
        if !(1..=1_000_000).contains(&self.cash_rounding_unit) {
            return Err(Error::invalid(
                "cash_rounding_unit",
                "must be 1 (no rounding) to 1000000 minor units",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn patch_overlays_validates_and_refuses_unknown_fields() {
        let s = StoreSettings::default();
        let p = s
            .patched(&map(
                json!({"cash_rounding_unit": 100, "receipt_footer": "Thanks"}),
            ))
            .ok();
        assert_eq!(p.as_ref().map(|p| p.cash_rounding_unit), Some(100));
        assert_eq!(p.and_then(|p| p.receipt_footer).as_deref(), Some("Thanks"));
        assert!(matches!(
            s.patched(&map(json!({"cash_rounding_unit": 0}))),
            Err(Error::Invalid { field, .. }) if field == "cash_rounding_unit"
        ));
        assert!(matches!(
            s.patched(&map(json!({"colour": "red"}))),
            Err(Error::Invalid { field, .. }) if field == "colour"
        ));
        assert!(s
            .patched(&map(json!({"negative_stock": "sometimes"})))
            .is_err());
    }
}
