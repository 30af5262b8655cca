"""Two ftplib clients at once against an inetd-mode ftpdlib (one process
per connection): one on PASV, one on EPSV.

Usage: inetd_ftplib.py HOST PORT HOME

Prints BOTH-OPEN once both are logged in and waits for a line on stdin (the
test counts the server processes meanwhile), then lists, stores and
retrieves on both, QUITs both and prints PASS last.
"""
import ftplib
import io
import os
import socket
import sys

host, port, home = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def client(epsv):
    ftp = ftplib.FTP()
    ftp.connect(host, port, timeout=20)
    assert ftp.getwelcome().startswith("220"), ftp.getwelcome()
    ftp.login("anonymous", "ftplib@")
    ftp.set_pasv(True)
    if epsv:
        # ftplib sends EPSV instead of PASV when the family is not IPv4;
        # it then connects to the control connection's peer address.
        ftp.af = socket.AF_INET6
    return ftp


pasv, epsv = client(False), client(True)
print("BOTH-OPEN", flush=True)
sys.stdin.readline()

for name, ftp in (("pasv", pasv), ("epsv", epsv)):
    payload = (name * 10000).encode()
    ftp.storbinary("STOR %s.bin" % name, io.BytesIO(payload))
    with open(os.path.join(home, name + ".bin"), "rb") as f:
        assert f.read() == payload, name
    got = io.BytesIO()
    ftp.retrbinary("RETR %s.bin" % name, got.write)
    assert got.getvalue() == payload, name
    lines = []
    ftp.retrlines("LIST", lines.append)
    assert any(l.endswith(" %s.bin" % name) for l in lines), lines
    assert ftp.nlst() == sorted(ftp.nlst()) and "hello.txt" in ftp.nlst()

for ftp in (pasv, epsv):
    assert ftp.quit().startswith("221")
print("PASS two clients", flush=True)
