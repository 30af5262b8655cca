"""Client certificates, CCC and SNI against ftpdlib (driven by
tests/ftps_client_certs.rs, tests/ftps_ccc.rs and tests/virtual_hosts.rs).

usage: ftps_tlsx.py HOST PORT ROOT CERTDIR CASE

CERTDIR holds the PEM files the Rust test made with openssl: user.pem /
user.key (CN=user, signed by the client CA), other.pem / other.key
(CN=other, same CA), a.pem and b.pem (the site certificates), default.pem
(the server's own). Each case asserts and prints "PASS <case>" last.
"""

import ftplib
import hashlib
import os
import socket
import ssl
import sys

HOST, PORT, ROOT, CERTDIR, CASE = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
TIMEOUT = 60  # generous: a loaded 2-core CI box


def cert(name):
    return os.path.join(CERTDIR, name)


def context(client=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["ftp"])
    if client:
        ctx.load_cert_chain(cert(client + ".pem"), cert(client + ".key"))
    return ctx


class ReuseFTP_TLS(ftplib.FTP_TLS):
    """Data connections resume the control connection's TLS session, with
    `data_context` (default: the control connection's context)."""

    data_context = None
    reuse = True

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            ctx = self.data_context or self.context
            session = self.tls_session if self.reuse else None
            conn = ctx.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size

    def ccc(self):
        self._session = self.sock.session  # kept for the data connections
        return super().ccc()

    @property
    def tls_session(self):
        # After CCC the socket object stays an SSLSocket without TLS.
        return getattr(self.sock, "session", None) or self._session


def connect(client=None, reuse=True):
    ftp = ReuseFTP_TLS(context=context(client), timeout=TIMEOUT)
    ftp.reuse = reuse
    ftp.connect(HOST, PORT)
    ftp.auth()
    return ftp


def refused_transfer(ftp, name):
    """RETR whose data connection the server refuses: the error, with the
    command's final reply read."""
    try:
        retr(ftp, name)
    except ftplib.all_errors as e:
        if not isinstance(e, (ftplib.error_reply, ftplib.error_temp, ftplib.error_perm)):
            # The TLS error came first: the final reply is still due.
            try:
                ftp.getresp()
            except ftplib.all_errors as final:
                print("final reply:", final)
        print("refused as expected:", repr(e))
        return
    raise AssertionError("data connection accepted")


def sha(data):
    return hashlib.sha256(data).hexdigest()


def retr(ftp, name):
    chunks = []
    ftp.retrbinary("RETR " + name, chunks.append)
    return b"".join(chunks)


def expect_error(prefix, fn, *args):
    try:
        fn(*args)
    except ftplib.all_errors as e:
        assert str(e).startswith(prefix), (prefix, str(e))
        return str(e)
    raise AssertionError("expected an error " + prefix)


# --------------------------------------------------------------- certificates

def case_cert_login():
    """USER alone logs in with a certificate naming the user (232); the
    data connections (PROT P) carry the same certificate."""
    ftp = connect("user")
    resp = ftp.sendcmd("USER user")
    assert resp.startswith("232"), resp
    ftp.prot_p()
    assert ftp.pwd() == "/"
    data = retr(ftp, "hello.txt")
    assert data == b"hello by certificate\n", data
    ftp.quit()


def case_cert_mismatch_optional():
    """Optional mode: a certificate that names someone else leaves the
    password login (331 then 230)."""
    ftp = connect("other")
    resp = ftp.sendcmd("USER user")
    assert resp.startswith("331"), resp
    assert ftp.sendcmd("PASS 12345").startswith("230")
    ftp.quit()


def case_cert_mismatch_required():
    """Required mode: a certificate that names someone else is refused
    (530), and PASS has no USER to go with."""
    ftp = connect("other")
    expect_error("530", ftp.sendcmd, "USER user")
    expect_error("503", ftp.sendcmd, "PASS 12345")
    assert ftp.sendcmd("USER other").startswith("232")
    ftp.quit()


def case_data_other_cert_refused():
    """With session reuse off (fresh handshakes on data connections), a data
    connection with another client's certificate is refused; the control
    connection's own certificate works."""
    ftp = connect("user", reuse=False)
    assert ftp.sendcmd("USER user").startswith("232")
    ftp.prot_p()
    ftp.data_context = context("other")
    refused_transfer(ftp, "hello.txt")
    assert ftp.sendcmd("NOOP").startswith("200")
    ftp.data_context = context("user")
    assert retr(ftp, "hello.txt") == b"hello by certificate\n"
    ftp.quit()


def case_data_no_cert_refused():
    """A data connection without the control connection's certificate is
    refused (session reuse off)."""
    ftp = connect("user", reuse=False)
    assert ftp.sendcmd("USER user").startswith("232")
    ftp.prot_p()
    ftp.data_context = context()
    refused_transfer(ftp, "hello.txt")
    assert ftp.sendcmd("NOOP").startswith("200")
    ftp.close()


# ------------------------------------------------------------------------ CCC

def read_reply(f):
    line = f.readline()
    reply = line
    if line[3:4] == "-":
        while not (line[:3] == reply[:3] and line[3:4] == " "):
            line = f.readline()
            reply += line
    return reply


def case_ccc_transcript():
    """AUTH TLS, login, PBSZ/PROT P, CCC by hand: after the 200 both sides
    exchange close_notify (Python's unwrap() waits for the server's), then
    plain commands go over the same TCP connection and a download still
    runs over TLS."""
    raw = socket.create_connection((HOST, PORT), timeout=TIMEOUT)
    f = raw.makefile("r", encoding="utf-8", newline="\r\n")
    assert read_reply(f).startswith("220")
    raw.sendall(b"AUTH TLS\r\n")
    assert read_reply(f).startswith("234")
    ctx = context()
    tls = ctx.wrap_socket(raw, server_hostname=HOST)
    tf = tls.makefile("r", encoding="utf-8", newline="\r\n")

    def cmd(sock, fh, line, code):
        sock.sendall(line.encode() + b"\r\n")
        reply = read_reply(fh)
        assert reply.startswith(code), (line, reply)
        return reply

    cmd(tls, tf, "USER user", "331")
    cmd(tls, tf, "PASS 12345", "230")
    cmd(tls, tf, "PBSZ 0", "200")
    cmd(tls, tf, "PROT P", "200")
    session = tls.session
    # A NOOP pipelined behind CCC in the same TLS record is dropped (as
    # after AUTH): its reply would come back in clear text otherwise.
    tls.sendall(b"CCC\r\nNOOP\r\n")
    assert read_reply(tf).startswith("200")
    plain = tls.unwrap()  # close_notify both ways
    pf = plain.makefile("r", encoding="utf-8", newline="\r\n")
    reply = cmd(plain, pf, "PWD", "257")
    print("clear-text reply after CCC:", reply.strip())
    cmd(plain, pf, "TYPE I", "200")
    reply = cmd(plain, pf, "PASV", "227")
    nums = reply[reply.index("(") + 1:reply.index(")")].split(",")
    port = int(nums[4]) * 256 + int(nums[5])
    plain.sendall(b"RETR big.bin\r\n")
    data_sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
    data = ctx.wrap_socket(data_sock, server_hostname=HOST, session=session)
    assert read_reply(pf).startswith(("125", "150"))
    got = b""
    while True:
        chunk = data.recv(65536)
        if not chunk:
            break
        got += chunk
    data.close()
    assert read_reply(pf).startswith("226")
    want = open(os.path.join(ROOT, "big.bin"), "rb").read()
    assert sha(got) == sha(want), (len(got), len(want))
    # Still clear text: a second plain command and QUIT.
    cmd(plain, pf, "NOOP", "200")
    cmd(plain, pf, "QUIT", "221")
    plain.close()


def case_ccc_ftplib():
    """ftplib's own ccc(): listing and download afterwards, over TLS data
    connections that resume the session."""
    ftp = connect()
    ftp.login("user", "12345")
    ftp.prot_p()
    assert ftp.ccc().startswith("200")
    assert ftp.sock.version() is None  # no TLS on the control connection
    names = ftp.nlst()
    assert "big.bin" in names, names
    got = retr(ftp, "big.bin")
    want = open(os.path.join(ROOT, "big.bin"), "rb").read()
    assert sha(got) == sha(want)
    # Protection stays: PROT can no longer change on the clear channel.
    expect_error("503", ftp.sendcmd, "PROT C")
    ftp.quit()


def case_ccc_refused():
    """CCC before login (530), before PROT P (534), on a clear control
    connection (533); FEAT lists it."""
    ftp = ftplib.FTP(timeout=TIMEOUT)
    ftp.connect(HOST, PORT)
    feat = ftp.sendcmd("FEAT")
    assert " CCC" in feat, feat
    expect_error("533", ftp.sendcmd, "CCC")
    ftp.close()
    ftp = connect()
    expect_error("530", ftp.sendcmd, "CCC")
    ftp.login("user", "12345")
    expect_error("534", ftp.sendcmd, "CCC")
    ftp.prot_p()
    expect_error("501", ftp.sendcmd, "CCC now")
    assert ftp.ccc().startswith("200")
    expect_error("533", ftp.sendcmd, "CCC")
    ftp.quit()


# ------------------------------------------------------------------------ SNI

def pem_der(path):
    return ssl.PEM_cert_to_DER_cert(open(path).read())


def presented(server_name, host_first=None):
    """The DER certificate the server shows for `server_name` (None = no
    SNI), after an optional HOST before AUTH."""
    raw = socket.create_connection((HOST, PORT), timeout=TIMEOUT)
    f = raw.makefile("r", encoding="utf-8", newline="\r\n")
    assert read_reply(f).startswith("220")
    if host_first:
        raw.sendall(("HOST %s\r\n" % host_first).encode())
        assert read_reply(f).startswith("220")
    raw.sendall(b"AUTH TLS\r\n")
    assert read_reply(f).startswith("234")
    tls = context().wrap_socket(raw, server_hostname=server_name)
    der = tls.getpeercert(binary_form=True)
    tls.close()
    return der


def case_sni():
    """Each site's certificate by SNI; the default one without SNI; the
    HOST site's one when HOST came before AUTH without SNI."""
    a, b, default = pem_der(cert("a.pem")), pem_der(cert("b.pem")), pem_der(cert("default.pem"))
    assert len({a, b, default}) == 3
    assert presented("a.example") == a
    assert presented("B.Example") == b
    assert presented("unknown.example") == default
    assert presented(None) == default
    assert presented(None, host_first="b.example") == b
    for name, der in (("a.example", a), ("b.example", b)):
        print(name, hashlib.sha256(der).hexdigest())


def case_sni_selects_site():
    """SNI alone (no HOST) puts the session on that site; HOST naming
    another site than the SNI is refused (504); the same one is fine."""
    ftp = ReuseFTP_TLS(context=context(), timeout=TIMEOUT)
    ftp.connect(HOST, PORT)
    ftp.host = "a.example"  # the SNI of AUTH and of the data connections
    ftp.auth()
    expect_error("504", ftp.sendcmd, "HOST b.example")
    assert ftp.sendcmd("HOST a.example").startswith("220")
    ftp.login("alice", "apw")
    ftp.prot_p()
    assert "a-only.txt" in ftp.nlst()
    ftp.quit()
    # An SNI that names no site (a shared name) leaves HOST free.
    ftp = ReuseFTP_TLS(context=context(), timeout=TIMEOUT)
    ftp.connect(HOST, PORT)
    ftp.host = "shared.example"
    ftp.auth()
    assert ftp.sendcmd("HOST a.example").startswith("220")
    ftp.login("alice", "apw")
    ftp.quit()


CASES = {k[5:]: v for k, v in globals().items() if k.startswith("case_")}

if __name__ == "__main__":
    CASES[CASE]()
    print("PASS %s" % CASE)
