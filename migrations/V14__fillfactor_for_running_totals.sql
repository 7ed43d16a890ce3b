-- Rows that every receipt batch updates in place — stock levels, register
-- numbers, loyalty balances, event heads and the running totals — leave a
-- fifth of each new page free, so an update can put the new row version on
-- the same page without touching any index (a HOT update: no index entry,
-- less WAL). At the default fillfactor of 100 a full page forces every
-- update of its rows to write a new entry in each index of the table.
-- Applies to pages written from now on (a VACUUM FULL or a rewrite
-- applies it to old ones); nothing is rewritten here.
ALTER TABLE stock_levels SET (fillfactor = 80);
ALTER TABLE registers SET (fillfactor = 80);
ALTER TABLE loyalty_accounts SET (fillfactor = 80);
ALTER TABLE event_heads SET (fillfactor = 80);
ALTER TABLE shift_totals SET (fillfactor = 80);
ALTER TABLE shift_tax_totals SET (fillfactor = 80);
ALTER TABLE sales_hourly SET (fillfactor = 80);
ALTER TABLE sales_daily_payment SET (fillfactor = 80);
ALTER TABLE sales_daily_employee SET (fillfactor = 80);
ALTER TABLE sales_daily_variant SET (fillfactor = 80);
ALTER TABLE sales_monthly_variant SET (fillfactor = 80);
