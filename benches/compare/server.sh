# Sourced by run.sh, cpu.sh and instructions.sh: start and stop the static
# token endpoint. Expects `$bin` (the release directory).
#
#   start_server THREADS LIFETIME_SECONDS LOG_FILE   # sets server_pid and url
#   stop_server                                      # idempotent; also for `trap … EXIT`

server_pid=""
url=""

start_server() {
    local threads="$1" lifetime="$2" log="$3" port_file port
    port_file="$(mktemp)"
    "$bin/static-token-server" --port 0 --max-lifetime "$lifetime" --threads "$threads" \
        >"$port_file" 2>"$log" &
    server_pid=$!
    for _ in $(seq 100); do
        [[ -s "$port_file" ]] && break
        kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; rm -f "$port_file"; exit 1; }
        sleep 0.1
    done
    port="$(head -n1 "$port_file")"
    rm -f "$port_file"
    [[ "$port" =~ ^[0-9]+$ ]] || { echo "the static server printed no port" >&2; exit 1; }
    url="http://127.0.0.1:$port/token"
}

stop_server() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}
