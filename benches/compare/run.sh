#!/usr/bin/env bash
# Side-by-side comparison of client credentials grants (see README.md):
# oidckit, a bare reqwest POST, the oauth2 crate and openid-client (Node),
# against one local static token endpoint, in one run.
#
#   bash benches/compare/run.sh
#
# Knobs (environment): PASSES (3), ROUNDS (3 per pass), RUST_SEQ (40000),
# RUST_CONC (64000), NODE_SEQ (3000), NODE_CONC (4000), RSS_TOTAL (100000),
# PIN_SEQUENTIAL (1, the default: sequential rounds with client and server on
# CPU SEQ_CPU), SERVER_THREADS (1: the static server's threads), CPU_ACCOUNTING
# (1: run cpu.sh at the end), RESULTS_DIR (a new temporary directory), CARGO_TARGET_DIR
# (/tmp/compare-target).
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

for tool in cargo rustc node npm timeout taskset; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is needed" >&2; exit 1; }
done

echo "== build (release)" >&2
cargo build --release --manifest-path "$here/Cargo.toml" >&2
bin="$CARGO_TARGET_DIR/release"

echo "== npm ci" >&2
(cd node && npm ci --no-audit --no-fund --loglevel=error >&2)

cat >"$RESULTS_DIR/meta.json" <<EOF
{"date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
 "cpu": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)",
 "cpus": $(nproc),
 "mem_gib": $(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo),
 "kernel": "$(uname -r)",
 "rustc": "$(rustc --version)",
 "node": "$(node --version)",
 "pin_sequential": $PIN_SEQUENTIAL,
 "passes": $PASSES,
 "rounds": $ROUNDS,
 "server_threads": ${SERVER_THREADS:-1}}
EOF

started=$(date +%s)
source "$here/server.sh"
trap stop_server EXIT

echo "== static token endpoint" >&2
start_server "${SERVER_THREADS:-1}" 900 "$RESULTS_DIR/server.log"
echo "   $url (pid $server_pid)" >&2

# Sequential rounds run with the client and the server on one vCPU (see
# README.md: on a VM, waking a halted vCPU costs from a few µs to ~80 µs
# depending on the host's load, which swamps the differences between clients
# when every grant waits for one round trip). PIN_SEQUENTIAL=0 turns it off.
all_cpus="0-$(( $(nproc) - 1 ))"
pin() { # pin CPU_LIST: move the server's threads to CPU_LIST
    taskset -a -p -c "$1" "$server_pid" >/dev/null
}
seq_prefix=()
if [[ "$PIN_SEQUENTIAL" == 1 ]]; then
    seq_prefix=(taskset -c "$SEQ_CPU")
fi

# Rust and Node take turns, PASSES times, so drift hits both.
for pass in $(seq "$PASSES"); do
    if [[ "$PIN_SEQUENTIAL" == 1 ]]; then pin "$SEQ_CPU"; fi
    echo "== pass $pass/$PASSES: sequential, Rust clients" >&2
    timeout 600 "${seq_prefix[@]}" "$bin/rust-bench" bench "$url" --modes sequential \
        --seq "$RUST_SEQ" --rounds "$ROUNDS" --pass "$pass" >"$RESULTS_DIR/rust-pass$pass-seq.json"
    echo "== pass $pass/$PASSES: sequential, openid-client" >&2
    timeout 600 "${seq_prefix[@]}" node node/bench.mjs "$url" --modes sequential \
        --seq "$NODE_SEQ" --rounds "$ROUNDS" --pass "$pass" >"$RESULTS_DIR/node-pass$pass-seq.json"
    if [[ "$PIN_SEQUENTIAL" == 1 ]]; then pin "$all_cpus"; fi
    echo "== pass $pass/$PASSES: concurrency 32, Rust clients" >&2
    timeout 600 "$bin/rust-bench" bench "$url" --modes concurrency32 \
        --conc "$RUST_CONC" --rounds "$ROUNDS" --pass "$pass" >"$RESULTS_DIR/rust-pass$pass-c32.json"
    echo "== pass $pass/$PASSES: concurrency 32, openid-client" >&2
    timeout 600 node node/bench.mjs "$url" --modes concurrency32 \
        --conc "$NODE_CONC" --rounds "$ROUNDS" --pass "$pass" >"$RESULTS_DIR/node-pass$pass-c32.json"
done

# Memory: a fresh process per client, RSS_TOTAL grants at concurrency 32.
for client in oidckit oidckit-dpop reqwest; do
    echo "== memory: $RSS_TOTAL grants, $client" >&2
    timeout 600 "$bin/rust-bench" rss "$url" --client "$client" --total "$RSS_TOTAL" \
        >"$RESULTS_DIR/rss-$client.json"
done

stop_server
cat "$RESULTS_DIR/server.log" >&2
echo "== measured in $(( $(date +%s) - started )) s; raw results in $RESULTS_DIR" >&2
echo >&2

node "$here/report.mjs" "$RESULTS_DIR"

# Where the CPU goes: client and server CPU per grant, per client.
if [[ "${CPU_ACCOUNTING:-1}" == 1 ]]; then
    echo >&2
    echo "== CPU per grant (cpu.sh)" >&2
    echo
    echo "CPU time per grant at concurrency 32 (each client alone; server with 1 and 2 threads)"
    echo
    bash "$here/cpu.sh" | tee "$RESULTS_DIR/cpu.md"
fi
