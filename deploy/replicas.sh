#!/bin/sh
# Start N read replicas of `sovkg serve` on this machine, one process per port, and print the
# `server` lines for deploy/haproxy.cfg. Extra arguments go to every replica.
#   deploy/replicas.sh start 2 8001 --data extra.ttl     # ports 8001 and 8002
#   deploy/replicas.sh stop                               # stops the replicas started here
# Logs and pid files go to $SOVKG_RUN (default ./run). One replica by hand is just
#   sovkg serve --host 127.0.0.1 --port 8001 [--data ...]
# Replicas on one machine would all keep their server processes on the same first cores
# (--cpu-affinity auto), so they are started with --cpu-affinity off unless the options or
# SOVKG_CPU_AFFINITY say otherwise.
set -eu
run=${SOVKG_RUN:-./run}
sovkg=${SOVKG_BIN:-sovkg}
case "${1:-}" in
start)
    n=${2:?usage: replicas.sh start N [FIRST_PORT] [sovkg serve options...]}
    first=${3:-8001}
    shift 2; [ $# -gt 0 ] && shift
    mkdir -p "$run"
    affinity="--cpu-affinity off"
    case " $* " in *" --cpu-affinity"*) affinity="" ;; esac
    [ -n "${SOVKG_CPU_AFFINITY:-}" ] && affinity=""
    i=0
    while [ "$i" -lt "$n" ]; do
        port=$((first + i))
        # shellcheck disable=SC2086  # $affinity is two words or none
        "$sovkg" serve --host "${SOVKG_HOST:-127.0.0.1}" --port "$port" $affinity "$@" \
            >"$run/replica-$port.log" 2>&1 &
        echo $! >"$run/replica-$port.pid"
        echo "    server replica$((i + 1)) ${SOVKG_HOST:-127.0.0.1}:$port"
        i=$((i + 1))
    done
    ;;
stop)
    for pidfile in "$run"/replica-*.pid; do
        [ -f "$pidfile" ] || continue
        kill "$(cat "$pidfile")" 2>/dev/null || true
        rm -f "$pidfile"
    done
    ;;
*)
    echo "usage: replicas.sh start N [FIRST_PORT] [sovkg serve options...] | stop" >&2
    exit 2
    ;;
esac
