#!/usr/bin/env bash
# CPU time per grant, client and server, for each Rust client at concurrency
# 32 (see README.md, "Where the CPU goes"): one static-token-server per
# thread count in SERVER_THREADS, each client in a fresh `rust-bench single`.
#
#   bash benches/compare/cpu.sh            # after run.sh has built the binaries
#
# Knobs: SPLIT_CORES, SERVER_CPUS, CLIENT_CPUS (as run.sh: by default the
# server on its own CPU(s), the client on the others; see server.sh),
# SERVER_THREADS (split mode: as many as SERVER_CPUS; shared mode: "1 2"),
# CLIENTS ("oidckit reqwest oauth2 oidckit-dpop reqwest-dpop"), TOTAL (60000;
# DPoP clients do a third), CONCURRENCY (32), CARGO_TARGET_DIR
# (/tmp/compare-target). Loopback only; the server is stopped by PID when the
# script exits and stops by itself after 10 minutes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${CARGO_TARGET_DIR:-/tmp/compare-target}/release"
CLIENTS="${CLIENTS:-oidckit reqwest oauth2 oidckit-dpop reqwest-dpop}"
TOTAL="${TOTAL:-60000}"
CONCURRENCY="${CONCURRENCY:-32}"
[[ -x "$bin/rust-bench" && -x "$bin/static-token-server" ]] || {
    echo "cpu.sh: build first: cargo build --release --manifest-path $here/Cargo.toml" >&2
    exit 1
}

source "$here/server.sh"
cpu_split
if [[ "$SPLIT_CORES" == 1 ]]; then
    SERVER_THREADS="${SERVER_THREADS:-$server_cpu_count}"
else
    SERVER_THREADS="${SERVER_THREADS:-1 2}"
fi
trap stop_server EXIT

# Server CPU seconds (utime + stime, 1/100 s ticks) and context switches (all threads).
server_cpu() { awk '{ sub(/^.*\) /, ""); print ($12 + $13) / 100 }' "/proc/$server_pid/stat"; }
server_switches() { cat /proc/"$server_pid"/task/*/status | awk '/ctxt_switches/ { n += $2 } END { print n }'; }

load_start
echo "| server threads | client | token | grants/s | client CPU µs/grant | server CPU µs/grant | total µs/grant | client switches/grant | server switches/grant |"
echo "|---:|---|---|---:|---:|---:|---:|---:|---:|"
for threads in $SERVER_THREADS; do
    start_server "$threads" 600 /dev/null
    for client in $CLIENTS; do
        total="$TOTAL"
        [[ "$client" == *dpop ]] && total=$(( TOTAL / 3 ))
        cpu0="$(server_cpu)"; sw0="$(server_switches)"
        out="$(timeout 300 "${client_prefix[@]}" "$bin/rust-bench" single "$url" --client "$client" --total "$total" --concurrency "$CONCURRENCY")"
        cpu1="$(server_cpu)"; sw1="$(server_switches)"
        node -e '
            const [out, total, cpu0, cpu1, sw0, sw1, threads] = process.argv.slice(1)
            const r = JSON.parse(out), n = Number(total)
            const server = (cpu1 - cpu0) * 1e6 / n
            const f = (x, d = 1) => x.toFixed(d)
            console.log(`| ${threads} | ${r.client} | ${r.token_type} | ${Math.round(r.grants_per_s).toLocaleString("en-US")} | ` +
                `${f(r.cpu_us_per_grant)} | ${f(server)} | ${f(r.cpu_us_per_grant + server)} | ` +
                `${f(r.context_switches_per_grant, 2)} | ${f((sw1 - sw0) / n, 2)} |`)
        ' "$out" "$total" "$cpu0" "$cpu1" "$sw0" "$sw1" "$threads"
    done
    stop_server
done
load_end
echo
echo "Load: other processes took $load_others CPU-s in these $load_seconds s ($load_others_pct % of one CPU), host steal $load_steal s."
