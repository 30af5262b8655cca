"""ftplib through HAProxy for tests/haproxy.rs.

usage: haproxy_ftplib.py HOST PORT SOURCE_IP INSTANCE ACTION REMOTE LOCAL TLS
  INSTANCE  the banner word of the instance wanted ("a", "b" or "any"):
            connections are retried (HAProxy balances round robin) until the
            greeting names it
  ACTION    stor (upload LOCAL as REMOTE) or retr (download REMOTE to LOCAL)
  TLS       "plain" or "tls" (explicit FTPS, PROT P, data connections
            resume the control connection's TLS session)
Prints "instance X" of the instance that served the transfer.
"""
import ftplib
import ssl
import sys

host, port, src, want, action, remote, local, tls = sys.argv[1:9]
port = int(port)


class ReuseFTP_TLS(ftplib.FTP_TLS):
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(
                conn, server_hostname=self.host, session=self.sock.session
            )
        return conn, size


def connect():
    if tls == "tls":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ftp = ReuseFTP_TLS(context=ctx, timeout=60)
    else:
        ftp = ftplib.FTP(timeout=60)
    ftp.connect(host, port, source_address=(src, 0))
    return ftp


for attempt in range(20):
    ftp = connect()
    welcome = ftp.getwelcome()
    if want == "any" or ("instance " + want) in welcome:
        break
    ftp.close()
else:
    sys.exit("never reached instance " + want)

if tls == "tls":
    ftp.auth()
    ftp.login("user", "12345")
    ftp.prot_p()
else:
    ftp.login("user", "12345")
if action == "stor":
    with open(local, "rb") as f:
        ftp.storbinary("STOR " + remote, f)
else:
    with open(local, "wb") as f:
        ftp.retrbinary("RETR " + remote, f.write)
ftp.quit()
print(welcome.split(" ", 1)[1])
