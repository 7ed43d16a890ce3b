#!/usr/bin/env bash
# The JOWi Shop benchmark in one command (see benches/README.md).
#
#   benches/run.sh [options] [-- extra `jowi-bench run` arguments]
#
#   --scenarios LIST   comma-separated, in order (default: all:
#                      static,barcode,list,receipt,mix,ws,pg-insert,connections;
#                      also receipt-webhook: `receipt` with one active webhook subscription)
#   --duration S       seconds per scenario (default 20)
#   --connections N    client connections (default 64)
#   --rate R           constant arrival rate (req/s) instead of the closed loop
#   --warmup S         unrecorded warm-up seconds (default 5)
#   --tenants T        bench tenants (default 10)
#   --products P       products across all tenants (default 100000)
#   --redis            give the server REDIS_URL (the Redis bus); default: in-process bus
#   --no-build         use the binaries already in target/release and benches/loadgen/target/release
#   --no-setup         keep the bench database and fixture of the previous run
#   --no-server        do not start a server; send load to BENCH_URL (it must serve the
#                      bench database, jowi_bench)
#
# Environment: BENCH_DURATION, BENCH_CONNECTIONS, BENCH_SCENARIOS, BENCH_WARMUP, BENCH_RATE,
# BENCH_TENANTS, BENCH_PRODUCTS, BENCH_DB (jowi_bench), BENCH_PORT (18090), BENCH_URL
# (implies --no-server), BENCH_OUT_DIR (benches/results), JOWI_BIN (the server binary to run),
# BENCH_SERVER_DB_URL (the server's database URL, e.g. through PgBouncer). Results:
# $BENCH_OUT_DIR/<date>-<commit>.{json,md} (a later run of the same day and commit replaces them).
# Load goes to 127.0.0.1 only and every scenario stops after its duration.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

DURATION=${BENCH_DURATION:-20}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
SCENARIOS=${BENCH_SCENARIOS:-static,barcode,list,receipt,mix,ws,pg-insert,connections}
WARMUP=${BENCH_WARMUP:-5}
RATE=${BENCH_RATE:-}
TENANTS=${BENCH_TENANTS:-10}
PRODUCTS=${BENCH_PRODUCTS:-100000}
BENCH_DB=${BENCH_DB:-jowi_bench}
PORT=${BENCH_PORT:-18090}
URL=${BENCH_URL:-}
BUILD=1
SETUP=1
SERVER=1
USE_REDIS=0
[[ -z $URL ]] || SERVER=0

while (($#)); do
  case "$1" in
    --scenarios) SCENARIOS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --tenants) TENANTS=$2; shift 2 ;;
    --products) PRODUCTS=$2; shift 2 ;;
    --redis) USE_REDIS=1; shift ;;
    --no-build) BUILD=0; shift ;;
    --no-setup) SETUP=0; shift ;;
    --no-server) SERVER=0; shift ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
      exit 0
      ;;
    --) shift; break ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done
EXTRA=("$@")
[[ $BENCH_DB =~ ^[a-z_][a-z0-9_]*$ ]] || die "BENCH_DB must be a plain identifier, got '$BENCH_DB'"
URL=${URL:-http://127.0.0.1:$PORT}

# JOWI_BIN: run another server binary (A/B runs of two builds in one sitting).
JOWI=${JOWI_BIN:-$ROOT/target/release/jowi}
BENCH=$ROOT/benches/loadgen/target/release/jowi-bench
RESULTS=$ROOT/benches/results
FIXTURE=$RESULTS/.fixture.json
OUT_DIR=${BENCH_OUT_DIR:-$RESULTS}
mkdir -p "$RESULTS" "$OUT_DIR"

# ------------------------------------------------------------------ build --
# One build at a time: the machine has 2 cores.
if ((BUILD)); then
  log "building the server (release)"
  cargo build --release --bin jowi
  log "building jowi-bench (release)"
  cargo build --release --manifest-path benches/loadgen/Cargo.toml
fi
[[ -x $BENCH ]] || die "$BENCH missing: run without --no-build"

# --------------------------------------------------------------- services --
env_lines="$(scripts/services.sh up)" || die "scripts/services.sh up failed"
eval "$env_lines"
ADMIN_DB_URL=$DATABASE_URL
# The same server, the bench database (the URL's database is `postgres`).
base=${ADMIN_DB_URL%%\?*}
query=""
[[ $ADMIN_DB_URL == *\?* ]] && query="?${ADMIN_DB_URL#*\?}"
BENCH_DB_URL="${base%/*}/$BENCH_DB$query"

if ((SETUP)); then
  [[ -x $JOWI ]] || die "$JOWI missing: run without --no-build"
  log "creating a fresh database $BENCH_DB"
  psql -X -q -v ON_ERROR_STOP=1 -d "$ADMIN_DB_URL" \
    -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" \
    -c "CREATE DATABASE $BENCH_DB" >&2
  log "migrating $BENCH_DB"
  DATABASE_URL=$BENCH_DB_URL "$JOWI" migrate >&2
  log "setup: $TENANTS tenants, $PRODUCTS products"
  "$BENCH" setup --database-url "$BENCH_DB_URL" --tenants "$TENANTS" --products "$PRODUCTS" \
    --fixture "$FIXTURE"
else
  [[ -f $FIXTURE ]] || die "$FIXTURE missing: run without --no-setup"
fi

# ----------------------------------------------------------------- server --
SERVER_PID=""
SERVER_LOG=""
stop_server() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    log "stopping the server (pid $SERVER_PID)"
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 30); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.5
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  # Keep the server's log only when it says something.
  if [[ -n ${SERVER_LOG:-} && -f $SERVER_LOG && ! -s $SERVER_LOG ]]; then rm -f "$SERVER_LOG"; fi
}
trap stop_server EXIT

NOTE="server started by benches/run.sh (binary built $(date -u -r "$JOWI" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || echo '?'))"
if ((SERVER)); then
  # 1,000+ client sockets plus the server's own.
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  if curl -fsS -o /dev/null --max-time 2 "$URL/api/v1/health" 2>/dev/null; then
    die "something already answers on $URL; stop it or set BENCH_PORT"
  fi
  SERVER_LOG=$RESULTS/server-$(date +%Y%m%d-%H%M%S).log
  ADMIN_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  if ((USE_REDIS)); then
    redis_env=(REDIS_URL="$REDIS_URL")
    NOTE="$NOTE; Redis bus"
  else
    redis_env=(-u REDIS_URL)
    NOTE="$NOTE; in-process bus (single instance)"
  fi
  log "starting the server on $URL (log $SERVER_LOG)"
  # BENCH_SERVER_DB_URL: the server reaches the bench database another way
  # (through PgBouncer: benches/pgbouncer.sh); the load tool stays direct.
  env "${redis_env[@]}" DATABASE_URL="${BENCH_SERVER_DB_URL:-$BENCH_DB_URL}" JOWI_LISTEN="${URL#http://}" \
    JOWI_ADMIN_TOKEN="$ADMIN_TOKEN" JOWI__LIMITS__ENABLED=false JOWI__WEBHOOKS__ALLOW_PRIVATE_URLS=true \
    RUST_LOG=warn "$JOWI" serve >"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  ready=0
  for _ in $(seq 120); do
    if curl -fsS -o /dev/null --max-time 2 "$URL/api/v1/health/ready" 2>/dev/null; then
      ready=1
      break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 30 "$SERVER_LOG" >&2; die "the server exited"; }
    sleep 0.5
  done
  ((ready)) || { tail -n 30 "$SERVER_LOG" >&2; die "the server is not ready after 60 s"; }
  log "server ready (pid $SERVER_PID)"
else
  NOTE="external server at $URL"
  curl -fsS -o /dev/null --max-time 5 "$URL/api/v1/health/ready" ||
    die "$URL/api/v1/health/ready does not answer 2xx"
fi

# -------------------------------------------------------------------- run --
run_args=(run --url "$URL" --fixture "$FIXTURE" --database-url "$BENCH_DB_URL"
  --scenarios "$SCENARIOS" --duration "$DURATION" --connections "$CONNECTIONS"
  --warmup "$WARMUP" --out-dir "$OUT_DIR" --note "$NOTE")
[[ -z $RATE ]] || run_args+=(--rate "$RATE")
[[ -z $SERVER_PID ]] || run_args+=(--server-pid "$SERVER_PID")
"$BENCH" "${run_args[@]}" "${EXTRA[@]}"
