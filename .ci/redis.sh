# shellcheck shell=bash
# Sourced by .ci/run: a throwaway Redis for the shared-state and replica tests (issue 16).
#
# start_throwaway_redis installs Debian's redis-server if it is missing, starts it in a new
# temporary folder on a free port on 127.0.0.1 only (no persistence, no unix socket, a random
# password), and exports CALLMOD_TEST_REDIS_URL. The server is stopped and the folder removed
# when the calling shell exits (chained onto any EXIT trap already set, e.g. PostgreSQL's).

_redis_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop_throwaway_redis() {
    if [[ -n "${_REDIS_DIR:-}" && -d "$_REDIS_DIR" ]]; then
        if [[ -f "$_REDIS_DIR/redis.pid" ]]; then
            kill "$(cat "$_REDIS_DIR/redis.pid")" 2>/dev/null || true
        fi
        rm -rf "$_REDIS_DIR"
    fi
    _REDIS_DIR=""
}

start_throwaway_redis() {
    if ! command -v redis-server >/dev/null; then
        if [[ $EUID -ne 0 ]]; then
            echo "redis: redis-server not found and not root to install it; install redis-server" >&2
            return 1
        fi
        echo "redis: installing Debian's redis-server" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq redis-server >/dev/null
    fi

    _REDIS_DIR=$(mktemp -d /tmp/callmod-redis.XXXXXX)
    local previous
    previous=$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")
    # shellcheck disable=SC2064  # expand now: the previous trap's command is kept
    trap "stop_throwaway_redis; ${previous:-:}" EXIT
    local password port attempt
    password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    printf 'requirepass %s\n' "$password" >"$_REDIS_DIR/redis.conf"
    chmod 600 "$_REDIS_DIR/redis.conf"

    for attempt in 1 2 3; do  # the free port may be taken between choosing and binding it
        port=$(_redis_free_port)
        if redis-server "$_REDIS_DIR/redis.conf" --port "$port" --bind 127.0.0.1 \
            --save '' --appendonly no --daemonize yes --dir "$_REDIS_DIR" \
            --pidfile "$_REDIS_DIR/redis.pid" --logfile "$_REDIS_DIR/redis.log" \
            && REDISCLI_AUTH="$password" redis-cli -p "$port" --no-raw ping 2>/dev/null \
                | grep -q PONG; then
            break
        fi
        for _ in 1 2 3 4 5 6 7 8 9 10; do  # a daemonized server may need a moment to listen
            if REDISCLI_AUTH="$password" redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
                break 2
            fi
            sleep 0.2
        done
        if [[ $attempt -eq 3 ]]; then
            tail -n 20 "$_REDIS_DIR/redis.log" >&2 || true
            return 1
        fi
    done

    export CALLMOD_TEST_REDIS_URL="redis://:${password}@127.0.0.1:${port}/0"
    echo "redis: $(redis-server --version | cut -d' ' -f1-3) on 127.0.0.1:$port (data in $_REDIS_DIR)" >&2
}
