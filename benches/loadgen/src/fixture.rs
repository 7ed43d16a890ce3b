//! The bench data set as the scenarios see it: ids, tokens and barcodes
//! written by `setup` to a JSON file (it holds bearer tokens: git-ignored).

use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::Path;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fixture {
    pub created_at: String,
    pub database: String,
    pub tenants: Vec<Tenant>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tenant {
    pub id: Uuid,
    pub owner_token: String,
    pub stores: Vec<Store>,
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Store {
    pub id: Uuid,
    pub warehouse_id: Uuid,
    pub registers: Vec<Register>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Register {
    pub id: Uuid,
    pub number: i32,
    pub token: String,
    /// The open shift inserted by setup (the receipt scenarios first try to
    /// open one through the API and fall back to this one).
    pub shift_id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Variant {
    pub id: Uuid,
    pub product_id: Uuid,
    pub barcode: String,
    /// Minor units.
    pub price: i64,
}

/// A register with everything a receipt for it needs.
#[derive(Debug, Clone, Copy)]
pub struct RegisterRef {
    pub tenant: usize,
    pub store: usize,
    pub register: usize,
}

impl Fixture {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading fixture {} (run `setup` first)", path.display()))?;
        let f: Fixture = serde_json::from_str(&text)
            .with_context(|| format!("parsing fixture {}", path.display()))?;
        if f.tenants.is_empty() || f.tenants.iter().any(|t| t.variants.len() < 3) {
            anyhow::bail!("fixture {} has no usable tenants", path.display());
        }
        Ok(f)
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(self)?)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    pub fn variant_count(&self) -> usize {
        self.tenants.iter().map(|t| t.variants.len()).sum()
    }

    /// Every register of every tenant, flattened.
    pub fn registers(&self) -> Vec<RegisterRef> {
        let mut out = Vec::new();
        for (ti, t) in self.tenants.iter().enumerate() {
            for (si, s) in t.stores.iter().enumerate() {
                for ri in 0..s.registers.len() {
                    out.push(RegisterRef {
                        tenant: ti,
                        store: si,
                        register: ri,
                    });
                }
            }
        }
        out
    }

    pub fn register(&self, r: RegisterRef) -> &Register {
        &self.tenants[r.tenant].stores[r.store].registers[r.register]
    }
}
