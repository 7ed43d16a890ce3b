#!/usr/bin/env bash
# Scale figures: the POS mix through nginx with 1, 2 and 3 instances of the
# release server (deploy/local/cluster.sh, Redis bus), on the bench data of
# benches/run.sh. Writes benches/results/scale-<date>-<commit>.md.
#
#   benches/scale.sh [duration_s] [connections]
#
# Needs a previous `benches/run.sh` (its database jowi_bench and fixture)
# and the release binaries (`benches/run.sh` builds them).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
JOWI_LOG_TAG=scale
duration=${1:-15}
connections=${2:-64}

env_lines="$(scripts/services.sh up)"
eval "$env_lines"
base="$DATABASE_URL"
DATABASE_URL="$(sed -E 's#/[^/?]*(\?|$)#/jowi_bench\1#' <<<"$base")"
export DATABASE_URL REDIS_URL
export JOWI_ADMIN_TOKEN="scale-$RANDOM$RANDOM"
export JOWI__REDIS__CHANNEL="jowi:scale:$RANDOM"
export RUST_LOG=warn
export JOWI_BIN="$JOWI_ROOT/target/release/jowi"
export JOWI_CLUSTER_DIR="$JOWI_ROOT/.local/scale"
export JOWI_CLUSTER_PORT=18180 JOWI_CLUSTER_BASE_PORT=18180
# Throughput of the servers, not of the per-token rate limits.
export JOWI_CLUSTER_NO_LIMITS=1
export JOWI__LIMITS__ENABLED=false
[ -x "$JOWI_BIN" ] || die "build first: cargo build --release --bin jowi (or benches/run.sh)"

date_tag=$(date -u +%Y-%m-%d)
commit=$(git rev-parse --short HEAD)
out="benches/results/scale-$date_tag-$commit.md"
tmp=$(mktemp -d)
trap 'deploy/local/cluster.sh down >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT

rows=()
for n in 1 2 3; do
  log "cluster of $n"
  deploy/local/cluster.sh up "$n" >&2
  BENCH_URL="http://127.0.0.1:$JOWI_CLUSTER_PORT" BENCH_OUT_DIR="$tmp/$n" \
    benches/run.sh --no-build --no-setup --scenarios mix --duration "$duration" \
    --connections "$connections" --warmup 3 >"$tmp/$n.log" 2>&1 || {
    tail -20 "$tmp/$n.log" >&2
    die "benchmark with $n instances failed"
  }
  json=$(ls "$tmp/$n"/*.json)
  rows+=("$(python3 - "$json" "$n" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
r = next(x for x in d["results"] if x["name"] == "mix")
lat = r["latency"]
pg = r.get("samples", {}).get("pg_connections_max", "?")
print(f"| {sys.argv[2]} | {r['per_s']:,.0f} | {lat['p50_ms']:.2f} | {lat['p95_ms']:.1f} | {lat['p99_ms']:.1f} | {r['non_2xx']} | {r['errors']} | {pg} |")
PY
)")
  deploy/local/cluster.sh down >&2
done

{
  echo "# Scale: POS mix through nginx, 1-3 instances — $date_tag — $commit"
  echo
  echo "- Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); nginx, every instance, PostgreSQL, Redis and the load tool share these cores."
  echo "- Command: \`benches/scale.sh $duration $connections\` (mix: 70% barcode, 10% list, 15% receipt, 5% stock/shift; $connections connections, closed loop, ${duration} s each)."
  echo "- nginx least_conn with keep-alive upstreams; per-token rate limits off for the measurement; Redis bus on."
  echo
  echo "| instances | mix req/s | p50 ms | p95 ms | p99 ms | non-2xx | errors | PG connections (max) |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
} >"$out"
cat "$out"
