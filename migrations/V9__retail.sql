-- Retail rules: taxes, discounts, loyalty, store settings, management,
-- per-store prices and cost. Columns on tables other streams also extend
-- are added with IF NOT EXISTS so the order of V8/V9/V10 never matters.

-- Taxes ---------------------------------------------------------------------
CREATE TABLE tax_rates (
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    id          uuid NOT NULL,
    name        text NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
-- A rate's history: a receipt uses the version in force at its occurred_at,
-- and stores the tax it computed, so a new rate never rewrites the past.
CREATE TABLE tax_rate_versions (
    tenant_id       uuid NOT NULL,
    tax_rate_id     uuid NOT NULL,
    effective_from  timestamptz NOT NULL,
    -- Basis points of a percent: 12% = 1200.
    rate_bp         integer NOT NULL CHECK (rate_bp BETWEEN 0 AND 10000),
    mode            text NOT NULL CHECK (mode IN ('inclusive', 'exclusive')),
    PRIMARY KEY (tenant_id, tax_rate_id, effective_from),
    FOREIGN KEY (tenant_id, tax_rate_id) REFERENCES tax_rates (tenant_id, id)
);
-- Which rate applies: variant, else product, else category (nearest
-- ancestor), else the store's default (store settings), else the tenant's.
CREATE TABLE tax_assignments (
    tenant_id    uuid NOT NULL,
    target_kind  text NOT NULL CHECK (target_kind IN ('tenant', 'category', 'product', 'variant')),
    -- The tenant's own id for target_kind = 'tenant'.
    target_id    uuid NOT NULL,
    tax_rate_id  uuid NOT NULL,
    PRIMARY KEY (tenant_id, target_kind, target_id),
    FOREIGN KEY (tenant_id, tax_rate_id) REFERENCES tax_rates (tenant_id, id)
);

-- Discounts -----------------------------------------------------------------
CREATE TABLE discount_definitions (
    tenant_id       uuid NOT NULL REFERENCES tenants(id),
    id              uuid NOT NULL,
    name            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('percent', 'amount')),
    -- Basis points for 'percent', minor units for 'amount'.
    value           bigint NOT NULL CHECK (value >= 0),
    max_percent_bp  integer NOT NULL CHECK (max_percent_bp BETWEEN 0 AND 10000),
    -- Employee roles that may apply it: cashier, manager, owner.
    roles           text[] NOT NULL,
    active          boolean NOT NULL DEFAULT true,
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

-- Customers and loyalty -----------------------------------------------------
-- Phones are stored in E.164 (`+998901234567`): one customer per phone
-- whatever spelling the till typed. The calling code for national numbers
-- is the tenant's.
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS country_calling_code text NOT NULL DEFAULT '998';
ALTER TABLE customers ADD COLUMN IF NOT EXISTS version integer NOT NULL DEFAULT 1;
ALTER TABLE customers ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();
-- Search by name prefix and phone prefix, cursor-paged by id.
CREATE INDEX idx_customers_tenant_name ON customers (tenant_id, lower(name) text_pattern_ops, id);
CREATE INDEX idx_customers_tenant_phone_prefix ON customers (tenant_id, phone text_pattern_ops);

CREATE TABLE loyalty_programs (
    tenant_id        uuid PRIMARY KEY REFERENCES tenants(id),
    active           boolean NOT NULL DEFAULT false,
    earn_points      bigint NOT NULL DEFAULT 1 CHECK (earn_points >= 0),
    earn_per_amount  bigint NOT NULL DEFAULT 1000 CHECK (earn_per_amount > 0),
    point_value      bigint NOT NULL DEFAULT 100 CHECK (point_value > 0),
    expiry_days      integer CHECK (expiry_days > 0),
    version          integer NOT NULL DEFAULT 1,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- The balance is always the sum of the customer's ledger (tested). A
-- redemption takes it only while it stays >= 0 (a conditional UPDATE, so
-- two registers on two instances cannot both spend the same points); a
-- reversal on return may take it below zero (the customer spent points
-- earned on goods they brought back).
CREATE TABLE loyalty_accounts (
    tenant_id    uuid NOT NULL,
    customer_id  uuid NOT NULL,
    balance      bigint NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, customer_id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
);

CREATE TABLE points_ledger (
    tenant_id    uuid NOT NULL,
    customer_id  uuid NOT NULL,
    id           bigserial,
    created_at   timestamptz NOT NULL DEFAULT now(),
    kind         text NOT NULL CHECK (kind IN ('earn', 'redeem', 'reverse_earn', 'reverse_redeem', 'adjust', 'expire')),
    -- Signed: earn and reverse_redeem add, redeem and reverse_earn take.
    points       bigint NOT NULL,
    -- The receipt that caused it (earn, redeem, reversals).
    receipt_id   uuid,
    -- Manual adjustments: why, and the client's id (idempotency).
    reason       text,
    client_id    uuid,
    expires_at   timestamptz,
    PRIMARY KEY (tenant_id, customer_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
);
-- One entry of each kind per receipt: a replayed receipt never earns twice.
CREATE UNIQUE INDEX points_ledger_receipt_kind ON points_ledger (tenant_id, receipt_id, kind) WHERE receipt_id IS NOT NULL;
CREATE UNIQUE INDEX points_ledger_client ON points_ledger (tenant_id, client_id) WHERE client_id IS NOT NULL;

-- Store settings, versioned --------------------------------------------------
ALTER TABLE store_settings ADD COLUMN IF NOT EXISTS version integer NOT NULL DEFAULT 1;

-- Stores, registers, warehouses: edit and deactivate ------------------------
ALTER TABLE stores ADD COLUMN IF NOT EXISTS version integer NOT NULL DEFAULT 1;
ALTER TABLE registers ADD COLUMN IF NOT EXISTS version integer NOT NULL DEFAULT 1;
-- A deactivated register's tokens stop authenticating (checked at lookup).
ALTER TABLE registers ADD COLUMN IF NOT EXISTS active boolean NOT NULL DEFAULT true;
ALTER TABLE warehouses ADD COLUMN IF NOT EXISTS active boolean NOT NULL DEFAULT true;
ALTER TABLE employees ADD COLUMN IF NOT EXISTS version integer NOT NULL DEFAULT 1;
ALTER TABLE employees ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX IF NOT EXISTS idx_api_tokens_register ON api_tokens (tenant_id, register_id) WHERE register_id IS NOT NULL;

-- Cash in/out: the client's id makes a retry harmless (same id + same body
-- -> the original; other body -> 409).
ALTER TABLE cash_movements ADD COLUMN IF NOT EXISTS body_hash bytea;

-- Prices and cost -------------------------------------------------------------
-- A store's own price of a variant from a moment on (the latest one in
-- force wins over the variant's price).
CREATE TABLE store_prices (
    tenant_id       uuid NOT NULL,
    store_id        uuid NOT NULL,
    variant_id      uuid NOT NULL,
    effective_from  timestamptz NOT NULL,
    price           bigint NOT NULL CHECK (price >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, store_id, variant_id, effective_from),
    FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id),
    FOREIGN KEY (tenant_id, variant_id) REFERENCES product_variants (tenant_id, id)
);
ALTER TABLE product_variants ADD COLUMN IF NOT EXISTS cost_price bigint CHECK (cost_price >= 0);
-- Moving average cost per warehouse and variant, updated by receiving.
ALTER TABLE stock_levels ADD COLUMN IF NOT EXISTS avg_cost bigint;
ALTER TABLE stock_movements ADD COLUMN IF NOT EXISTS unit_cost bigint;

-- Receipts carry the money rules' results -------------------------------------
ALTER TABLE receipts ADD COLUMN IF NOT EXISTS tax_total bigint NOT NULL DEFAULT 0;
ALTER TABLE receipts ADD COLUMN IF NOT EXISTS receipt_discount bigint NOT NULL DEFAULT 0;
ALTER TABLE receipts ADD COLUMN IF NOT EXISTS rounding bigint NOT NULL DEFAULT 0;
ALTER TABLE receipts ADD COLUMN IF NOT EXISTS points_earned bigint NOT NULL DEFAULT 0;
ALTER TABLE receipts ADD COLUMN IF NOT EXISTS points_redeemed bigint NOT NULL DEFAULT 0;
-- Per rate: [{tax_rate_id, rate_bp, mode, taxable, tax}] as answered.
ALTER TABLE receipts ADD COLUMN IF NOT EXISTS taxes jsonb;
ALTER TABLE receipts ADD COLUMN IF NOT EXISTS discount_id uuid;
ALTER TABLE receipt_items ADD COLUMN IF NOT EXISTS tax bigint NOT NULL DEFAULT 0;
ALTER TABLE receipt_items ADD COLUMN IF NOT EXISTS tax_rate_id uuid;
ALTER TABLE receipt_items ADD COLUMN IF NOT EXISTS receipt_discount bigint NOT NULL DEFAULT 0;
ALTER TABLE receipt_items ADD COLUMN IF NOT EXISTS discount_id uuid;
-- False when the line's total has its (exclusive) tax added on top.
ALTER TABLE receipt_items ADD COLUMN IF NOT EXISTS tax_included boolean NOT NULL DEFAULT true;
ALTER TABLE payments DROP CONSTRAINT IF EXISTS payments_method_check;
ALTER TABLE payments ADD CONSTRAINT payments_method_check CHECK (method IN ('cash', 'card', 'other', 'points'));

-- Points paid (payment method `points`) in the running totals of V8.
ALTER TABLE shift_totals ADD COLUMN points_sales bigint NOT NULL DEFAULT 0,
                         ADD COLUMN points_refunds bigint NOT NULL DEFAULT 0;
ALTER TABLE sales_daily_payment DROP CONSTRAINT IF EXISTS sales_daily_payment_method_check;
ALTER TABLE sales_daily_payment ADD CONSTRAINT sales_daily_payment_method_check
    CHECK (method IN ('cash', 'card', 'other', 'points'));
