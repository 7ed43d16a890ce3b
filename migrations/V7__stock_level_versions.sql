-- Commit order of stock levels: every upsert of a level bumps its version,
-- and the new quantity is answered with it. Two batches committing at once
-- may report their levels to a store actor in either order; the actor keeps
-- the level with the higher version, so an older level never overwrites a
-- newer one in memory or on a live stock socket.
ALTER TABLE stock_levels ADD COLUMN version bigint NOT NULL DEFAULT 0;
