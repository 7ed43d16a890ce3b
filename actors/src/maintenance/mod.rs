//! Background upkeep that no request triggers: monthly partitions kept
//! ahead of time, out of the default partitions, and within retention;
//! loyalty points past their program's expiry; vacuum where the
//! database's autovacuum is off.

pub mod partitions;
pub mod points;
pub mod vacuum;
