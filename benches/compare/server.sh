# Sourced by run.sh, cpu.sh and instructions.sh: the CPU split, and starting
# and stopping the static token endpoint. Expects `$bin` (the release directory).
#
#   cpu_split                                        # sets the CPU lists (below)
#   start_server THREADS LIFETIME_SECONDS LOG_FILE   # sets server_pid and url
#   stop_server                                      # idempotent; also for `trap … EXIT`
#   load_start; …; load_end                          # what other processes did meanwhile
#
# CPU split (SPLIT_CORES=1, the default when this process may use two CPUs
# or more): the static server runs on SERVER_CPUS and every client (Rust and
# Node) on CLIENT_CPUS, so the client's CPU is all that a client's figure
# measures. Both are taskset lists ("0", "0-5", "0,2,4"). Defaults: of the N
# CPUs this process may use, the first max(1, 3N/8) for the server (2 CPUs:
# CPU 0; 16 CPUs: 6, as the issue's reference machine) and the rest for the
# clients. SPLIT_CORES=0: the old shared mode (server and clients on every
# CPU; run.sh then pins sequential rounds to SEQ_CPU, see README.md).
#
# After cpu_split: SPLIT_CORES (0/1), SERVER_CPUS and CLIENT_CPUS (lists;
# empty in shared mode), server_cpu_count, and the command prefixes
# server_prefix and client_prefix (arrays: `taskset -c LIST` or nothing).

server_pid=""
url=""
server_prefix=()
client_prefix=()

# expand_cpus LIST: one CPU number per line ("0-2,5" -> 0 1 2 5).
expand_cpus() {
    local part
    local IFS=,
    for part in $1; do
        if [[ "$part" =~ ^([0-9]+)-([0-9]+)$ ]]; then
            seq "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
        elif [[ "$part" =~ ^[0-9]+$ ]]; then
            echo "$part"
        else
            echo "bad CPU list \`$1\`" >&2
            return 1
        fi
    done
}

cpu_split() {
    # The CPUs this shell may run on (respects an outer taskset or cgroup).
    local allowed n k
    allowed=($(expand_cpus "$(taskset -cp $$ | sed 's/.*: *//')"))
    n=${#allowed[@]}
    SPLIT_CORES="${SPLIT_CORES:-$(( n >= 2 ? 1 : 0 ))}"
    if [[ "$SPLIT_CORES" != 1 ]]; then
        SPLIT_CORES=0 SERVER_CPUS="" CLIENT_CPUS="" server_cpu_count=$n
        server_prefix=() client_prefix=()
        return
    fi
    (( n >= 2 )) || [[ -n "${SERVER_CPUS:-}" && -n "${CLIENT_CPUS:-}" ]] || {
        echo "SPLIT_CORES=1 needs two CPUs (or SERVER_CPUS and CLIENT_CPUS)" >&2
        exit 1
    }
    k=$(( n * 3 / 8 )); (( k >= 1 )) || k=1
    if [[ -z "${SERVER_CPUS:-}" ]]; then
        SERVER_CPUS="$(printf '%s\n' "${allowed[@]:0:k}" | paste -sd,)"
    fi
    if [[ -z "${CLIENT_CPUS:-}" ]]; then
        # Every allowed CPU not in SERVER_CPUS.
        CLIENT_CPUS="$(comm -23 <(printf '%s\n' "${allowed[@]}" | sort) \
            <(expand_cpus "$SERVER_CPUS" | sort) | sort -n | paste -sd,)"
    fi
    [[ -n "$CLIENT_CPUS" ]] || { echo "no CPU left for the clients (SERVER_CPUS=$SERVER_CPUS)" >&2; exit 1; }
    local s c
    s="$(expand_cpus "$SERVER_CPUS")" || exit 1
    c="$(expand_cpus "$CLIENT_CPUS")" || exit 1
    if [[ -n "$(comm -12 <(sort <<<"$s") <(sort <<<"$c"))" ]]; then
        echo "SERVER_CPUS ($SERVER_CPUS) and CLIENT_CPUS ($CLIENT_CPUS) overlap" >&2
        exit 1
    fi
    server_cpu_count=$(wc -l <<<"$s")
    server_prefix=(taskset -c "$SERVER_CPUS")
    client_prefix=(taskset -c "$CLIENT_CPUS")
}

# What else the machine did while we measured: the CPU time of every process
# against that of this shell's children (the server and the benches, counted
# as they are waited for), and the host's steal time. load_start, then
# load_end sets load_seconds, load_machine, load_bench, load_others,
# load_steal (CPU-s) and load_others_pct (% of one CPU). Call both from the
# script's own shell, not from $(…): a subshell's children are not ours.
#
# Every process's CPU time comes from the root cgroup's scheduler clock
# (cgroup v1 cpuacct.usage, or cgroup v2 cpu.stat usage_usec), as precise as
# the children's. /proc/stat's user + system is the fallback: it is sampled
# at timer ticks, and with a grant every 20–90 µs it missed a quarter of the
# harness's own CPU time on the test VM, enough to hide as much load again.
load_machine_cpu() { # prints: CPU seconds of every process, steal ticks
    local steal
    steal="$(awk '/^cpu / { print $9 }' /proc/stat)"
    if [[ -r /sys/fs/cgroup/cpuacct/cpuacct.usage ]]; then
        echo "$(awk '{ printf "%.3f", $1 / 1e9 }' /sys/fs/cgroup/cpuacct/cpuacct.usage) $steal"
    elif [[ -r /sys/fs/cgroup/cpu.stat ]] && grep -q '^usage_usec' /sys/fs/cgroup/cpu.stat; then
        echo "$(awk '/^usage_usec/ { printf "%.3f", $2 / 1e6 }' /sys/fs/cgroup/cpu.stat) $steal"
    else
        awk '/^cpu / { printf "%.2f %s\n", ($2 + $3 + $4) / 100, $9 }' /proc/stat
    fi
}
load_children_cpu() { # sets load_children_s: children's user + system seconds (`times`, second line)
    local f
    f="$(mktemp)"
    times >"$f"
    load_children_s="$(tail -n1 "$f" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } print t }')"
    rm -f "$f"
}
load_start() {
    load_t0=$(date +%s.%N)
    read -r load_busy0 load_steal0 < <(load_machine_cpu)
    load_children_cpu
    load_children0="$load_children_s"
}
load_end() {
    local busy1 steal1
    read -r busy1 steal1 < <(load_machine_cpu)
    load_children_cpu
    read -r load_seconds load_machine load_bench load_others load_steal load_others_pct < <(awk \
        -v t0="$load_t0" -v t1="$(date +%s.%N)" -v b0="$load_busy0" -v b1="$busy1" \
        -v c0="$load_children0" -v c1="$load_children_s" -v s0="$load_steal0" -v s1="$steal1" 'BEGIN {
            secs = t1 - t0; machine = b1 - b0; bench = c1 - c0; others = machine - bench
            if (others < 0) others = 0
            printf "%.1f %.2f %.2f %.2f %.2f %.0f\n", secs, machine, bench, others, (s1 - s0) / 100, 100 * others / secs
        }')
}

start_server() {
    local threads="$1" lifetime="$2" log="$3" port_file port
    port_file="$(mktemp)"
    "${server_prefix[@]}" "$bin/static-token-server" --port 0 --max-lifetime "$lifetime" --threads "$threads" \
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
