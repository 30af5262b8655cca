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
#   --scenarios LIST    comma-separated subset of idle,logins,logins-y,logins-1,
#                       small,list,mlsd,retr,stor (default all, in that order)
#   --tls-only          only the FTPS pass (below), not the plain scenarios
#   --no-tls            no FTPS pass (same as TLS=0)
#   --ftpdlib-tls PATH  ftpdlib built with `--features tls` for the FTPS pass
#                       (default: --ftpdlib PATH when its --help lists
#                       --certfile, else built into target/ftps/)
#   --no-docs           do not write the tables into docs/benchmarks.md and the
#                       charts into docs/img/ (--quick implies it); they are
#                       always written into the results directory
#
# FTPS pass (TLS=1, the default): after the plain scenarios, every server
# is started again with explicit FTPS (AUTH TLS) on and one self-signed
# RSA-2048 certificate made with `openssl req` for this run (vsftpd
# ssl_enable, pure-ftpd -Y 1 -2, ProFTPD mod_tls from proftpd-mod-crypto,
# pyftpdlib TLS_FTPHandler with pyOpenSSL, ftpdlib --tls), and runs
# TLS_SCENARIOS (default tls-retr,tls-stor,tls-logins,tls-logins-resumed):
# RETR and STOR over PROT P, logins with AUTH TLS and a full handshake each,
# and logins whose client offers the session tickets of earlier connections
# (ftpbench --tls-resume). Its table (results-tls.jsonl, table-tls.md) goes
# into docs/benchmarks.md between the FTPS marker lines.
#
# Scenarios: logins-y and logins-1 are logins whose password is stored as a
# crypt(3) hash, yescrypt ($y$, from `ftpdlib --hash-password`) and MD5-crypt
# ($1$, from `openssl passwd -1`), the same hash string for every server (the
# peers read it from /etc/shadow, users ftpbench-y and ftpbench-1). Every
# scenario runs with `ftpbench --probe`: one more logged-in client sends NOOP
# every 10 ms and records how long each one waits (the stall table).
#
# Environment (defaults): RETR_SIZE=1G STOR_SIZE=512M CLIENTS=50 IDLE=1000
# DURATION=10 (logins, small) HASH_DURATION=10 (logins-y, logins-1) REPS=5
# LIST_REPS=10 LIST_ENTRIES=100000 SMALL_SIZE=4K PROBE=1 (0: no stall probe)
# BASE_PORT=2310 PASV_BASE=10000 PASV_SPAN=3000 (server i gets passive ports
# PASV_BASE+i*PASV_SPAN and the PASV_SPAN-1 above) QUIET_MAX=30 QUIET_WAIT=120
# (before each scenario, wait up to QUIET_WAIT s while other processes use
# QUIET_MAX% of a core or more) PREFIX=target/peers
# PEER_HASH=MD5 (crypt method of the system user's password in the plain
# logins scenario: see docs/benchmarks.md) GEN_THREADS=1.
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
HASH_DURATION=${HASH_DURATION:-10}
REPS=${REPS:-5}
LIST_REPS=${LIST_REPS:-10}
LIST_ENTRIES=${LIST_ENTRIES:-100000}
SMALL_SIZE=${SMALL_SIZE:-4K}
PROBE=${PROBE:-1}
QUIET_MAX=${QUIET_MAX:-30}
QUIET_WAIT=${QUIET_WAIT:-120}
BASE_PORT=${BASE_PORT:-2310}
PEER_HASH=${PEER_HASH:-MD5}
GEN_THREADS=${GEN_THREADS:-1}
PASV_BASE=${PASV_BASE:-10000}
PASV_SPAN=${PASV_SPAN:-3000}
BENCH_USER=ftpbench
# Same password, stored as $y$ (yescrypt) and $1$ (MD5-crypt) hashes.
BENCH_USER_Y=ftpbench-y
BENCH_USER_1=ftpbench-1
SERVERS=ftpdlib,ftpdlib-w2,pyftpdlib,vsftpd,pure-ftpd,proftpd
SCENARIOS=idle,logins,logins-y,logins-1,small,list,mlsd,retr,stor
PYFTPDLIB_VERSION=2.2.0
TLS=${TLS:-1}
TLS_SCENARIOS=${TLS_SCENARIOS:-tls-retr,tls-stor,tls-logins,tls-logins-resumed}

install=false
install_only=false
docs=true
ftpdlib_bin=""
ftpdlib_tls_bin=""
plain=true
out=""
while [ $# -gt 0 ]; do
    case "$1" in
    --install) install=true ;;
    --install-only) install=true install_only=true ;;
    --quick)
        RETR_SIZE=64M STOR_SIZE=64M DURATION=3 HASH_DURATION=3 IDLE=200 REPS=1
        LIST_REPS=3 LIST_ENTRIES=10000 docs=false
        ;;
    --servers) SERVERS=$2; shift ;;
    --scenarios) SCENARIOS=$2; shift ;;
    --no-docs) docs=false ;;
    --ftpdlib) ftpdlib_bin=$2; shift ;;
    --ftpdlib-tls) ftpdlib_tls_bin=$2; shift ;;
    --tls-only) plain=false TLS=1 ;;
    --no-tls) TLS=0 ;;
    --out) out=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

# A run of the list above: the ftpbench scenario (R_SC), the user who logs
# in (R_USER), the --tag that names the variant in the tables (R_TAG), the
# tag ftpbench writes into the JSON (R_SHOWN: with --tls it adds "TLS" or
# "TLS, resumed" itself), the --duration (R_DUR) and more ftpbench options
# (R_ARGS).
run_spec() { # NAME
    R_SC=$1 R_USER=$BENCH_USER R_TAG="" R_SHOWN="" R_DUR=$DURATION R_ARGS=()
    case "$1" in
    logins) R_TAG=plain R_SHOWN=plain ;;
    logins-y) R_SC=logins R_USER=$BENCH_USER_Y R_TAG='$y$' R_SHOWN='$y$' R_DUR=$HASH_DURATION ;;
    logins-1) R_SC=logins R_USER=$BENCH_USER_1 R_TAG='$1$' R_SHOWN='$1$' R_DUR=$HASH_DURATION ;;
    idle | small | list | mlsd | retr | stor) ;;
    tls-retr | tls-stor | tls-logins) R_SC=${1#tls-} R_SHOWN=TLS R_ARGS=(--tls) ;;
    tls-logins-resumed) R_SC=logins R_SHOWN="TLS, resumed" R_ARGS=(--tls --tls-resume) ;;
    *) echo "compare.sh: unknown scenario $1" >&2; exit 2 ;;
    esac
}
run_list=() tls_list=()
! $plain || IFS=, read -r -a run_list <<<"$SCENARIOS"
[ "$TLS" = 0 ] || IFS=, read -r -a tls_list <<<"$TLS_SCENARIOS"
for run in "${run_list[@]}" "${tls_list[@]}"; do run_spec "$run"; done

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
    # proftpd-mod-crypto: ProFTPD's mod_tls.so (FTPS) is not in proftpd-core.
    (cd "$PREFIX/debs" && apt-get download -q vsftpd pure-ftpd proftpd-core proftpd-mod-crypto)
    for deb in "$PREFIX"/debs/*.deb; do
        log "extract $(basename "$deb")"
        dpkg-deb -x "$deb" "$ROOTFS"
    done
    # Their shared libraries do not conflict: install those with apt.
    local libs
    libs=$(for p in vsftpd pure-ftpd proftpd-core proftpd-mod-crypto; do
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
    # pyOpenSSL: pyftpdlib's TLS_FTPHandler (the FTPS pass) needs it.
    "$VENV/bin/pip" install -q "pyftpdlib==$PYFTPDLIB_VERSION" pyOpenSSL
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
# What the binaries are built from, taken now: the work tree may change
# while the run goes on.
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
dirty=no
git -C "$ROOT" status --porcelain -- src Cargo.toml 2>/dev/null | grep -q . && dirty=yes
log "build ftpbench (release)"
cargo build -q --release --manifest-path benches/ftpbench/Cargo.toml
FTPBENCH=$ROOT/benches/ftpbench/target/release/ftpbench
# A binary given with --ftpdlib was not built from this tree: the tables
# name it instead of the commit.
given_bin=${ftpdlib_bin:+$(realpath "$ftpdlib_bin")}
if [ -z "$ftpdlib_bin" ]; then
    log "build ftpdlib (release)"
    cargo build -q --release --bin ftpdlib
    ftpdlib_bin=$ROOT/target/release/ftpdlib
fi
ftpdlib_bin=$(realpath "$ftpdlib_bin")
if [ "$TLS" != 0 ] && [ -z "$ftpdlib_tls_bin" ]; then
    # A build without the feature carries this error message; one with it
    # does not (checked in the file: running it could start a server).
    if ! grep -qaF 'was built without TLS' "$ftpdlib_bin"; then
        ftpdlib_tls_bin=$ftpdlib_bin
    else
        log "build ftpdlib with --features tls (release, target/ftps)"
        cargo build -q --release --features tls --bin ftpdlib --target-dir "$ROOT/target/ftps"
        ftpdlib_tls_bin=$ROOT/target/ftps/release/ftpdlib
    fi
fi
[ -z "$ftpdlib_tls_bin" ] || ftpdlib_tls_bin=$(realpath "$ftpdlib_tls_bin")

# ----------------------------------------------------- user, home and files
PASS=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 16)
# pure-ftpd refuses users whose shell is not in /etc/shells, hence /bin/sh;
# the password is random for each run and locked again when the run ends.
if ! id "$BENCH_USER" >/dev/null 2>&1; then
    log "create system user $BENCH_USER"
    useradd --system --no-create-home --home-dir "$HOME_DIR" \
        --shell /bin/sh "$BENCH_USER"
fi
usermod --home "$HOME_DIR" --shell /bin/sh "$BENCH_USER" >/dev/null # "no changes"
echo "$BENCH_USER:$PASS" | chpasswd -c "$PEER_HASH"
BENCH_UID=$(id -u "$BENCH_USER")
BENCH_GID=$(id -g "$BENCH_USER")
# The hashed-login users: same home, same password, stored as the exact
# hash strings that ftpdlib and pyftpdlib get, so every server does the
# same crypt(3) work per login.
HASH_Y=$(printf '%s\n' "$PASS" | "$ftpdlib_bin" --hash-password)
HASH_1=$(printf '%s\n' "$PASS" | openssl passwd -1 -stdin)
for u in "$BENCH_USER_Y" "$BENCH_USER_1"; do
    if ! id "$u" >/dev/null 2>&1; then
        log "create system user $u"
        useradd --system --no-create-home --home-dir "$HOME_DIR" --shell /bin/sh \
            --gid "$BENCH_GID" "$u"
    fi
    usermod --home "$HOME_DIR" --shell /bin/sh "$u" >/dev/null # "no changes"
done
usermod -p "$HASH_Y" "$BENCH_USER_Y"
usermod -p "$HASH_1" "$BENCH_USER_1"

LIST_DIR=ftpbench/list-$LIST_ENTRIES
mkdir -p "$HOME_DIR/$LIST_DIR" "$RUN" "$out"
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
# The listing directory is made here on disk, not with `ftpbench --prepare`:
# 100,000 empty files take about a second with touch(1) and minutes as
# 100,000 STORs. Names as --prepare makes them (f00000, f00001, ...).
if [ "$(find "$HOME_DIR/$LIST_DIR" -maxdepth 1 -type f | wc -l)" != "$LIST_ENTRIES" ]; then
    log "create $LIST_DIR/ ($LIST_ENTRIES files)"
    rm -rf "${HOME_DIR:?}/$LIST_DIR" && mkdir -p "$HOME_DIR/$LIST_DIR"
    (cd "$HOME_DIR/$LIST_DIR" && seq -f 'f%05.0f' 0 $((LIST_ENTRIES - 1)) | xargs touch)
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
    for u in "$BENCH_USER" "$BENCH_USER_Y" "$BENCH_USER_1"; do
        usermod --lock "$u" 2>/dev/null || true
    done
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
    local name=$1 bin=$ftpdlib_bin
    shift
    LABEL="ftpdlib $("$ftpdlib_bin" --version 2>/dev/null | awk '{print $NF}')${*:+ $*}"
    if [ "$MODE" = tls ]; then
        bin=$ftpdlib_tls_bin
        [ -n "$bin" ] || { WHY="no ftpdlib built with --features tls"; return; }
        set -- "$@" --tls --certfile "$CERT" --keyfile "$KEY"
    fi
    "${AS_USER[@]}" "$bin" --user "$BENCH_USER:$PASS:$HOME_DIR:elradfmwMT" \
        --user "$BENCH_USER_Y:$HASH_Y:$HOME_DIR:elradfmwMT" \
        --user "$BENCH_USER_1:$HASH_1:$HOME_DIR:elradfmwMT" \
        --no-anonymous --max-cons 0 -i 127.0.0.1 -p "$PORT" -r "$PASV_LO-$PASV_HI" "$@" \
        >"$RUN/$name.log" 2>&1 &
    SERVER_PID=$!
}

start_pyftpdlib() {
    have "$VENV/bin/python" || { WHY="not installed (run with --install)"; return; }
    LABEL="pyftpdlib $("$VENV/bin/python" -c 'import pyftpdlib; print(pyftpdlib.__ver__)')"
    local tls_args=()
    if [ "$MODE" = tls ]; then
        "$VENV/bin/python" -c 'import OpenSSL' 2>/dev/null ||
            { WHY="no pyOpenSSL in $VENV (run with --install)"; return; }
        tls_args=(--tls "$CERT" "$KEY")
    fi
    cat >"$RUN/pyftpd.py" <<'EOF'
import hmac, logging, sys, warnings
from pyftpdlib.authorizers import AuthenticationFailed, DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.log import config_logging
from pyftpdlib.servers import FTPServer

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # Python <= 3.12: libcrypt's crypt(3), as the peers use


class CryptAuthorizer(DummyAuthorizer):
    """A password stored as '$...' is a crypt(3) hash, checked in the
    event loop (pyftpdlib's FTPHandler has no worker for it); others are
    clear text, as in DummyAuthorizer."""

    def validate_authentication(self, username, password, handler):
        stored = self.user_table.get(username, {}).get("pwd", "")
        if not stored.startswith("$"):
            return super().validate_authentication(username, password, handler)
        if not hmac.compare_digest(crypt.crypt(password, stored) or "", stored):
            raise AuthenticationFailed("Authentication failed.")


args = sys.argv[1:]
handler = FTPHandler
if args[0] == "--tls":  # --tls CERTFILE KEYFILE: explicit FTPS (AUTH TLS)
    handler = TLS_FTPHandler
    handler.certfile, handler.keyfile = args[1], args[2]
    args = args[3:]
home, port, lo, hi = args[0:4]
config_logging(level=logging.INFO)  # the CLI's default
authorizer = CryptAuthorizer()
for user_password in args[4:]:  # NAME:PASSWORD-OR-HASH
    user, password = user_password.split(":", 1)
    authorizer.add_user(user, password, home, perm="elradfmwMT")
handler.authorizer = authorizer
handler.passive_ports = range(int(lo), int(hi) + 1)
server = FTPServer(("127.0.0.1", int(port)), handler)
server.max_cons = 0
server.max_cons_per_ip = 0
server.serve_forever()
EOF
    "${AS_USER[@]}" "$VENV/bin/python" "$RUN/pyftpd.py" "${tls_args[@]}" \
        "$HOME_DIR" "$PORT" "$PASV_LO" "$PASV_HI" \
        "$BENCH_USER:$PASS" "$BENCH_USER_Y:$HASH_Y" "$BENCH_USER_1:$HASH_1" \
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
    if [ "$MODE" = tls ]; then
        # Explicit FTPS; logins and data in TLS (as ftpbench --tls does);
        # require_ssl_reuse (its default): data connections must resume the
        # control connection's session. ssl_ciphers: 3.0.3's default is
        # DES-CBC3-SHA alone.
        cat >>"$RUN/vsftpd.conf" <<EOF
ssl_enable=YES
rsa_cert_file=$CERT
rsa_private_key_file=$KEY
allow_anon_ssl=NO
force_local_logins_ssl=YES
force_local_data_ssl=YES
ssl_sslv2=NO
ssl_sslv3=NO
ssl_tlsv1=YES
require_ssl_reuse=YES
ssl_ciphers=HIGH
EOF
    fi
    "$ROOTFS/usr/sbin/vsftpd" "$RUN/vsftpd.conf" >"$RUN/vsftpd.log" 2>&1 &
    SERVER_PID=$!
}

start_pure_ftpd() {
    have "$ROOTFS/usr/sbin/pure-ftpd" || { WHY="not installed (run with --install)"; return; }
    LABEL="pure-ftpd $(dpkg-deb -f "$PREFIX"/debs/pure-ftpd_*.deb Version | cut -d- -f1)"
    # -l unix: system users; -E: no anonymous; -H: no DNS; -c/-C: limits;
    # -L: LIST/MLSD may return up to 2*LIST_ENTRIES files (its default caps
    # a listing at 2000); -u 1: allow system uids.
    # FTPS: -Y 1 (TLS allowed, as the others: clients choose), -2 the
    # certificate file (key and certificate in one PEM).
    local tls_args=()
    [ "$MODE" != tls ] || tls_args=(-Y 1 -2 "$RUN/tls/pure-ftpd.pem")
    "$ROOTFS/usr/sbin/pure-ftpd" "${tls_args[@]}" -S "127.0.0.1,$PORT" -l unix -E -H -4 \
        -c 5000 -C 5000 -L "$((LIST_ENTRIES * 2)):5" -u 1 -U 133:022 -I 15 -p "$PASV_LO:$PASV_HI" \
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
    if [ "$MODE" = tls ]; then
        [ -f "$ROOTFS/usr/lib/proftpd/mod_tls.so" ] ||
            { WHY="no mod_tls.so (proftpd-mod-crypto: run with --install)"; return; }
        # mod_tls from proftpd-mod-crypto; TLSSessionTickets: TLS 1.3
        # tickets, so that a new control connection can resume (its
        # sessions are forked processes: a server-side cache would need
        # mod_tls_shmcache). NoSessionReuseRequired: by default mod_tls
        # wants each data connection to resume the control connection's
        # own session, but rustls offers the newest ticket it holds, which
        # from the second transfer on is one a previous data connection
        # got, and mod_tls then refused the data connection (STOR failed
        # with a broken pipe). The data connections still resume (ftpbench
        # counts the ones that do not), so the TLS work is the same.
        cat >>"$RUN/proftpd.conf" <<EOF
ModulePath $ROOTFS/usr/lib/proftpd
LoadModule mod_tls.c
TLSEngine on
TLSLog $RUN/proftpd-tls.log
TLSProtocol TLSv1.2 TLSv1.3
TLSRSACertificateFile $CERT
TLSRSACertificateKeyFile $KEY
TLSVerifyClient off
TLSRequired off
TLSSessionTickets on
TLSOptions NoSessionReuseRequired
EOF
    fi
    "$ROOTFS/usr/sbin/proftpd" -n -c "$RUN/proftpd.conf" >"$RUN/proftpd.log" 2>&1 &
    SERVER_PID=$!
}

# ------------------------------------------------------------------ machine
machine() {
    echo "- CPU: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    echo "- RAM: $(free -g | awk '/^Mem:/ { print $2 }') GiB"
    echo "- Kernel: $(uname -sr); $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "- Load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
    if [ -n "$given_bin" ]; then
        echo "- ftpdlib: the binary given with --ftpdlib, $given_bin (not built by this run)"
    else
        echo "- ftpdlib: $commit" \
            "$([ "$dirty" = yes ] && echo '(work tree had uncommitted changes when built)')"
    fi
}
busy_others() {
    # Processes not started by this run using CPU right now (they skew it).
    top -b -n 2 -d 1 -w 200 | awk '/^top -/ { n++ } n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 >= 20 { print "  - " $12 " (PID " $1 ", " $9 "% CPU)" }' |
        grep -v -e ' top ' -e 'compare.sh' || true
}

# CPU used by processes that are not this run's, over one second, as
# "N% (names of the busy ones)", 100% = one core. Taken before each
# scenario, when this run's servers are idle; the load average cannot tell
# (50 session processes of a forking server are load too).
others_cpu() {
    local ours=" $$ ${PIDS[*]} $(for p in "${PIDS[@]}"; do pgrep -P "$p"; done | paste -sd' ') "
    top -b -n 2 -d 1 -w 200 | awk -v ours="$ours" '
        /^top -/ { n++ }
        n == 2 && $1 ~ /^[0-9]+$/ && $12 != "top" && index(ours, " " $1 " ") == 0 && $9 + 0 > 0 {
            sum += $9
            if ($9 >= 10) names = names (names ? ", " : "") $12
        }
        END { printf "%d%%%s", sum, names ? " (" names ")" : "" }'
}

# Before a scenario: wait (at most QUIET_WAIT s) while other processes use
# QUIET_MAX% of a core or more; OTHERS := what they used last, and the wait.
wait_quiet() {
    local t0=$SECONDS
    OTHERS=$(others_cpu)
    while [ "${OTHERS%%%*}" -ge "$QUIET_MAX" ] && [ $((SECONDS - t0)) -lt "$QUIET_WAIT" ]; do
        sleep 4
        OTHERS=$(others_cpu)
    done
    [ $((SECONDS - t0)) -lt 2 ] || OTHERS="$OTHERS after waiting $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------------- run
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
others_start=$(busy_others)
probe_args=()
[ "$PROBE" = 0 ] || probe_args=(--probe)
{
    echo "Machine:"
    machine
    if [ -n "$others_start" ]; then
        echo "- Other processes busy on the machine at the start (not part of the run):"
        echo "$others_start"
    fi
} | tee "$out/machine.md" >&2

ftpdlib_workers=false
if "$ftpdlib_bin" --help 2>&1 | grep -q -- '--workers'; then ftpdlib_workers=true; fi

# All servers run at once, each on its own port and passive range, and the
# scenarios are interleaved (every server does scenario 1, then every server
# scenario 2…), so a change in the machine's background load during the run
# does not land on one server only. An idle server costs nothing. MODE
# (plain or tls) tells the start_* functions whether to turn FTPS on; the
# FTPS pass starts the servers again, after the plain pass stopped them.
IFS=, read -r -a server_list <<<"$SERVERS"
declare -A S_PID S_PORT S_LABEL S_WHY
start_servers() {
    order=()
    S_PID=() S_PORT=() S_LABEL=() S_WHY=()
    local i=0 srv backlog
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
            log "$LABEL ($MODE): not run: $WHY"
        else
            backlog=$(ss -Hltn "sport = :$PORT" | awk '{ print $3; exit }')
            log "$LABEL ($MODE): pid $SERVER_PID on 127.0.0.1:$PORT, passive ports $PASV_LO-$PASV_HI, listen backlog $backlog"
            echo "- $LABEL ($MODE): PID $SERVER_PID, port $PORT, passive ports $PASV_LO-$PASV_HI, listen backlog $backlog" >>"$out/machine.md"
        fi
    done
}

# One ftpbench run per scenario and server, interleaved as above, each
# appending its JSON line to RESULTS. Other processes' CPU use is noted
# before each scenario (into OTHERS_LOG), after waiting a while for them
# when they are busy (it goes into the report: the machine may be shared).
run_scenarios() { # RESULTS RUN...
    local results=$1 run srv
    shift
    OTHERS_LOG=()
    for run in "$@"; do
        run_spec "$run"
        wait_quiet
        OTHERS_LOG+=("$run $OTHERS")
        tag_args=()
        [ -z "$R_TAG" ] || tag_args=(--tag "$R_TAG")
        for srv in "${order[@]}"; do
            if [ -z "${S_WHY[$srv]}" ] && ! kill -0 "${S_PID[$srv]}" 2>/dev/null; then
                S_WHY[$srv]="exited during the run (see $RUN/$srv.log)"
            fi
            local why=${S_WHY[$srv]}
            if [ -n "$why" ]; then
                printf '{"server":"%s","scenario":"%s",%s"ok":false,"error":"%s"}\n' \
                    "${S_LABEL[$srv]}" "$R_SC" "${R_SHOWN:+\"tag\":\"$R_SHOWN\",}" \
                    "$(printf '%s' "$why" | tr -d '"\\')" >>"$results"
                continue
            fi
            "$FTPBENCH" -H 127.0.0.1 -P "${S_PORT[$srv]}" -u "$R_USER" -p "$PASS" \
                --pid "${S_PID[$srv]}" --label "${S_LABEL[$srv]}" -b "$R_SC" "${tag_args[@]}" \
                "${R_ARGS[@]}" "${probe_args[@]}" -n "$CLIENTS" -k "$IDLE" --duration "$R_DUR" \
                --reps "$REPS" --list-reps "$LIST_REPS" --list-entries "$LIST_ENTRIES" \
                --list-dir "$LIST_DIR" --stor-size "$STOR_SIZE" --gen-threads "$GEN_THREADS" \
                --json "$results" | grep -v '^JSON ' >&2 || true
            rm -f "$data"/ftpbench-stor-*.tmp
        done
    done
}

# The paragraph above a table: when, which commit, the machine's load.
report_head() { # RESULTS-NAME
    printf 'From `benches/compare.sh` on %s (results `%s`, %s), ' \
        "$(date -u +%F)" "$(basename "$out")" "$1"
    if [ -n "$given_bin" ]; then
        printf 'ftpdlib: the binary given with --ftpdlib (`%s`, not built by this run)' "$given_bin"
    else
        printf 'ftpdlib built from commit `%s`' "$commit"
    fi
    if [ -z "$given_bin" ] && [ "$dirty" = yes ]; then
        printf ' plus uncommitted changes'
    fi
    echo ", on $(nproc) cores. Load average (1, 5, 15 min) at the start $load_start, at the end" \
        "$load_end. CPU used by other processes over one second before each scenario" \
        "(100% = one core): $(printf '%s; ' "${OTHERS_LOG[@]}" | sed 's/; $//')."
    if [ -n "$others_start$others_end" ]; then
        echo "Other processes busy on the machine (not part of the run):"
        [ -z "$others_start" ] || printf 'at the start:\n%s\n' "$others_start"
        [ -z "$others_end" ] || printf 'at the end:\n%s\n' "$others_end"
    fi
    echo
}

table_base() { # RESULTS
    local base=${S_LABEL[ftpdlib]:-}
    [ -n "$base" ] || base=$(head -1 "$1" | sed -n 's/.*"server":"\([^"]*\)".*/\1/p')
    printf '%s' "$base"
}

# Replace what is between two marker lines of docs/benchmarks.md by BLOCK.
write_block() { # BEGIN END BLOCK
    local doc=$ROOT/docs/benchmarks.md
    if ! grep -q "^$1" "$doc" || ! grep -q "^$2" "$doc"; then
        log "no marker lines '$1' in $doc: not updated"
        return 1
    fi
    awk -v block="$3" -v b="$1" -v e="$2" '
        index($0, b) == 1 { print; while ((getline l < block) > 0) print l; skip = 1; next }
        index($0, e) == 1 { skip = 0 }
        !skip { print }' "$doc" >"$doc.tmp"
    mv "$doc.tmp" "$doc"
}

results=$out/results.jsonl

# ------------------------------------------------------------ plain pass
if [ ${#run_list[@]} -gt 0 ]; then
    : >"$results"
    MODE=plain
    start_servers
    run_scenarios "$results" "${run_list[@]}"
    stop_started
    load_end=$(cut -d' ' -f1-3 /proc/loadavg)
    others_end=$(busy_others)
    {
        report_head "results.jsonl"
        echo "Parameters: RETR_SIZE=$RETR_SIZE STOR_SIZE=$STOR_SIZE CLIENTS=$CLIENTS IDLE=$IDLE" \
            "DURATION=${DURATION}s HASH_DURATION=${HASH_DURATION}s REPS=$REPS LIST_REPS=$LIST_REPS" \
            "LIST_ENTRIES=$LIST_ENTRIES SMALL_SIZE=$SMALL_SIZE PEER_HASH=$PEER_HASH" \
            "GEN_THREADS=$GEN_THREADS PROBE=$PROBE"
        echo
        "$FTPBENCH" --table "$results" --base "$(table_base "$results")"
    } | tee "$out/table.md"
    "$FTPBENCH" --charts "$out/img" "$results" \
        --note "benches/compare.sh, results $(basename "$out"), ftpdlib $commit; one run on $(nproc) cores over loopback, load $load_start at the start" >/dev/null
    if $docs; then
        block=$out/docs-block.md
        {
            cat "$out/table.md"
            echo
            echo '![Throughput per scenario and server](img/throughput.svg)'
            echo
            echo '![Server CPU time per operation](img/cpu.svg)'
            echo
            echo '![Memory per idle logged-in session](img/memory.svg)'
            echo
            echo '![Stall probe: NOOP round trip p99 and max per scenario](img/stall.svg)'
        } >"$block"
        if write_block '<!-- compare.sh results: begin' '<!-- compare.sh results: end' "$block"; then
            mkdir -p "$ROOT/docs/img"
            cp "$out"/img/*.svg "$ROOT/docs/img/"
            log "wrote the tables into docs/benchmarks.md and the charts into docs/img/"
        fi
    fi
fi

# ------------------------------------------------------------- FTPS pass
# The same servers with FTPS (explicit, AUTH TLS) on, all with one
# self-signed RSA-2048 certificate made here, and ftpbench --tls: RETR and
# STOR over PROT P (data connections resume the control session), logins
# with a full handshake each, and logins offering the tickets of earlier
# connections (--tls-resume). Its table goes between the FTPS markers of
# docs/benchmarks.md.
if [ ${#tls_list[@]} -gt 0 ]; then
    results_tls=$out/results-tls.jsonl
    : >"$results_tls"
    mkdir -p "$RUN/tls"
    CERT=$RUN/tls/cert.pem KEY=$RUN/tls/key.pem
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$KEY" -out "$CERT" 2>/dev/null
    # pure-ftpd reads one file with the key and the certificate.
    cat "$KEY" "$CERT" >"$RUN/tls/pure-ftpd.pem"
    chmod 600 "$RUN/tls/pure-ftpd.pem"
    # ftpdlib and pyftpdlib run as the bench user and read the key
    # themselves (a throwaway test key).
    chown "$BENCH_USER:" "$KEY" "$CERT"
    MODE=tls
    load_start=$(cut -d' ' -f1-3 /proc/loadavg)
    start_servers
    run_scenarios "$results_tls" "${tls_list[@]}"
    stop_started
    load_end=$(cut -d' ' -f1-3 /proc/loadavg)
    others_end=$(busy_others)
    {
        report_head "results-tls.jsonl"
        echo "Parameters: RETR_SIZE=$RETR_SIZE STOR_SIZE=$STOR_SIZE CLIENTS=$CLIENTS" \
            "DURATION=${DURATION}s REPS=$REPS PROBE=$PROBE; certificate: self-signed RSA-2048" \
            "from \`openssl req\`, the same file for every server."
        echo
        "$FTPBENCH" --table "$results_tls" --base "$(table_base "$results_tls")"
    } | tee "$out/table-tls.md"
    if $docs; then
        write_block '<!-- compare.sh FTPS results: begin' '<!-- compare.sh FTPS results: end' \
            "$out/table-tls.md" && log "wrote the FTPS table into docs/benchmarks.md"
    fi
fi
cleanup
log "results in $out (results.jsonl, results-tls.jsonl, table.md, table-tls.md, machine.md, img/); server logs in $RUN"
