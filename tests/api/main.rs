//! Black-box API tests against a real PostgreSQL (and Redis where named).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod auth;
mod bus;
mod catalog;
mod health;
mod leaks;
mod memory;
mod ops_metrics;
mod org;
mod partitions;
mod pgbouncer;
mod sales;
mod ws;
