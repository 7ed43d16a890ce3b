-- Reports: who sold (employees with roles and PINs, shifts and receipts
-- carry the employee), business days (store time zone and day start), and
-- running totals written by the receipt commit itself.
--
-- Totals are derived data (ARCHITECTURE rule 9): `jowi reports rebuild`
-- recomputes every row from receipts, payments and cash movements, and that
-- SQL (actors/src/pg/totals.rs) is the reference definition of each figure.
-- Keys start with the tenant; the write-side rows are narrow enough that no
-- single row serializes the write path: receipt-level totals carry the
-- register as a lane (two registers of a store never share a row), per
-- variant rows contend exactly like stock levels do, and shift rows belong
-- to one register.

-- Business day: a store's receipts are grouped by the local date of
-- (occurred_at in the store's time zone - start hour). NULL on a store means
-- the tenant's default.
ALTER TABLE tenants
    ADD COLUMN time_zone text NOT NULL DEFAULT 'Asia/Tashkent',
    ADD COLUMN business_day_start_hour smallint NOT NULL DEFAULT 0
        CHECK (business_day_start_hour BETWEEN 0 AND 23);
ALTER TABLE stores
    ADD COLUMN time_zone text,
    ADD COLUMN business_day_start_hour smallint
        CHECK (business_day_start_hour BETWEEN 0 AND 23);

-- Roles at the till, and the PIN a cashier opens a shift with (argon2 PHC
-- string). Wrong PINs are counted; past the limit the employee is locked
-- for a while (across instances: the counter lives here).
ALTER TABLE employees DROP CONSTRAINT employees_role_check;
ALTER TABLE employees
    ADD CONSTRAINT employees_role_check
        CHECK (role IN ('owner', 'manager', 'senior_cashier', 'cashier')),
    ADD COLUMN pin_hash text,
    ADD COLUMN pin_failures integer NOT NULL DEFAULT 0,
    ADD COLUMN pin_locked_until timestamptz;

-- The employee who opened the shift; every receipt of the shift is theirs.
-- NULL only for shifts and receipts from before this migration.
ALTER TABLE shifts ADD COLUMN employee_id uuid;
ALTER TABLE receipts ADD COLUMN employee_id uuid;

-- Per shift: the X report (open) and Z report (closed) read this one row.
CREATE TABLE shift_totals (
    tenant_id      uuid NOT NULL,
    shift_id       uuid NOT NULL,
    sales_count    bigint NOT NULL DEFAULT 0,
    returns_count  bigint NOT NULL DEFAULT 0,
    -- Sales before discounts, their discounts, and sales after them.
    gross          bigint NOT NULL DEFAULT 0,
    discounts      bigint NOT NULL DEFAULT 0,
    sales          bigint NOT NULL DEFAULT 0,
    returns        bigint NOT NULL DEFAULT 0,
    -- Change handed back on sales (paid in cash over the total).
    change_given   bigint NOT NULL DEFAULT 0,
    cash_sales     bigint NOT NULL DEFAULT 0,
    card_sales     bigint NOT NULL DEFAULT 0,
    other_sales    bigint NOT NULL DEFAULT 0,
    cash_refunds   bigint NOT NULL DEFAULT 0,
    card_refunds   bigint NOT NULL DEFAULT 0,
    other_refunds  bigint NOT NULL DEFAULT 0,
    -- Written with each cash movement, in its transaction.
    cash_in        bigint NOT NULL DEFAULT 0,
    cash_out       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, shift_id)
);

-- Per (store, business day, local hour, register): receipt-level figures.
-- The hour is the local clock hour (0-23): on a DST fall-back night one
-- hour bucket holds two real hours, on spring-forward one bucket is empty.
CREATE TABLE sales_hourly (
    tenant_id      uuid NOT NULL,
    store_id       uuid NOT NULL,
    business_day   date NOT NULL,
    hour           smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
    register_id    uuid NOT NULL,
    sales_count    bigint NOT NULL DEFAULT 0,
    returns_count  bigint NOT NULL DEFAULT 0,
    gross          bigint NOT NULL DEFAULT 0,
    discounts      bigint NOT NULL DEFAULT 0,
    sales          bigint NOT NULL DEFAULT 0,
    returns        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, store_id, business_day, hour, register_id)
);

-- Per (store, business day, employee, register): receipt-level figures.
-- Also the source of day and store totals (few rows per store and day).
-- Receipts without an employee count under the nil uuid; the register lane
-- keeps such receipts of different registers off one row.
CREATE TABLE sales_daily_employee (
    tenant_id      uuid NOT NULL,
    store_id       uuid NOT NULL,
    business_day   date NOT NULL,
    employee_id    uuid NOT NULL,
    register_id    uuid NOT NULL,
    sales_count    bigint NOT NULL DEFAULT 0,
    returns_count  bigint NOT NULL DEFAULT 0,
    gross          bigint NOT NULL DEFAULT 0,
    discounts      bigint NOT NULL DEFAULT 0,
    sales          bigint NOT NULL DEFAULT 0,
    returns        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, store_id, business_day, employee_id, register_id)
);
-- A whole tenant over a range (no store named).
CREATE INDEX idx_sales_daily_employee_day ON sales_daily_employee (tenant_id, business_day);

-- Per (store, business day, variant): line-level quantities and money.
-- Product and category reports group these (category: the product's current
-- one).
CREATE TABLE sales_daily_variant (
    tenant_id      uuid NOT NULL,
    store_id       uuid NOT NULL,
    business_day   date NOT NULL,
    variant_id     uuid NOT NULL,
    product_id     uuid NOT NULL,
    qty_sold       numeric(16, 3) NOT NULL DEFAULT 0,
    qty_returned   numeric(16, 3) NOT NULL DEFAULT 0,
    gross          bigint NOT NULL DEFAULT 0,
    discounts      bigint NOT NULL DEFAULT 0,
    sales          bigint NOT NULL DEFAULT 0,
    returns        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, store_id, business_day, variant_id)
);
CREATE INDEX idx_sales_daily_variant_day ON sales_daily_variant (tenant_id, business_day);

-- The same per (store, business month, variant): a year of product or
-- category figures reads 12 rows per variant instead of 365. Reports take
-- whole months from here and the days at either end from the daily table.
CREATE TABLE sales_monthly_variant (
    tenant_id      uuid NOT NULL,
    store_id       uuid NOT NULL,
    -- First day of the business days' month.
    month          date NOT NULL CHECK (extract(day FROM month) = 1),
    variant_id     uuid NOT NULL,
    product_id     uuid NOT NULL,
    qty_sold       numeric(16, 3) NOT NULL DEFAULT 0,
    qty_returned   numeric(16, 3) NOT NULL DEFAULT 0,
    gross          bigint NOT NULL DEFAULT 0,
    discounts      bigint NOT NULL DEFAULT 0,
    sales          bigint NOT NULL DEFAULT 0,
    returns        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, store_id, month, variant_id)
);
CREATE INDEX idx_sales_monthly_variant_month ON sales_monthly_variant (tenant_id, month);

-- Per (store, business day, payment method, register): money taken and
-- refunded by method; change is handed back in cash, so it sits on the
-- cash row.
CREATE TABLE sales_daily_payment (
    tenant_id      uuid NOT NULL,
    store_id       uuid NOT NULL,
    business_day   date NOT NULL,
    method         text NOT NULL CHECK (method IN ('cash', 'card', 'other')),
    register_id    uuid NOT NULL,
    paid           bigint NOT NULL DEFAULT 0,
    refunded       bigint NOT NULL DEFAULT 0,
    change_given   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, store_id, business_day, method, register_id)
);

-- The business-day rule in SQL (rebuild and the equality tests use it; the
-- commit path computes the same in Rust: domain::business_day). Local clock
-- time in the zone, minus the day-start hour, gives the day; the local clock
-- hour is the hour bucket.
CREATE FUNCTION jowi_business_day(at timestamptz, zone text, start_hour smallint) RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT ((at AT TIME ZONE zone) - make_interval(hours => start_hour))::date $$;

CREATE FUNCTION jowi_local_hour(at timestamptz, zone text) RETURNS smallint
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT extract(hour FROM (at AT TIME ZONE zone))::smallint $$;
