#!/usr/bin/env bash
# Side-by-side comparison of client credentials grants (see README.md):
# oidckit, a bare reqwest POST, the oauth2 crate and openid-client (Node),
# against one local static token endpoint, in one run.
#
#   bash benches/compare/run.sh
#
# Knobs (environment): PASSES (3), ROUNDS (3 per pass), RUST_SEQ (40000),
# RUST_CONC (64000), NODE_SEQ (3000), NODE_CONC (4000), RSS_TOTAL (100000),
# SPLIT_CORES (1 when this process may use two CPUs or more: the static
# server on SERVER_CPUS, every client on CLIENT_CPUS, defaults in server.sh;
# 0: the old shared mode), SERVER_CPUS, CLIENT_CPUS (taskset lists),
# PIN_SEQUENTIAL (shared mode only; 1, the default: sequential rounds with
# client and server on CPU SEQ_CPU, 0), SERVER_THREADS (the static server's
# threads: as many as SERVER_CPUS in split mode, 1 in shared mode),
# CPU_ACCOUNTING (1: run cpu.sh at the end), CHART (the SVG chart;
# RESULTS_DIR/compare.svg), CHART_BEFORE (the RESULTS_DIR of an earlier run,
# whose oidckit figures the chart draws beside this run's), CHART_BEFORE_LABEL,
# RESULTS_DIR (a new temporary directory), CARGO_TARGET_DIR (/tmp/compare-target).
#
# Everything listens on 127.0.0.1 only; every measurement is a fixed count of
# grants; every step has a time limit; the server stops by itself after 15
# minutes and is stopped (by its PID) when this script exits.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

PASSES="${PASSES:-3}"
ROUNDS="${ROUNDS:-3}"
RUST_SEQ="${RUST_SEQ:-40000}"
RUST_CONC="${RUST_CONC:-64000}"
NODE_SEQ="${NODE_SEQ:-3000}"
NODE_CONC="${NODE_CONC:-4000}"
RSS_TOTAL="${RSS_TOTAL:-100000}"
PIN_SEQUENTIAL="${PIN_SEQUENTIAL:-1}"
SEQ_CPU="${SEQ_CPU:-0}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/compare-target}"
RESULTS_DIR="${RESULTS_DIR:-$(mktemp -d /tmp/oidckit-compare.XXXXXX)}"
mkdir -p "$RESULTS_DIR"

for tool in cargo rustc node npm timeout taskset comm paste; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is needed" >&2; exit 1; }
done

echo "== build (release)" >&2
cargo build --release --manifest-path "$here/Cargo.toml" >&2
bin="$CARGO_TARGET_DIR/release"

echo "== npm ci" >&2
(cd node && npm ci --no-audit --no-fund --loglevel=error >&2)

source "$here/server.sh"
cpu_split
if [[ "$SPLIT_CORES" == 1 ]]; then
    SERVER_THREADS="${SERVER_THREADS:-$server_cpu_count}"
else
    SERVER_THREADS="${SERVER_THREADS:-1}"
fi

oidckit_rev="$(git -C "$here/../.." rev-parse --short HEAD 2>/dev/null || echo unknown)"
git -C "$here/../.." diff --quiet HEAD -- src Cargo.toml 2>/dev/null || oidckit_rev="$oidckit_rev+changes"

cat >"$RESULTS_DIR/meta.json" <<EOF
{"date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
 "cpu": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)",
 "cpus": $(nproc),
 "mem_gib": $(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo),
 "kernel": "$(uname -r)",
 "rustc": "$(rustc --version)",
 "node": "$(node --version)",
 "oidckit": "$oidckit_rev",
 "split_cores": $SPLIT_CORES,
 "server_cpus": "$SERVER_CPUS",
 "client_cpus": "$CLIENT_CPUS",
 "pin_sequential": $PIN_SEQUENTIAL,
 "passes": $PASSES,
 "rounds": $ROUNDS,
 "server_threads": $SERVER_THREADS,
 "loadavg_before": "$(cut -d' ' -f1-3 /proc/loadavg)"}
EOF

trap stop_server EXIT
load_start

echo "== static token endpoint" >&2
start_server "$SERVER_THREADS" 900 "$RESULTS_DIR/server.log"
if [[ "$SPLIT_CORES" == 1 ]]; then
    echo "   $url (pid $server_pid; $SERVER_THREADS thread(s) on CPU $SERVER_CPUS, clients on CPU $CLIENT_CPUS)" >&2
else
    echo "   $url (pid $server_pid; $SERVER_THREADS thread(s), shared CPUs)" >&2
fi

# Split mode: the server stays on SERVER_CPUS and every client runs on
# CLIENT_CPUS (client_prefix, from server.sh).
# Shared mode: sequential rounds run with the client and the server on one
# vCPU (see README.md: on a VM, waking a halted vCPU costs from a few µs to
# ~80 µs depending on the host's load, which swamps the differences between
# clients when every grant waits for one round trip); PIN_SEQUENTIAL=0 turns
# that off. Concurrency-32 rounds run on every CPU.
all_cpus="0-$(( $(nproc) - 1 ))"
pin() { # pin CPU_LIST: move the server's threads to CPU_LIST
    taskset -a -p -c "$1" "$server_pid" >/dev/null
}
seq_prefix=("${client_prefix[@]}")
c32_prefix=("${client_prefix[@]}")
shared_pin=0
if [[ "$SPLIT_CORES" != 1 && "$PIN_SEQUENTIAL" == 1 ]]; then
    shared_pin=1
    seq_prefix=(taskset -c "$SEQ_CPU")
fi

# Rust and Node take turns, PASSES times, so drift hits both.
for pass in $(seq "$PASSES"); do
    if [[ "$shared_pin" == 1 ]]; then pin "$SEQ_CPU"; fi
    echo "== pass $pass/$PASSES: sequential, Rust clients" >&2
    timeout 600 "${seq_prefix[@]}" "$bin/rust-bench" bench "$url" --modes sequential \
        --seq "$RUST_SEQ" --rounds "$ROUNDS" --pass "$pass" >"$RESULTS_DIR/rust-pass$pass-seq.json"
    echo "== pass $pass/$PASSES: sequential, openid-client" >&2
    timeout 600 "${seq_prefix[@]}" node node/bench.mjs "$url" --modes sequential \
        --seq "$NODE_SEQ" --rounds "$ROUNDS" --pass "$pass" >"$RESULTS_DIR/node-pass$pass-seq.json"
    if [[ "$shared_pin" == 1 ]]; then pin "$all_cpus"; fi
    echo "== pass $pass/$PASSES: concurrency 32, Rust clients" >&2
    timeout 600 "${c32_prefix[@]}" "$bin/rust-bench" bench "$url" --modes concurrency32 \
        --conc "$RUST_CONC" --rounds "$ROUNDS" --pass "$pass" >"$RESULTS_DIR/rust-pass$pass-c32.json"
    echo "== pass $pass/$PASSES: concurrency 32, openid-client" >&2
    timeout 600 "${c32_prefix[@]}" node node/bench.mjs "$url" --modes concurrency32 \
        --conc "$NODE_CONC" --rounds "$ROUNDS" --pass "$pass" >"$RESULTS_DIR/node-pass$pass-c32.json"
done

# Memory: a fresh process per client, RSS_TOTAL grants at concurrency 32.
for client in oidckit oidckit-dpop reqwest; do
    echo "== memory: $RSS_TOTAL grants, $client" >&2
    timeout 600 "${c32_prefix[@]}" "$bin/rust-bench" rss "$url" --client "$client" --total "$RSS_TOTAL" \
        >"$RESULTS_DIR/rss-$client.json"
done

stop_server
# What other processes did meanwhile (server.sh: load_start, load_end).
load_end
cat >"$RESULTS_DIR/load.json" <<EOF
{"seconds": $load_seconds,
 "machine_cpu_seconds": $load_machine,
 "bench_cpu_seconds": $load_bench,
 "others_cpu_seconds": $load_others,
 "steal_seconds": $load_steal,
 "loadavg_after": "$(cut -d' ' -f1-3 /proc/loadavg)"}
EOF
cat "$RESULTS_DIR/server.log" >&2
echo "== measured in $load_seconds s; raw results in $RESULTS_DIR" >&2
if (( load_others_pct >= 10 )); then
    echo "== WARNING: other processes took $load_others_pct % of one CPU while this measured; the figures are disturbed" >&2
fi
echo >&2

node "$here/report.mjs" "$RESULTS_DIR"

# The chart: grants/s per client, sequential and at concurrency 32, Bearer and DPoP.
CHART="${CHART:-$RESULTS_DIR/compare.svg}"
chart_args=(--out "$CHART")
if [[ -n "${CHART_BEFORE:-}" ]]; then
    chart_args+=(--before "$CHART_BEFORE")
    if [[ -n "${CHART_BEFORE_LABEL:-}" ]]; then chart_args+=(--before-label "$CHART_BEFORE_LABEL"); fi
fi
"$bin/compare-chart" "$RESULTS_DIR" "${chart_args[@]}"
echo "== chart: $CHART" >&2

# Where the CPU goes: client and server CPU per grant, per client.
if [[ "${CPU_ACCOUNTING:-1}" == 1 ]]; then
    echo >&2
    echo "== CPU per grant (cpu.sh)" >&2
    echo
    echo "CPU time per grant at concurrency 32 (each client alone)"
    echo
    bash "$here/cpu.sh" | tee "$RESULTS_DIR/cpu.md"
fi
