#!/usr/bin/env bash
# CPU cost of webhook delivery on the receipt path, independent of how busy
# the machine is: CPU seconds (utime + stime from /proc/<pid>/stat) of the
# server process and of the PostgreSQL backends serving the bench database,
# per 1,000 committed receipts, for `receipt` (no subscription) and
# `receipt-webhook` (one active subscription to jowi-bench's local sink),
# each at the same constant arrival rate, alternated ROUNDS times.
#
#   benches/webhook_cost.sh [JOWI_BINARY]
#
# Environment: WH_BENCH (the jowi-bench binary), WH_DB (jowi_bench_wh), WH_PORT (18097), WH_RATE receipts/s (150),
# WH_DURATION s per run (15), WH_ROUNDS (2), WH_PRODUCTS (5000), WH_TENANTS (10, as benches/run.sh: the subscription is on the first).
# (Not run on the development machine: jowi-bench was not built there; the
# figures in the README come from benches/webhook_cost.py, which needs no
# build.) Needs target/release/jowi (or the binary given) and
# benches/loadgen/target/release/jowi-bench. Load goes to 127.0.0.1 only.
#
# What is counted: the server's whole process (receipt handling, the outbox
# sequencer, the delivery worker, its HTTP client) and every backend
# connected to the bench database at the end of a run, less what it had used
# at the start (backends that exit mid-run are missed: the pools keep theirs).
# Not counted: the load tool and its sink (the receiver), PostgreSQL's
# background processes (WAL writer, checkpointer). The sink answers from the
# tool's process, so the receiver's own cost is not the server's.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

JOWI=${1:-$ROOT/target/release/jowi}
BENCH=${WH_BENCH:-$ROOT/benches/loadgen/target/release/jowi-bench}
DB=${WH_DB:-jowi_bench_wh}
PORT=${WH_PORT:-18097}
RATE=${WH_RATE:-150}
DURATION=${WH_DURATION:-15}
ROUNDS=${WH_ROUNDS:-2}
PRODUCTS=${WH_PRODUCTS:-5000}
TENANTS=${WH_TENANTS:-10}
ADMIN=${WH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DBURL=${ADMIN%/*}/$DB
FIXTURE=/tmp/$DB-fixture.json
OUT=/tmp/$DB-out
URL=http://127.0.0.1:$PORT
HZ=$(getconf CLK_TCK)
mkdir -p "$OUT"
log() { printf '[cost] %s\n' "$*" >&2; }

psql -X -q -v ON_ERROR_STOP=1 -d "$ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" \
  -c "CREATE DATABASE $DB"
DATABASE_URL=$DBURL "$JOWI" migrate >/dev/null
"$BENCH" setup --database-url "$DBURL" --tenants "$TENANTS" --products "$PRODUCTS" \
  --fixture "$FIXTURE" >/dev/null

DATABASE_URL=$DBURL JOWI_LISTEN=127.0.0.1:$PORT JOWI_ADMIN_TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n') \
  JOWI__LIMITS__ENABLED=false JOWI__WEBHOOKS__ALLOW_PRIVATE_URLS=true RUST_LOG=warn \
  "$JOWI" serve >"$OUT/server.log" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  curl -fsS -o /dev/null --max-time 2 "$URL/api/v1/health/ready" 2>/dev/null && break
  sleep 0.5
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_pids() {
  psql -X -At -d "$ADMIN" -c "SELECT pid FROM pg_stat_activity WHERE datname = '$DB'"
}
count() { psql -X -At -d "$DBURL" -c "SELECT count(*) FROM receipts"; }
declare -A PG_BEFORE
snap_before() {
  S_BEFORE=$(ticks $PID)
  PG_BEFORE=()
  for p in $(pg_pids); do PG_BEFORE[$p]=$(ticks "$p"); done
  R_BEFORE=$(count)
}
# Prints: receipts server_s pg_s
snap_after() {
  local s pg=0 p t
  s=$(($(ticks $PID) - S_BEFORE))
  for p in $(pg_pids); do
    t=$(ticks "$p")
    pg=$((pg + t - ${PG_BEFORE[$p]:-0}))
  done
  echo "$(($(count) - R_BEFORE)) $s $pg"
}

run() {
  rm -rf "$OUT/$1"
  "$BENCH" run --url "$URL" --fixture "$FIXTURE" --database-url "$DBURL" --scenarios "$1" \
    --duration "$DURATION" --rate "$RATE" --connections 32 --warmup "$2" --out-dir "$OUT/$1" \
    --server-pid $PID >/dev/null 2>"$OUT/$1.err"
}
# Webhook deliveries the sink counted in the last run of scenario $1 (0 without).
deliveries() {
  cat "$OUT/$1"/*.json 2>/dev/null | jq '[.. | .deliveries_total? // empty] | add // 0'
}

log "warm-up"
run receipt 5
log "runs: ${ROUNDS} x (receipt, receipt-webhook) at ${RATE} receipts/s for ${DURATION} s"
printf '%-16s %9s %11s %12s %12s %12s\n' scenario receipts deliveries "server s/1k" "pg s/1k" "total s/1k"
for _ in $(seq "$ROUNDS"); do
  for sc in receipt receipt-webhook; do
    snap_before
    run "$sc" 0
    # Let the sequencer (and, without a sink, nothing else) settle.
    sleep 3
    read -r n s pg < <(snap_after)
    awk -v sc="$sc" -v n="$n" -v d="$(deliveries "$sc")" -v s="$s" -v pg="$pg" -v hz="$HZ" 'BEGIN {
      printf "%-16s %9d %11d %12.3f %12.3f %12.3f\n", sc, n, d, s/hz/n*1000, pg/hz/n*1000, (s+pg)/hz/n*1000 }'
  done
done
psql -X -q -d "$ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
