#!/usr/bin/env bash
# Beside a soak or a benchmark: what PostgreSQL is doing whenever something
# takes long. Every INTERVAL seconds prints the load average and every
# non-idle client statement or transaction older than THRESHOLD_MS (and
# what it waits on), plus the background processes. Stop it with Ctrl-C.
#
#   benches/pg_activity.sh [DB] [THRESHOLD_MS] [INTERVAL_S] > activity.log
#
# DB defaults to $BENCH_DB or jowi_bench; connects like scripts/services.sh.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
db=${1:-${BENCH_DB:-jowi_bench}}
threshold=${2:-150}
interval=${3:-1}
[[ $db =~ ^[a-z_][a-z0-9_]*$ ]] || die "DB must be a plain identifier"
[[ $threshold =~ ^[0-9]+$ ]] || die "THRESHOLD_MS must be a whole number"
env_lines="$(scripts/services.sh up 2>/dev/null)"
eval "$env_lines"
base=${DATABASE_URL%%\?*}
url="${base%/*}/$db"
while true; do
  echo "== $(date -u +%T.%3N) load $(cut -d' ' -f1-3 /proc/loadavg)"
  psql -X -d "$url" -AtF'|' -c "SELECT pid, backend_type, state, \
      coalesce(wait_event_type || ':' || wait_event, ''), \
      round(extract(epoch FROM now() - coalesce(xact_start, query_start)) * 1000), \
      left(regexp_replace(query, '\s+', ' ', 'g'), 100) \
    FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle' \
      AND (backend_type <> 'client backend' \
           OR now() - coalesce(xact_start, query_start) > make_interval(secs => $threshold / 1000.0))" 2>&1 || true
  sleep "$interval"
done
