#!/usr/bin/env bash
# Instructions per grant, per Rust client, counted by valgrind's callgrind:
# unlike grants/s on a shared VM, the count is the same from run to run, so
# small differences between clients (or between two versions of oidckit)
# show. See README.md, "Where the time goes".
#
#   bash benches/compare/instructions.sh       # after run.sh has built the binaries
#
# Each client runs `rust-bench single` (one Tokio worker, concurrency 32)
# twice under callgrind, for FEW and MANY grants; the difference divided by
# MANY - FEW is the cost of one grant, without the setup. Knobs: CLIENTS
# ("oidckit reqwest oauth2 oidckit-dpop reqwest-dpop"), FEW (2000), MANY
# (6000), CARGO_TARGET_DIR (/tmp/compare-target), SPLIT_CORES, SERVER_CPUS,
# CLIENT_CPUS (as run.sh; the counts do not depend on them). Needs valgrind
# (Debian: apt-get install valgrind). Loopback only; the server is stopped on
# exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${CARGO_TARGET_DIR:-/tmp/compare-target}/release"
CLIENTS="${CLIENTS:-oidckit reqwest oauth2 oidckit-dpop reqwest-dpop}"
FEW="${FEW:-2000}"
MANY="${MANY:-6000}"
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is needed" >&2; exit 1; }
[[ -x "$bin/rust-bench" && -x "$bin/static-token-server" ]] || {
    echo "instructions.sh: build first: cargo build --release --manifest-path $here/Cargo.toml" >&2
    exit 1
}

work="$(mktemp -d)"
source "$here/server.sh"
cpu_split
cleanup() {
    stop_server
    rm -rf "$work"
}
trap cleanup EXIT

start_server 1 1800 /dev/null

# collected CLIENT GRANTS: total instructions of one run
collected() {
    RUST_BENCH_WORKERS=1 timeout 900 "${client_prefix[@]}" valgrind --tool=callgrind \
        --callgrind-out-file="$work/$1.$2.out" \
        "$bin/rust-bench" single "$url" --client "$1" --total "$2" --concurrency 32 \
        >/dev/null 2>"$work/$1.$2.err"
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/$1.$2.err"
}

echo "| client | instructions per grant |"
echo "|---|---:|"
for client in $CLIENTS; do
    few="$(collected "$client" "$FEW")"
    many="$(collected "$client" "$MANY")"
    echo "| $client | $(( (many - few) / (MANY - FEW) )) |"
done
