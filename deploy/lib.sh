# shellcheck shell=bash
# Helpers shared by deploy/validate.sh and deploy/local/cluster.sh (sourced).

log()  { printf '%s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# Path of the nginx binary, or nothing. Debian installs it in /usr/sbin,
# which is not on a non-root PATH.
nginx_bin() {
    if command -v nginx >/dev/null 2>&1; then command -v nginx
    elif [ -x /usr/sbin/nginx ]; then echo /usr/sbin/nginx
    fi
}

# apt_install PKG...: install Debian packages; refresh the package lists only
# if the first attempt fails (stale or missing lists), to stay fast offline.
apt_install() {
    [ "$(id -u)" = 0 ] || { log "need root to apt-get install $*"; return 1; }
    command -v apt-get >/dev/null 2>&1 || { log "no apt-get to install $*"; return 1; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1 && return 0
    log "apt-get install $* failed; running apt-get update and retrying"
    apt-get update >/dev/null 2>&1 || true
    apt-get install -y --no-install-recommends "$@" >/dev/null
}

# apt_candidate PKG: true if apt knows an installable version of PKG.
apt_candidate() {
    command -v apt-cache >/dev/null 2>&1 || return 1
    local c
    c=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
    [ -n "$c" ] && [ "$c" != "(none)" ]
}

# ensure_nginx: print the nginx binary path, installing Debian's nginx if
# missing. Bookworm's `nginx` is the core server; `nginx-light` is the same
# plus the echo module, so it is the fallback.
ensure_nginx() {
    local bin pkg
    bin=$(nginx_bin)
    if [ -z "$bin" ]; then
        pkg=nginx
        apt_candidate nginx || { apt_candidate nginx-light && pkg=nginx-light; }
        log "nginx not found; installing Debian package '$pkg'"
        apt_install "$pkg" || apt_install nginx-light || return 1
        bin=$(nginx_bin)
        [ -n "$bin" ] || return 1
    fi
    echo "$bin"
}
