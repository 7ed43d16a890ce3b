//! The JSON body extractor of every handler: actix's `web::Json` (same
//! `JsonConfig`: size limit, content type, decompression, the error mapping
//! of `error::json_error`), except that the body must be a JSON object.
//!
//! serde's derived `Deserialize` of a struct also takes a JSON array of the
//! field values in order, so `web::Json<Patch>` accepted `[null, null]` as
//! a patch of two optional fields (and `["Main", null]` as a new store).
//! Here the top level is read with `deserialize_map`, which serde_json
//! answers with "invalid type: sequence, expected a JSON object" for
//! anything but `{`; a 400 `bad_request` like any other malformed body.
//! Below the top level, `strict` refuses a sequence wherever a struct is
//! read ("invalid type: sequence, expected struct ItemRequest").
//! Every request body of the API is an object (a list travels inside one:
//! `{"receipts": [...]}`), so handlers take `json::Json<T>`, never
//! `web::Json<T>` (a test below keeps it so).

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures_util::future::{MapOk, TryFutureExt};
use serde::de::{value::MapAccessDeserializer, DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::marker::PhantomData;

mod strict;

/// A request body that must be a JSON object, deserialized into `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// `T`, read only from a JSON object.
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OnlyMap<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for OnlyMap<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(strict::map(map)))
            }
        }
        deserializer
            .deserialize_map(OnlyMap(PhantomData))
            .map(Object)
    }
}

type Inner<T> = web::Json<Object<T>>;

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = MapOk<<Inner<T> as FromRequest>::Future, fn(Inner<T>) -> Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        fn unwrap<T>(body: Inner<T>) -> Json<T> {
            Json(body.into_inner().0)
        }
        Inner::<T>::from_request(req, payload).map_ok(unwrap::<T> as fn(Inner<T>) -> Self)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Patch {
        name: Option<String>,
        note: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    enum Tagged {
        In { amount: i64 },
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Flat {
        id: u32,
        #[serde(flatten)]
        rest: serde_json::Map<String, serde_json::Value>,
    }

    fn read<T: DeserializeOwned>(body: &str) -> Result<T, serde_json::Error> {
        serde_json::from_str::<Object<T>>(body).map(|o| o.0)
    }

    #[test]
    fn only_objects_are_read() {
        // What serde alone takes:
        assert!(serde_json::from_str::<Patch>("[null, null]").is_ok());
        for body in [
            "[null, null]",
            "[]",
            "null",
            "1",
            "\"x\"",
            "true",
            "  [\"a\", null]",
        ] {
            let err = read::<Patch>(body).expect_err(body).to_string();
            assert!(err.contains("expected a JSON object"), "{body}: {err}");
        }
        assert_eq!(
            read::<Patch>(r#" {"name": "a"} "#).unwrap(),
            Patch {
                name: Some("a".into()),
                note: None
            }
        );
        assert!(read::<Patch>(r#"{"nme": "a"}"#).is_err());
        assert!(read::<Patch>(r#"{"name": "a"} x"#).is_err());
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Upload {
        items: Vec<Patch>,
        one: Option<Patch>,
        #[serde(default)]
        pair: Option<(u8, u8)>,
        kind: Option<Tagged>,
        #[serde(default)]
        external: Option<External>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum External {
        Unit,
        Point { x: i64 },
    }

    #[test]
    fn nested_structs_are_only_read_from_objects() {
        let ok = read::<Upload>(
            r#"{"items": [{"name": "a"}, {}], "one": {"note": "n"}, "pair": [1, 2],
                "kind": {"kind": "in", "amount": 1}, "external": {"point": {"x": 3}}}"#,
        )
        .unwrap();
        assert_eq!(ok.items.len(), 2);
        assert_eq!(ok.pair, Some((1, 2)));
        assert_eq!(ok.external, Some(External::Point { x: 3 }));
        assert_eq!(
            read::<Upload>(r#"{"items": [], "one": null, "kind": null, "external": "unit"}"#)
                .unwrap()
                .external,
            Some(External::Unit)
        );
        for body in [
            r#"{"items": [[null, null]], "one": null, "kind": null}"#,
            r#"{"items": [], "one": ["a", null], "kind": null}"#,
            r#"{"items": [], "one": null, "kind": null, "external": {"point": [3]}}"#,
        ] {
            let err = read::<Upload>(body).expect_err(body).to_string();
            assert!(err.contains("invalid type: sequence"), "{body}: {err}");
        }
        // What serde alone takes:
        assert!(serde_json::from_str::<Upload>(
            r#"{"items": [[null, null]], "one": ["a", null], "kind": null}"#
        )
        .is_ok());
    }

    #[test]
    fn tagged_flattened_and_maps_still_read() {
        assert_eq!(
            read::<Tagged>(r#"{"kind": "in", "amount": 5}"#).unwrap(),
            Tagged::In { amount: 5 }
        );
        assert!(read::<Tagged>(r#"["in", 5]"#).is_err());
        let flat = read::<Flat>(r#"{"id": 1, "x": true}"#).unwrap();
        assert_eq!((flat.id, flat.rest.get("x")), (1, Some(&json!(true))));
        let map = read::<serde_json::Map<String, serde_json::Value>>(r#"{"a": 1}"#).unwrap();
        assert_eq!(map.get("a"), Some(&json!(1)));
        assert!(read::<serde_json::Map<String, serde_json::Value>>("[]").is_err());
    }

    /// Handlers read bodies through `Json` above, never actix's own.
    #[test]
    fn no_handler_takes_web_json() {
        fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    for (n, line) in text.lines().enumerate() {
                        if line.contains("web::Json<") && !path.ends_with("json/mod.rs") {
                            found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                        }
                    }
                }
            }
        }
        let mut found = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        assert!(
            found.is_empty(),
            "take crate::json::Json instead:\n{}",
            found.join("\n")
        );
    }
}
