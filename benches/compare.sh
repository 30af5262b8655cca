#!/usr/bin/env bash
# Side-by-side benchmark: ftpdlib against vsftpd, pure-ftpd, ProFTPD and
# pyftpdlib, all on 127.0.0.1, same user, same home, same test files, same
# limits, every scenario of benches/ftpbench against each, in one run.
#
#   benches/compare.sh --install     # first time: fetch the peers, then run
#   benches/compare.sh               # run again with what is installed
#   benches/compare.sh --quick       # small sizes, a smoke run (~2 minutes)
#
# Options:
#   --install           install the peers into $PREFIX: vsftpd, pure-ftpd and
#                       proftpd-core with `apt-get download` + `dpkg-deb -x`
#                       (the three conflict as apt packages), their shared
#                       libraries with apt-get, pyftpdlib 2.2.0 into a venv
#   --install-only      install, do not run
#   --quick             RETR 64 MiB, STOR 64 MiB, 3 s load, K=200, 1 rep
#   --servers LIST      comma-separated subset of
#                       ftpdlib,ftpdlib-w2,pyftpdlib,vsftpd,pure-ftpd,proftpd
#   --ftpdlib PATH      use this ftpdlib binary instead of building
#                       target/release/ftpdlib
#   --out DIR           results directory (default target/peers/results/DATE)
#
# Environment (defaults): RETR_SIZE=1G STOR_SIZE=512M CLIENTS=50 IDLE=1000
# DURATION=10 REPS=5 LIST_REPS=5 LIST_ENTRIES=10000 SMALL_SIZE=4K
# BASE_PORT=2310 PASV_BASE=10000 PASV_SPAN=3000 (server i gets passive ports
# PASV_BASE+i*PASV_SPAN and the PASV_SPAN-1 above) PREFIX=target/peers PEER_HASH=MD5 (crypt method of the
# system user's password: see docs/benchmarks.md) GEN_THREADS=1.
#
# Needs root (it creates the system user `ftpbench`, and vsftpd, pure-ftpd
# and ProFTPD switch users). Servers listen on 127.0.0.1 only; the load goes
# to 127.0.0.1 only; every server this script starts is stopped by its PID.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

PREFIX=${PREFIX:-$ROOT/target/peers}
RETR_SIZE=${RETR_SIZE:-1G}
STOR_SIZE=${STOR_SIZE:-512M}
CLIENTS=${CLIENTS:-50}
IDLE=${IDLE:-1000}
DURATION=${DURATION:-10}
REPS=${REPS:-5}
LIST_REPS=${LIST_REPS:-5}
LIST_ENTRIES=${LIST_ENTRIES:-10000}
SMALL_SIZE=${SMALL_SIZE:-4K}
BASE_PORT=${BASE_PORT:-2310}
PEER_HASH=${PEER_HASH:-MD5}
GEN_THREADS=${GEN_THREADS:-1}
PASV_BASE=${PASV_BASE:-10000}
PASV_SPAN=${PASV_SPAN:-3000}
BENCH_USER=ftpbench
SERVERS=ftpdlib,ftpdlib-w2,pyftpdlib,vsftpd,pure-ftpd,proftpd
PYFTPDLIB_VERSION=2.2.0

install=false
install_only=false
ftpdlib_bin=""
out=""
while [ $# -gt 0 ]; do
    case "$1" in
    --install) install=true ;;
    --install-only) install=true install_only=true ;;
    --quick)
        RETR_SIZE=64M STOR_SIZE=64M DURATION=3 IDLE=200 REPS=1 LIST_REPS=3
        ;;
    --servers) SERVERS=$2; shift ;;
    --ftpdlib) ftpdlib_bin=$2; shift ;;
    --out) out=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

ROOTFS=$PREFIX/root       # extracted .deb trees
VENV=$PREFIX/venv
HOME_DIR=$PREFIX/home     # the bench user's home, shared by every server
RUN=$PREFIX/run           # generated configs, pid files, logs
out=${out:-$PREFIX/results/$(date -u +%Y%m%d-%H%M%S)}

log() { printf '[compare] %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    echo "compare.sh: run as root (system user, privilege-separated peers)" >&2
    exit 1
fi

# ------------------------------------------------------------------ install
install_peers() {
    export DEBIAN_FRONTEND=noninteractive
    log "apt-get update"
    apt-get update -q >/dev/null
    mkdir -p "$PREFIX/debs" "$ROOTFS"
    rm -f "$PREFIX"/debs/*.deb
    chmod 777 "$PREFIX/debs" # apt-get download fetches as user _apt
    (cd "$PREFIX/debs" && apt-get download -q vsftpd pure-ftpd proftpd-core)
    for deb in "$PREFIX"/debs/*.deb; do
        log "extract $(basename "$deb")"
        dpkg-deb -x "$deb" "$ROOTFS"
    done
    # Their shared libraries do not conflict: install those with apt.
    local libs
    libs=$(for p in vsftpd pure-ftpd proftpd-core; do
        apt-cache depends --no-recommends --no-suggests "$p"
    done | awk '$1 == "Depends:" && $2 ~ /^(lib|zlib)/ { print $2 }' | sort -u)
    log "libraries: $(echo $libs)"
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $libs >/dev/null
    if ! python3 -m venv --help >/dev/null 2>&1; then
        apt-get install -y -q --no-install-recommends python3-venv >/dev/null
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install -q "pyftpdlib==$PYFTPDLIB_VERSION"
    for b in vsftpd pure-ftpd proftpd; do
        local missing
        missing=$(ldd "$ROOTFS/usr/sbin/$b" | awk '/not found/ { print $1 }')
        [ -z "$missing" ] || { echo "compare.sh: $b still misses: $missing" >&2; exit 1; }
    done
    log "peers installed in $PREFIX"
}

if $install; then
    install_peers
    $install_only && exit 0
fi

# -------------------------------------------------------------------- build
log "build ftpbench (release)"
cargo build -q --release --manifest-path benches/ftpbench/Cargo.toml
FTPBENCH=$ROOT/benches/ftpbench/target/release/ftpbench
if [ -z "$ftpdlib_bin" ]; then
    log "build ftpdlib (release)"
    cargo build -q --release --bin ftpdlib
    ftpdlib_bin=$ROOT/target/release/ftpdlib
fi
ftpdlib_bin=$(realpath "$ftpdlib_bin")

# ----------------------------------------------------- user, home and files
PASS=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 16)
# pure-ftpd refuses users whose shell is not in /etc/shells, hence /bin/sh;
# the password is random for each run and locked again when the run ends.
if ! id "$BENCH_USER" >/dev/null 2>&1; then
    log "create system user $BENCH_USER"
    useradd --system --no-create-home --home-dir "$HOME_DIR" \
        --shell /bin/sh "$BENCH_USER"
fi
usermod --home "$HOME_DIR" --shell /bin/sh "$BENCH_USER"
echo "$BENCH_USER:$PASS" | chpasswd -c "$PEER_HASH"
BENCH_UID=$(id -u "$BENCH_USER")
BENCH_GID=$(id -g "$BENCH_USER")

mkdir -p "$HOME_DIR/ftpbench/list10k" "$RUN" "$out"
chmod 755 "$PREFIX" "$HOME_DIR"
data=$HOME_DIR/ftpbench
bytes_of() { numfmt --from=iec "$1"; }
if [ "$(stat -c %s "$data/big.bin" 2>/dev/null || echo 0)" != "$(bytes_of "$RETR_SIZE")" ]; then
    log "create big.bin ($RETR_SIZE)"
    head -c "$(bytes_of "$RETR_SIZE")" /dev/urandom >"$data/big.bin"
fi
if [ "$(stat -c %s "$data/small.bin" 2>/dev/null || echo 0)" != "$(bytes_of "$SMALL_SIZE")" ]; then
    head -c "$(bytes_of "$SMALL_SIZE")" /dev/urandom >"$data/small.bin"
fi
if [ "$(find "$data/list10k" -maxdepth 1 -type f | wc -l)" != "$LIST_ENTRIES" ]; then
    log "create list10k/ ($LIST_ENTRIES files)"
    rm -rf "$data/list10k" && mkdir -p "$data/list10k"
    (cd "$data/list10k" && seq -f 'f%05g' 0 $((LIST_ENTRIES - 1)) | xargs touch)
fi
rm -f "$data"/ftpbench-stor-*.tmp
chown -R "$BENCH_USER:" "$HOME_DIR"
cat "$data/big.bin" >/dev/null # into the page cache for every server alike

# ----------------------------------------------------------- server control
# stop_pid, stop_started, pick_port, wait_listen
source "$ROOT/benches/lib.sh"
declare -a PIDS=()
cleanup() {
    stop_started
    usermod --lock "$BENCH_USER" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
next_port=$BASE_PORT

# setpriv execs the server, so $! of `"${AS_USER[@]}" server &` is the
# server's own PID (a shell function would add a subshell to the tree).
AS_USER=(setpriv --reuid="$BENCH_UID" --regid="$BENCH_GID" --clear-groups --)

have() { [ -x "$1" ]; }

# Each start_* sets SERVER_PID (the PID the load's --pid uses), LABEL, and
# WHY (non-empty: could not start, and why).
start_ftpdlib() { # LOGNAME [extra args...]
    local name=$1
    shift
    LABEL="ftpdlib $("$ftpdlib_bin" --version 2>/dev/null | awk '{print $NF}')${*:+ $*}"
    "${AS_USER[@]}" "$ftpdlib_bin" --user "$BENCH_USER:$PASS:$HOME_DIR:elradfmwMT" \
        --no-anonymous --max-cons 0 -i 127.0.0.1 -p "$PORT" -r "$PASV_LO-$PASV_HI" "$@" \
        >"$RUN/$name.log" 2>&1 &
    SERVER_PID=$!
}

start_pyftpdlib() {
    have "$VENV/bin/python" || { WHY="not installed (run with --install)"; return; }
    LABEL="pyftpdlib $("$VENV/bin/python" -c 'import pyftpdlib; print(pyftpdlib.__ver__)')"
    cat >"$RUN/pyftpd.py" <<'EOF'
import logging, sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.log import config_logging
from pyftpdlib.servers import FTPServer

user, password, home, port, lo, hi = sys.argv[1:7]
config_logging(level=logging.INFO)  # the CLI's default
authorizer = DummyAuthorizer()
authorizer.add_user(user, password, home, perm="elradfmwMT")
handler = FTPHandler
handler.authorizer = authorizer
handler.passive_ports = range(int(lo), int(hi) + 1)
server = FTPServer(("127.0.0.1", int(port)), handler)
server.max_cons = 0
server.max_cons_per_ip = 0
server.serve_forever()
EOF
    "${AS_USER[@]}" "$VENV/bin/python" "$RUN/pyftpd.py" "$BENCH_USER" "$PASS" "$HOME_DIR" "$PORT" \
        "$PASV_LO" "$PASV_HI" \
        >"$RUN/pyftpdlib.log" 2>&1 &
    SERVER_PID=$!
}

start_vsftpd() {
    have "$ROOTFS/usr/sbin/vsftpd" || { WHY="not installed (run with --install)"; return; }
    LABEL="vsftpd $(dpkg-deb -f "$PREFIX"/debs/vsftpd_*.deb Version | cut -d- -f1)"
    mkdir -p "$RUN/vsftpd-empty"
    chmod 755 "$RUN/vsftpd-empty"
    cat >"$RUN/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$PORT
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
max_clients=5000
max_per_ip=5000
seccomp_sandbox=NO
secure_chroot_dir=$RUN/vsftpd-empty
pam_service_name=ftpbench-vsftpd
tcp_wrappers=NO
nopriv_user=nobody
xferlog_enable=YES
vsftpd_log_file=$RUN/vsftpd-xfer.log
dirmessage_enable=NO
idle_session_timeout=600
data_connection_timeout=300
use_sendfile=YES
pasv_min_port=$PASV_LO
pasv_max_port=$PASV_HI
EOF
    "$ROOTFS/usr/sbin/vsftpd" "$RUN/vsftpd.conf" >"$RUN/vsftpd.log" 2>&1 &
    SERVER_PID=$!
}

start_pure_ftpd() {
    have "$ROOTFS/usr/sbin/pure-ftpd" || { WHY="not installed (run with --install)"; return; }
    LABEL="pure-ftpd $(dpkg-deb -f "$PREFIX"/debs/pure-ftpd_*.deb Version | cut -d- -f1)"
    # -l unix: system users; -E: no anonymous; -H: no DNS; -c/-C: limits;
    # -L: LIST/MLSD may return up to 20000 files; -u 1: allow system uids.
    "$ROOTFS/usr/sbin/pure-ftpd" -S "127.0.0.1,$PORT" -l unix -E -H -4 \
        -c 5000 -C 5000 -L 20000:5 -u 1 -U 133:022 -I 15 -p "$PASV_LO:$PASV_HI" \
        -O "clf:$RUN/pure-ftpd-xfer.log" >"$RUN/pure-ftpd.log" 2>&1 &
    SERVER_PID=$!
}

start_proftpd() {
    have "$ROOTFS/usr/sbin/proftpd" || { WHY="not installed (run with --install)"; return; }
    LABEL="proftpd $(dpkg-deb -f "$PREFIX"/debs/proftpd-core_*.deb Version | cut -d+ -f1)"
    cat >"$RUN/proftpd.conf" <<EOF
ServerName "proftpd"
ServerType standalone
DefaultServer on
UseIPv6 off
DefaultAddress 127.0.0.1
SocketBindTight on
Port $PORT
User nobody
Group nogroup
Umask 022
MaxInstances 5000
TCPBacklog 255
PassivePorts $PASV_LO $PASV_HI
MaxClients 5000
MaxClientsPerHost 5000
MaxConnectionsPerHost 5000
UseReverseDNS off
RequireValidShell off
AuthPAM off
AuthOrder mod_auth_unix.c
DelayEngine off
WtmpLog off
PidFile $RUN/proftpd.pid
ScoreboardFile $RUN/proftpd.scoreboard
SystemLog $RUN/proftpd-system.log
TransferLog $RUN/proftpd-xfer.log
TimeoutIdle 600
UseSendfile on
<Directory />
  AllowOverwrite on
</Directory>
EOF
    "$ROOTFS/usr/sbin/proftpd" -n -c "$RUN/proftpd.conf" >"$RUN/proftpd.log" 2>&1 &
    SERVER_PID=$!
}

# ------------------------------------------------------------------ machine
machine() {
    echo "- CPU: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    echo "- RAM: $(free -g | awk '/^Mem:/ { print $2 }') GiB"
    echo "- Kernel: $(uname -sr); $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "- Load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- ftpdlib: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')" \
        "$(git -C "$ROOT" status --porcelain -- src Cargo.toml 2>/dev/null | grep -q . && echo '(work tree has uncommitted changes)')"
}
busy_others() {
    # Processes not started by this run using CPU right now (they skew it).
    top -b -n 2 -d 1 -w 200 | awk '/^top -/ { n++ } n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 >= 20 { print "  - " $12 " (PID " $1 ", " $9 "% CPU)" }' |
        grep -v -e ' top ' -e 'compare.sh' || true
}

# ---------------------------------------------------------------------- run
results=$out/results.jsonl
: >"$results"
{
    echo "Machine:"
    machine
    others=$(busy_others)
    if [ -n "$others" ]; then
        echo "- Other processes busy on the machine at the start (not part of the run):"
        echo "$others"
    fi
} | tee "$out/machine.md" >&2

ftpdlib_workers=false
if "$ftpdlib_bin" --help 2>&1 | grep -q -- '--workers'; then ftpdlib_workers=true; fi

# All servers run at once, each on its own port and passive range, and the
# scenarios are interleaved (every server does scenario 1, then every server
# scenario 2…), so a change in the machine's background load during the run
# does not land on one server only. An idle server costs nothing.
IFS=, read -r -a server_list <<<"$SERVERS"
declare -A S_PID S_PORT S_LABEL S_WHY
order=()
i=0
for srv in "${server_list[@]}"; do
    WHY="" LABEL=$srv SERVER_PID=""
    pick_port
    PASV_LO=$((PASV_BASE + i * PASV_SPAN))
    PASV_HI=$((PASV_LO + PASV_SPAN - 1))
    i=$((i + 1))
    # Servers need many descriptors for K idle connections plus data.
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    case "$srv" in
    ftpdlib) start_ftpdlib ftpdlib ;;
    ftpdlib-w2)
        if $ftpdlib_workers; then start_ftpdlib ftpdlib-w2 --workers 2; else
            LABEL="ftpdlib --workers 2" WHY="this ftpdlib has no --workers option"
        fi
        ;;
    pyftpdlib) start_pyftpdlib ;;
    vsftpd) start_vsftpd ;;
    pure-ftpd) start_pure_ftpd ;;
    proftpd) start_proftpd ;;
    *) echo "compare.sh: unknown server $srv" >&2; exit 2 ;;
    esac
    if [ -z "$WHY" ]; then
        PIDS+=("$SERVER_PID")
        if ! wait_listen "$SERVER_PID" "$PORT"; then
            WHY="did not start: $(tail -n 3 "$RUN/$srv.log" 2>/dev/null | tr '\n' ' ' | cut -c1-200)"
        fi
    fi
    order+=("$srv")
    S_LABEL[$srv]=$LABEL S_PID[$srv]=$SERVER_PID S_PORT[$srv]=$PORT S_WHY[$srv]=$WHY
    if [ -n "$WHY" ]; then
        log "$LABEL: not run: $WHY"
    else
        backlog=$(ss -Hltn "sport = :$PORT" | awk '{ print $3; exit }')
        log "$LABEL: pid $SERVER_PID on 127.0.0.1:$PORT, passive ports $PASV_LO-$PASV_HI, listen backlog $backlog"
        echo "- $LABEL: PID $SERVER_PID, port $PORT, passive ports $PASV_LO-$PASV_HI, listen backlog $backlog" >>"$out/machine.md"
    fi
done

for sc in idle logins small list mlsd retr stor; do
    for srv in "${order[@]}"; do
        if [ -z "${S_WHY[$srv]}" ] && ! kill -0 "${S_PID[$srv]}" 2>/dev/null; then
            S_WHY[$srv]="exited during the run (see $RUN/$srv.log)"
        fi
        if [ -n "${S_WHY[$srv]}" ]; then
            printf '{"server":"%s","scenario":"%s","ok":false,"error":"%s"}\n' \
                "${S_LABEL[$srv]}" "$sc" "$(printf '%s' "${S_WHY[$srv]}" | tr -d '"\\')" >>"$results"
            continue
        fi
        "$FTPBENCH" -H 127.0.0.1 -P "${S_PORT[$srv]}" -u "$BENCH_USER" -p "$PASS" \
            --pid "${S_PID[$srv]}" --label "${S_LABEL[$srv]}" -b "$sc" \
            -n "$CLIENTS" -k "$IDLE" --duration "$DURATION" --reps "$REPS" \
            --list-reps "$LIST_REPS" --list-entries "$LIST_ENTRIES" \
            --stor-size "$STOR_SIZE" --gen-threads "$GEN_THREADS" \
            --json "$results" | grep -v '^JSON ' >&2 || true
        rm -f "$data"/ftpbench-stor-*.tmp
    done
done
cleanup

{
    echo
    echo "Parameters: RETR_SIZE=$RETR_SIZE STOR_SIZE=$STOR_SIZE CLIENTS=$CLIENTS IDLE=$IDLE" \
        "DURATION=${DURATION}s REPS=$REPS LIST_REPS=$LIST_REPS LIST_ENTRIES=$LIST_ENTRIES" \
        "SMALL_SIZE=$SMALL_SIZE PEER_HASH=$PEER_HASH GEN_THREADS=$GEN_THREADS"
    echo
    base=${S_LABEL[ftpdlib]:-}
    [ -n "$base" ] || base=$(head -1 "$results" | sed -n 's/.*"server":"\([^"]*\)".*/\1/p')
    "$FTPBENCH" --table "$results" --base "$base"
} | tee "$out/table.md"
log "results in $out (results.jsonl, table.md, machine.md); server logs in $RUN"
