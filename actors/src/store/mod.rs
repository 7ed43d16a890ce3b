//! Stores: stock levels and receipts.

pub mod stock;
