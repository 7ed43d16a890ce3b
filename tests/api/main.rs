//! Black-box API tests against a real PostgreSQL (and Redis where named).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod auth;
mod backoffice;
mod bus;
mod catalog;
mod health;
mod leaks;
mod memory;
mod money;
mod ops_metrics;
mod org;
mod partitions;
mod pgbouncer;
mod replica;
mod reports;
mod retail;
mod sales;
mod totals_check;
mod ws;
