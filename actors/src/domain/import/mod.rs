//! The catalog import's pure parts: parsing a CSV row into an `ImportRow`
//! (`row`) and planning a batch's writes from the facts read for it
//! (`plan`). The orchestration (reading the file, transactions, progress)
//! lives in `crate::import`.

pub mod plan;
pub mod row;
