#!/usr/bin/env bash
# Footprint of ftpdlib next to the FTP servers of small boxes, measured side
# by side on this machine (docs/embedded.md has one run's table):
#   - the stripped binary and the shared libraries it needs beyond libc
#     (libc.so.6, ld-linux and the vDSO are not counted);
#   - idle PSS of the listening server (all its processes, from
#     /proc/PID/smaps_rollup), 1 s after it listens;
#   - memory per idle session: the PSS the server's process tree gains
#     with N connected, greeted, idle clients, divided by N (for servers
#     that fork per connection this is the per-session process);
#   - for ftpdlib, its sizes per build (release, release-small, TLS,
#     panic = abort) and the speed release-small gives up.
# Peers come from Debian's packages, extracted into target/footprint with
# `apt-get download` + `dpkg-deb -x` (no service is installed); missing
# shared libraries are installed with apt as compare.sh does. busybox ftpd
# is not measured: Debian builds busybox without its ftpd applet.
#
# Usage: benches/footprint.sh [SESSIONS]   (default 100; run as root)
# Only the processes it starts are signalled, by PID.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/footprint
ROOTFS=$OUT/rootfs
RUN=$OUT/run
SESSIONS=${1:-100}
# Timed runs per speed figure, the best one kept (a loaded machine adds
# noise, never speed).
SPEED_RUNS=${SPEED_RUNS:-7}
PIDS=()
next_port=22100
# shellcheck source=benches/lib.sh
. benches/lib.sh
trap stop_started EXIT

log() { printf '[footprint] %s\n' "$*" >&2; }

mkdir -p "$OUT" "$RUN/home" "$RUN/empty"
chmod 755 "$RUN/empty"
echo "hello" >"$RUN/home/hello.txt"

# ------------------------------------------------------------- the builds
build() { # NAME CARGO-ARGS...
    local name=$1
    shift
    log "build ftpdlib $name: cargo build $*"
    env "${ENVS[@]}" cargo build -q --bin ftpdlib "$@"
}
# Copy a build aside (by rename, so a running copy is not in the way).
keep() { # BUILT NAME
    cp "$1" "$OUT/$2.tmp"
    mv -f "$OUT/$2.tmp" "$OUT/$2"
}
ENVS=()
build release --release
keep target/release/ftpdlib ftpdlib-release
build release-small --profile release-small
keep target/release-small/ftpdlib ftpdlib-small
ENVS=(CARGO_PROFILE_RELEASE_SMALL_STRIP=false)
build release-small-symbols --profile release-small
keep target/release-small/ftpdlib ftpdlib-small-symbols
ENVS=(CARGO_PROFILE_RELEASE_SMALL_PANIC=abort)
build release-small-abort --profile release-small
keep target/release-small/ftpdlib ftpdlib-small-abort
ENVS=()
build release-tls --release --features tls
keep target/release/ftpdlib ftpdlib-release-tls
build release-small-tls --profile release-small --features tls
keep target/release-small/ftpdlib ftpdlib-small-tls
ENVS=(CARGO_PROFILE_RELEASE_SMALL_PANIC=abort)
build release-small-tls-abort --profile release-small --features tls
keep target/release-small/ftpdlib ftpdlib-small-tls-abort
# Put the default build back where cargo expects it.
ENVS=()
build release-small --profile release-small

# --------------------------------------------------------------- the peers
if [ ! -x "$ROOTFS/usr/sbin/vsftpd" ] || [ ! -x "$ROOTFS/usr/sbin/pure-ftpd" ]; then
    log "apt-get download vsftpd pure-ftpd"
    mkdir -p "$OUT/debs" "$ROOTFS"
    chmod 777 "$OUT/debs" # apt-get download fetches as user _apt
    (cd "$OUT/debs" && apt-get download -q vsftpd pure-ftpd >/dev/null)
    for deb in "$OUT"/debs/*.deb; do dpkg-deb -x "$deb" "$ROOTFS"; done
fi
for b in vsftpd pure-ftpd; do
    if ldd "$ROOTFS/usr/sbin/$b" | grep -q 'not found'; then
        pkg=$b
        libs=$(apt-cache depends --no-recommends --no-suggests "$pkg" |
            awk '$1 == "Depends:" && $2 ~ /^lib/ { print $2 }' | sort -u)
        log "install the libraries of $b: $(echo $libs)"
        # shellcheck disable=SC2086
        apt-get install -y -q --no-install-recommends $libs >/dev/null
    fi
done

# ------------------------------------------------------------ measurements
stripped_size() { # BINARY
    strip -o "$OUT/stripped.tmp" "$1" 2>/dev/null || cp "$1" "$OUT/stripped.tmp"
    stat -c %s "$OUT/stripped.tmp"
    rm -f "$OUT/stripped.tmp"
}

# "name size" of each shared library beyond libc, the whole closure.
libs_beyond_libc() { # BINARY
    ldd "$1" | awk '$3 ~ /^\// { print $1, $3 }' |
        grep -v -E '^(libc\.so|ld-linux|linux-vdso)' |
        while read -r name path; do
            echo "$name $(stat -L -c %s "$path")"
        done
}

# PID and its descendants.
tree_of() { # PID
    local pid=$1 child
    echo "$pid"
    for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
        tree_of "$child"
    done
}

# Sum of the PSS (kB) of PID and its descendants.
pss_kb() { # PID
    mem_kb "$1" '^Pss:'
}

# Sum of the private memory, USS (kB) of PID and its descendants: what
# would be freed if they exited, whoever else maps the same libraries.
uss_kb() { # PID
    mem_kb "$1" '^Private_(Clean|Dirty):'
}

mem_kb() { # PID FIELD-REGEX
    local total=0 p kb
    for p in $(tree_of "$1"); do
        kb=$(awk -v f="$2" '$0 ~ f { s += $2 } END { print s + 0 }' \
            "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}

# Open N idle sessions to PORT (each greeted), hold them until killed.
hold_sessions() { # PORT N READYFILE
    python3 - "$1" "$2" "$3" <<'EOF' &
import socket, sys, time
port, n, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    f = s.makefile("rb")
    line = f.readline()
    while line[3:4] == b"-":  # multi-line greeting
        line = f.readline()
    assert line[:3] == b"220", line
    socks.append((s, f))
open(ready, "w").write("%d\n" % len(socks))
time.sleep(120)
EOF
    HOLDER=$!
    PIDS+=("$HOLDER")
    for _ in $(seq 300); do
        [ -s "$3" ] && return 0
        kill -0 "$HOLDER" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

RESULTS=$OUT/footprint.tsv
: >"$RESULTS"
# Start the server command in "$@" on PORT, measure, stop it.
measure() { # LABEL BINARY -- COMMAND...
    local label=$1 bin=$2
    shift 3
    "$@" >"$RUN/$label.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    if ! wait_listen "$pid" "$PORT"; then
        log "$label did not start: $(tail -3 "$RUN/$label.log")"
        return
    fi
    sleep 1
    local idle idle_uss
    idle=$(pss_kb "$pid")
    idle_uss=$(uss_kb "$pid")
    rm -f "$RUN/ready"
    local per="n/a" per_uss="n/a"
    if hold_sessions "$PORT" "$SESSIONS" "$RUN/ready"; then
        sleep 2 # forking servers: let every session process settle
        local busy busy_uss
        busy=$(pss_kb "$pid")
        busy_uss=$(uss_kb "$pid")
        per=$(per_session "$busy" "$idle")
        per_uss=$(per_session "$busy_uss" "$idle_uss")
    fi
    stop_pid "$HOLDER"
    stop_pid "$pid"
    local size libs libsum
    size=$(stripped_size "$bin")
    libs=$(libs_beyond_libc "$bin" | awk '{ printf "%s%s", sep, $1; sep=", " }')
    libsum=$(libs_beyond_libc "$bin" | awk '{ s += $2 } END { print s + 0 }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$size" "$libsum" "$idle" \
        "$idle_uss" "$per" "$per_uss" "$libs" >>"$RESULTS"
}

per_session() { # AFTER BEFORE
    awk -v a="$1" -v b="$2" -v n="$SESSIONS" 'BEGIN { printf "%.1f", (a - b) / n }'
}

FTPDLIB_ARGS=(-i 127.0.0.1 -d "$RUN/home" -q --max-cons 0)
pick_port
measure "ftpdlib (release)" "$OUT/ftpdlib-release" -- \
    "$OUT/ftpdlib-release" -p "$PORT" "${FTPDLIB_ARGS[@]}"
pick_port
measure "ftpdlib (release-small)" "$OUT/ftpdlib-small" -- \
    "$OUT/ftpdlib-small" -p "$PORT" "${FTPDLIB_ARGS[@]}"

# inetd mode: one process per session under socat, socat itself excluded.
if command -v socat >/dev/null 2>&1; then
    pick_port
    socat "TCP-LISTEN:$PORT,bind=127.0.0.1,reuseaddr,fork" \
        "EXEC:$OUT/ftpdlib-small --inetd -q -d $RUN/home,nofork" &
    SOCAT=$!
    PIDS+=("$SOCAT")
    if wait_listen "$SOCAT" "$PORT"; then
        rm -f "$RUN/ready"
        before=$(pss_kb "$SOCAT")
        before_uss=$(uss_kb "$SOCAT")
        if hold_sessions "$PORT" "$SESSIONS" "$RUN/ready"; then
            sleep 2
            per=$(per_session "$(pss_kb "$SOCAT")" "$before")
            per_uss=$(per_session "$(uss_kb "$SOCAT")" "$before_uss")
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
                "ftpdlib --inetd (release-small, under socat)" \
                "$(stripped_size "$OUT/ftpdlib-small")" \
                "$(libs_beyond_libc "$OUT/ftpdlib-small" | awk '{ s += $2 } END { print s + 0 }')" \
                "0" "0" "$per" "$per_uss" "a process per session, none while idle" >>"$RESULTS"
        fi
        stop_pid "$HOLDER"
    fi
    stop_pid "$SOCAT"
fi

pick_port
cat >"$RUN/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$PORT
background=NO
anonymous_enable=YES
anon_root=$RUN/home
no_anon_password=YES
local_enable=NO
write_enable=NO
max_clients=0
max_per_ip=0
seccomp_sandbox=NO
secure_chroot_dir=$RUN/empty
tcp_wrappers=NO
nopriv_user=nobody
ftp_username=nobody
xferlog_enable=NO
EOF
measure "vsftpd $(dpkg-deb -f "$OUT"/debs/vsftpd_*.deb Version 2>/dev/null || echo)" \
    "$ROOTFS/usr/sbin/vsftpd" -- "$ROOTFS/usr/sbin/vsftpd" "$RUN/vsftpd.conf"
pick_port
measure "pure-ftpd $(dpkg-deb -f "$OUT"/debs/pure-ftpd_*.deb Version 2>/dev/null || echo)" \
    "$ROOTFS/usr/sbin/pure-ftpd" -- "$ROOTFS/usr/sbin/pure-ftpd" \
    -S "127.0.0.1,$PORT" -E -H -4 -c 5000 -C 5000

# ---------------------------------------------------------------- report
echo
echo "# Footprint ($SESSIONS idle sessions; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| server | stripped binary | shared libraries beyond libc | idle PSS (USS), listening | per idle session, PSS (USS) |"
echo "|---|---:|---|---:|---:|"
while IFS=$'\t' read -r label size libsum idle idle_uss per per_uss libs; do
    printf '| %s | %s KiB | %s KiB: %s | %s KiB (%s) | %s KiB (%s) |\n' "$label" \
        "$((size / 1024))" "$((libsum / 1024))" "$libs" "$idle" "$idle_uss" "$per" "$per_uss"
done <"$RESULTS"

echo
echo "# ftpdlib builds (stripped bytes)"
echo
echo "| build | bytes |"
echo "|---|---:|"
for b in release small small-abort release-tls small-tls small-tls-abort; do
    printf '| %s | %s |\n' "$b" "$(stripped_size "$OUT/ftpdlib-$b")"
done

echo
echo "# Code by module in release-small (symbol sizes; inlined code counts where it was inlined)"
echo
echo "| module | bytes |"
echo "|---|---:|"
nm -S --size-sort -C "$OUT/ftpdlib-small-symbols" | python3 -c '
import re, sys
groups = [
    ("system users (UnixAuthorizer, sys::users, UnixFilesystem)",
     r"ftpdlib::authorizers::unix|ftpdlib::sys::users|ftpdlib::filesystems::unix"),
    ("hashed passwords (crypt(3) glue)", r"ftpdlib::sys::crypt|ftpdlib::authorizers::hashed"),
    ("syslog", r"ftpdlib::log::syslog"),
    ("config file (main.rs)", r"read_config|config_line|ftpdlib::unquote|ftpdlib::boolean"),
    ("pre-fork workers, signals", r"ftpdlib::prefork|ftpdlib::sys::process"),
    ("inetd, socket activation (sys::fd)", r"ftpdlib::sys::fd"),
]
sums = dict.fromkeys([g for g, _ in groups], 0)
for line in sys.stdin:
    parts = line.split(None, 3)
    if len(parts) < 4:
        continue
    for g, pattern in groups:
        if re.search(pattern, parts[3]):
            sums[g] += int(parts[1], 16)
            break
for g, _ in groups:
    print("| %s | %d |" % (g, sums[g]))
'

# A feature's cost, measured: the same release-small build from a copy of
# the tree where the command line no longer reaches that feature, so the
# linker drops its code.
variant() { # NAME SED-EXPRESSION
    local dir=$OUT/variants/$1
    rm -rf "$dir"
    mkdir -p "$dir"
    cp -r Cargo.toml Cargo.lock src examples "$dir/"
    sed -i "$2" "$dir/src/main.rs"
    if cmp -s src/main.rs "$dir/src/main.rs"; then
        echo "footprint.sh: variant $1 changed nothing" >&2
        return 1
    fi
    log "build variant $1"
    cargo build -q --profile release-small --bin ftpdlib \
        --manifest-path "$dir/Cargo.toml" --target-dir "$OUT/variants/target" 2>/dev/null
    stat -c %s "$OUT/variants/target/release-small/ftpdlib"
}
echo
echo "# What a feature of the command line costs (release-small, stripped bytes saved without it)"
echo
echo "| without | bytes | saved |"
echo "|---|---:|---:|"
small=$(stripped_size "$OUT/ftpdlib-small")
for v in \
    "config-file|s/read_config(&mut o, \&path)?;/let _ = \&path;/" \
    "syslog|s/syslog::config_syslog(level, facility, socket);/let _ = (facility, socket);/" \
    "system-users|s/unix_handler(o, perm)?/FtpHandler::new(dummy_authorizer(o, perm)?)/"; do
    name=${v%%|*}
    if bytes=$(variant "$name" "${v#*|}"); then
        printf '| %s | %s | %s |\n' "$name" "$bytes" "$((small - bytes))"
    fi
done

echo
echo "libcrypt.so.1 (needed by hashed passwords and system users): $(stat -L -c %s /lib/x86_64-linux-gnu/libcrypt.so.1 2>/dev/null || echo ?) bytes"

# ------------------------------------------------------------------ speed
echo
echo "# Speed: release vs release-small (best of $SPEED_RUNS, seconds)"
mkdir -p "$RUN/home/many"
if [ ! -e "$RUN/home/text.txt" ]; then
    python3 -c "
import sys
line = b'the quick brown fox jumps over the lazy dog 0123456789\n'
sys.stdout.buffer.write(line * (64 * 1024 * 1024 // len(line)))" >"$RUN/home/text.txt"
    (cd "$RUN/home/many" && seq 1 20000 | xargs touch)
fi
echo
echo "| build | binary RETR 64 MiB (sendfile) | ASCII RETR 64 MiB | LIST of 20000 files |"
echo "|---|---:|---:|---:|"
for b in release small; do
    pick_port
    "$OUT/ftpdlib-$b" -p "$PORT" "${FTPDLIB_ARGS[@]}" >/dev/null 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_listen "$pid" "$PORT" || continue
    best() {
        local url=$1 best=999 t
        shift
        for _ in $(seq "$SPEED_RUNS"); do
            t=$(curl -s -o /dev/null -w '%{time_total}' "$@" "$url")
            best=$(awk -v a="$t" -v b="$best" 'BEGIN { print (a < b) ? a : b }')
        done
        echo "$best"
    }
    binary=$(best "ftp://127.0.0.1:$PORT/text.txt")
    ascii=$(best "ftp://127.0.0.1:$PORT/text.txt" -B)
    list=$(best "ftp://127.0.0.1:$PORT/many/")
    printf '| %s | %s | %s | %s |\n' "$b" "$binary" "$ascii" "$list"
    stop_pid "$pid"
done
