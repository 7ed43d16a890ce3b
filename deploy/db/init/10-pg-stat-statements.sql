-- Run once by the postgres image on a fresh volume: the view that
-- deploy/db/top-statements.sh reads (the library is preloaded by compose).
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
