#!/usr/bin/env bash
# Catalog CSV import benchmark (issue 11): time and peak memory of
# `jowi import-catalog` for a generated file of ROWS rows (default 100,000;
# two variants per product, 20 categories), imported into an empty tenant,
# then the same file again (an upsert that must change nothing). A small
# run (ROWS/10) first shows memory does not grow with the file.
#
#   benches/import.sh                 # release build, 100,000 rows
#   IMPORT_ROWS=1000000 benches/import.sh
#   JOWI_BIN=target/debug/jowi IMPORT_ROWS=20000 benches/import.sh   # quick check
#
# Target: 100,000 rows in <= 30 s. Result: a Markdown table on stdout, also
# written to benches/results/import-<date>-<commit>.md unless IMPORT_NO_SAVE=1.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
JOWI_LOG_TAG=bench-import
cd "$JOWI_ROOT"

ROWS=${IMPORT_ROWS:-100000}
DB=${IMPORT_DB:-jowi_bench_import}
[[ -x /usr/bin/time ]] || apt_install time

env_lines="$(scripts/services.sh up)"
eval "$env_lines"
base="$DATABASE_URL"
psql "$base" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
psql "$base" -qc "CREATE DATABASE $DB" >/dev/null
DATABASE_URL="$(sed -E "s#/[^/?]*(\\?|$)#/$DB\\1#" <<<"$base")"
export DATABASE_URL
export REDIS_URL=""

if [[ -z ${JOWI_BIN:-} ]]; then
  cargo build --release --bin jowi >&2
  JOWI_BIN=target/release/jowi
fi
"$JOWI_BIN" migrate >&2

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

gen() { # gen ROWS FILE
  awk -v rows="$1" 'BEGIN {
    print "product,category,sku,barcode,price";
    for (i = 0; i < rows; i++) {
      printf "Product %d,Category %d,SKU-%08d,2%012d,%d.%02d\n", int(i / 2), int(i / 2) % 20, i, i, 1000 + i % 50000, i % 100;
    }
  }' >"$2"
}

run() { # run LABEL FILE TENANT -> "seconds peak_kb summary"
  local out
  out="$(/usr/bin/time -f 'TIME %e %M' "$JOWI_BIN" import-catalog "$2" --tenant "$3" 2>&1 >"$work/stdout")"
  local t m
  read -r _ t m < <(grep '^TIME' <<<"$out")
  printf '| %s | %s | %s s | %s MB | %s |\n' "$1" "$(wc -l <"$2" | awk '{print $1 - 1}')" "$t" "$((m / 1024))" \
    "$(grep 'rows read' "$work/stdout" | head -1)"
}

tenant() {
  local id
  id="$(cat /proc/sys/kernel/random/uuid)"
  psql "$DATABASE_URL" -qc "INSERT INTO tenants (id, name) VALUES ('$id', 'import bench')" >/dev/null
  echo "$id"
}

small=$((ROWS / 10))
log "generating $small and $ROWS rows"
gen "$small" "$work/small.csv"
gen "$ROWS" "$work/full.csv"
t_small="$(tenant)"
t_full="$(tenant)"

commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
report="$(
  echo "## Catalog import ($(date -u +%F), commit $commit, $(nproc) cores)"
  echo
  echo "| run | rows | time | peak RSS | result |"
  echo "| --- | ---: | ---: | ---: | --- |"
  run "small file, empty tenant" "$work/small.csv" "$t_small"
  run "full file, empty tenant" "$work/full.csv" "$t_full"
  run "full file again (upsert, no change)" "$work/full.csv" "$t_full"
  echo
  echo "Target: $ROWS rows <= 30 s; peak RSS of the full file close to the small one (streamed)."
)"
echo "$report"
if [[ -z ${IMPORT_NO_SAVE:-} ]]; then
  mkdir -p benches/results
  echo "$report" >"benches/results/import-$(date -u +%F)-$commit.md"
fi
psql "$base" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
