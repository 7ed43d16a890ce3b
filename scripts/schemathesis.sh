#!/usr/bin/env bash
# Schemathesis against a live server: builds and starts `jowi serve` on its
# own database and a free port, creates a tenant with an owner token and a
# register token (with a store, a product and an open shift, so stateful
# calls find real ids), then runs every check of schemathesis with both
# tokens against /api/v1/openapi.json. Exits non-zero on any failure.
#
#   scripts/schemathesis.sh             # bounded run (used by scripts/test.sh)
#   ST_MAX_EXAMPLES=200 scripts/schemathesis.sh
#
# Schemathesis (pip package, pinned) lives in a virtualenv under .local/
# that this script creates on first use.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
JOWI_LOG_TAG=schemathesis
cd "$JOWI_ROOT"

ST_VERSION=4.32.5
max_examples=${ST_MAX_EXAMPLES:-25}
venv="$JOWI_ROOT/.local/schemathesis-venv"

have python3 || apt_install python3
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
have curl || apt_install curl
have jq || apt_install jq
if [[ "$("$venv/bin/st" --version 2>/dev/null || true)" != *"$ST_VERSION"* ]]; then
  log "installing schemathesis $ST_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$ST_VERSION" >&2
fi

env_lines="$(scripts/services.sh up)"
eval "$env_lines"
db="jowi_schemathesis_$$_$RANDOM"
admin_url="$(sed -E 's#/[^/?]*(\?|$)#/postgres\1#' <<<"$DATABASE_URL")"
db_url="$(sed -E "s#/[^/?]*(\\?|\$)#/$db\\1#" <<<"$DATABASE_URL")"
psql "$admin_url" -qc "CREATE DATABASE $db" >/dev/null

log "building jowi"
# Built as the integration tests build it (same features as the test run
# that precedes this in scripts/test.sh, so nothing compiles twice).
cargo test --no-run --test crash >&2
[[ -x target/debug/jowi ]] || die "target/debug/jowi was not built"
port=$(free_port)
admin_token="st-$RANDOM$RANDOM"
work="$JOWI_ROOT/.local/schemathesis"
mkdir -p "$work"
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  psql "$admin_url" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# Rate limits off: they are tested on their own (tests/api/limits.rs) and
# would only turn generated cases into 429s here. Generated sign-ins all
# fail, each slowed up to 4 s: three from this address, then 429 at once.
DATABASE_URL="$db_url" JOWI_LISTEN="127.0.0.1:$port" JOWI_ADMIN_TOKEN="$admin_token" \
  JOWI__LIMITS__ENABLED=false REDIS_URL= RUST_LOG=warn \
  JOWI__BACKOFFICE__LOGIN_ADDRESS_FAILURES_MAX=3 \
  target/debug/jowi serve >"$work/server.log" 2>&1 &
server_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 100); do
  curl -fs "$base/api/v1/health" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "$base/api/v1/health" >/dev/null || die "server did not start (see $work/server.log)"

api() { # METHOD PATH TOKEN [BODY]
  curl -fsS -X "$1" "$base$2" -H "Authorization: Bearer $3" -H 'content-type: application/json' ${4:+-d "$4"}
}
owner=$(curl -fsS -X POST "$base/api/v1/admin/tenants" -H "Authorization: Bearer $admin_token" \
  -H 'content-type: application/json' -d '{"name":"schemathesis"}' | jq -r .token)
store=$(api POST /api/v1/stores "$owner" '{"name":"Main"}' | jq -r .id)
reg=$(api POST "/api/v1/stores/$store/registers" "$owner" '{"name":"Till 1"}')
register_id=$(jq -r .register.id <<<"$reg")
register_token=$(jq -r .token <<<"$reg")
api POST /api/v1/products "$owner" '{"name":"Bread","variants":[{"barcode":"4600000000001","price":1000}]}' >/dev/null
api POST /api/v1/shifts "$register_token" "{\"register_id\":\"$register_id\"}" >/dev/null

status=0
for who in owner register; do
  token=$owner
  [[ $who == register ]] && token=$register_token
  log "schemathesis as $who (max $max_examples examples per operation)"
  # All checks but positive_data_acceptance: a schema-valid body may still
  # name ids that do not exist (a random variant_id is valid UUID syntax and
  # a 422), so "valid input is accepted" cannot hold for generated data.
  # The admin endpoint takes the admin token, which the run does not hold.
  "$venv/bin/st" run "$base/api/v1/openapi.json" \
    --checks all --exclude-checks positive_data_acceptance \
    --header "Authorization: Bearer $token" \
    --max-examples "$max_examples" --seed 20261129 \
    --phases examples,coverage,fuzzing,stateful \
    --exclude-path /api/v1/admin/tenants \
    --exclude-path /api/v1/stores/{id}/stock/ws \
    --generation-allow-x00 true \
    --request-timeout 30 --workers 1 \
    --report junit --report-junit-path "$work/junit-$who.xml" \
    || status=1
done
exit $status
