# shellcheck shell=bash
# The one shell library of the repo: scripts/*.sh, benches/*.sh and deploy/
# (validate.sh, local/cluster.sh) source it. It only defines JOWI_ROOT and
# functions, so it is safe under `set -euo pipefail`.

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

# apt_install PKG...: install Debian packages non-interactively (as root,
# or through sudo). Tries the current package lists first, so it stays fast
# offline; refreshes them (`apt-get update`, once per process) and retries
# only if that fails. Returns non-zero when it cannot install (callers
# under `set -e` stop; others fall back or skip).
apt_install() {
  if ! have apt-get; then
    log "ERROR: apt-get not found; install these packages with your package manager: $*"
    return 1
  fi
  if [[ $EUID -ne 0 ]] && ! have sudo; then
    log "ERROR: need root (or sudo) to apt-get install $*"
    return 1
  fi
  log "installing packages: $*"
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "$@" >&2 && return 0
  if [[ -z ${_JOWI_APT_UPDATED:-} ]]; then
    log "apt-get install $* failed; running apt-get update and retrying"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update >&2 || true
    _JOWI_APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "$@" >&2 || {
    log "ERROR: apt-get install $* failed"
    return 1
  }
}

# apt_candidate PKG: true if apt knows an installable version of PKG.
apt_candidate() {
  have apt-cache || return 1
  local c
  c=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  [[ -n $c && $c != "(none)" ]]
}

# nginx_bin: path of the nginx binary, or nothing. Debian installs it in
# /usr/sbin, which is not on a non-root PATH.
nginx_bin() {
  if have nginx; then
    command -v nginx
  elif [[ -x /usr/sbin/nginx ]]; then
    echo /usr/sbin/nginx
  fi
}

# ensure_nginx: print the nginx binary path, installing Debian's nginx if
# missing. Bookworm's `nginx` is the core server; `nginx-light` is the same
# plus the echo module, so it is the fallback.
ensure_nginx() {
  local bin pkg
  bin=$(nginx_bin)
  if [[ -z $bin ]]; then
    pkg=nginx
    apt_candidate nginx || { apt_candidate nginx-light && pkg=nginx-light; }
    log "nginx not found; installing Debian package '$pkg'"
    apt_install "$pkg" || apt_install nginx-light || return 1
    bin=$(nginx_bin)
    [[ -n $bin ]] || return 1
  fi
  echo "$bin"
}

# A free TCP port on 127.0.0.1 (for a private server a script starts).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
