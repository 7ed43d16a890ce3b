#!/usr/bin/env bash
# Index usage (the seed's check-index-usage): per table, how often indexes
# vs sequential scans were used, and indexes never scanned since the
# statistics were last reset (candidates to drop, after a representative
# period). Partitions are summed into their table.
#
#   DATABASE_URL=postgres://jowi:...@127.0.0.1:5432/jowi_shop deploy/db/index-usage.sh
set -euo pipefail
URL=${DATABASE_URL:?set DATABASE_URL to the PostgreSQL database}
psql "$URL" -v ON_ERROR_STOP=1 -P pager=off <<'SQL'
\echo 'Scans per table (partitions summed into their table)'
WITH t AS (
    SELECT coalesce(p.relname, s.relname) AS tbl, s.seq_scan, s.idx_scan, s.n_live_tup
      FROM pg_stat_user_tables s
      LEFT JOIN pg_inherits i ON i.inhrelid = s.relid
      LEFT JOIN pg_class p ON p.oid = i.inhparent
)
SELECT tbl AS table, sum(seq_scan) AS seq_scans, sum(coalesce(idx_scan, 0)) AS index_scans,
       round(100.0 * sum(coalesce(idx_scan, 0)) / nullif(sum(seq_scan) + sum(coalesce(idx_scan, 0)), 0), 1) AS index_pct,
       sum(n_live_tup) AS live_rows
  FROM t GROUP BY tbl ORDER BY sum(seq_scan) DESC;

\echo 'Indexes never scanned (unique/primary keys excluded: they enforce rules)'
SELECT s.relname AS table, s.indexrelname AS index, pg_size_pretty(pg_relation_size(s.indexrelid)) AS size
  FROM pg_stat_user_indexes s
  JOIN pg_index x ON x.indexrelid = s.indexrelid
 WHERE s.idx_scan = 0 AND NOT x.indisunique
 ORDER BY pg_relation_size(s.indexrelid) DESC, 1, 2;
SQL
