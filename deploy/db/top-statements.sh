#!/usr/bin/env bash
# The statements PostgreSQL spent most time on, from pg_stat_statements
# (enabled in deploy/docker-compose.yml: shared_preload_libraries).
#
#   DATABASE_URL=postgres://jowi:...@127.0.0.1:5432/jowi_shop deploy/db/top-statements.sh [N]
#   deploy/db/top-statements.sh --reset     # start a fresh measurement
#
# Point it at PostgreSQL directly, not at PgBouncer.
set -euo pipefail
URL=${DATABASE_URL:?set DATABASE_URL to the PostgreSQL database}
if [ "${1:-}" = "--reset" ]; then
    psql "$URL" -v ON_ERROR_STOP=1 -Atqc "SELECT pg_stat_statements_reset()" >/dev/null
    echo "pg_stat_statements reset"
    exit 0
fi
N=${1:-20}
[[ $N =~ ^[0-9]+$ ]] || { echo "usage: $0 [N] | --reset" >&2; exit 2; }
psql "$URL" -v ON_ERROR_STOP=1 -qc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null 2>&1 || true
psql "$URL" -v ON_ERROR_STOP=1 -P pager=off -c "
SELECT round(total_exec_time::numeric, 1)              AS total_ms,
       calls,
       round(mean_exec_time::numeric, 2)               AS mean_ms,
       round(max_exec_time::numeric, 2)                AS max_ms,
       rows,
       round(100.0 * shared_blks_hit / nullif(shared_blks_hit + shared_blks_read, 0), 1) AS hit_pct,
       left(regexp_replace(query, '\s+', ' ', 'g'), 120) AS query
  FROM pg_stat_statements
 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
 ORDER BY total_exec_time DESC
 LIMIT $N"
