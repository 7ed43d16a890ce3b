#!/usr/bin/env bash
# Report benchmarks (issue 10): a year of history, then report latency under
# concurrent sales, and receipts/s with and without the running totals in
# one run.
#
#   benches/reports.sh                          # 5,000,000 receipts, 20 s per scenario
#   benches/reports.sh --receipts 200000 --duration 5     # a quick check
#   benches/reports.sh --no-build --no-history  # rerun on the data already there
#
# Steps:
#   1. release builds of `jowi` and `jowi-bench` (skip: --no-build);
#   2. database $BENCH_DB (jowi_reports_bench): recreated, migrated,
#      `jowi-bench setup` (10 tenants, --products 20000), `jowi-bench history`
#      (--receipts over --days 365, set-based, progress bar), then
#      `jowi reports rebuild` (set-based totals, progress bar); both timed
#      (skip all of it: --no-history);
#   3. benches/run.sh against that database, two rounds of:
#      a. JOWI__SALES__RUNNING_TOTALS=false: scenario `receipt`;
#      b. running totals on (the default): `receipt` (round 2:
#         `receipt,reports,mix`)
#      and prints receipts/s of each. `reports` gives the p95 of the 30-day
#      store report and of the year-of-a-tenant report with top 20 under
#      concurrent sales; `mix` gives the X report (shift-report row) in the
#      POS mix.
# Results: benches/results/reports-<date>-<commit>/totals-{off,on}-{1,2}/<date>-<commit>.{json,md}.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
log() { printf '[reports-bench] %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

RECEIPTS=5000000
DAYS=365
PRODUCTS=20000
DURATION=20
BUILD=1
HISTORY=1
export BENCH_DB=${BENCH_DB:-jowi_reports_bench}
while (($#)); do
  case "$1" in
    --receipts) RECEIPTS=$2; shift 2 ;;
    --days) DAYS=$2; shift 2 ;;
    --products) PRODUCTS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-history) HISTORY=0; shift ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
      exit 0
      ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done
[[ $BENCH_DB =~ ^[a-z_][a-z0-9_]*$ ]] || die "BENCH_DB must be a plain identifier"

JOWI=$ROOT/target/release/jowi
BENCH=$ROOT/benches/loadgen/target/release/jowi-bench
FIXTURE=$ROOT/benches/results/.fixture.json
if ((BUILD)); then
  log "building the server and jowi-bench (release)"
  cargo build --release --bin jowi
  cargo build --release --manifest-path benches/loadgen/Cargo.toml
fi

env_lines="$(scripts/services.sh up)" || die "scripts/services.sh up failed"
eval "$env_lines"
base=${DATABASE_URL%%\?*}
DB_URL="${base%/*}/$BENCH_DB"

if ((HISTORY)); then
  log "creating $BENCH_DB"
  psql -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" \
    -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" -c "CREATE DATABASE $BENCH_DB" >&2
  DATABASE_URL=$DB_URL "$JOWI" migrate >&2
  "$BENCH" setup --database-url "$DB_URL" --tenants 10 --products "$PRODUCTS" --fixture "$FIXTURE"
  log "history: $RECEIPTS receipts over $DAYS days"
  "$BENCH" history --database-url "$DB_URL" --fixture "$FIXTURE" --receipts "$RECEIPTS" --days "$DAYS"
  log "totals: jowi reports rebuild"
  DATABASE_URL=$DB_URL "$JOWI" reports rebuild
  # As after any bulk load: visibility map and statistics now, not in the
  # middle of the measurements (by autovacuum, or by the server's own vacuum
  # task where autovacuum is off).
  log "VACUUM (ANALYZE) after the bulk load"
  psql -X -q -v ON_ERROR_STOP=1 -d "$DB_URL" -c "VACUUM (ANALYZE)" >&2
fi

# run.sh names its files by date and commit: one directory per step, so the
# second run does not replace the first.
OUT="$ROOT/benches/results/reports-$(date -u +%F)-$(git rev-parse --short HEAD)"

# Off and on alternate twice: one pair of runs cannot show a 10% difference
# on a machine whose run-to-run noise is about that (the same binary gave
# 1,900 and 2,145 receipts/s within the hour on 2026-11-29).
rates=()
for round in 1 2; do
  log "round $round, a. receipts with the running totals OFF"
  JOWI__SALES__RUNNING_TOTALS=false BENCH_OUT_DIR=$OUT/totals-off-$round benches/run.sh --no-build --no-setup \
    --scenarios receipt --duration "$DURATION" --warmup 3 | tee /tmp/jowi-reports-a$round.txt
  scenarios=receipt
  ((round == 2)) && scenarios=receipt,reports,mix
  log "round $round, b. running totals ON: $scenarios"
  JOWI__SALES__RUNNING_TOTALS=true BENCH_OUT_DIR=$OUT/totals-on-$round benches/run.sh --no-build --no-setup \
    --scenarios "$scenarios" --duration "$DURATION" --warmup 3 | tee /tmp/jowi-reports-b$round.txt
  # One-line rows look like "     receipt:      1,234 receipts/s  p50 ...".
  for ab in a b; do
    rates+=("$ab$round=$(grep -m1 -E '^ *receipt:' /tmp/jowi-reports-$ab$round.txt | awk '{print $2}' || true)")
  done
done
log "receipts/s, totals off (a) and on (b): ${rates[*]}"
