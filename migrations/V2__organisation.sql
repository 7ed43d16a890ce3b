-- Stores, their warehouses and registers, employees and store settings.
CREATE TABLE stores (
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    id          uuid NOT NULL,
    name        text NOT NULL,
    address     text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE warehouses (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL,
    store_id    uuid NOT NULL,
    name        text NOT NULL,
    is_default  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id)
);
CREATE UNIQUE INDEX warehouses_one_default ON warehouses (tenant_id, store_id) WHERE is_default;

CREATE TABLE registers (
    tenant_id        uuid NOT NULL,
    id               uuid NOT NULL,
    store_id         uuid NOT NULL,
    -- The receipt-number prefix: "{number}-{sequence}" is unique in the tenant.
    number           integer NOT NULL CHECK (number > 0),
    name             text NOT NULL,
    -- Highest receipt sequence used on this register. Bumped inside the
    -- receipt transaction so numbering holds across instances.
    last_receipt_seq bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id)
);

CREATE TABLE employees (
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    id          uuid NOT NULL,
    store_id    uuid,
    name        text NOT NULL,
    role        text NOT NULL CHECK (role IN ('owner', 'manager', 'cashier')),
    phone       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id)
);
-- Seed: employees by store.
CREATE INDEX idx_employees_tenant_store ON employees (tenant_id, store_id) WHERE deleted_at IS NULL;

CREATE TABLE store_settings (
    tenant_id   uuid NOT NULL,
    store_id    uuid NOT NULL,
    settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, store_id),
    FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id)
);

ALTER TABLE api_tokens
    ADD FOREIGN KEY (tenant_id, register_id) REFERENCES registers (tenant_id, id);
