-- Catalog: category tree, products, variants (the barcode carrier), customers.
-- Every catalog write takes the next value of catalog_change_seq; the change
-- feed for registers pages by it.
CREATE SEQUENCE catalog_change_seq;

CREATE TABLE categories (
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    id          uuid NOT NULL,
    parent_id   uuid,
    name        text NOT NULL,
    version     integer NOT NULL DEFAULT 1,
    change_seq  bigint NOT NULL DEFAULT nextval('catalog_change_seq'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES categories (tenant_id, id)
);

CREATE TABLE products (
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    id          uuid NOT NULL,
    category_id uuid,
    name        text NOT NULL,
    version     integer NOT NULL DEFAULT 1,
    change_seq  bigint NOT NULL DEFAULT nextval('catalog_change_seq'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, category_id) REFERENCES categories (tenant_id, id)
);
-- Seed: list newest first, by category, name search; plus the change feed.
CREATE INDEX idx_products_tenant_created ON products (tenant_id, created_at DESC) WHERE deleted_at IS NULL;
CREATE INDEX idx_products_tenant_category ON products (tenant_id, category_id) WHERE deleted_at IS NULL;
CREATE INDEX idx_products_tenant_name ON products (tenant_id, lower(name) text_pattern_ops) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX idx_products_tenant_change ON products (tenant_id, change_seq);

CREATE TABLE product_variants (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL,
    product_id  uuid NOT NULL,
    barcode     text NOT NULL,
    sku         text,
    -- Money in integer minor units (tiyin, cents): exact, never floats.
    price       bigint NOT NULL CHECK (price >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
);
-- Seed: barcode lookup. Unique among live variants of a tenant, so a
-- deleted product's barcode can be given to a new one.
CREATE UNIQUE INDEX idx_variants_tenant_barcode ON product_variants (tenant_id, barcode) WHERE deleted_at IS NULL;
CREATE INDEX idx_variants_tenant_product ON product_variants (tenant_id, product_id);

CREATE TABLE customers (
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    id          uuid NOT NULL,
    name        text NOT NULL,
    phone       text NOT NULL,
    email       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, phone)
);
