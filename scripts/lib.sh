# shellcheck shell=bash
# Shared helpers for scripts/*.sh. Source it (`source "$(dirname "$0")/lib.sh"`);
# it only defines JOWI_ROOT and functions, so it is safe under `set -euo pipefail`.

# Repo root, resolved from this file's location so callers work from any cwd.
JOWI_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
export JOWI_ROOT

# Diagnostics always go to stderr: stdout of some scripts is eval'd by callers.
log() { printf '[%s] %s\n' "${JOWI_LOG_TAG:-jowi}" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# as_root CMD...: run CMD as root (directly when we are root, else via sudo).
as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif have sudo; then
    sudo "$@"
  else
    die "need root to run '$*' (no sudo available); run it as root and retry"
  fi
}

# apt_install PKG...: install Debian packages non-interactively.
# `apt-get update` runs once per process: a fresh image has empty package lists.
apt_install() {
  have apt-get || die "apt-get not found; install these packages with your package manager: $*"
  log "installing packages: $*"
  if [[ -z ${_JOWI_APT_UPDATED:-} ]]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update >&2 ||
      die "apt-get update failed"
    _JOWI_APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "$@" >&2 ||
    die "apt-get install $* failed"
}
