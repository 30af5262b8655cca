#!/usr/bin/env python3
"""Replies pair with commands in the TLS failure paths of the data channel.

Usage: reply_pairing_tls.py HOST PORT ROOT CASE

Each CASE breaks a protected (PROT P) data connection one way, then checks
that the next commands get their own replies (NOOP its 200, PWD its 257).
It asserts and prints "PASS <case>" as its last line; any failure raises.
Driven by tests/reply_pairing_tls.rs.
"""

import ftplib
import os
import socket
import ssl
import sys

HOST, PORT, ROOT, CASE = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
USER, PASSWD = "user", "12345"
TIMEOUT = 20
BIG = 32 << 20


def in_step(ftp):
    r = ftp.sendcmd("NOOP")
    assert r == "200 I successfully did nothing.", r
    r = ftp.sendcmd("PWD")
    assert r == '257 "/" is the current directory.', r


class ReuseFTP_TLS(ftplib.FTP_TLS):
    """Data connections resume the control connection's TLS session, as
    the server requires by default (plain ftplib starts a fresh one)."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(
                conn, server_hostname=self.host, session=self.sock.session
            )
        return conn, size


def connect():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ftp = ReuseFTP_TLS(context=ctx, timeout=TIMEOUT)
    ftp.connect(HOST, PORT)
    ftp.login(USER, PASSWD)
    ftp.prot_p()
    ftp.voidcmd("TYPE I")
    return ftp


def pasv_addr(ftp):
    r = ftp.sendcmd("PASV")
    assert r.startswith("227 "), r
    nums = r[r.index("(") + 1 : r.index(")")].split(",")
    return ".".join(nums[:4]), int(nums[4]) * 256 + int(nums[5])


def raw_data(addr):
    s = socket.create_connection(addr, timeout=TIMEOUT)
    return s


def wait_closed(s):
    """Read until the server closes the raw data connection."""
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass
    s.close()


def reply(ftp):
    try:
        return ftp.getresp()
    except ftplib.Error as e:
        return str(e)


def case_drop_before_handshake_idle(ftp):
    # Nothing awaits the data connection: no reply at all.
    s = raw_data(pasv_addr(ftp))
    s.close()
    in_step(ftp)
    # The session sees the connection gone: STAT says so, with its own reply.
    deadline_ok = False
    for _ in range(2000):
        if "Data connection closed." in ftp.sendcmd("STAT"):
            deadline_ok = True
            break
    assert deadline_ok, "the dropped data connection is still reported open"
    in_step(ftp)


def case_drop_before_handshake_retr(ftp):
    with open(os.path.join(ROOT, "f"), "wb") as f:
        f.write(b"x" * 1000)
    addr = pasv_addr(ftp)
    r = ftp.sendcmd("RETR f")
    assert r.startswith("150 "), r
    s = raw_data(addr)
    s.close()
    r = reply(ftp)
    assert r[:1] in "45", r
    in_step(ftp)


def case_bad_handshake(ftp):
    s = raw_data(pasv_addr(ftp))
    s.sendall(b"this is not a TLS ClientHello\r\n" * 8)
    wait_closed(s)
    in_step(ftp)


def case_bad_handshake_retr(ftp):
    with open(os.path.join(ROOT, "f"), "wb") as f:
        f.write(b"x" * 1000)
    addr = pasv_addr(ftp)
    r = ftp.sendcmd("RETR f")
    assert r.startswith("150 "), r
    s = raw_data(addr)
    s.sendall(b"\x16\x03\x01\x00\x05garbage-after-a-record-header")
    wait_closed(s)
    r = reply(ftp)
    assert r[:1] in "45", r
    in_step(ftp)


def case_plain_data_after_prot_p(ftp):
    # A client that asked for PROT P but sends its upload in clear text.
    addr = pasv_addr(ftp)
    r = ftp.sendcmd("STOR up")
    assert r.startswith("150 "), r
    s = raw_data(addr)
    s.sendall(b"plain upload bytes\n" * 1000)
    wait_closed(s)
    r = reply(ftp)
    assert r[:1] in "45", r
    path = os.path.join(ROOT, "up")
    assert not os.path.exists(path) or os.path.getsize(path) == 0, "plain bytes stored"
    in_step(ftp)


def case_abor_mid_retr(ftp):
    with open(os.path.join(ROOT, "big"), "wb") as f:
        f.write(b"\x07" * BIG)
    conn = ftp.transfercmd("RETR big")
    assert len(conn.recv(4096)) > 0
    # FTP_TLS cannot send urgent data: a plain ABOR inside TLS, as lftp
    # does on a TLS connection.
    ftp.putcmd("ABOR")
    r = ftp.getline()
    assert r == "426 Transfer aborted via ABOR.", r
    r = ftp.getresp()
    assert r == "226 ABOR command successful.", r
    conn.close()
    in_step(ftp)


def case_client_reset_mid_retr(ftp):
    with open(os.path.join(ROOT, "big"), "wb") as f:
        f.write(b"\x07" * BIG)
    conn = ftp.transfercmd("RETR big")
    assert len(conn.recv(4096)) > 0
    # SO_LINGER 0: close with a reset, no close_notify, no FIN.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()
    r = reply(ftp)
    assert r.startswith("426 "), r
    in_step(ftp)


def case_urgent_byte_on_tls_control(ftp):
    # An ftp(1)-style Synch (DM as urgent data) injected beside the TLS
    # records of the control connection: the server keeps urgent data out
    # of band there (SO_OOBINLINE off), so the record stream stays intact.
    dup = socket.fromfd(ftp.sock.fileno(), socket.AF_INET, socket.SOCK_STREAM)
    dup.send(b"\xf2", socket.MSG_OOB)
    dup.close()
    in_step(ftp)
    # IAC IP IAC DM inside TLS, then ABOR (lftp's way over TLS).
    ftp.sock.sendall(b"\xff\xf4\xff\xf2ABOR\r\n")
    r = ftp.getresp()
    assert r == "225 No transfer to abort.", r
    in_step(ftp)


CASES = {
    name[len("case_") :]: fn for name, fn in globals().items() if name.startswith("case_")
}

ftp = connect()
CASES[CASE](ftp)
ftp.quit()
print("PASS %s ok" % CASE)
