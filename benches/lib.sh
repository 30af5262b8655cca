# Server control shared by benches/compare.sh and benches/ab.sh (sourced,
# not run). The caller keeps the PIDs of the servers it started in the array
# PIDS and the next control port to try in next_port; only those PIDs are
# ever signalled.

# Stop one process we started: TERM, up to 5 s, then KILL; reap it.
stop_pid() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Stop every PID in PIDS.
stop_started() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    PIDS=()
}

port_free() { ! ss -Hltn "sport = :$1" | grep -q .; }

# PORT := the first free TCP port from next_port on.
pick_port() {
    while ! port_free "$next_port"; do next_port=$((next_port + 1)); done
    PORT=$next_port
    next_port=$((next_port + 1))
}

# Wait (up to 10 s) until PID listens on PORT; fails if PID exits first.
wait_listen() { # PID PORT
    for _ in $(seq 100); do
        kill -0 "$1" 2>/dev/null || return 1
        ss -Hltn "sport = :$2" | grep -q . && return 0
        sleep 0.1
    done
    return 1
}
