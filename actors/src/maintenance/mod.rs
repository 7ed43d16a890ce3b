//! Background upkeep that no request triggers: monthly partitions kept
//! ahead of time, out of the default partitions, and within retention.

pub mod partitions;
