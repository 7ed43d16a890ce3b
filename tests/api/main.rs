//! Black-box API tests against a real PostgreSQL (and Redis where named).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod receiver;

mod auth;
mod authz;
mod backoffice;
mod bus;
mod catalog;
mod edge;
mod health;
mod input;
mod leaks;
mod limits;
mod memory;
mod money;
mod ops_metrics;
mod org;
mod partitions;
mod pgbouncer;
mod points;
mod poison;
mod replica;
mod reports;
mod retail;
mod sales;
mod shift_window;
mod stock_order;
mod totals_check;
mod vacuum;
mod webhooks;
mod ws;
