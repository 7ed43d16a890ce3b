//! Posting a stock document: validate against the tenant's catalog
//! (`domain::stock::prepare_document`), write it in one transaction
//! (`pg::stock::post_document`), then hand the committed levels to each
//! affected store's actor (live subscribers here, the bus for the others).

use super::{Directory, TenantHandle};
use crate::domain::stock::{prepare_document, LevelUpdate, NewDocument, PostedDocument};
use crate::error::Result;
use crate::pg::stock::{self, DocumentOutcome};
use crate::store::messages::ApplyLevels;
use std::collections::HashMap;
use uuid::Uuid;

/// A posted document and whether this request stored it.
pub enum DocumentPosted {
    Created(PostedDocument),
    Replayed(PostedDocument),
}

impl Directory {
    /// Idempotent by document id: the same id and body answers the stored
    /// document, another body `idempotency_conflict`.
    pub async fn post_stock_document(
        &self,
        tenant: &TenantHandle,
        body: &NewDocument,
    ) -> Result<DocumentPosted> {
        let store_of: HashMap<Uuid, Uuid> = tenant
            .catalog
            .stores()
            .iter()
            .flat_map(|s| s.warehouse_ids.iter().map(move |w| (*w, s.id)))
            .collect();
        let doc = prepare_document(body, &store_of, |v| tenant.catalog.variant(v).is_some())?;
        match stock::post_document(&self.db, tenant.tenant, &doc, &store_of).await? {
            DocumentOutcome::Replayed(d) => Ok(DocumentPosted::Replayed(d)),
            DocumentOutcome::Created(d, updates) => {
                let mut by_store: HashMap<Uuid, Vec<LevelUpdate>> = HashMap::new();
                for u in updates {
                    by_store.entry(u.store_id).or_default().push(u);
                }
                for (store, levels) in by_store {
                    if let Ok(addr) = self.store(tenant, store).await {
                        let _ = addr
                            .send(ApplyLevels {
                                levels,
                                cause: doc.kind.as_str().to_owned(),
                                publish: true,
                            })
                            .await;
                    }
                }
                Ok(DocumentPosted::Created(d))
            }
        }
    }
}
