# shellcheck shell=bash
# Sourced by .ci/run: a throwaway PostgreSQL cluster for the case store's tests.
#
# start_throwaway_postgres installs Debian's postgresql if initdb is missing, runs initdb in a new
# temporary folder as an unprivileged user (initdb refuses root), starts the server on a free
# port on 127.0.0.1 only (its unix socket in that folder), creates a database, and exports
# CALLMOD_TEST_POSTGRES_URL. Password authentication on loopback; the password is random per run.
# The server is stopped and the folder removed when the calling shell exits (EXIT trap).

_pg_bindir() {
    local initdb
    initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -z "$initdb" ]] && command -v initdb >/dev/null; then
        initdb=$(command -v initdb)
    fi
    [[ -n "$initdb" ]] && dirname "$initdb"
}

_pg_as_owner() {  # run a PostgreSQL program as the cluster's owner, from the cluster's folder
    if [[ $EUID -eq 0 ]]; then
        (cd "$_PG_DIR" && runuser -u "$_PG_OWNER" -- "$@")
    else
        (cd "$_PG_DIR" && "$@")
    fi
}

_pg_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop_throwaway_postgres() {
    if [[ -n "${_PG_DIR:-}" && -d "$_PG_DIR" ]]; then
        _pg_as_owner "$_PG_BIN/pg_ctl" -D "$_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$_PG_DIR"
    fi
    _PG_DIR=""
}

start_throwaway_postgres() {
    _PG_BIN=$(_pg_bindir || true)
    if [[ -z "$_PG_BIN" ]]; then
        if [[ $EUID -ne 0 ]]; then
            echo "postgres: initdb not found and not root to install it; install postgresql" >&2
            return 1
        fi
        echo "postgres: installing Debian's postgresql" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq postgresql >/dev/null
        _PG_BIN=$(_pg_bindir)
    fi

    _PG_OWNER=postgres  # Debian's package creates it; any unprivileged user will do
    if ! id -u "$_PG_OWNER" >/dev/null 2>&1; then
        _PG_OWNER=nobody
    fi

    # /tmp, not $TMPDIR: the owner must be able to reach it, and the socket path must be short.
    _PG_DIR=$(mktemp -d /tmp/callmod-pg.XXXXXX)
    trap stop_throwaway_postgres EXIT
    local password port attempt
    password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    printf '%s\n' "$password" >"$_PG_DIR/pwfile"
    if [[ $EUID -eq 0 ]]; then
        chown -R "$_PG_OWNER" "$_PG_DIR"
    fi

    _pg_as_owner "$_PG_BIN/initdb" -D "$_PG_DIR/data" -U callmod --pwfile="$_PG_DIR/pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale >"$_PG_DIR/initdb.log" \
        || { cat "$_PG_DIR/initdb.log" >&2; return 1; }
    rm -f "$_PG_DIR/pwfile"

    for attempt in 1 2 3; do  # the free port may be taken between choosing and binding it
        port=$(_pg_free_port)
        if _pg_as_owner "$_PG_BIN/pg_ctl" -D "$_PG_DIR/data" -l "$_PG_DIR/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $_PG_DIR -c max_connections=200 -c fsync=off -c full_page_writes=off" \
            start >/dev/null; then
            break
        fi
        if [[ $attempt -eq 3 ]]; then
            tail -n 20 "$_PG_DIR/server.log" >&2 || true
            return 1
        fi
    done

    _pg_as_owner "$_PG_BIN/createdb" -h "$_PG_DIR" -p "$port" -U callmod callmod_test
    export CALLMOD_TEST_POSTGRES_URL="postgresql+asyncpg://callmod:${password}@127.0.0.1:${port}/callmod_test"
    echo "postgres: $("$_PG_BIN/postgres" --version) on 127.0.0.1:$port (data in $_PG_DIR)" >&2
}
