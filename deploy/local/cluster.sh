#!/usr/bin/env bash
# Local JOWi cluster on 127.0.0.1: N `jowi serve` instances behind nginx,
# using an ALREADY-BUILT binary (this script never builds).
#
#   deploy/local/cluster.sh up [N]     start N instances (default 3) + nginx
#   deploy/local/cluster.sh status     instances and nginx (exit 1 unless all ready)
#   deploy/local/cluster.sh kill I     kill -9 instance I (crash test)
#   deploy/local/cluster.sh stop I     SIGTERM instance I (graceful drain)
#   deploy/local/cluster.sh start I    (re)start instance I, wait until ready
#   deploy/local/cluster.sh down       stop everything (safe to repeat)
#   deploy/local/cluster.sh render N F write the nginx config for N instances to F
#
# Instance I listens on 127.0.0.1:$((JOWI_CLUSTER_BASE_PORT + I)) (18081..),
# nginx on 127.0.0.1:${JOWI_CLUSTER_PORT:-18080}.
# Environment read:
#   JOWI_BIN               binary (default: <repo>/target/release/jowi)
#   DATABASE_URL, REDIS_URL, JOWI_ADMIN_TOKEN, RUST_LOG, JOWI_ENV,
#   JOWI_CONFIG_DIR and every JOWI__SECTION__KEY (e.g. JOWI__REDIS__CHANNEL)
#                          passed through to every instance; `up` remembers
#                          them so a later `start I` from another shell joins
#                          the same database, bus channel and settings.
#   JOWI_CLUSTER_PORT      nginx port (default 18080)
#   JOWI_CLUSTER_BASE_PORT instance I gets BASE+I (default 18080)
#   JOWI_CLUSTER_DIR       state: pids, logs, nginx (default <repo>/.local/cluster)
#   JOWI_CLUSTER_READY_TIMEOUT seconds to wait for readiness (default 120)
set -euo pipefail
set +m  # no job control: background children stay in our process group,
        # so setsid below detaches them without forking (pid stays known).
shopt -u patsub_replacement 2>/dev/null || true  # '&' literal in ${x//a/b}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../../scripts/lib.sh
. "$HERE/../../scripts/lib.sh"

CLUSTER_DIR=${JOWI_CLUSTER_DIR:-$ROOT/.local/cluster}
NGINX_DIR=$CLUSTER_DIR/nginx
TEMPLATE=$HERE/nginx.conf.template
JOWI_BIN=${JOWI_BIN:-target/release/jowi}
# Instances run from the repo root (for config/), so make the path absolute:
# relative to the caller's directory if it exists there, else to the repo.
case $JOWI_BIN in
    /*) ;;
    *) if [ -e "$JOWI_BIN" ]; then JOWI_BIN=$PWD/$JOWI_BIN; else JOWI_BIN=$ROOT/$JOWI_BIN; fi ;;
esac
LB_PORT=${JOWI_CLUSTER_PORT:-18080}
BASE_PORT=${JOWI_CLUSTER_BASE_PORT:-18080}
READY_TIMEOUT=${JOWI_CLUSTER_READY_TIMEOUT:-120}
MAX_INSTANCES=32
READY_PATH=/api/v1/health/ready

port_of()  { echo $((BASE_PORT + $1)); }
pidfile()  { echo "$CLUSTER_DIR/jowi-$1.pid"; }
logfile()  { echo "$CLUSTER_DIR/jowi-$1.log"; }
cluster_size() { cat "$CLUSTER_DIR/size" 2>/dev/null || echo 0; }

# Kernel start time of a pid: stored next to the pid so a recycled pid is
# never mistaken for (and never killed as) one of ours.
proc_start() { awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null; }

# pid_alive FILE: print the pid recorded in FILE if that very process lives.
pid_alive() {
    local pid start
    [ -f "$1" ] || return 1
    read -r pid start <"$1" || true
    [ -n "${pid:-}" ] && [ -e "/proc/$pid" ] || return 1
    # A zombie is dead for our purposes.
    [ "$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 1
    [ -z "${start:-}" ] || [ "$(proc_start "$pid")" = "$start" ] || return 1
    echo "$pid"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

http_ok() { curl -fsS -o /dev/null -m 2 "$1" 2>/dev/null; }

check_index() {
    if ! [[ "${1:-}" =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ]; then
        die "instance index must be a positive integer, got '${1:-}'"
    fi
    local n; n=$(cluster_size)
    [ "$n" -gt 0 ] || die "no cluster configured here; run: $0 up N"
    [ "$1" -le "$n" ] || die "instance $1 is outside the cluster (size $n): nginx only knows 1..$n"
}

# The instances' settings taken from the environment: the conventional
# variables plus every JOWI__SECTION__KEY override (e.g. the bus channel).
instance_env_names() {
    local v
    for v in DATABASE_URL REDIS_URL JOWI_ADMIN_TOKEN RUST_LOG JOWI_ENV JOWI_CONFIG_DIR; do echo "$v"; done
    compgen -e | grep -E '^JOWI__[A-Z0-9_]+$' || true
}

# Remember the settings of `up` (mode 600: holds the admin token) so that
# `start I` from another shell joins the same database, bus and channel.
save_env() {
    local v f=$CLUSTER_DIR/env
    (umask 077; : >"$f")
    for v in $(instance_env_names); do
        if [ -n "${!v+x}" ]; then printf 'export %s=%q\n' "$v" "${!v}" >>"$f"; fi
    done
}
load_env() {
    local v line f=$CLUSTER_DIR/env
    [ -f "$f" ] || return 0
    while IFS= read -r line; do
        v=${line#export }; v=${v%%=*}
        # Only names save_env writes; the caller's own environment wins.
        [[ "$v" =~ ^(DATABASE_URL|REDIS_URL|JOWI_ADMIN_TOKEN|RUST_LOG|JOWI_ENV|JOWI_CONFIG_DIR|JOWI__[A-Z0-9_]+)$ ]] || continue
        [ -n "${!v+x}" ] || eval "$line"
    done <"$f"
}

start_instance() {
    local i=$1 port pid pf
    port=$(port_of "$i"); pf=$(pidfile "$i")
    if pid=$(pid_alive "$pf"); then log "instance $i already running (pid $pid, port $port)"; return 0; fi
    port_in_use "$port" && die "port $port (instance $i) is taken by another process"
    [ -x "$JOWI_BIN" ] || die "binary not found or not executable: $JOWI_BIN (build it with: cargo build --release)"
    printf '\n=== %s start instance %s on 127.0.0.1:%s ===\n' "$(date -Is)" "$i" "$port" >>"$(logfile "$i")"
    # setsid: the instance outlives this script and the terminal's signals.
    # 9>&-: the instance must not inherit (and so hold) the command lock.
    # nginx on loopback names the client in X-Forwarded-For: trust it there.
    ( cd "$ROOT" && export JOWI_LISTEN=127.0.0.1:$port \
        && export JOWI__SERVER__TRUSTED_PROXIES="${JOWI__SERVER__TRUSTED_PROXIES-127.0.0.1/32}" \
        && exec setsid "$JOWI_BIN" serve ) \
        >>"$(logfile "$i")" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "$pid $(proc_start "$pid")" >"$pf"
    log "instance $i: pid $pid, port $port, log $(logfile "$i")"
}

# Log of the current run of instance I (since its last start marker).
last_run_log() {
    awk '/^=== .* start instance / { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' \
        "$(logfile "$1")" 2>/dev/null | tail -n 30 >&2 || true
}

wait_ready() {
    local i=$1 port deadline
    port=$(port_of "$i"); deadline=$((SECONDS + READY_TIMEOUT))
    until http_ok "http://127.0.0.1:$port$READY_PATH"; do
        if ! pid_alive "$(pidfile "$i")" >/dev/null; then
            log "instance $i exited before becoming ready; its log:"
            last_run_log "$i"
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "instance $i not ready after ${READY_TIMEOUT}s; its log:"
            last_run_log "$i"
            return 1
        fi
        sleep 0.3
    done
    log "instance $i ready on 127.0.0.1:$port"
}

# signal_instance I SIG WAIT: send SIG, wait up to WAIT seconds for the exit,
# then SIGKILL. Quietly does nothing if the instance is not running.
signal_instance() {
    local i=$1 sig=$2 wait=$3 pid pf t=0
    pf=$(pidfile "$i")
    pid=$(pid_alive "$pf") || { rm -f "$pf"; return 0; }
    kill "-$sig" "$pid" 2>/dev/null || true
    while pid_alive "$pf" >/dev/null && [ "$t" -lt $((wait * 10)) ]; do sleep 0.1; t=$((t + 1)); done
    if pid_alive "$pf" >/dev/null; then
        log "instance $i (pid $pid) still alive after ${wait}s; SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while pid_alive "$pf" >/dev/null; do sleep 0.1; done
    fi
    rm -f "$pf"
}

render() {
    local n=$1 out=$2 i servers="" tpl
    [ -f "$TEMPLATE" ] || die "missing $TEMPLATE"
    for ((i = 1; i <= n; i++)); do
        # Passive health: 3 failures in 10s take an instance out for 10s.
        servers+="        server 127.0.0.1:$(port_of "$i") max_fails=3 fail_timeout=10s;"$'\n'
    done
    tpl=$(<"$TEMPLATE")
    tpl=${tpl//@@UPSTREAM_SERVERS@@/${servers%$'\n'}}
    tpl=${tpl//@@LISTEN@@/127.0.0.1:$LB_PORT}
    tpl=${tpl//@@NGINX_DIR@@/$NGINX_DIR}
    [[ "$tpl" != *@@* ]] || die "unrendered placeholder left in $TEMPLATE"
    mkdir -p "$(dirname "$out")"
    if [ "${JOWI_CLUSTER_NO_LIMITS:-0}" = 1 ]; then
        # Benchmarks only: drop the per-request rate and connection limits
        # (the zones stay defined, unused), so throughput is the servers'.
        printf '%s\n' "$tpl" | grep -vE '^\s*limit_(req|conn)\s+(zone=|conn_per)' >"$out"
    else
        printf '%s\n' "$tpl" >"$out"
    fi
}

nginx_args() { echo "-p $NGINX_DIR/ -e $NGINX_DIR/logs/error.log -c $NGINX_DIR/nginx.conf"; }

nginx_pid() {
    local pid
    [ -f "$NGINX_DIR/nginx.pid" ] || return 1
    read -r pid <"$NGINX_DIR/nginx.pid" || return 1
    # Only a master started with OUR config counts.
    [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$NGINX_DIR/nginx.conf" || return 1
    echo "$pid"
}

start_nginx() {
    local n=$1 bin deadline
    bin=$(ensure_nginx) || die "nginx is missing and could not be installed (need root and Debian's apt)"
    if nginx_pid >/dev/null; then log "nginx already running"; return 0; fi
    port_in_use "$LB_PORT" && die "port $LB_PORT (nginx) is taken by another process"
    mkdir -p "$NGINX_DIR/logs" "$NGINX_DIR/temp"
    render "$n" "$NGINX_DIR/nginx.conf"
    # shellcheck disable=SC2046
    "$bin" -q -t $(nginx_args) || die "rendered nginx config is invalid: $NGINX_DIR/nginx.conf"
    # shellcheck disable=SC2046
    "$bin" $(nginx_args) 9>&-
    deadline=$((SECONDS + 10))
    until http_ok "http://127.0.0.1:$LB_PORT/nginx-health"; do
        [ "$SECONDS" -lt "$deadline" ] || { tail -n 20 "$NGINX_DIR/logs/error.log" >&2 || true; die "nginx did not come up on 127.0.0.1:$LB_PORT"; }
        sleep 0.2
    done
    log "nginx up on http://127.0.0.1:$LB_PORT (config $NGINX_DIR/nginx.conf)"
}

stop_nginx() {
    local pid bin t=0
    pid=$(nginx_pid) || { rm -f "$NGINX_DIR/nginx.pid"; return 0; }
    bin=$(nginx_bin)
    # Graceful: finish in-flight requests, then exit.
    # shellcheck disable=SC2046
    if [ -n "$bin" ]; then "$bin" $(nginx_args) -s quit 2>/dev/null || kill -QUIT "$pid" 2>/dev/null || true
    else kill -QUIT "$pid" 2>/dev/null || true; fi
    while [ -e "/proc/$pid" ] && [ "$t" -lt 100 ]; do sleep 0.1; t=$((t + 1)); done
    if [ -e "/proc/$pid" ]; then
        log "nginx (pid $pid) did not quit in 10s; SIGTERM"
        kill -TERM "$pid" 2>/dev/null || true
        sleep 1
    fi
    rm -f "$NGINX_DIR/nginx.pid"
    log "nginx stopped"
}

instance_indexes() {
    # Every instance that has a pid file, whatever the recorded size says.
    local f
    for f in "$CLUSTER_DIR"/jowi-*.pid; do
        [ -e "$f" ] || continue
        f=${f##*/jowi-}; echo "${f%.pid}"
    done | sort -n
}

cmd_down() {
    local i
    [ -d "$CLUSTER_DIR" ] || { log "nothing to stop"; return 0; }
    stop_nginx
    for i in $(instance_indexes); do
        signal_instance "$i" TERM 20
        log "instance $i stopped"
    done
    rm -f "$CLUSTER_DIR/size"
    log "cluster down (logs kept in $CLUSTER_DIR)"
}

on_up_exit() {
    local rc=$?
    if [ "${UP_DONE:-1}" != 1 ]; then
        log "up failed; tearing down"
        cmd_down || true
        [ "$rc" -ne 0 ] || rc=1
    fi
    exit "$rc"
}

cmd_up() {
    local n=${1:-3} i
    if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt "$MAX_INSTANCES" ]; then
        die "N must be 1..$MAX_INSTANCES, got '$n'"
    fi
    for ((i = 1; i <= n; i++)); do
        [ "$(port_of "$i")" != "$LB_PORT" ] || die "nginx port $LB_PORT collides with instance $i"
    done
    if nginx_pid >/dev/null || [ -n "$(for i in $(instance_indexes); do pid_alive "$(pidfile "$i")" || true; done)" ]; then
        die "a cluster is already running in $CLUSTER_DIR; run '$0 down' first (or '$0 status')"
    fi
    [ -x "$JOWI_BIN" ] || die "binary not found or not executable: $JOWI_BIN (build it with: cargo build --release, or set JOWI_BIN)"
    [ -n "${DATABASE_URL:-}" ] || log "warning: DATABASE_URL is not set; instances use their configured default"
    [ -n "${REDIS_URL:-}" ] || [ "$n" -eq 1 ] || log "warning: REDIS_URL is not set: $n instances will not see each other's catalog/stock changes"
    ensure_nginx >/dev/null || die "nginx is missing and could not be installed (need root and Debian's apt)"

    mkdir -p "$CLUSTER_DIR"
    rm -f "$CLUSTER_DIR"/jowi-*.pid
    echo "$n" >"$CLUSTER_DIR/size"
    save_env
    # Any failure (set -e, die) or interrupt from here on tears down what
    # was started, so a failed `up` never leaves half a cluster behind.
    UP_DONE=0
    trap on_up_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    # Instances migrate at serve start: instance 1 goes first and alone, the
    # others start only once it is ready (the schema is then current).
    start_instance 1
    wait_ready 1
    for ((i = 2; i <= n; i++)); do start_instance "$i"; done
    for ((i = 2; i <= n; i++)); do wait_ready "$i"; done

    start_nginx "$n"
    local deadline=$((SECONDS + 10))
    until http_ok "http://127.0.0.1:$LB_PORT$READY_PATH"; do
        [ "$SECONDS" -lt "$deadline" ] || die "nginx is up but $READY_PATH through it fails"
        sleep 0.2
    done
    UP_DONE=1
    trap - EXIT INT TERM
    log "cluster up: $n instance(s) behind http://127.0.0.1:$LB_PORT"
}

cmd_status() {
    local n i pid port state ready all_ok=0
    n=$(cluster_size)
    printf '%-10s %-8s %-18s %-8s %s\n' WHAT PID LISTEN STATE READY
    for i in $( { seq 1 "$n" 2>/dev/null; instance_indexes; } | sort -nu); do
        port=$(port_of "$i")
        if pid=$(pid_alive "$(pidfile "$i")"); then state=running; else pid=-; state=down; all_ok=1; fi
        if http_ok "http://127.0.0.1:$port$READY_PATH"; then ready=yes; else ready=no; all_ok=1; fi
        printf '%-10s %-8s %-18s %-8s %s\n' "jowi-$i" "$pid" "127.0.0.1:$port" "$state" "$ready"
    done
    if pid=$(nginx_pid); then state=running; else pid=-; state=down; all_ok=1; fi
    if http_ok "http://127.0.0.1:$LB_PORT$READY_PATH"; then ready=yes; else ready=no; all_ok=1; fi
    printf '%-10s %-8s %-18s %-8s %s\n' nginx "$pid" "127.0.0.1:$LB_PORT" "$state" "$ready"
    [ "$n" -gt 0 ] || { log "no cluster configured in $CLUSTER_DIR"; return 1; }
    return "$all_ok"
}

# The header comment (line 2 up to the first non-comment line).
usage() { awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; }

# One cluster command at a time (two concurrent `up`s would race on ports).
with_lock() {
    mkdir -p "$CLUSTER_DIR"
    exec 9>"$CLUSTER_DIR/.lock"
    flock -n 9 || die "another cluster.sh command is running on $CLUSTER_DIR"
    "$@"
}

main() {
    local cmd=${1:-help}
    shift || true
    case "$cmd" in
        up)     with_lock cmd_up "$@" ;;
        down)   if [ -d "$CLUSTER_DIR" ]; then with_lock cmd_down; else log "nothing to stop"; fi ;;
        status) cmd_status ;;
        kill)   check_index "${1:-}"; with_lock signal_instance "$1" KILL 5; log "instance $1 killed (SIGKILL)" ;;
        stop)   check_index "${1:-}"; with_lock signal_instance "$1" TERM 20; log "instance $1 stopped (SIGTERM)" ;;
        start)  check_index "${1:-}"; load_env; with_lock start_instance "$1"; wait_ready "$1" ;;
        render) [ $# -eq 2 ] || die "usage: $0 render N OUTFILE"; render "$1" "$2" ;;
        help|-h|--help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
