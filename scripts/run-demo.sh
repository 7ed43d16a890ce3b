#!/usr/bin/env bash
# From a fresh machine to a serving demo: brings up PostgreSQL and Redis,
# builds the release binary, migrates, loads the demo tenant (prints tokens
# and barcodes) and serves on $JOWI_LISTEN (default 127.0.0.1:8080).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
JOWI_LOG_TAG=demo
cd "$JOWI_ROOT"

env_lines="$(scripts/services.sh up)"
eval "$env_lines"
# The demo lives in its own database, `jowi`, beside the base URL's.
base="$DATABASE_URL"
psql "$base" -Atqc "SELECT 1 FROM pg_database WHERE datname = 'jowi'" | grep -q 1 ||
  psql "$base" -qc "CREATE DATABASE jowi"
DATABASE_URL="$(sed -E 's#/[^/?]*(\?|$)#/jowi\1#' <<<"$base")"
export DATABASE_URL REDIS_URL
export JOWI_LISTEN="${JOWI_LISTEN:-127.0.0.1:8080}"
if [[ -z ${JOWI_ADMIN_TOKEN:-} ]]; then
  JOWI_ADMIN_TOKEN="admin-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  log "admin token (POST /api/v1/admin/tenants): $JOWI_ADMIN_TOKEN"
fi
export JOWI_ADMIN_TOKEN

have cargo || die "cargo not found: install Rust (rustup) first"
cargo build --release --bin jowi >&2
./target/release/jowi migrate
./target/release/jowi demo
log "serving on http://$JOWI_LISTEN — open it in a browser and sign in with the e-mail and password above (Ctrl-C stops)"
exec ./target/release/jowi serve
