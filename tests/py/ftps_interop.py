#!/usr/bin/env python3
"""FTPS interoperability checks of ftpdlib against Python's ssl and ftplib.

Usage: ftps_interop.py HOST PORT ROOT CASE [TLS]

ROOT is the server's home on disk (the script checks files there directly).
TLS is "1.3" (minimum_version TLSv1_3), "1.2" (maximum_version TLSv1_2) or
absent (the library's default range). Each CASE asserts and prints
"PASS <case>" as its last line; any failure raises (non-zero exit,
traceback on stderr).
"""

import ftplib
import hashlib
import io
import os
import socket
import ssl
import sys
import time

HOST, PORT, ROOT, CASE = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
TLS = sys.argv[5] if len(sys.argv) > 5 else None
USER, PASSWD = "user", "12345"
TIMEOUT = 20
REFUSED_522 = (
    "522 Data connection refused: it must resume the control connection's TLS session."
)


def disk(*parts):
    return os.path.join(ROOT, *parts)


def wait_for(what, cond):
    """Poll cond() until it holds (at most TIMEOUT): the replacement of a
    sleep used as synchronization, which a slow server outlasts."""
    deadline = time.monotonic() + TIMEOUT
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("%s: not the case after %ss" % (what, TIMEOUT))
        time.sleep(0.005)


def size_on_disk(name):
    try:
        return os.path.getsize(disk(name))
    except FileNotFoundError:
        return 0


def put(name, data):
    with open(disk(name), "wb") as f:
        f.write(data)


def read(name):
    with open(disk(name), "rb") as f:
        return f.read()


def context(alpn=None):
    """A client context that accepts the self-signed test certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if TLS == "1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    elif TLS == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    return ctx


def expected_version():
    return {"1.3": "TLSv1.3", "1.2": "TLSv1.2"}.get(TLS)


class ReuseFTP_TLS(ftplib.FTP_TLS):
    """The usual subclass: data connections resume the control connection's
    TLS session (plain ftplib starts a fresh session on each of them)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.data_tls = []  # (version, session_reused) per data connection
        self.session_from = self  # whose control session data resumes

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(
                conn, server_hostname=self.host, session=self.session_from.sock.session
            )
            self.data_tls.append((conn.version(), conn.session_reused))
        return conn, size


def connect(cls=ReuseFTP_TLS, login=True, prot_p=True, ctx=None):
    ftp = cls(context=ctx or context(), timeout=TIMEOUT)
    ftp.connect(HOST, PORT)
    if login:
        ftp.login(USER, PASSWD)  # AUTH TLS first (secure=True)
        want = expected_version()
        if want:
            assert ftp.sock.version() == want, ftp.sock.version()
        if prot_p:
            assert ftp.prot_p().startswith("200 Protection set to Private"), "prot_p"
    return ftp


def retr(ftp, cmd):
    buf = bytearray()
    resp = ftp.retrbinary(cmd, buf.extend)
    assert resp.startswith("226"), resp
    return bytes(buf)


def stor(ftp, cmd, data):
    resp = ftp.storbinary(cmd, io.BytesIO(data))
    assert resp.startswith("226"), resp


def expect_error(exc_type, prefix, fn, *args):
    try:
        fn(*args)
    except exc_type as e:
        assert str(e).startswith(prefix), (prefix, str(e))
        return str(e)
    raise AssertionError("%r did not fail with %s" % (fn, prefix))


def check_reuse(ftp, n):
    """Every data connection used TLS of the asked version and resumed."""
    assert len(ftp.data_tls) == n, ftp.data_tls
    want = expected_version()
    for version, reused in ftp.data_tls:
        assert reused, ftp.data_tls
        if want:
            assert version == want, ftp.data_tls


def read_line_raw(sock):
    """One reply line from a plain socket, byte by byte (no read-ahead, so
    no TLS bytes are swallowed)."""
    line = b""
    while not line.endswith(b"\n"):
        b = sock.recv(1)
        if not b:
            raise EOFError("connection closed after %r" % line)
        line += b
    return line.decode()


def read_reply_raw(sock):
    first = read_line_raw(sock)
    lines = [first]
    if first[3:4] == "-":
        while not lines[-1].startswith(first[:3] + " "):
            lines.append(read_line_raw(sock))
    return "".join(lines)


def read_reply_file(f):
    first = f.readline().decode()
    if not first:
        raise EOFError("connection closed")
    lines = [first]
    if first[3:4] == "-":
        while not lines[-1].startswith(first[:3] + " "):
            lines.append(f.readline().decode())
    return "".join(lines)


def raw_auth(sock, payload=b"AUTH TLS\r\n"):
    greeting = read_reply_raw(sock)
    assert greeting.startswith("220"), greeting
    sock.sendall(payload)
    r = read_reply_raw(sock)
    assert r.startswith("234 AUTH TLS successful."), r


# ------------------------------------------------------------------ cases


def case_transfers():
    """Upload, download, upload again (TLS resumption on every data
    connection, the sequence other Rust servers broke under TLS 1.3),
    listings, ASCII, APPE, REST."""
    ftp = connect()
    a1, b1, a2 = os.urandom(3000000), os.urandom(123457), os.urandom(777777)
    stor(ftp, "STOR a.bin", a1)
    assert read("a.bin") == a1
    assert retr(ftp, "RETR a.bin") == a1
    stor(ftp, "STOR b.bin", b1)
    assert read("b.bin") == b1
    assert retr(ftp, "RETR b.bin") == b1
    stor(ftp, "STOR a.bin", a2)
    assert read("a.bin") == a2
    assert retr(ftp, "RETR a.bin") == a2
    stor(ftp, "STOR a.bin", a1)
    assert read("a.bin") == a1
    # Empty file both ways.
    stor(ftp, "STOR empty", b"")
    assert read("empty") == b""
    assert retr(ftp, "RETR empty") == b""
    # APPE and REST.
    stor(ftp, "APPE b.bin", b"tail")
    assert read("b.bin") == b1 + b"tail"
    buf = bytearray()
    assert ftp.retrbinary("RETR b.bin", buf.extend, rest=100000).startswith("226")
    assert bytes(buf) == (b1 + b"tail")[100000:]
    # ASCII both ways.
    ftp.storlines("STOR t.txt", io.BytesIO(b"one\r\ntwo\r\n"))
    assert read("t.txt") == b"one\ntwo\n", read("t.txt")
    lines = []
    ftp.retrlines("RETR t.txt", lines.append)
    assert lines == ["one", "two"], lines
    # Listings.
    os.mkdir(disk("sub"))
    names = sorted(n for n, f in ftp.mlsd() if f.get("type") not in ("cdir", "pdir"))
    assert names == ["a.bin", "b.bin", "empty", "sub", "t.txt"], names
    facts = dict(ftp.mlsd())
    assert facts["a.bin"]["size"] == str(len(a1)), facts["a.bin"]
    assert ftp.nlst() == ["a.bin", "b.bin", "empty", "sub", "t.txt"], ftp.nlst()
    listing = []
    ftp.dir(listing.append)
    assert len(listing) == 5 and listing[0].endswith(" a.bin"), listing
    # One more upload after the listings, then download.
    stor(ftp, "STOR sub/c.bin", b1)
    assert retr(ftp, "RETR sub/c.bin") == b1
    check_reuse(ftp, 19)
    assert ftp.voidcmd("NOOP").startswith("200")
    ftp.quit()
    # A second control connection: its own session, resumed as well.
    ftp = connect()
    stor(ftp, "STOR d.bin", a2)
    assert retr(ftp, "RETR d.bin") == a2
    stor(ftp, "STOR d.bin", b1)
    assert read("d.bin") == b1
    check_reuse(ftp, 3)
    ftp.quit()


def case_data_lost_before_handshake():
    """A protected data connection dropped before its TLS handshake, with
    no transfer asked for: the server answers nothing for it, so every
    later reply stays with its own command."""
    ftp = connect()
    host, port = ftplib.parse227(ftp.sendcmd("PASV"))
    socket.create_connection((host, port), timeout=TIMEOUT).close()
    # Until the server has seen the connection come and go, STAT says it is
    # waiting or open; an unsolicited 522 would be read here as STAT's reply.
    state = ""
    for _ in range(200):
        state = ftp.sendcmd("STAT")
        assert state.startswith("211"), state
        if "Data connection closed." in state:
            break
        time.sleep(0.01)
    assert "Data connection closed." in state, state
    assert ftp.voidcmd("NOOP").startswith("200")
    # The next transfer works on a new data connection.
    put("x.bin", b"x" * 1000)
    assert retr(ftp, "RETR x.bin") == b"x" * 1000
    check_reuse(ftp, 1)
    ftp.quit()


def case_upload_closed_without_reading():
    """An uploading client that closes its TLS data socket without reading
    anything (as curl and lftp do): the server sent nothing it leaves
    unread, so its close is a FIN, not a reset, and every byte arrives."""
    ftp = connect()
    ftp.voidcmd("TYPE I")
    data = os.urandom(4 << 20)
    for n in range(3):
        conn = ftp.transfercmd("STOR up%d.bin" % n)
        conn.sendall(data)
        # No unwrap(): a bare close, with whatever the server sent unread.
        conn.close()
        resp = ftp.voidresp()
        assert resp.startswith("226"), resp
        got = read("up%d.bin" % n)
        assert got == data, (n, len(got), len(data), resp)
    ftp.quit()


def case_abort():
    """ABOR during a TLS download: 426 then 226; STAT during it; the
    session goes on."""
    size = 32 * 1024 * 1024
    block = hashlib.sha256(b"seed").digest() * (1024 * 1024 // 32)
    with open(disk("big"), "wb") as f:
        for _ in range(size // len(block)):
            f.write(block)
    put("small.txt", b"still alive\n")
    ftp = connect()
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("RETR big")
    got = b""
    while len(got) < 1024 * 1024:
        chunk = conn.recv(65536)
        assert chunk, "data channel closed early"
        got += chunk
    assert got == (block * 2)[: len(got)], "wrong bytes before ABOR"
    stat = ftp.sendcmd("STAT")
    assert stat.startswith("211"), stat
    first = ftp.abort()
    assert first.startswith("426"), first
    second = ftp.getresp()
    assert second.startswith("226"), second
    conn.close()
    print("abort replies:", first, "|", second)
    assert ftp.voidcmd("NOOP").startswith("200")
    assert retr(ftp, "RETR small.txt") == b"still alive\n"
    # The whole file downloads in the same session afterwards.
    h = hashlib.sha256()
    n = [0]

    def cb(b):
        h.update(b)
        n[0] += len(b)

    assert ftp.retrbinary("RETR big", cb).startswith("226")
    assert n[0] == size, n[0]
    ref = hashlib.sha256()
    for _ in range(size // len(block)):
        ref.update(block)
    assert h.digest() == ref.digest()
    # ABOR during an upload keeps what arrived.
    conn = ftp.transfercmd("STOR up.bin")
    conn.sendall(b"u" * 500000)
    # ABOR once the server has received some of it (a transfer not yet
    # started gets a 225, and nothing would be kept).
    wait_for("the server receiving the upload", lambda: size_on_disk("up.bin") > 0)
    first = ftp.abort()
    assert first.startswith("426"), first
    second = ftp.getresp()
    assert second.startswith("226"), second
    conn.close()
    assert 0 < os.path.getsize(disk("up.bin")) <= 500000, os.path.getsize(disk("up.bin"))
    # ABOR with nothing in progress.
    assert ftp.abort().startswith("225")
    stor(ftp, "STOR after.bin", b"x" * 100000)
    assert read("after.bin") == b"x" * 100000
    check_reuse(ftp, 5)
    ftp.quit()


def final_reply_after_failure(ftp, fn):
    """Run a transfer expected to be refused; return the control reply
    that says why (whether the data socket failed first or not)."""
    try:
        fn()
    except ftplib.error_perm as e:
        return str(e)
    except (ssl.SSLError, OSError, EOFError) as e:
        print("data side failed first:", repr(e))
        try:
            ftp.getresp()
        except ftplib.error_perm as e2:
            return str(e2)
        raise AssertionError("no refusal reply after %r" % e)
    raise AssertionError("transfer without session resumption was not refused")


def case_plain_refused():
    """Plain FTP_TLS does not resume the session on data connections: each
    transfer is refused with a clear 522, the session stays usable."""
    put("s.txt", b"secret\n")
    ftp = connect(cls=ftplib.FTP_TLS)
    got = final_reply_after_failure(ftp, lambda: ftp.retrbinary("RETR s.txt", print))
    assert got == REFUSED_522, got
    assert ftp.voidcmd("NOOP").startswith("200")
    got = final_reply_after_failure(ftp, ftp.nlst)
    assert got == REFUSED_522, got
    assert ftp.voidcmd("NOOP").startswith("200")
    got = final_reply_after_failure(
        ftp, lambda: ftp.storbinary("STOR up.bin", io.BytesIO(b"u" * 200000))
    )
    assert got == REFUSED_522, got
    # No uploaded byte was written.
    assert not os.path.exists(disk("up.bin")) or os.path.getsize(disk("up.bin")) == 0
    assert ftp.pwd() == "/"
    ftp.quit()


def case_cross_session():
    """A data connection that resumes ANOTHER control connection's session
    (port stealing with a ticket of one's own) is refused with 522."""
    put("s.txt", b"secret\n")
    ctx = context()
    a = connect(ctx=ctx)
    b = connect(ctx=ctx)
    assert retr(a, "RETR s.txt") == b"secret\n"
    assert retr(b, "RETR s.txt") == b"secret\n"
    b.session_from = a
    got = final_reply_after_failure(b, lambda: b.retrbinary("RETR s.txt", print))
    assert got == REFUSED_522, got
    assert not b.data_tls[-1][1], b.data_tls  # the client saw a full handshake
    b.session_from = b
    assert retr(b, "RETR s.txt") == b"secret\n"
    assert b.data_tls[-1][1], b.data_tls
    a.quit()
    b.quit()


def case_plain_ok():
    """With require_tls_session_reuse = false plain FTP_TLS works."""
    data = os.urandom(1500000)
    ftp = connect(cls=ftplib.FTP_TLS)
    stor(ftp, "STOR up.bin", data)
    assert read("up.bin") == data
    assert retr(ftp, "RETR up.bin") == data
    stor(ftp, "STOR up2.bin", data[:1000])
    assert read("up2.bin") == data[:1000]
    assert ftp.nlst() == ["up.bin", "up2.bin"], ftp.nlst()
    assert sorted(n for n, _ in ftp.mlsd() if n not in (".", "..")) == ["up.bin", "up2.bin"]
    ftp.quit()


def case_pipelined_auth():
    """AUTH TLS and a command in one segment: the command is discarded,
    never run after the handshake."""
    for injected, probe, want in (
        (b"NOOP\r\n", b"SYST\r\n", "215"),
        (b"USER user\r\nPASS 12345\r\n", b"PWD\r\n", "530"),
        (b"QUIT\r\n", b"NOOP\r\n", "200"),
    ):
        sock = socket.create_connection((HOST, PORT), timeout=TIMEOUT)
        raw_auth(sock, b"AUTH TLS\r\n" + injected)
        tls = context().wrap_socket(sock)
        f = tls.makefile("rb")
        tls.sendall(b"NOOP\r\n")
        r = read_reply_file(f)
        assert r.startswith("200"), (injected, r)
        # The next reply answers the probe, not the injected command.
        tls.sendall(probe)
        r = read_reply_file(f)
        assert r.startswith(want), (injected, probe, r)
        tls.sendall(b"QUIT\r\n")
        r = read_reply_file(f)
        assert r.startswith("221"), r
        tls.close()


def alpn_check(implicit):
    for offer, ok in (
        (["http/1.1"], False),
        (["ftp"], True),
        (None, True),
        (["http/1.1", "ftp"], True),
        (["h2", "http/1.1"], False),
    ):
        sock = socket.create_connection((HOST, PORT), timeout=TIMEOUT)
        if not implicit:
            raw_auth(sock)
        ctx = context(alpn=offer)
        try:
            tls = ctx.wrap_socket(sock)
        except ssl.SSLError as e:
            assert not ok, (offer, e)
            print("ALPN %r refused: %s" % (offer, e))
            sock.close()
            continue
        assert ok, "ALPN %r was accepted (%r)" % (offer, tls.selected_alpn_protocol())
        want = "ftp" if offer else None
        assert tls.selected_alpn_protocol() == want, (offer, tls.selected_alpn_protocol())
        f = tls.makefile("rb")
        if implicit:
            r = read_reply_file(f)
            assert r.startswith("220"), r
        tls.sendall(b"NOOP\r\n")
        r = read_reply_file(f)
        assert r.startswith("200"), r
        tls.close()


def case_alpn():
    alpn_check(False)


def case_alpn_implicit():
    alpn_check(True)


def case_control_required():
    """tls_control_required: USER/PASS before AUTH are refused."""
    ftp = ftplib.FTP(timeout=TIMEOUT)
    ftp.connect(HOST, PORT)
    msg = expect_error(ftplib.error_perm, "550", ftp.sendcmd, "USER user")
    assert msg == "550 SSL/TLS required on the control channel.", msg
    msg = expect_error(ftplib.error_perm, "550", ftp.sendcmd, "PASS 12345")
    assert msg == "550 SSL/TLS required on the control channel.", msg
    expect_error(ftplib.error_perm, "530", ftp.sendcmd, "PWD")
    # PBSZ and PROT need AUTH first.
    expect_error(ftplib.error_perm, "503", ftp.sendcmd, "PBSZ 0")
    expect_error(ftplib.error_perm, "503", ftp.sendcmd, "PROT P")
    ftp.close()
    # After AUTH TLS the same login works.
    ftp = connect()
    assert ftp.pwd() == "/"
    put("x.txt", b"x")
    assert ftp.nlst() == ["x.txt"], ftp.nlst()
    check_reuse(ftp, 1)
    ftp.quit()


def case_data_required():
    """tls_data_required: data commands before PROT P and PROT C refused."""
    ftp = connect(prot_p=False)
    for cmd in ("PASV", "EPSV", "PORT 127,0,0,1,4,1", "EPRT |1|127.0.0.1|1025|"):
        msg = expect_error(ftplib.error_perm, "550", ftp.sendcmd, cmd)
        assert msg == "550 SSL/TLS required on the data channel.", (cmd, msg)
    assert ftp.sendcmd("PBSZ 0") == "200 PBSZ=0 successful."
    msg = expect_error(ftplib.error_perm, "534", ftp.sendcmd, "PROT C")
    assert msg == "534 PROT C not allowed: SSL/TLS required on the data channel.", msg
    expect_error(ftplib.error_perm, "550", ftp.sendcmd, "PASV")
    assert ftp.sendcmd("PROT P") == "200 Protection set to Private"
    ftp._prot_p = True
    assert ftp.sendcmd("PASV").startswith("227")
    put("x.txt", b"xyz")
    assert retr(ftp, "RETR x.txt") == b"xyz"
    check_reuse(ftp, 1)
    ftp.quit()


def case_replies():
    """AUTH/PBSZ/PROT replies; REIN and a new USER reset PBSZ/PROT."""
    ftp = ftplib.FTP(timeout=TIMEOUT)
    ftp.connect(HOST, PORT)
    feat = ftp.sendcmd("FEAT")
    for line in (" AUTH TLS", " AUTH SSL", " PBSZ", " PROT"):
        assert line in feat.splitlines(), feat
    expect_error(ftplib.error_perm, "503", ftp.sendcmd, "PBSZ 0")
    expect_error(ftplib.error_perm, "502", ftp.sendcmd, "AUTH XYZ")
    ftp.close()
    ftp = connect(prot_p=False)
    expect_error(ftplib.error_perm, "503", ftp.sendcmd, "AUTH TLS")
    msg = expect_error(ftplib.error_perm, "503", ftp.sendcmd, "PROT P")
    assert msg == "503 You must issue the PBSZ command prior to PROT.", msg
    assert ftp.sendcmd("PBSZ 0") == "200 PBSZ=0 successful."
    expect_error(ftplib.error_perm, "521", ftp.sendcmd, "PROT S")
    expect_error(ftplib.error_perm, "521", ftp.sendcmd, "PROT E")
    expect_error(ftplib.error_perm, "502", ftp.sendcmd, "PROT X")
    assert ftp.sendcmd("PROT C") == "200 Protection set to Clear"
    assert ftp.sendcmd("PROT P") == "200 Protection set to Private"
    ftp._prot_p = True
    put("x.txt", b"xyz")
    assert retr(ftp, "RETR x.txt") == b"xyz"
    # REIN: the control channel stays TLS, PBSZ/PROT are reset.
    r = ftp.sendcmd("REIN")
    assert r.startswith("2"), r
    assert ftp.sendcmd("USER user").startswith("331")
    assert ftp.sendcmd("PASS 12345").startswith("230")
    msg = expect_error(ftplib.error_perm, "503", ftp.sendcmd, "PROT P")
    assert msg == "503 You must issue the PBSZ command prior to PROT.", msg
    assert ftp.sendcmd("PBSZ 0").startswith("200")
    assert ftp.sendcmd("PROT P").startswith("200")
    assert retr(ftp, "RETR x.txt") == b"xyz"
    # A new USER flushes the account the same way.
    assert ftp.sendcmd("USER user").startswith("331")
    assert ftp.sendcmd("PASS 12345").startswith("230")
    msg = expect_error(ftplib.error_perm, "503", ftp.sendcmd, "PROT P")
    assert msg == "503 You must issue the PBSZ command prior to PROT.", msg
    assert ftp.sendcmd("PBSZ 0").startswith("200")
    assert ftp.sendcmd("PROT P").startswith("200")
    assert retr(ftp, "RETR x.txt") == b"xyz"
    check_reuse(ftp, 3)
    ftp.quit()


def case_implicit():
    """Implicit FTPS with the resuming subclass: TLS from the first byte."""
    ctx = context()
    raw = socket.create_connection((HOST, PORT), timeout=TIMEOUT)
    tls = ctx.wrap_socket(raw)
    ftp = ReuseFTP_TLS(context=ctx, timeout=TIMEOUT)
    ftp.host, ftp.port = HOST, PORT
    ftp.sock = tls
    ftp.af = tls.family
    ftp.file = tls.makefile("r", encoding=ftp.encoding)
    ftp.welcome = ftp.getresp()
    assert ftp.welcome.startswith("220"), ftp.welcome
    ftp.login(USER, PASSWD)  # already TLS: no AUTH sent
    ftp.prot_p()
    data = os.urandom(400000)
    stor(ftp, "STOR i.bin", data)
    assert retr(ftp, "RETR i.bin") == data
    stor(ftp, "STOR i.bin", data[:5])
    assert read("i.bin") == data[:5]
    check_reuse(ftp, 3)
    ftp.quit()


def main():
    fn = globals().get("case_" + CASE)
    if fn is None:
        sys.exit("unknown case %r" % CASE)
    t = time.time()
    fn()
    print("PASS %s %.2fs" % (CASE, time.time() - t))


if __name__ == "__main__":
    main()
