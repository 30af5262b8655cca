#!/usr/bin/env bash
# A/B benchmark of two ftpdlib binaries on this machine: the ftpbench
# scenarios retr, logins and small against BEFORE and AFTER, side by side,
# alternating between the two, for several rounds; then, per scenario, the
# median of each and the ratio AFTER/BEFORE.
#
#   benches/ab.sh BEFORE_BIN AFTER_BIN
#   ROUNDS=3 DURATION=3 benches/ab.sh old/ftpdlib target/release/ftpdlib
#
# Environment (defaults): ROUNDS=5 RETR_SIZE=512M RETR_REPS=3 DURATION=5
# CLIENTS=50 SMALL_SIZE=4K MAX_LOGINS=1000000 MAX_TRANSFERS=1000000
# BASE_PORT=2410 PASV_BASE=10000 PASV_SPAN=10000 (BEFORE gets passive ports
# PASV_BASE.., AFTER PASV_BASE+PASV_SPAN..) OUT=target/ab/DATE.
#
# One home directory on /dev/shm, filled by `ftpbench --prepare` and
# removed at the end, is served by both. Servers listen on 127.0.0.1 only,
# log nothing (-q) and are stopped by their PIDs when the script exits.
# Every ftpbench run is bounded in time (--duration, --max-secs) and in
# count (--max-logins, --max-transfers, --reps).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
case "${1:-}" in -h | --help) usage; exit 0 ;; esac
[ $# -eq 2 ] || { usage >&2; exit 2; }
BEFORE=$(realpath "$1")
AFTER=$(realpath "$2")
[ -z "${OUT:-}" ] || OUT=$(realpath -m "$OUT")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

ROUNDS=${ROUNDS:-5}
RETR_SIZE=${RETR_SIZE:-512M}
RETR_REPS=${RETR_REPS:-3}
DURATION=${DURATION:-5}
CLIENTS=${CLIENTS:-50}
SMALL_SIZE=${SMALL_SIZE:-4K}
MAX_LOGINS=${MAX_LOGINS:-1000000}
MAX_TRANSFERS=${MAX_TRANSFERS:-1000000}
BASE_PORT=${BASE_PORT:-2410}
PASV_BASE=${PASV_BASE:-10000}
PASV_SPAN=${PASV_SPAN:-10000}
OUT=${OUT:-$ROOT/target/ab/$(date -u +%Y%m%d-%H%M%S)}

log() { printf '[ab] %s\n' "$*" >&2; }
for bin in "$BEFORE" "$AFTER"; do
    [ -x "$bin" ] || { echo "ab.sh: $bin is not an executable" >&2; exit 2; }
done
command -v jq >/dev/null || { echo "ab.sh: needs jq (apt-get install jq)" >&2; exit 2; }

log "build ftpbench (release)"
cargo build -q --release --manifest-path benches/ftpbench/Cargo.toml
FTPBENCH=$ROOT/benches/ftpbench/target/release/ftpbench

# stop_pid, stop_started, pick_port, wait_listen
source "$ROOT/benches/lib.sh"
declare -a PIDS=()
HOME_DIR=$(mktemp -d /dev/shm/ftpdlib-ab.XXXXXX)
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
USER_NAME=ab
PASS=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 16)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

declare -A BIN=([before]=$BEFORE [after]=$AFTER) S_PID S_PORT
i=0
for side in before after; do
    pick_port
    lo=$((PASV_BASE + i * PASV_SPAN))
    i=$((i + 1))
    "${BIN[$side]}" -q -i 127.0.0.1 -p "$PORT" -r "$lo-$((lo + PASV_SPAN - 1))" \
        -u "$USER_NAME" -P "$PASS" -w -d "$HOME_DIR" --max-cons 0 \
        >"$OUT/$side.log" 2>&1 &
    S_PID[$side]=$! S_PORT[$side]=$PORT
    PIDS+=("$!")
    if ! wait_listen "${S_PID[$side]}" "$PORT"; then
        echo "ab.sh: $side server did not start: $(tail -n 3 "$OUT/$side.log")" >&2
        exit 1
    fi
    log "$side: ${BIN[$side]}, PID ${S_PID[$side]}, 127.0.0.1:$PORT"
done

# Per scenario: median of each side's results (retr: of the per-round
# medians), AFTER/BEFORE, the range, failed runs and errors counted.
SUMMARY='
def key: {retr: "mb_per_s", logins: "logins_per_s", small: "transfers_per_s"}[.];
def median: sort | length as $n | if $n == 0 then null
    elif $n % 2 == 1 then .[($n - 1) / 2] else (.[$n / 2 - 1] + .[$n / 2]) / 2 end;
def fmt: if . == null then "-" elif . >= 100 then round | tostring
    else . * 10 | round / 10 | tostring end;
. as $all
| def runs($s; $sc): [$all[] | select(.server == $s and .scenario == $sc)];
  def vals($s; $sc): [runs($s; $sc)[] | select(.ok) | .metrics[$sc | key]];
  def spread($s; $sc): vals($s; $sc) | "\(min | fmt)..\(max | fmt)";
  def failed($s; $sc): [runs($s; $sc)[] | select(.ok | not)] | length;
  def errors($s; $sc): [runs($s; $sc)[] | .metrics.errors // 0] | add // 0;
  def both(f): "\("before" | f)/\("after" | f)";
  ["scenario", "before", "after", "after/before", "before range", "after range",
   "failed runs b/a", "errors b/a"],
  (("retr", "logins", "small") as $sc
   | (vals("before"; $sc) | median) as $b | (vals("after"; $sc) | median) as $a
   | ["\($sc) \({retr: "MB/s", logins: "logins/s", small: "files/s"}[$sc])",
      ($b | fmt), ($a | fmt),
      (if $a and $b then $a / $b * 1000 | round / 1000 | tostring else "-" end),
      spread("before"; $sc), spread("after"; $sc), both(failed(.; $sc)),
      both(errors(.; $sc))])
  | @tsv'

bench() { # SIDE [ftpbench options...]
    local side=$1
    shift
    "$FTPBENCH" -H 127.0.0.1 -P "${S_PORT[$side]}" -u "$USER_NAME" -p "$PASS" \
        --pid "${S_PID[$side]}" --label "$side" -n "$CLIENTS" --duration "$DURATION" \
        --max-logins "$MAX_LOGINS" --max-transfers "$MAX_TRANSFERS" --reps "$RETR_REPS" \
        --max-secs 60 --retr-size "$RETR_SIZE" --small-size "$SMALL_SIZE" "$@"
}

log "prepare $HOME_DIR (RETR file $RETR_SIZE, small file $SMALL_SIZE); one warm-up RETR each"
bench before --prepare --list-entries 0 -b retr --reps 1 >/dev/null
bench after -b retr --reps 1 >/dev/null

load0=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$ROUNDS"); do
    # ABBA: the side that goes first alternates from round to round.
    order="before after"
    [ $((round % 2)) -eq 0 ] && order="after before"
    for sc in retr logins small; do
        for side in $order; do
            log "round $round/$ROUNDS: $sc on $side"
            bench "$side" -b "$sc" --json "$results" | grep -v '^JSON ' >&2 || true
            kill -0 "${S_PID[$side]}" 2>/dev/null ||
                { echo "ab.sh: $side server exited (see $OUT/$side.log)" >&2; exit 1; }
        done
    done
done

{
    echo "ab.sh: $ROUNDS rounds; RETR $RETR_SIZE x $RETR_REPS (median per round)," \
        "logins and small ($SMALL_SIZE) ${DURATION}s with $CLIENTS clients;" \
        "load average $load0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
    echo "before: $BEFORE"
    echo "after:  $AFTER"
    jq -rs "$SUMMARY" "$results" | column -t -s $'\t'
} | tee "$OUT/summary.txt"
log "raw results: $results (one JSON line per run); summary: $OUT/summary.txt"
