-- Points expiry and the money of the per-variant sales totals.
--
-- 1. Points expiry: `loyalty_programs.expiry_days` (V9, null = never) is
--    applied by a periodic job (`actors/src/pg/points.rs`) that writes
--    `expire` ledger entries (README "Money rules", FIFO). No schema change:
--    the column and the ledger kind exist since V9.

-- 2. Cost of goods sold. A sale line's cost is round(unit cost x quantity)
--    with the unit cost read in the receipt's commit: the moving average
--    cost of its warehouse (stock_levels.avg_cost), else the variant's cost
--    price; NULL when neither is known. A return line's cost is its share
--    of the original sale line's cost (by quantity).
ALTER TABLE receipt_items ADD COLUMN IF NOT EXISTS cost bigint;

-- Per (store, day/month, variant): tax inside sales and returns, cost of
-- what was sold and returned, and how many lines had no cost (margin is
-- only shown where that is 0). `gross` and `discounts` become the line's
-- full figures: gross = round(price x quantity), discounts = the line's
-- own discount + its share of the receipt discount (before V12 the share
-- of the receipt discount was missing here, while receipt-level rows had
-- it); recomputed below.
ALTER TABLE sales_daily_variant
    ADD COLUMN tax bigint NOT NULL DEFAULT 0,
    ADD COLUMN returns_tax bigint NOT NULL DEFAULT 0,
    ADD COLUMN cost bigint NOT NULL DEFAULT 0,
    ADD COLUMN returns_cost bigint NOT NULL DEFAULT 0,
    ADD COLUMN uncosted_lines bigint NOT NULL DEFAULT 0;
ALTER TABLE sales_monthly_variant
    ADD COLUMN tax bigint NOT NULL DEFAULT 0,
    ADD COLUMN returns_tax bigint NOT NULL DEFAULT 0,
    ADD COLUMN cost bigint NOT NULL DEFAULT 0,
    ADD COLUMN returns_cost bigint NOT NULL DEFAULT 0,
    ADD COLUMN uncosted_lines bigint NOT NULL DEFAULT 0;

-- Backfill. Receipts from before V12 never recorded a cost: their lines
-- take the CURRENT moving average cost of their store's default warehouse
-- (the warehouse a register sells from; else the variant's cost price) —
-- an approximation, documented in the README.
UPDATE receipt_items i
   SET cost = round(COALESCE(
         (SELECT sl.avg_cost FROM stock_levels sl
            JOIN warehouses w ON w.tenant_id = sl.tenant_id AND w.id = sl.warehouse_id
           WHERE sl.tenant_id = r.tenant_id AND w.store_id = r.store_id AND w.is_default
             AND sl.variant_id = i.variant_id),
         (SELECT v.cost_price FROM product_variants v
           WHERE v.tenant_id = r.tenant_id AND v.id = i.variant_id)) * i.quantity)::bigint
  FROM receipts r
 WHERE r.tenant_id = i.tenant_id AND r.id = i.receipt_id AND r.occurred_at = i.occurred_at
   AND i.cost IS NULL;

-- The daily rows from receipts (the same figures as `jowi reports rebuild`).
WITH clock AS (
    SELECT s.tenant_id, s.id, COALESCE(s.time_zone, t.time_zone) AS zone,
           COALESCE(s.business_day_start_hour, t.business_day_start_hour) AS start_hour
      FROM stores s JOIN tenants t ON t.id = s.tenant_id),
lines AS (
    SELECT r.tenant_id, r.store_id, jowi_business_day(r.occurred_at, c.zone, c.start_hour) AS business_day,
           i.variant_id, r.kind, i.total, i.discount, i.receipt_discount, i.tax, i.tax_included, i.cost
      FROM receipts r
      JOIN clock c ON c.tenant_id = r.tenant_id AND c.id = r.store_id
      JOIN receipt_items i ON i.tenant_id = r.tenant_id AND i.receipt_id = r.id AND i.occurred_at = r.occurred_at),
agg AS (
    SELECT tenant_id, store_id, business_day, variant_id,
           COALESCE(sum(total + discount + receipt_discount - CASE WHEN tax_included THEN 0 ELSE tax END)
                    FILTER (WHERE kind = 'sale'), 0) AS gross,
           COALESCE(sum(discount + receipt_discount) FILTER (WHERE kind = 'sale'), 0) AS discounts,
           COALESCE(sum(tax) FILTER (WHERE kind = 'sale'), 0) AS tax,
           COALESCE(sum(tax) FILTER (WHERE kind = 'return'), 0) AS returns_tax,
           COALESCE(sum(cost) FILTER (WHERE kind = 'sale'), 0) AS cost,
           COALESCE(sum(cost) FILTER (WHERE kind = 'return'), 0) AS returns_cost,
           count(*) FILTER (WHERE cost IS NULL) AS uncosted_lines
      FROM lines GROUP BY 1, 2, 3, 4)
UPDATE sales_daily_variant x
   SET gross = a.gross, discounts = a.discounts, tax = a.tax, returns_tax = a.returns_tax,
       cost = a.cost, returns_cost = a.returns_cost, uncosted_lines = a.uncosted_lines
  FROM agg a
 WHERE x.tenant_id = a.tenant_id AND x.store_id = a.store_id
   AND x.business_day = a.business_day AND x.variant_id = a.variant_id;

-- The monthly rows from the daily ones.
UPDATE sales_monthly_variant m
   SET gross = d.gross, discounts = d.discounts, tax = d.tax, returns_tax = d.returns_tax,
       cost = d.cost, returns_cost = d.returns_cost, uncosted_lines = d.uncosted_lines
  FROM (SELECT tenant_id, store_id, date_trunc('month', business_day)::date AS month, variant_id,
               sum(gross) AS gross, sum(discounts) AS discounts, sum(tax) AS tax,
               sum(returns_tax) AS returns_tax, sum(cost) AS cost, sum(returns_cost) AS returns_cost,
               sum(uncosted_lines) AS uncosted_lines
          FROM sales_daily_variant GROUP BY 1, 2, 3, 4) d
 WHERE m.tenant_id = d.tenant_id AND m.store_id = d.store_id
   AND m.month = d.month AND m.variant_id = d.variant_id;
