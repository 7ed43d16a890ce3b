//! What a receipt's commit answers.

use super::receipt::StoredReceipt;

/// The answer to one receipt: stored by this request, or stored before
/// (by an earlier request, another instance, before a restart) and
/// answered as a replay.
#[derive(Debug, Clone)]
pub enum Posted {
    Created(StoredReceipt),
    Replayed(StoredReceipt),
}

impl Posted {
    pub fn receipt(&self) -> &StoredReceipt {
        match self {
            Posted::Created(r) | Posted::Replayed(r) => r,
        }
    }
}
