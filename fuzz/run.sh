#!/usr/bin/env bash
# Runs every fuzz target for a fixed time and prints a summary table.
#
#   fuzz/run.sh                     # every target, 60 s each
#   SECONDS_PER_TARGET=600 fuzz/run.sh token_response jwk
#
# Environment:
#   SECONDS_PER_TARGET  time per target (default 60)
#   CARGO_TARGET_DIR    build directory (default: cargo's, i.e. fuzz/target)
#
# Each target's corpus is fuzz/corpus/<target>/, seeded from fuzz/seeds/<target>/.
# Crash inputs land in fuzz/artifacts/<target>/; logs in fuzz/logs/<target>.log.
# Exit status: 0 when no target crashed, 1 otherwise.
set -uo pipefail

cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1

ALL_TARGETS=(token_response server_metadata introspection www_authenticate jwk token_serde id_token authorization_response initiation_response registration_response resource_metadata introspection_jwt resource_server)
if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi
SECS=${SECONDS_PER_TARGET:-60}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2
    exit 2
fi

echo "building ${#TARGETS[@]} target(s)..." >&2
build_start=$(date +%s)
for t in "${TARGETS[@]}"; do
    cargo fuzz build "$t" >&2 || { echo "build of $t failed" >&2; exit 2; }
done
echo "build: $(( $(date +%s) - build_start )) s" >&2

mkdir -p logs
declare -A EXECS RESULT CORPUS
CRASHED=()
status=0
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    if [ -d "seeds/$t" ]; then cp -n "seeds/$t"/* "corpus/$t"/ 2>/dev/null || true; fi
    log="logs/$t.log"
    echo "fuzzing $t for ${SECS}s (log: fuzz/$log)" >&2
    # -timeout: a single input taking longer than 10 s is reported as a hang.
    cargo fuzz run "$t" -- \
        -max_total_time="$SECS" -rss_limit_mb=2048 -max_len=4096 \
        -timeout=10 -print_final_stats=1 >"$log" 2>&1
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    EXECS[$t]=${execs:-?}
    CORPUS[$t]=$(find "corpus/$t" -type f | wc -l)
    if [ $rc -eq 0 ]; then
        RESULT[$t]="none"
    else
        status=1
        artifact=$(grep -o "Test unit written to [^ ]*" "$log" | tail -1 | sed 's/Test unit written to //')
        kind=$(grep -o -m1 -E "deadly signal|panicked at|ERROR: libFuzzer: [a-z-]+|AddressSanitizer: [a-zA-Z-]+" "$log" | head -1)
        RESULT[$t]="CRASH (${kind:-exit $rc}) ${artifact:-see log}"
        CRASHED+=("$t")
    fi
done

printf '\n%-18s %8s %14s %10s  %s\n' target seconds executions corpus crashes
printf '%-18s %8s %14s %10s  %s\n' ------------------ -------- -------------- ---------- -------
for t in "${TARGETS[@]}"; do
    printf '%-18s %8s %14s %10s  %s\n' "$t" "$SECS" "${EXECS[$t]}" "${CORPUS[$t]}" "${RESULT[$t]}"
done
for t in "${CRASHED[@]}"; do
    log="logs/$t.log"
    echo
    echo "== $t crashed (full log: fuzz/$log)"
    grep -m1 -A1 "panicked at" "$log" || grep -m1 "ERROR: " "$log"
    grep -m1 "^Base64: " "$log"
    echo "reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run $t $(grep -o 'Test unit written to [^ ]*' "$log" | tail -1 | sed 's/Test unit written to //')"
done
exit $status
