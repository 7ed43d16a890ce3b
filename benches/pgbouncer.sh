#!/usr/bin/env bash
# PgBouncer in transaction pooling vs direct connections (issue 14, the
# seed's question), in one sitting on one bench database:
#
#   1. direct, prepared statements cached per connection (the default);
#   2. direct, `database.statement_cache = false` (what PgBouncer needs:
#      statements prepared per transaction) — separates the cost of losing
#      the statement cache from the cost of the extra hop;
#   3. the server through a private PgBouncer (pool_mode = transaction,
#      default_pool_size = the server's pool_max), statement cache off.
#
#   benches/pgbouncer.sh [--scenarios LIST] [--duration S] [--no-build] [--no-setup]
#
# Scenarios default to barcode,receipt,mix. Results:
# benches/results/pgbouncer-<date>-<commit>/{direct,direct-nocache,pgbouncer}/.
# PgBouncer comes from Debian's package (installed when missing); it runs
# as the postgres user when this script runs as root, and is stopped on exit.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
JOWI_LOG_TAG=pgbouncer-bench
cd "$JOWI_ROOT"

SCENARIOS=barcode,receipt,mix
DURATION=20
RUN=()
while (($#)); do
  case "$1" in
    --scenarios) SCENARIOS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --no-build | --no-setup) RUN+=("$1"); shift ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
      exit 0
      ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done

bin=""
for b in /usr/sbin/pgbouncer /usr/bin/pgbouncer; do [[ -x $b ]] && bin=$b && break; done
if [[ -z $bin ]]; then
  apt_install pgbouncer
  for b in /usr/sbin/pgbouncer /usr/bin/pgbouncer; do [[ -x $b ]] && bin=$b && break; done
fi
[[ -n $bin ]] || die "pgbouncer not found after installing it"
# Debian starts the packaged one; this script runs its own.
if pgrep -x pgbouncer >/dev/null 2>&1 && [[ -f /etc/init.d/pgbouncer ]]; then
  as_root /etc/init.d/pgbouncer stop >/dev/null 2>&1 || true
fi

env_lines="$(scripts/services.sh up)"
eval "$env_lines"
base=${DATABASE_URL%%\?*}
pg_hostport=${base#*@}
pg_hostport=${pg_hostport%%/*}
pg_host=${pg_hostport%%:*}
pg_port=${pg_hostport##*:}
[[ $pg_port == "$pg_hostport" ]] && pg_port=5432
pg_user=${base#*://}
pg_user=${pg_user%%@*}
pg_user=${pg_user%%:*}
pool=$(awk -F' *= *' '/^\[database\]/{s=1;next} /^\[/{s=0} s && $1=="pool_max"{print $2}' config/default.toml)
pool=${pool:-16}

port=$(free_port)
dir="$JOWI_ROOT/.local/pgbouncer-bench"
rm -rf "$dir"
mkdir -p "$dir"
cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=$pg_host port=$pg_port user=$pg_user

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = any
pool_mode = transaction
max_client_conn = 1000
default_pool_size = $pool
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
stop_bouncer() {
  local pid
  pid=$(cat "$dir/pgbouncer.pid" 2>/dev/null || true)
  [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
}
trap stop_bouncer EXIT
if [[ $(id -u) == 0 ]]; then
  chmod -R a+rwX "$dir"
  runuser -u postgres -- "$bin" -d "$dir/pgbouncer.ini"
else
  "$bin" -d "$dir/pgbouncer.ini"
fi
for _ in $(seq 50); do
  psql -X -q -h 127.0.0.1 -p "$port" -U "$pg_user" -d postgres -c 'SELECT 1' >/dev/null 2>&1 && break
  sleep 0.2
done
log "PgBouncer on 127.0.0.1:$port (transaction pooling, pool $pool) -> $pg_host:$pg_port"

OUT="$JOWI_ROOT/benches/results/pgbouncer-$(date -u +%F)-$(git rev-parse --short HEAD)"
bench_db=${BENCH_DB:-jowi_bench}
common=(--scenarios "$SCENARIOS" --duration "$DURATION" --warmup 5)
log "1. direct, statement cache on"
BENCH_OUT_DIR=$OUT/direct benches/run.sh "${RUN[@]}" "${common[@]}" | grep -E '^ +[a-z-]+:' || true
# The database and binaries of run 1 serve runs 2 and 3.
log "2. direct, statement cache off"
JOWI__DATABASE__STATEMENT_CACHE=false BENCH_OUT_DIR=$OUT/direct-nocache \
  benches/run.sh --no-build --no-setup "${common[@]}" | grep -E '^ +[a-z-]+:' || true
log "3. through PgBouncer, statement cache off"
JOWI__DATABASE__STATEMENT_CACHE=false BENCH_OUT_DIR=$OUT/pgbouncer \
  BENCH_SERVER_DB_URL="postgres://$pg_user@127.0.0.1:$port/$bench_db" \
  benches/run.sh --no-build --no-setup "${common[@]}" | grep -E '^ +[a-z-]+:' || true
log "results in $OUT/{direct,direct-nocache,pgbouncer}"
