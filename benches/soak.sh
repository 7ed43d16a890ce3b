#!/usr/bin/env bash
# The steady-state soak (issue 16) in one command: builds, sets up the bench
# database and starts the server like benches/run.sh (it runs it), measures
# the POS mix's capacity (closed loop), then offers a share of it as a
# constant arrival rate for a long time, reporting every window.
#
#   benches/soak.sh [options] [-- extra benches/run.sh options]
#
#   --duration S     soak length in seconds (default 1800)
#   --share F        share of the measured capacity to offer (default 0.5)
#   --rate R         offer R req/s instead (skips the capacity run)
#   --capacity-s S   length of the capacity run (default 20)
#   --window-s S     seconds per reported window (default 60)
#   --idle-s S       idle seconds after the load before the leak check (default 15)
#   --history ARGS   before the soak, fill the bench database with history
#                    by `jowi-bench history ARGS` (the generator of the
#                    reports stream; quote ARGS as one word)
#   --connections N, --tenants T, --products P, --no-build, --no-setup, --redis
#                    as for benches/run.sh
#
# Writes benches/results/soak-<date>-<commit>.{json,md,svg}; exit status 3
# when the verdict fails (p99 <= 50 ms every kind every window, barcode p99
# <= 10 ms, RSS growth <= 10% after minute 5, nothing leaked).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

DURATION=1800
CONNECTIONS=256
SOAK=(--soak)
RUN=()
HISTORY=""
while (($#)); do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --share | --capacity-s | --window-s | --idle-s) SOAK+=("$1" "$2"); shift 2 ;;
    --rate) RUN+=(--rate "$2"); shift 2 ;;
    --history) HISTORY=$2; shift 2 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
      exit 0
      ;;
    --) shift; RUN+=("$@"); break ;;
    *) RUN+=("$1"); shift ;;
  esac
done

if [[ -n $HISTORY ]]; then
  # run.sh creates the database; the generator needs it first, so set up
  # here and let run.sh keep it.
  echo "[soak] setting up and generating history: jowi-bench history $HISTORY" >&2
  BENCH_OUT_DIR="$(mktemp -d)" benches/run.sh "${RUN[@]}" --scenarios static --duration 1 --warmup 0 >/dev/null
  env_lines="$(scripts/services.sh up)"
  eval "$env_lines"
  base=${DATABASE_URL%%\?*}
  # shellcheck disable=SC2086 # ARGS is a word list on purpose
  benches/loadgen/target/release/jowi-bench history --database-url "${base%/*}/${BENCH_DB:-jowi_bench}" \
    --fixture benches/results/.fixture.json $HISTORY
  # As after any bulk load (and as benches/reports.sh does): visibility map
  # and statistics now, not by a vacuum of the whole history in the soak's
  # first minutes.
  echo "[soak] VACUUM (ANALYZE) after the history" >&2
  psql -X -q -v ON_ERROR_STOP=1 -d "${base%/*}/${BENCH_DB:-jowi_bench}" -c "VACUUM (ANALYZE)" >&2
  RUN+=(--no-setup --no-build)
fi

exec benches/run.sh --scenarios mix --duration "$DURATION" --connections "$CONNECTIONS" \
  --warmup 10 "${RUN[@]}" -- "${SOAK[@]}"
