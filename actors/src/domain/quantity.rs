use crate::error::{Error, Result};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A quantity of goods: pieces or weighed amounts, at most 3 decimals.
/// Kept as an exact decimal; JSON accepts a number (`1.5`) or a string
/// (`"1.500"`) and always answers a string, so no client ever parses a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Quantity(pub Decimal);

/// Bound on one line's quantity; keeps line totals inside i64 minor units.
pub const MAX_QUANTITY: i64 = 1_000_000;

impl Quantity {
    pub const ZERO: Quantity = Quantity(Decimal::ZERO);

    pub fn parse(field: &str, value: Decimal, allow_negative: bool) -> Result<Quantity> {
        if value.scale() > 3 && value.normalize().scale() > 3 {
            return Err(Error::invalid(field, "at most 3 decimals"));
        }
        if value.abs() > Decimal::from(MAX_QUANTITY) {
            return Err(Error::invalid(
                field,
                format!("must not exceed {MAX_QUANTITY}"),
            ));
        }
        if value.is_zero() || (!allow_negative && value.is_sign_negative()) {
            return Err(Error::invalid(
                field,
                if allow_negative {
                    "must not be zero"
                } else {
                    "must be greater than zero"
                },
            ));
        }
        Ok(Quantity(value.normalize()))
    }

    pub fn decimal(self) -> Decimal {
        self.0
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// A decimal from JSON, as typed: a number or a numeric string. Kept
/// normalized and written back as a string, so a request re-serialized for
/// its idempotency hash reads the same whichever spelling the client used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonDecimal(pub Decimal);

impl Serialize for JsonDecimal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for JsonDecimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = JsonDecimal;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a decimal number or a string holding one")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<JsonDecimal, E> {
                Ok(JsonDecimal(Decimal::from(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<JsonDecimal, E> {
                Ok(JsonDecimal(Decimal::from(v)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<JsonDecimal, E> {
                // Display of f64 is the shortest text that reads back as the
                // same float, i.e. what the client typed for any sane quantity.
                if !v.is_finite() {
                    return Err(E::custom("not a finite number"));
                }
                v.to_string()
                    .parse::<Decimal>()
                    .map(JsonDecimal)
                    .map_err(|_| E::custom("number out of range"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<JsonDecimal, E> {
                v.trim()
                    .parse::<Decimal>()
                    .map(JsonDecimal)
                    .map_err(|_| E::custom("not a decimal number"))
            }
        }
        d.deserialize_any(V).map(|v| JsonDecimal(v.0.normalize()))
    }
}

/// The OpenAPI form of a `JsonDecimal` as the server reads it: a JSON
/// number or a string holding a decimal.
pub fn decimal_input_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"^\s*[-+]?[0-9]+(\.[0-9]+)?\s*$")),
        )
        .item(ObjectBuilder::new().schema_type(Type::Number))
        .description(Some("a decimal: a JSON number or a string (\"1.250\")"))
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Result<Quantity> {
        Quantity::parse(
            "q",
            s.parse().map_err(|_| Error::invalid("q", "parse"))?,
            false,
        )
    }

    #[test]
    fn accepts_three_decimals_and_rejects_four() {
        assert_eq!(
            q("1.250").map(|x| x.0.to_string()).ok(),
            Some("1.25".into())
        );
        assert!(matches!(q("1.2501"), Err(Error::Invalid { .. })));
    }

    #[test]
    fn rejects_zero_and_negative() {
        assert!(matches!(q("0"), Err(Error::Invalid { .. })));
        assert!(matches!(q("-1"), Err(Error::Invalid { .. })));
    }

    #[test]
    fn float_json_reads_exactly() {
        let d: JsonDecimal = serde_json::from_str("0.1").unwrap_or(JsonDecimal(Decimal::ZERO));
        assert_eq!(d.0.to_string(), "0.1");
    }
}
