# shellcheck shell=bash
# Shared by bench/run and bench/instructions (sourced, not run): messages, the
# tools both need, and PostgreSQL's admin connection ($PG_URL, set by the caller).

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench/%s: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is needed ($2)"; }

# install_missing COMMAND PACKAGE: installs the Debian package when the command is missing.
install_missing() {
    command -v "$1" >/dev/null 2>&1 && return
    say "installing $2"
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$2" >/dev/null
    need "$1" "apt-get install -y $2"
}

psql_admin() { psql "$PG_URL/postgres" -XAtq -v ON_ERROR_STOP=1 "$@"; }
