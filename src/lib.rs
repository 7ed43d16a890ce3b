//! The `jowi` binary's library: the HTTP edge of the JOWi Shop server.
//! Hot state lives in `jowi-actors`; this crate parses, authenticates,
//! sends messages and maps replies (and errors, in `error`) to HTTP.

pub mod auth;
pub mod catalog_import;
pub mod cli;
pub mod client_addr;
pub mod demo;
pub mod error;
pub mod fallback;
pub mod json;
pub mod openapi;
pub mod openapi_errors;
pub mod ops_metrics;
pub mod rate_limit;
pub mod replica;
pub mod reports_cli;
pub mod routes;
pub mod settings;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod web;
