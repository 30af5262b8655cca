#!/usr/bin/env bash
# Pre-forked workers benchmark: one ftpdlib binary run four ways side by
# side on this machine, `--workers 1`, `--workers 2` with one SO_REUSEPORT
# listener per worker (the default), `--workers 2 --worker-listeners
# shared` (one listening socket polled by both workers) and `exclusive`
# (the same, registered with EPOLLEXCLUSIVE); the ftpbench scenarios
# logins and small, rotating which side goes first, for several rounds;
# then, per scenario, the median of each side and its ratio to
# `--workers 1`. Each server also serves --metrics (worker i on port
# METRICS_BASE + 10 * side + i); at the end the script prints, per worker,
# the sessions it served and its listener wake-ups, empty ones included
# (woken for a connection another worker took).
#
#   benches/workers.sh [FTPDLIB_BIN]          (default target/release/ftpdlib)
#   ROUNDS=3 DURATION=3 benches/workers.sh
#
# Environment (defaults): ROUNDS=5 DURATION=5 CLIENTS=50 SMALL_SIZE=4K
# MAX_LOGINS=1000000 MAX_TRANSFERS=1000000 BASE_PORT=2450 PASV_BASE=30000
# PASV_SPAN=5000 METRICS_BASE=9400 OUT=target/workers/DATE.
#
# One home directory on /dev/shm, filled by `ftpbench --prepare` and
# removed at the end, is served by all three. Servers listen on 127.0.0.1
# only, log nothing (-q) and are stopped by their PIDs (the supervising
# parent, which stops its workers) when the script exits. Every ftpbench
# run is bounded in time (--duration, --max-secs) and in count
# (--max-logins, --max-transfers).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
case "${1:-}" in -h | --help) usage; exit 0 ;; esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(realpath "${1:-$ROOT/target/release/ftpdlib}")
[ -z "${OUT:-}" ] || OUT=$(realpath -m "$OUT")
cd "$ROOT"

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
CLIENTS=${CLIENTS:-50}
SMALL_SIZE=${SMALL_SIZE:-4K}
MAX_LOGINS=${MAX_LOGINS:-1000000}
MAX_TRANSFERS=${MAX_TRANSFERS:-1000000}
BASE_PORT=${BASE_PORT:-2450}
PASV_BASE=${PASV_BASE:-30000}
PASV_SPAN=${PASV_SPAN:-5000}
METRICS_BASE=${METRICS_BASE:-9400}
OUT=${OUT:-$ROOT/target/workers/$(date -u +%Y%m%d-%H%M%S)}

log() { printf '[workers] %s\n' "$*" >&2; }
[ -x "$BIN" ] || { echo "workers.sh: $BIN is not an executable" >&2; exit 2; }
command -v jq >/dev/null || { echo "workers.sh: needs jq (apt-get install jq)" >&2; exit 2; }
command -v curl >/dev/null || { echo "workers.sh: needs curl" >&2; exit 2; }

log "build ftpbench (release)"
cargo build -q --release --manifest-path benches/ftpbench/Cargo.toml
FTPBENCH=$ROOT/benches/ftpbench/target/release/ftpbench

# stop_pid, stop_started, pick_port, wait_listen
source "$ROOT/benches/lib.sh"
declare -a PIDS=()
HOME_DIR=$(mktemp -d /dev/shm/ftpdlib-workers.XXXXXX)
cleanup() {
    stop_started
    rm -rf "$HOME_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
next_port=$BASE_PORT

mkdir -p "$OUT"
results=$OUT/results.jsonl
: >"$results"
USER_NAME=wk
PASS=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 16)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

SIDES="one reuseport shared exclusive"
declare -A ARGS=(
    [one]="--workers 1"
    [reuseport]="--workers 2 --worker-listeners reuseport"
    [shared]="--workers 2 --worker-listeners shared"
    [exclusive]="--workers 2 --worker-listeners exclusive"
) NWORKERS=([one]=1 [reuseport]=2 [shared]=2 [exclusive]=2) S_PID S_PORT S_METRICS
i=0
for side in $SIDES; do
    pick_port
    lo=$((PASV_BASE + i * PASV_SPAN))
    mport=$((METRICS_BASE + i * 10))
    i=$((i + 1))
    for p in $(seq "$mport" $((mport + NWORKERS[$side] - 1))); do
        port_free "$p" || { echo "workers.sh: metrics port $p is taken (METRICS_BASE=)" >&2; exit 1; }
    done
    # shellcheck disable=SC2086 # ARGS are words on purpose
    "$BIN" -q -i 127.0.0.1 -p "$PORT" -r "$lo-$((lo + PASV_SPAN - 1))" \
        -u "$USER_NAME" -P "$PASS" -w -d "$HOME_DIR" --max-cons 0 ${ARGS[$side]} \
        --metrics "127.0.0.1:$mport" >"$OUT/$side.log" 2>&1 &
    S_PID[$side]=$! S_PORT[$side]=$PORT S_METRICS[$side]=$mport
    PIDS+=("$!")
    if ! wait_listen "${S_PID[$side]}" "$PORT"; then
        echo "workers.sh: $side server did not start: $(tail -n 3 "$OUT/$side.log")" >&2
        exit 1
    fi
    log "$side: ${ARGS[$side]}, PID ${S_PID[$side]}, 127.0.0.1:$PORT"
done

SUMMARY='
def key: {logins: "logins_per_s", small: "transfers_per_s"}[.];
def median: sort | length as $n | if $n == 0 then null
    elif $n % 2 == 1 then .[($n - 1) / 2] else (.[$n / 2 - 1] + .[$n / 2]) / 2 end;
def fmt: if . == null then "-" elif . >= 100 then round | tostring
    else . * 10 | round / 10 | tostring end;
def ratio($a; $b): if $a and $b then $a / $b * 100 | round / 100 | tostring else "-" end;
. as $all
| def runs($s; $sc): [$all[] | select(.server == $s and .scenario == $sc)];
  def vals($s; $sc): [runs($s; $sc)[] | select(.ok) | .metrics[$sc | key]];
  def spread($s; $sc): vals($s; $sc) | "\(min | fmt)..\(max | fmt)";
  def failed($s; $sc): [runs($s; $sc)[] | select(.ok | not)] | length;
  def errors($s; $sc): [runs($s; $sc)[] | .metrics.errors // 0] | add // 0;
  def sides: ["one", "reuseport", "shared", "exclusive"];
  ["scenario", "workers 1", "2 reuseport", "2 shared", "2 exclusive", "reuseport/1",
   "shared/1", "exclusive/1", "range 1", "range reuseport", "range shared",
   "range exclusive", "failed runs", "errors"],
  (("logins", "small") as $sc
   | [sides[] | vals(.; $sc) | median] as $m
   | ["\($sc) \({logins: "logins/s", small: "files/s"}[$sc])"]
     + [$m[] | fmt] + [$m[1:][] as $x | ratio($x; $m[0])]
     + [sides[] | spread(.; $sc)]
     + [[sides[] | failed(.; $sc) | tostring] | join("/")]
     + [[sides[] | errors(.; $sc) | tostring] | join("/")])
  | @tsv'

bench() { # SIDE [ftpbench options...]
    local side=$1
    shift
    "$FTPBENCH" -H 127.0.0.1 -P "${S_PORT[$side]}" -u "$USER_NAME" -p "$PASS" \
        --pid "${S_PID[$side]}" --label "$side" -n "$CLIENTS" --duration "$DURATION" \
        --max-logins "$MAX_LOGINS" --max-transfers "$MAX_TRANSFERS" \
        --max-secs 60 --small-size "$SMALL_SIZE" "$@"
}

log "prepare $HOME_DIR (small file $SMALL_SIZE)"
bench one --prepare --list-entries 0 --retr-size 1K -b small --duration 1 >/dev/null

load0=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$ROUNDS"); do
    # Rotate which side goes first from round to round.
    case $((round % 4)) in
        1) order="one reuseport shared exclusive" ;;
        2) order="reuseport shared exclusive one" ;;
        3) order="shared exclusive one reuseport" ;;
        *) order="exclusive one reuseport shared" ;;
    esac
    for sc in logins small; do
        for side in $order; do
            log "round $round/$ROUNDS: $sc on $side"
            bench "$side" -b "$sc" --json "$results" | grep -v '^JSON ' >&2 || true
            kill -0 "${S_PID[$side]}" 2>/dev/null ||
                { echo "workers.sh: $side server exited (see $OUT/$side.log)" >&2; exit 1; }
        done
    done
done

{
    echo "workers.sh: $ROUNDS rounds; logins and small ($SMALL_SIZE) ${DURATION}s with" \
        "$CLIENTS clients; $(nproc) cores; load average $load0 at the start," \
        "$(cut -d' ' -f1-3 /proc/loadavg) at the end"
    echo "binary: $BIN"
    jq -rs "$SUMMARY" "$results" | column -t -s $'\t'
    echo "per worker, whole run (all scenarios and rounds, warm-up included):"
    for side in $SIDES; do
        for w in $(seq 0 $((NWORKERS[$side] - 1))); do
            m=$(curl -s --max-time 10 "http://127.0.0.1:$((S_METRICS[$side] + w))/metrics")
            val() { printf '%s\n' "$m" | awk -v n="$1" 'index($1, n "{") == 1 || $1 == n {print $2}'; }
            echo "  $side worker $w: sessions $(val ftpdlib_sessions_total)," \
                "listener wake-ups $(val ftpdlib_listener_wakeups_total)," \
                "empty $(val ftpdlib_listener_empty_wakeups_total)"
        done
    done
} | tee "$OUT/summary.txt"
log "raw results: $results (one JSON line per run); summary: $OUT/summary.txt"
