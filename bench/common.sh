# shellcheck shell=bash
# Shared by bench/run, bench/reads and bench/instructions (sourced, not run):
# messages, the tools they need, PostgreSQL's admin connection ($PG_URL, set
# by the caller), serving the release binary, and reading what a run cost.

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

# ---------------------------------------------------------------- servers
# The callers set BIN (the broadsheet binary) and WORK (a scratch directory);
# start_server sets SERVER_PID, SERVER_LOG and PORT.
SERVER_PID=
SERVER_LOG=
PORT=

# start_server NAME [VAR=VALUE...]: serves on a free port, waits until ready.
start_server() {
    local name=$1
    shift
    PORT=$(python3 bench/site.py port)
    SERVER_LOG="$WORK/server-$name.log"
    env "$@" "$BIN" serve --listen "127.0.0.1:$PORT" >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
        if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/readyz" 2>/dev/null; then
            # The first ranking snapshot is computed on the refresher's first tick.
            sleep 1
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$SERVER_LOG" >&2
    die "the server did not become ready"
}

# Stops the server with SIGTERM (graceful: it flushes what is pending).
stop_server() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=
}

# CPU seconds (user + system) the server has used so far.
server_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$SERVER_PID/stat"
}

# ---------------------------------------------------------------- measuring
now() { date +%s.%N; }
# field NAME RESULT: a value of wrk.lua's RESULT line.
field() { sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" <<<"$2"; }
# Busy jiffies of the whole machine: user, nice, system and steal. Interrupt
# time is left out: on loopback it is mostly the load's own packets.
machine_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $9 }' /proc/stat; }
# CPU seconds used by this script's finished children (wrk, once it has
# exited): the main shell's cutime and cstime, read from /proc since `times`
# in a command substitution would report the subshell's children instead.
children_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ print ($16 + $17) / hz }' "/proc/$$/stat"
}
# The median of the numbers on standard input, one a line.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
verdict() { if awk -v ok="$1" 'BEGIN { exit !ok }'; then echo PASS; else echo MISS; fi; }
