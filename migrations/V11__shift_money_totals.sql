-- The X/Z report's money block (the money rules' lines of a shift) as
-- running totals, written by the receipt commit in its transaction like the
-- rest of `shift_totals` (V8): the report reads rows by primary key and no
-- longer sums the shift's receipts, so it costs the same at any shift size.
--
-- Every figure is sales minus returns, as the report always computed it:
-- a sale adds its discount_total, tax_total and rounding and a return
-- subtracts them; points are added as stored (a return's points_earned is
-- already negative: the points it takes back). `jowi reports rebuild`
-- recomputes these from receipts (actors/src/pg/totals.rs, the reference).

ALTER TABLE shift_totals
    -- Σ discount_total (line + receipt discounts), sales - returns.
    ADD COLUMN money_discounts bigint NOT NULL DEFAULT 0,
    -- Σ tax_total, sales - returns.
    ADD COLUMN money_tax bigint NOT NULL DEFAULT 0,
    -- Σ cash rounding, sales - returns.
    ADD COLUMN money_rounding bigint NOT NULL DEFAULT 0,
    -- Σ points_earned and Σ points_redeemed as stored on the receipts.
    ADD COLUMN points_earned bigint NOT NULL DEFAULT 0,
    ADD COLUMN points_redeemed bigint NOT NULL DEFAULT 0;

-- Per shift and tax rate: the net amount taxed (a line's total, less its
-- tax when the tax was added on top) and the tax, sales - returns. A row
-- exists once any line of the shift carried the rate (it may net to zero).
-- Rows belong to one shift, so to one register: no contention.
CREATE TABLE shift_tax_totals (
    tenant_id    uuid NOT NULL,
    shift_id     uuid NOT NULL,
    tax_rate_id  uuid NOT NULL,
    taxable      bigint NOT NULL DEFAULT 0,
    tax          bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, shift_id, tax_rate_id)
);

-- Backfill from the receipts already stored, so an upgraded database
-- reports the same money block as before. Set-based; a shift without a
-- totals row (from before V8) gets one holding only these figures (its
-- other figures stay what they were: `jowi reports rebuild` fills them).
INSERT INTO shift_totals AS t (tenant_id, shift_id, money_discounts, money_tax, money_rounding,
                               points_earned, points_redeemed)
SELECT r.tenant_id, r.shift_id,
       sum(CASE WHEN r.kind = 'sale' THEN r.discount_total ELSE -r.discount_total END),
       sum(CASE WHEN r.kind = 'sale' THEN r.tax_total ELSE -r.tax_total END),
       sum(CASE WHEN r.kind = 'sale' THEN r.rounding ELSE -r.rounding END),
       sum(r.points_earned), sum(r.points_redeemed)
FROM receipts r
GROUP BY r.tenant_id, r.shift_id
ON CONFLICT (tenant_id, shift_id) DO UPDATE SET
    money_discounts = EXCLUDED.money_discounts,
    money_tax = EXCLUDED.money_tax,
    money_rounding = EXCLUDED.money_rounding,
    points_earned = EXCLUDED.points_earned,
    points_redeemed = EXCLUDED.points_redeemed;

INSERT INTO shift_tax_totals (tenant_id, shift_id, tax_rate_id, taxable, tax)
SELECT r.tenant_id, r.shift_id, i.tax_rate_id,
       sum(CASE WHEN r.kind = 'sale' THEN 1 ELSE -1 END
           * CASE WHEN i.tax_included THEN i.total ELSE i.total - i.tax END),
       sum(CASE WHEN r.kind = 'sale' THEN i.tax ELSE -i.tax END)
FROM receipts r
JOIN receipt_items i ON i.tenant_id = r.tenant_id AND i.receipt_id = r.id
                    AND i.occurred_at = r.occurred_at
WHERE i.tax_rate_id IS NOT NULL
GROUP BY r.tenant_id, r.shift_id, i.tax_rate_id;
