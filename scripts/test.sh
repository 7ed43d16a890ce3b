#!/usr/bin/env bash
# The whole test suite, from a fresh machine: brings up PostgreSQL and Redis
# (scripts/services.sh), checks format and lints, runs every test against the
# real services (the crash test, tests/crash.rs, kills the real binary with
# SIGKILL mid-load). `.ci/run` calls exactly this.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
JOWI_LOG_TAG=test
cd "$JOWI_ROOT"

env_lines="$(scripts/services.sh up)"
eval "$env_lines"
export DATABASE_URL REDIS_URL
# Tests create their own databases from this base URL.
DATABASE_URL="$(sed -E 's#/[^/?]*(\?|$)#/postgres\1#' <<<"$DATABASE_URL")"

# Real peers the tests start themselves: a private Redis (outage test),
# PgBouncer (transaction pooling test), nginx (local cluster test),
# Prometheus (alert evaluation), private PostgreSQL clusters (backup test).
missing=()
have redis-server || missing+=(redis-server)
[[ -x /usr/sbin/pgbouncer ]] || have pgbouncer || missing+=(pgbouncer)
have nginx || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
# A real Prometheus evaluates the alert rules (tests/prometheus.rs).
have prometheus || missing+=(prometheus)
# The back office's browser test (tests/browser) drives headless Chromium.
have chromium || missing+=(chromium)
have chromedriver || missing+=(chromium-driver)
if ((${#missing[@]})); then
  apt_install "${missing[@]}"
fi
# Debian starts the packaged services; the tests run their own instances.
for svc in pgbouncer nginx prometheus; do
  if pgrep -x "$svc" >/dev/null 2>&1 && [[ -f /etc/init.d/$svc ]]; then
    as_root /etc/init.d/"$svc" stop >/dev/null 2>&1 || true
  fi
done

have cargo || die "cargo not found: install Rust (rustup) first"
if ! cargo nextest --version >/dev/null 2>&1; then
  log "installing cargo-nextest"
  cargo install --locked cargo-nextest >&2
fi

# Databases left by earlier runs (tests never share one).
# Only idle ones: another run on the same server keeps its databases.
psql "$DATABASE_URL" -Atqc "SELECT datname FROM pg_database d WHERE datname LIKE 'jowi\_test\_%' AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)" |
  xargs -r -P 6 -I{} psql "$DATABASE_URL" -qc 'DROP DATABASE IF EXISTS "{}"' >/dev/null

log "deploy/ files (nginx -t, promtool, YAML/JSON)"
bash deploy/validate.sh
log "cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path benches/loadgen/Cargo.toml -- --check
log "cargo clippy"
# --all-targets: the criterion benches are checked (so kept compiling) here.
cargo clippy --workspace --all-targets -- -D warnings
# The load tool is its own workspace: keep it compiling and lint-clean too.
cargo clippy --manifest-path benches/loadgen/Cargo.toml --all-targets -- -D warnings
log "tests"
cargo nextest run --workspace --no-fail-fast
log "schemathesis (live server, owner and register tokens)"
scripts/schemathesis.sh
log "all tests passed"
