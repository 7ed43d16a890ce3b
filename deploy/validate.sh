#!/usr/bin/env bash
# Validates deploy/ without Docker: nginx configs (nginx -t), Prometheus
# config, alert rules and their unit tests (promtool), every YAML/JSON file,
# the compose file's wiring, the Grafana dashboard's panels, and the scripts.
# Installs nginx, promtool (Debian `prometheus`) and PyYAML when missing and
# possible. Prints PASS/FAIL/SKIP per check; exits non-zero on any FAIL.
#
#   bash deploy/validate.sh
set -euo pipefail

DEPLOY=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$DEPLOY/.." && pwd)
# shellcheck source=../scripts/lib.sh
. "$DEPLOY/../scripts/lib.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/jowi-validate.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

PASSED=0 FAILED=0 SKIPPED=0
SKIP=77  # return code of a check that could not run here

# check NAME FUNCTION: run FUNCTION in a subshell with `set -e` in force
# (it would be ignored inside an `if`), and record the outcome.
check() {
    local name=$1 rc
    shift
    set +e
    ( set -e; "$@" ) >"$TMP/out" 2>&1
    rc=$?
    set -e
    case $rc in
        0)     PASSED=$((PASSED + 1));   echo "PASS $name" ;;
        "$SKIP") SKIPPED=$((SKIPPED + 1)); echo "SKIP $name: $(tail -n 1 "$TMP/out")" ;;
        *)     FAILED=$((FAILED + 1));   echo "FAIL $name"; sed 's/^/    /' "$TMP/out" ;;
    esac
}

# --------------------------------------------------------------- nginx --

NGINX=""
check_nginx_installed() {
    NGINX=$(ensure_nginx) || { echo "nginx missing and not installable (root + Debian apt needed)"; return 1; }
    "$NGINX" -v
}

# The compose config names the upstream `api`, which only Docker's DNS
# resolves, and uses `resolve` (nginx >= 1.27.3 open source), which Debian
# bookworm's nginx 1.22 rejects. So a temp copy gets 127.0.0.1 for `api` and
# no `resolve`; everything else is tested exactly as shipped.
need_nginx() { [ -n "$NGINX" ] || { echo "no nginx to test with"; return 1; }; }

check_nginx_compose() {
    need_nginx
    local conf=$TMP/compose-nginx/nginx.conf
    mkdir -p "$TMP/compose-nginx"
    grep -Eq '^[[:space:]]*server api:8080 resolve' "$DEPLOY/nginx/nginx.conf" \
        || { echo "expected 'server api:8080 resolve' in nginx/nginx.conf"; return 1; }
    sed -E -e 's/^([[:space:]]*server )api:8080 resolve /\1127.0.0.1:8080 /' \
        "$DEPLOY/nginx/nginx.conf" >"$conf"
    ! grep -Eq '\bapi:8080|[[:space:]]resolve[[:space:]]' "$conf" || { echo "substitution incomplete"; return 1; }
    "$NGINX" -t -p "$TMP/compose-nginx/" -e /dev/stderr -c "$conf"
}

check_nginx_local() {
    need_nginx
    local dir=$TMP/cluster
    JOWI_CLUSTER_DIR=$dir JOWI_CLUSTER_BASE_PORT=18080 JOWI_CLUSTER_PORT=18080 \
        bash "$DEPLOY/local/cluster.sh" render 3 "$dir/nginx/nginx.conf"
    mkdir -p "$dir/nginx/logs" "$dir/nginx/temp"
    grep -q 'server 127.0.0.1:18083 ' "$dir/nginx/nginx.conf" || { echo "rendered upstream lacks instance 3"; return 1; }
    "$NGINX" -t -p "$dir/nginx/" -e /dev/stderr -c "$dir/nginx/nginx.conf"
}

# Both nginx files must carry identical rules between the BEGIN/END markers.
check_nginx_shared_rules() {
    local block a b
    for block in http server; do
        a=$(sed -n "/# BEGIN shared $block rules/,/# END shared $block rules/p" "$DEPLOY/nginx/nginx.conf")
        b=$(sed -n "/# BEGIN shared $block rules/,/# END shared $block rules/p" "$DEPLOY/local/nginx.conf.template")
        [ -n "$a" ] || { echo "no shared $block block in nginx/nginx.conf"; return 1; }
        diff <(echo "$a") <(echo "$b") || { echo "shared $block rules differ between nginx.conf and the local template"; return 1; }
    done
}

# ---------------------------------------------------------- prometheus --

PROMTOOL=""
find_promtool() {
    command -v promtool >/dev/null 2>&1 && { command -v promtool; return; }
    # Debian's `prometheus` package ships promtool. Its service is not
    # started where policy-rc.d forbids it (containers, CI).
    if apt_install prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
        command -v promtool
    fi
}
check_promtool_installed() {
    PROMTOOL=$(find_promtool) || true
    [ -n "$PROMTOOL" ] || { echo "promtool not available (install Debian package 'prometheus')"; return $SKIP; }
    "$PROMTOOL" --version 2>&1 | head -n 1
}
need_promtool() { [ -n "$PROMTOOL" ] || { echo "no promtool"; return $SKIP; }; }

check_prom_config() { need_promtool; "$PROMTOOL" check config "$DEPLOY/prometheus/prometheus.yml"; }
check_prom_rules()  { need_promtool; "$PROMTOOL" check rules "$DEPLOY/prometheus/alerts.yml"; }
check_prom_tests()  { need_promtool; (cd "$DEPLOY/prometheus" && "$PROMTOOL" test rules alerts_test.yml); }

# Every dashboard query must be valid PromQL: wrap them as recording rules
# (Grafana's $variables replaced by plain values) and let promtool parse them.
check_dashboard_promql() {
    need_promtool
    python3 - "$DEPLOY/grafana/dashboards" "$TMP/dashboard-rules.yml" <<'PY'
import glob, json, sys, yaml
rules = []
for path in sorted(glob.glob(sys.argv[1] + "/*.json")):
    for p in json.load(open(path)).get("panels", []):
        for t in p.get("targets", []):
            e = t["expr"].replace("$__rate_interval", "1m").replace('"$instance"', '".*"')
            rules.append({"record": "dashboard:check:%d" % len(rules), "expr": e})
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[2], "w"))
print(len(rules), "queries")
PY
    "$PROMTOOL" check rules "$TMP/dashboard-rules.yml"
}

# ---------------------------------------------------------- YAML/JSON --

ensure_pyyaml() {
    python3 -c 'import yaml' 2>/dev/null && return 0
    echo "installing PyYAML with pip" >&2
    python3 -m pip install --quiet pyyaml >&2 || apt_install python3-yaml >&2
    python3 -c 'import yaml'
}
check_pyyaml() { command -v python3 >/dev/null || { echo "python3 missing"; return 1; }; ensure_pyyaml; }

check_parse_all() {
    python3 - "$DEPLOY" <<'PY'
import json, pathlib, sys, yaml
root = pathlib.Path(sys.argv[1])
n = 0
for p in sorted(root.rglob("*")):
    if p.suffix in (".yml", ".yaml"):
        list(yaml.safe_load_all(p.read_text())); n += 1
    elif p.suffix == ".json":
        json.loads(p.read_text()); n += 1
print(n, "files parsed")
assert n > 0
PY
}

# The wiring the rest of the setup depends on.
check_compose() {
    python3 - "$DEPLOY" <<'PY'
import pathlib, sys, yaml
d = pathlib.Path(sys.argv[1])
c = yaml.safe_load((d / "docker-compose.yml").read_text())
s = c["services"]
need = {"nginx", "api", "migrate", "postgres", "redis", "pgbouncer", "prometheus", "grafana",
        "postgres-exporter", "redis-exporter", "alertmanager", "backup"}
assert need <= s.keys(), f"missing services: {need - s.keys()}"
api, mig, pgb = s["api"], s["migrate"], s["pgbouncer"]
env = api["environment"]
assert api["deploy"]["replicas"] == 3, "api replicas"
assert "@pgbouncer:6432/" in env["DATABASE_URL"], "api must reach Postgres through PgBouncer"
assert env["REDIS_URL"] == "redis://redis:6379"
assert str(env["JOWI__DATABASE__STATEMENT_CACHE"]).lower() == "false", "statement cache must be off behind PgBouncer"
assert "JOWI_ADMIN_TOKEN" in env
assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
assert mig["command"] == ["migrate"] and "@postgres:5432/" in mig["environment"]["DATABASE_URL"], "migrate goes to Postgres directly"
assert api["build"]["context"] == ".." and api["build"]["dockerfile"] == "deploy/Dockerfile"
pe = pgb["environment"]
assert pe["POOL_MODE"] == "transaction" and str(pe["MAX_CLIENT_CONN"]) == "1000" and str(pe["DEFAULT_POOL_SIZE"]) == "20"
assert str(pe["LISTEN_PORT"]) == "6432"
for name in ("postgres", "redis", "pgbouncer"):
    assert "healthcheck" in s[name], f"{name} needs a healthcheck"
# Operations: statement statistics, WAL archiving, exporters, alert routing.
pg_cmd = " ".join(s["postgres"]["command"])
for flag in ("shared_preload_libraries=pg_stat_statements", "archive_mode=on", "wal_level=replica",
             "archive_command=", "log_min_duration_statement=100"):
    assert flag in pg_cmd, f"postgres command lacks {flag}"
assert any(v.startswith("wal_archive:") for v in s["postgres"]["volumes"]), "WAL archive volume on postgres"
assert any(v.startswith("wal_archive:") for v in s["backup"]["volumes"]), "backup service sees the WAL archive"
assert "@postgres:5432/" in s["postgres-exporter"]["environment"]["DATA_SOURCE_NAME"]
assert s["redis-exporter"]["environment"]["REDIS_ADDR"] == "redis://redis:6379"
prom = yaml.safe_load((d / "prometheus" / "prometheus.yml").read_text())
jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
assert jobs["postgres"]["static_configs"][0]["targets"] == ["postgres-exporter:9187"]
assert jobs["redis"]["static_configs"][0]["targets"] == ["redis-exporter:9121"]
assert prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
am = yaml.safe_load((d / "alertmanager" / "alertmanager.yml").read_text())
receivers = {r["name"] for r in am["receivers"]}
routes = [am["route"]] + am["route"].get("routes", [])
assert all(r["receiver"] in receivers for r in routes), "every route names a defined receiver"
# Every bind mount must point at a file/folder that exists in deploy/.
for name, svc in s.items():
    for v in svc.get("volumes", []):
        src = v.split(":")[0]
        if src.startswith("."):
            assert (d / src).exists(), f"{name}: mount source {src} missing"
print("compose wiring ok")
PY
}

REQUIRED_PANELS=(
    "Request rate by endpoint"
    "Latency p50/p95/p99"
    "5xx error rate"
    "Cache hit rate"
    "DB pool in use vs max"
    "Writer batch size"
    "Commit latency p50/p99"
    "WebSocket subscribers"
    "Bus connected"
)
check_dashboard_panels() {
    python3 - "$DEPLOY/grafana/dashboards/jowi.json" "${REQUIRED_PANELS[@]}" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
panels = [p for p in d["panels"] if p.get("type") != "row"]
titles = {p["title"] for p in panels}
missing = [t for t in sys.argv[2:] if t not in titles]
assert not missing, f"missing panels: {missing}"
for p in panels:
    assert p.get("targets"), f"panel {p['title']!r} has no query"
    assert p["datasource"]["uid"] == "prometheus", f"panel {p['title']!r}: datasource uid"
ids = [p["id"] for p in d["panels"]]
assert len(ids) == len(set(ids)), "duplicate panel ids"
print(len(panels), "panels ok")
PY
    # The provisioned datasource uid is what the dashboard refers to.
    grep -q '^ *uid: prometheus$' "$DEPLOY/grafana/provisioning/datasources/prometheus.yml"
}

# Alertmanager's own checker, where installed (Debian prometheus-alertmanager).
check_alertmanager() {
    command -v amtool >/dev/null 2>&1 || { echo "amtool not installed"; return $SKIP; }
    amtool check-config "$DEPLOY/alertmanager/alertmanager.yml"
}

# ------------------------------------------------------------- others --

check_scripts() {
    local f
    local ops=("$DEPLOY/db/top-statements.sh" "$DEPLOY/db/index-usage.sh" "$DEPLOY/backup/base-backup-loop.sh")
    for f in "$DEPLOY/validate.sh" "$ROOT/scripts/lib.sh" "$DEPLOY/local/cluster.sh" "${ops[@]}"; do bash -n "$f"; done
    [ -x "$DEPLOY/local/cluster.sh" ] || { echo "local/cluster.sh is not executable"; return 1; }
    if command -v shellcheck >/dev/null 2>&1; then
        # -P SCRIPTDIR: `source=` paths are relative to each script.
        shellcheck -x -P SCRIPTDIR "$DEPLOY/validate.sh" "$ROOT/scripts/lib.sh" "$DEPLOY/local/cluster.sh" "${ops[@]}"
    else
        echo "bash -n ok (shellcheck not installed)"
    fi
}

# What the Dockerfile COPYs must exist (only `config/` is optional).
check_docker_inputs() {
    local p
    for p in Cargo.toml Cargo.lock actors/Cargo.toml src actors migrations; do
        [ -e "$ROOT/$p" ] || { echo "missing $p (the image build needs it)"; return 1; }
    done
    grep -q '^ENTRYPOINT \["jowi"\]' "$DEPLOY/Dockerfile"
    grep -q '^CMD \["serve"\]' "$DEPLOY/Dockerfile"
    grep -q '^USER ' "$DEPLOY/Dockerfile"
}

# Schema check by the compose CLI itself, where one exists (`config` needs
# no daemon). Compose v1 (Debian's docker-compose 1.29) predates the
# top-level `name:` key, so it checks a copy without that line.
check_compose_cli() {
    if docker compose version >/dev/null 2>&1; then
        (cd "$DEPLOY" && docker compose -f docker-compose.yml config -q)
    elif command -v docker-compose >/dev/null 2>&1; then
        grep -v '^name:' "$DEPLOY/docker-compose.yml" \
            | docker-compose --project-directory "$DEPLOY" -f - config -q
    else
        echo "no docker compose CLI here"; return $SKIP
    fi
}

# Checks run in subshells: binaries they install are looked up again here.
check "nginx available"                    check_nginx_installed
NGINX=$(nginx_bin || true)
check "nginx -t compose nginx.conf"        check_nginx_compose
check "nginx -t local cluster template"    check_nginx_local
check "nginx shared rules in sync"         check_nginx_shared_rules
check "promtool available"                 check_promtool_installed
PROMTOOL=${PROMTOOL:-$(command -v promtool || true)}
check "promtool check config"              check_prom_config
check "promtool check rules"               check_prom_rules
check "promtool test rules"                check_prom_tests
check "python3 + PyYAML"                   check_pyyaml
check "YAML/JSON files parse"              check_parse_all
check "compose wiring"                     check_compose
check "docker compose config"              check_compose_cli
check "Grafana dashboard panels"           check_dashboard_panels
check "Grafana dashboard PromQL"           check_dashboard_promql
check "Dockerfile inputs"                  check_docker_inputs
check "shell scripts"                      check_scripts
check "amtool check-config"                check_alertmanager

echo "validate: $PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
