#!/bin/bash
# Instructions per request, deterministic: each server runs under callgrind
# while redis-benchmark sends N requests of each test (-P 1 -c 1 by
# default, -r 100000); counters are zeroed after a warm-up and dumped after
# the run. "cron" is the periodic task's share (Redust's Server::cron,
# Redis's serverCron): callgrind's slowdown makes it run ~50x more often
# per request than at full speed, so compare the "net" column.
#
#   benches/callgrind.sh [redust-binary] [requests] [clients] [tests]
#   benches/callgrind.sh target/release/redust-server 20000 1 set,get,incr,lpush,hset
#
# Needs valgrind, redis-server and redis-benchmark on PATH.
set -u
REDUST=${1:-target/release/redust-server}
N=${2:-20000}
C=${3:-1}
TESTS=${4:-set,get,incr,lpush,hset}
TMP=$(mktemp -d)
trap 'kill $VP 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT

measure() { # name binary
    local name=$1 bin=$2 port=$((20000 + RANDOM % 20000))
    valgrind --tool=callgrind --callgrind-out-file="$TMP/$name.%p" "$bin" \
        --port $port --save "" --appendonly no --dir "$TMP" >"$TMP/$name.log" 2>&1 &
    VP=$!
    for _ in $(seq 1 300); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.2; done
    for t in ${TESTS//,/ }; do
        redis-benchmark -p $port -P 1 -c 1 -n 2000 -r 100000 -t "$t" -q >/dev/null 2>&1
        callgrind_control -z $VP >/dev/null
        redis-benchmark -p $port -P 1 -c "$C" -n "$N" -r 100000 -t "$t" -q >/dev/null 2>&1
        callgrind_control -d "$t" $VP >/dev/null
        local f ir cron
        f=$(ls -t "$TMP/$name.$VP".* | head -1)
        ir=$(grep -E '^(summary|totals):' "$f" | head -1 | awk '{print $2}')
        cron=$(callgrind_annotate --inclusive=yes --threshold=100 "$f" 2>/dev/null |
            grep -E 'Server::cron \[|:serverCron \[' | head -1 | awk '{gsub(",", "", $1); print $1}')
        cron=${cron:-0}
        printf "%-7s %-6s total %6d  cron %5d  net %6d\n" "$name" "$t" \
            $((ir / N)) $((cron / N)) $(((ir - cron) / N))
    done
    kill $VP
    for _ in $(seq 1 150); do kill -0 $VP 2>/dev/null || break; sleep 0.2; done
    kill -9 $VP 2>/dev/null
    wait $VP 2>/dev/null
}

[ -z "${SKIP_REDIS:-}" ] && measure redis "$(command -v redis-server)"
measure redust "$REDUST"
