-- Shifts, receipts, payments and the stock ledger.
-- receipts, receipt_items, payments and stock_movements are range-partitioned
-- by month. A unique key on a partitioned table must contain the partition
-- key, so global uniqueness (idempotency by receipt id, receipt numbers)
-- lives in the small unpartitioned receipt_keys table instead.

CREATE TABLE shifts (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL,
    store_id      uuid NOT NULL,
    register_id   uuid NOT NULL,
    opened_at     timestamptz NOT NULL DEFAULT now(),
    closed_at     timestamptz,
    opening_cash  bigint NOT NULL DEFAULT 0 CHECK (opening_cash >= 0),
    counted_cash  bigint,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, register_id) REFERENCES registers (tenant_id, id)
);
-- One open shift per register, enforced by the database.
CREATE UNIQUE INDEX shifts_one_open ON shifts (tenant_id, register_id) WHERE closed_at IS NULL;

CREATE TABLE cash_movements (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL,
    shift_id    uuid NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('in', 'out')),
    amount      bigint NOT NULL CHECK (amount > 0),
    note        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, shift_id) REFERENCES shifts (tenant_id, id)
);

CREATE TABLE receipt_keys (
    tenant_id    uuid NOT NULL,
    id           uuid NOT NULL,
    store_id     uuid NOT NULL,
    register_id  uuid NOT NULL,
    number       text NOT NULL,
    -- sha256 of the canonical request: same id + other body -> 409.
    body_hash    bytea NOT NULL,
    occurred_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number)
);

CREATE TABLE receipts (
    tenant_id            uuid NOT NULL,
    id                   uuid NOT NULL,
    occurred_at          timestamptz NOT NULL,
    store_id             uuid NOT NULL,
    register_id          uuid NOT NULL,
    shift_id             uuid NOT NULL,
    -- The number lives in receipt_keys (unique there): it is given at the
    -- very end of the commit, under the register's row lock.
    kind                 text NOT NULL CHECK (kind IN ('sale', 'return')),
    original_receipt_id  uuid,
    customer_id          uuid,
    subtotal             bigint NOT NULL,
    discount_total       bigint NOT NULL,
    total                bigint NOT NULL,
    paid                 bigint NOT NULL,
    change_due           bigint NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id, occurred_at)
) PARTITION BY RANGE (occurred_at);
-- Seed: receipts by store and date (by number: receipt_keys' unique key).
CREATE INDEX idx_receipts_tenant_store_date ON receipts (tenant_id, store_id, occurred_at DESC, id DESC);
CREATE INDEX idx_receipts_tenant_shift ON receipts (tenant_id, shift_id);
CREATE INDEX idx_receipts_tenant_original ON receipts (tenant_id, original_receipt_id) WHERE original_receipt_id IS NOT NULL;

CREATE TABLE receipt_items (
    tenant_id    uuid NOT NULL,
    receipt_id   uuid NOT NULL,
    line_no      integer NOT NULL,
    occurred_at  timestamptz NOT NULL,
    variant_id   uuid NOT NULL,
    product_id   uuid NOT NULL,
    -- Fractional for weighed goods: 3 decimals, exact.
    quantity     numeric(14, 3) NOT NULL CHECK (quantity > 0),
    price        bigint NOT NULL,
    discount     bigint NOT NULL,
    total        bigint NOT NULL,
    PRIMARY KEY (tenant_id, receipt_id, line_no, occurred_at)
) PARTITION BY RANGE (occurred_at);

CREATE TABLE payments (
    tenant_id    uuid NOT NULL,
    receipt_id   uuid NOT NULL,
    line_no      integer NOT NULL,
    occurred_at  timestamptz NOT NULL,
    method       text NOT NULL CHECK (method IN ('cash', 'card', 'other')),
    amount       bigint NOT NULL CHECK (amount > 0),
    PRIMARY KEY (tenant_id, receipt_id, line_no, occurred_at)
) PARTITION BY RANGE (occurred_at);

CREATE TABLE stock_levels (
    tenant_id     uuid NOT NULL,
    warehouse_id  uuid NOT NULL,
    variant_id    uuid NOT NULL,
    -- Always the sum of this pair's stock_movements (tested invariant).
    quantity      numeric(16, 3) NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, warehouse_id, variant_id)
);
-- Seed: stock by warehouse and product (the PK covers it).

-- Idempotency of posted stock documents (receiving, write-off, ...).
CREATE TABLE stock_documents (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL,
    kind        text NOT NULL,
    body_hash   bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE stock_movements (
    tenant_id     uuid NOT NULL,
    id            bigserial,
    created_at    timestamptz NOT NULL DEFAULT now(),
    warehouse_id  uuid NOT NULL,
    variant_id    uuid NOT NULL,
    delta         numeric(16, 3) NOT NULL,
    cause         text NOT NULL CHECK (cause IN ('sale', 'return', 'receiving', 'write_off',
                                                 'transfer_in', 'transfer_out', 'inventory')),
    -- The receipt or stock document that caused it.
    document_id   uuid NOT NULL,
    PRIMARY KEY (tenant_id, created_at, id)
) PARTITION BY RANGE (created_at);
CREATE INDEX idx_stock_movements_pair ON stock_movements (tenant_id, warehouse_id, variant_id);
-- Replays of stock documents find their movements here; sales and returns
-- never look theirs up by document, so they stay out of the index (one
-- index entry less per receipt line on the hot write path).
CREATE INDEX idx_stock_movements_document ON stock_movements (tenant_id, document_id)
    WHERE cause NOT IN ('sale', 'return');

-- Default partitions: an insert never fails for want of a partition.
CREATE TABLE receipts_default PARTITION OF receipts DEFAULT;
CREATE TABLE receipt_items_default PARTITION OF receipt_items DEFAULT;
CREATE TABLE payments_default PARTITION OF payments DEFAULT;
CREATE TABLE stock_movements_default PARTITION OF stock_movements DEFAULT;

-- Creates monthly partitions from last month to `months_ahead` months ahead.
-- Called by migrations and at every server start; safe to race (advisory
-- lock) and safe when the default partition already holds rows of a month
-- (that month is then skipped with a notice rather than failing start-up).
CREATE FUNCTION jowi_ensure_partitions(months_ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    t text;
    m date;
    created integer := 0;
    first_month date := (date_trunc('month', now()) - interval '1 month')::date;
BEGIN
    PERFORM pg_advisory_xact_lock(7220301);
    FOREACH t IN ARRAY ARRAY['receipts', 'receipt_items', 'payments', 'stock_movements'] LOOP
        FOR i IN 0..months_ahead + 1 LOOP
            m := (first_month + make_interval(months => i))::date;
            IF to_regclass(t || '_' || to_char(m, 'YYYYMM')) IS NULL THEN
                BEGIN
                    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                                   t || '_' || to_char(m, 'YYYYMM'), t, m,
                                   (m + interval '1 month')::date);
                    created := created + 1;
                EXCEPTION WHEN check_violation OR invalid_object_definition THEN
                    RAISE NOTICE 'partition % of % skipped: default partition holds its rows', m, t;
                END;
            END IF;
        END LOOP;
    END LOOP;
    RETURN created;
END $$;

SELECT jowi_ensure_partitions(3);
