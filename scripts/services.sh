#!/usr/bin/env bash
# PostgreSQL (15+) and Redis for the JOWi Shop server: use running ones, or start
# private ones under .local/ so a fresh Debian machine needs no manual setup.
#
#   scripts/services.sh up      make both reachable; stdout carries ONLY
#                               `export DATABASE_URL=...` and `export REDIS_URL=...`
#   scripts/services.sh status  what `up` would use, and the state of the private services
#   scripts/services.sh down    stop the private services under .local/ (never the machine's)
#   scripts/services.sh purge   down, then delete the private data (.local/pg, .local/redis)
#
# Choice order, first that answers wins:
#   1. $DATABASE_URL / $REDIS_URL from the environment;
#   2. the machine's services: 127.0.0.1:5432 (user postgres, trust auth, PG 15+) / 127.0.0.1:6379;
#   3. private services on 127.0.0.1:${JOWI_PG_PORT:-55432} / 127.0.0.1:${JOWI_REDIS_PORT:-56379}.
# JOWI_SERVICES_PRIVATE=1 skips 1 and 2. Missing binaries are installed with apt-get.
#
# Callers: `env_lines="$(scripts/services.sh up)" && eval "$env_lines"`. The one-liner
# `eval "$(scripts/services.sh up)"` also works: on failure `up` prints `false` on
# stdout, so the eval itself fails (eval of an empty string would succeed silently).
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
JOWI_LOG_TAG=services

# The postgres system user must be able to enter the directories we create.
umask 022

# stdout is eval'd by callers: keep it on fd 3 for the export lines and send
# everything else (our logs, apt-get, pg_ctl, ...) to stderr.
exec 3>&1 1>&2

LOCAL_DIR="$JOWI_ROOT/.local"
PG_LINK="$LOCAL_DIR/pg"
REDIS_DIR="$LOCAL_DIR/redis"
LOCK_FILE="$LOCAL_DIR/services.lock"
PG_PORT="${JOWI_PG_PORT:-55432}"
REDIS_PORT="${JOWI_REDIS_PORT:-56379}"
PRIVATE="${JOWI_SERVICES_PRIVATE:-0}"
PG_MIN_MAJOR=15
MACHINE_PG_URL="postgres://postgres@127.0.0.1:5432/postgres"
MACHINE_REDIS_URL="redis://127.0.0.1:6379"
# Tests create their own databases, so the URL's database must exist: `postgres`.
PRIVATE_PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
PRIVATE_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

[[ $PG_PORT =~ ^[0-9]+$ ]] || die "JOWI_PG_PORT must be a port number, got '$PG_PORT'"
[[ $REDIS_PORT =~ ^[0-9]+$ ]] || die "JOWI_REDIS_PORT must be a port number, got '$REDIS_PORT'"

# Chosen by pick_*/start_*: URL to export and a human-readable origin.
USE_PG_URL=""
USE_PG_SOURCE=""
USE_REDIS_URL=""
USE_REDIS_SOURCE=""
PG_BINDIR=""

# Hide passwords when URLs are shown.
mask_url() { sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#' <<<"$1"; }

# ---------------------------------------------------------------- probes --

# pg_version URL: print server_version_num if URL accepts a login and a query.
pg_version() {
  local v
  v=$(PGCONNECT_TIMEOUT=3 timeout 15 psql -X -w -Atq -d "$1" -c 'SHOW server_version_num' 2>/dev/null) ||
    return 1
  [[ $v =~ ^[0-9]+$ ]] || return 1
  printf '%s\n' "$v"
}

# Like pg_version, but with no password from the environment or ~/.pgpass: the
# server connects with the bare URL, so the machine's cluster must really trust us.
pg_version_trust() (
  unset PGPASSWORD
  export PGPASSFILE=/dev/null
  pg_version "$1"
)

redis_ok() { [[ "$(timeout 5 redis-cli -u "$1" ping 2>/dev/null)" == PONG ]]; }

# ------------------------------------------------------- running services --

pg_pick_running() {
  local v
  if [[ $PRIVATE == 1 ]]; then
    log "JOWI_SERVICES_PRIVATE=1: ignoring DATABASE_URL and 127.0.0.1:5432"
    return 1
  fi
  if [[ -n ${DATABASE_URL:-} ]]; then
    if v=$(pg_version "$DATABASE_URL"); then
      ((v >= PG_MIN_MAJOR * 10000)) ||
        log "WARNING: DATABASE_URL points to PostgreSQL $v; the server needs $PG_MIN_MAJOR+"
      USE_PG_URL=$DATABASE_URL
      USE_PG_SOURCE="DATABASE_URL from the environment"
      return 0
    fi
    log "DATABASE_URL is set but does not answer ($(mask_url "$DATABASE_URL")); ignoring it"
  fi
  if v=$(pg_version_trust "$MACHINE_PG_URL"); then
    if ((v >= PG_MIN_MAJOR * 10000)); then
      USE_PG_URL=$MACHINE_PG_URL
      USE_PG_SOURCE="machine's PostgreSQL on 127.0.0.1:5432"
      return 0
    fi
    log "127.0.0.1:5432 runs PostgreSQL $v, older than $PG_MIN_MAJOR; not using it"
  fi
  return 1
}

redis_pick_running() {
  if [[ $PRIVATE == 1 ]]; then
    log "JOWI_SERVICES_PRIVATE=1: ignoring REDIS_URL and 127.0.0.1:6379"
    return 1
  fi
  if [[ -n ${REDIS_URL:-} ]]; then
    if redis_ok "$REDIS_URL"; then
      USE_REDIS_URL=$REDIS_URL
      USE_REDIS_SOURCE="REDIS_URL from the environment"
      return 0
    fi
    log "REDIS_URL is set but does not answer PING ($(mask_url "$REDIS_URL")); ignoring it"
  fi
  if redis_ok "$MACHINE_REDIS_URL"; then
    USE_REDIS_URL=$MACHINE_REDIS_URL
    USE_REDIS_SOURCE="machine's Redis on 127.0.0.1:6379"
    return 0
  fi
  return 1
}

# ---------------------------------------------------- private PostgreSQL --

# pg_find_bindir [MAJOR]: print the server bin dir for MAJOR, or the newest one
# that is at least PG_MIN_MAJOR. Debian keeps them in /usr/lib/postgresql/<ver>/bin
# (client-only packages create such dirs too, hence the initdb check); PATH is the
# fallback for other layouts.
pg_find_bindir() {
  local want=${1:-} d major
  local -a dirs=()
  mapfile -t dirs < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5,5 -rn)
  if have initdb; then dirs+=("$(dirname "$(command -v initdb)")"); fi
  for d in "${dirs[@]}"; do
    [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]] || continue
    major=$("$d/postgres" --version | sed -E 's/^[^0-9]*([0-9]+).*/\1/')
    [[ $major =~ ^[0-9]+$ ]] || continue
    if [[ -n $want ]]; then
      [[ $major == "$want" ]] || continue
    else
      ((major >= PG_MIN_MAJOR)) || continue
    fi
    printf '%s\n' "$d"
    return 0
  done
  return 1
}

# Sets PG_BINDIR to the newest usable server bin dir, installing PostgreSQL if
# needed (not run in $(...), so apt_install's once-only `apt-get update` sticks).
pg_server_bindir() {
  if PG_BINDIR=$(pg_find_bindir); then return 0; fi
  log "no PostgreSQL $PG_MIN_MAJOR+ server binaries found"
  apt_install postgresql
  PG_BINDIR=$(pg_find_bindir) ||
    die "PostgreSQL $PG_MIN_MAJOR+ server binaries still missing after 'apt-get install postgresql' (Debian 12+ ships 15; older releases need the apt.postgresql.org repository)"
}

# as_user USER CMD...: run CMD as USER. From /, because USER may not be allowed
# into our cwd (e.g. /root), which makes initdb/pg_ctl complain.
as_user() {
  local user=$1
  shift
  if [[ $user == "$(id -un)" ]]; then
    "$@"
  elif [[ $EUID -eq 0 ]]; then
    if have runuser; then
      (cd / && runuser -u "$user" -- "$@")
    else
      (cd / && su -s /bin/sh "$user" -c "$(printf '%q ' "$@")")
    fi
  else
    die "the private PostgreSQL cluster belongs to user '$user'; run this as '$user' or as root"
  fi
}

# initdb and postgres refuse to run as root; root hands the cluster to `postgres`
# (created by the Debian package; created here if the binaries came another way).
ensure_postgres_user() {
  id -u postgres >/dev/null 2>&1 && return 0
  log "creating system user 'postgres' to own the private cluster"
  useradd --system --user-group --no-create-home --home-dir /var/lib/postgresql \
    --shell /usr/sbin/nologin postgres || die "could not create system user 'postgres'"
}

# Real directory of the private cluster. .local/pg is normally a plain directory;
# it is a symlink when root keeps the repo where `postgres` cannot enter (/root/...).
pg_base() {
  if [[ -L $PG_LINK ]]; then readlink -f "$PG_LINK"; else printf '%s\n' "$PG_LINK"; fi
}

# Owner of the cluster: whoever ran initdb; for a new cluster, us or (as root) postgres.
pg_owner() {
  local base=$1
  if [[ -d $base/data ]]; then
    stat -c %U "$base/data"
  elif [[ $EUID -eq 0 ]]; then
    echo postgres
  else
    id -un
  fi
}

pg_prepare_base() {
  local real
  mkdir -p "$LOCAL_DIR"
  if [[ -L $PG_LINK && ! -e $PG_LINK ]]; then rm -f "$PG_LINK"; fi # dangling link
  if [[ ! -e $PG_LINK ]]; then
    if [[ $EUID -eq 0 ]] && ! as_user postgres test -x "$LOCAL_DIR"; then
      real="/var/lib/jowi-shop/$(printf '%s' "$JOWI_ROOT" | cksum | cut -d' ' -f1)/pg"
      log "user postgres cannot enter $LOCAL_DIR (a parent directory is closed);" \
        "keeping the cluster in $real, linked as .local/pg"
      mkdir -p "$real"
      ln -s "$real" "$PG_LINK"
    else
      mkdir "$PG_LINK"
    fi
  fi
  if [[ $EUID -eq 0 && ! -d $PG_LINK/data ]]; then chown postgres: "$(pg_base)"; fi
}

pg_init() {
  local base=$1 bindir=$2 owner=$3 locale=C
  [[ -f $base/data/PG_VERSION ]] && return 0
  # C.UTF-8 like Debian's own clusters when libc has it (non-ASCII lower()/ILIKE).
  if grep -qiE '^c\.utf-?8$' < <(locale -a 2>/dev/null); then locale=C.UTF-8; fi
  log "initialising private PostgreSQL cluster in $base/data (owner $owner)"
  as_user "$owner" "$bindir/initdb" -D "$base/data" -A trust -U postgres -E UTF8 \
    --locale="$locale" || die "initdb failed"
  # Our settings live in jowi.conf, rewritten on each start so a new port applies.
  printf "\ninclude_if_exists = 'jowi.conf'\n" |
    as_user "$owner" tee -a "$base/data/postgresql.conf" >/dev/null
}

pg_write_conf() {
  local base=$1 owner=$2 sock="$1/sock" sockdirs
  as_user "$owner" mkdir -p "$sock"
  # Unix socket paths are limited to 107 bytes; past that, TCP only.
  if ((${#sock} + ${#PG_PORT} + 11 > 107)); then
    log "socket path under $sock would be too long; PostgreSQL listens on TCP only"
    sockdirs=""
  else
    sockdirs=${sock//\'/\'\'}
  fi
  # Durability stays on (fsync, synchronous_commit): we never trade it for speed.
  as_user "$owner" tee "$base/data/jowi.conf" >/dev/null <<EOF
# Written by scripts/services.sh on every start; change it there.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$sockdirs'
max_connections = 200
shared_buffers = 256MB
fsync = on
synchronous_commit = on
full_page_writes = on
EOF
}

pg_start_private() {
  local base data owner bindir port
  # Binaries first: on a fresh machine the Debian package also creates `postgres`.
  base=$(pg_base)
  if [[ -f $base/data/PG_VERSION ]]; then
    bindir=$(pg_find_bindir "$(<"$base/data/PG_VERSION")") ||
      die "$base/data was created by PostgreSQL $(<"$base/data/PG_VERSION"), whose server binaries are missing; install them or run 'scripts/services.sh purge' to start afresh"
  else
    pg_server_bindir
    bindir=$PG_BINDIR
  fi
  [[ $EUID -ne 0 ]] || ensure_postgres_user
  pg_prepare_base
  base=$(pg_base) # may have been relocated
  data=$base/data
  owner=$(pg_owner "$base")
  pg_init "$base" "$bindir" "$owner"

  if as_user "$owner" "$bindir/pg_ctl" status -D "$data" >/dev/null 2>&1; then
    port=$(sed -n 4p "$data/postmaster.pid")
    if [[ $port == "$PG_PORT" ]] && pg_version "$PRIVATE_PG_URL" >/dev/null; then
      log "reusing the private PostgreSQL on 127.0.0.1:$PG_PORT"
      return 0
    fi
    log "private PostgreSQL runs on port $port, wanted $PG_PORT: restarting it"
    as_user "$owner" "$bindir/pg_ctl" stop -D "$data" -m fast -w -t 60 || die "pg_ctl stop failed"
  fi

  pg_write_conf "$base" "$owner"
  log "starting private PostgreSQL ($bindir) on 127.0.0.1:$PG_PORT, log $base/log"
  # Close fd 3 (the caller's $(...) pipe) and fd 9 (our lock) in the daemon, or
  # the caller would wait for EOF forever and the lock would never be released.
  if ! as_user "$owner" "$bindir/pg_ctl" start -D "$data" -l "$base/log" -w -t 60 3>&- 9>&-; then
    tail -n 20 "$base/log" >&2 || true
    die "private PostgreSQL did not start (port $PG_PORT taken? set JOWI_PG_PORT); see $base/log"
  fi
  pg_version "$PRIVATE_PG_URL" >/dev/null ||
    die "private PostgreSQL started but $PRIVATE_PG_URL does not answer"
}

pg_stop_private() {
  local base data owner bindir
  base=$(pg_base)
  data=$base/data
  if [[ ! -f $data/postmaster.pid ]]; then
    log "private PostgreSQL is not running"
    return 0
  fi
  owner=$(pg_owner "$base")
  bindir=$(pg_find_bindir "$(<"$data/PG_VERSION")") ||
    die "server binaries for PostgreSQL $(<"$data/PG_VERSION") are missing; cannot stop $data"
  if as_user "$owner" "$bindir/pg_ctl" status -D "$data" >/dev/null 2>&1; then
    log "stopping private PostgreSQL ($data)"
    as_user "$owner" "$bindir/pg_ctl" stop -D "$data" -m fast -w -t 60 || die "pg_ctl stop failed"
  else
    log "private PostgreSQL is not running (stale postmaster.pid)"
  fi
}

# --------------------------------------------------------- private Redis --

# PID of our private redis-server, if it is alive.
redis_pid() {
  local pid
  [[ -f $REDIS_DIR/redis.pid ]] || return 1
  pid=$(<"$REDIS_DIR/redis.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == redis-server* ]] || return 1
  printf '%s\n' "$pid"
}

# True if our redis-server is the one answering on REDIS_PORT (not a stranger).
redis_ours_on_port() {
  local pid answer
  pid=$(redis_pid) || return 1
  answer=$(timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" info server 2>/dev/null | tr -d '\r') ||
    return 1
  grep -qx "process_id:$pid" <<<"$answer"
}

redis_stop_private() {
  local pid _
  if ! pid=$(redis_pid); then
    log "private redis-server is not running"
    rm -f "$REDIS_DIR/redis.pid"
    return 0
  fi
  log "stopping private redis-server (pid $pid)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    [[ -d /proc/$pid ]] || break
    sleep 0.2
  done
  if [[ -d /proc/$pid ]]; then
    log "redis-server $pid ignored SIGTERM for 10s; killing it"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$REDIS_DIR/redis.pid"
}

redis_start_private() {
  local _
  have redis-server || apt_install redis-server redis-tools
  mkdir -p "$REDIS_DIR"
  if redis_ours_on_port; then
    log "reusing the private redis-server on 127.0.0.1:$REDIS_PORT"
    return 0
  fi
  if redis_pid >/dev/null; then
    log "private redis-server is not serving port $REDIS_PORT: restarting it"
    redis_stop_private
  fi
  rm -f "$REDIS_DIR/redis.pid"
  # Redis is only a message bus here: no RDB snapshots, no AOF.
  cat >"$REDIS_DIR/redis.conf" <<EOF
# Written by scripts/services.sh on every start; change it there.
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
daemonize yes
pidfile "$REDIS_DIR/redis.pid"
logfile "$REDIS_DIR/redis.log"
dir "$REDIS_DIR"
save ""
appendonly no
EOF
  log "starting private redis-server on 127.0.0.1:$REDIS_PORT, log $REDIS_DIR/redis.log"
  # fds 3 and 9 closed for the daemon: see pg_start_private.
  redis-server "$REDIS_DIR/redis.conf" 3>&- 9>&- || die "redis-server failed; see $REDIS_DIR/redis.log"
  for _ in $(seq 50); do
    if redis_ours_on_port; then return 0; fi
    sleep 0.2
  done
  tail -n 20 "$REDIS_DIR/redis.log" >&2 || true
  die "private redis-server does not answer on 127.0.0.1:$REDIS_PORT (port taken? set JOWI_REDIS_PORT); see $REDIS_DIR/redis.log"
}

# -------------------------------------------------------------- commands --

# Serialise concurrent runs (e.g. test.sh and run-demo.sh started together).
take_lock() {
  mkdir -p "$LOCAL_DIR"
  have flock || return 0
  exec 9>"$LOCK_FILE"
  flock -w 300 9 || die "another scripts/services.sh holds $LOCK_FILE for 5 minutes; giving up"
}

ensure_clients() {
  local -a pkgs=()
  if ! have psql || ! have pg_isready; then pkgs+=(postgresql-client); fi
  have redis-cli || pkgs+=(redis-tools)
  if ((${#pkgs[@]})); then apt_install "${pkgs[@]}"; fi
}

# On failure, make `eval "$(services.sh up)"` fail too (see the header).
up_exit() {
  local rc=$1
  if ((rc != 0)); then
    log "up failed (exit $rc); DATABASE_URL/REDIS_URL not exported"
    echo false >&3
  fi
}

cmd_up() {
  trap 'up_exit $?' EXIT
  take_lock
  ensure_clients
  if ! pg_pick_running; then
    pg_start_private
    USE_PG_URL=$PRIVATE_PG_URL
    USE_PG_SOURCE="private PostgreSQL in $(pg_base)"
  fi
  log "postgres: $USE_PG_SOURCE -> $(mask_url "$USE_PG_URL")"
  if ! redis_pick_running; then
    redis_start_private
    USE_REDIS_URL=$PRIVATE_REDIS_URL
    USE_REDIS_SOURCE="private redis-server in $REDIS_DIR"
  fi
  log "redis:    $USE_REDIS_SOURCE -> $(mask_url "$USE_REDIS_URL")"
  printf 'export DATABASE_URL=%q\n' "$USE_PG_URL" >&3
  printf 'export REDIS_URL=%q\n' "$USE_REDIS_URL" >&3
}

cmd_down() {
  take_lock
  pg_stop_private
  redis_stop_private
}

cmd_purge() {
  local base
  cmd_down
  base=$(pg_base)
  if [[ -L $PG_LINK ]]; then
    # Only ever delete our own relocated directory (see pg_prepare_base).
    if [[ $base == /var/lib/jowi-shop/*/pg ]]; then
      rm -rf "$base"
      rmdir "$(dirname "$base")" /var/lib/jowi-shop 2>/dev/null || true
    fi
    rm -f "$PG_LINK"
  else
    rm -rf "$PG_LINK"
  fi
  rm -rf "$REDIS_DIR"
  rm -f "$LOCK_FILE"
  rmdir "$LOCAL_DIR" 2>/dev/null || true
  log "private PostgreSQL and Redis data removed"
}

# status prints to stdout (fd 3): it is meant for people, not for eval.
say() { printf '%s\n' "$*" >&3; }

cmd_status() {
  local base data pid port state
  if command -v psql >/dev/null && pg_pick_running 2>/dev/null; then
    say "postgres: in use: $USE_PG_SOURCE -> $(mask_url "$USE_PG_URL")"
  else
    say "postgres: no running one picked; 'up' uses the private cluster on 127.0.0.1:$PG_PORT"
  fi
  base=$(pg_base)
  data=$base/data
  if [[ ! -f $data/PG_VERSION ]]; then
    state="not created"
  elif [[ ! -r $data/postmaster.pid ]]; then
    state="stopped ($data)"
  else
    pid=$(sed -n 1p "$data/postmaster.pid")
    port=$(sed -n 4p "$data/postmaster.pid")
    if [[ -d /proc/$pid ]]; then
      state="running, pid $pid, 127.0.0.1:$port ($data)"
    else
      state="stopped, stale pid file ($data)"
    fi
  fi
  say "          private cluster: $state"

  if command -v redis-cli >/dev/null && redis_pick_running 2>/dev/null; then
    say "redis:    in use: $USE_REDIS_SOURCE -> $(mask_url "$USE_REDIS_URL")"
  else
    say "redis:    no running one picked; 'up' uses the private redis-server on 127.0.0.1:$REDIS_PORT"
  fi
  if pid=$(redis_pid); then
    port=$(sed -nE 's/^port ([0-9]+)$/\1/p' "$REDIS_DIR/redis.conf" 2>/dev/null || true)
    state="running, pid $pid, 127.0.0.1:${port:-?} ($REDIS_DIR)"
  else
    state="stopped"
  fi
  say "          private redis-server: $state"
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  purge) cmd_purge ;;
  -h | --help | help)
    usage
    ;;
  *)
    usage
    exit 2
    ;;
esac
