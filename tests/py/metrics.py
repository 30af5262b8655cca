"""Helpers of tests/metrics.rs and tests/workers.rs.

  metrics.py work HOST PORT
      known FTP work with ftplib: 3 good logins, 2 failed ones, one session
      that stores 1000 and 2345 bytes and retrieves the 1000 again.
  metrics.py scrape URL [--until-idle]
      GET URL, parse it with prometheus_client's text parser and print one
      line per sample: `name{label=value,...} value` (labels sorted).
      --until-idle: scrape again (for at most 10 s) until
      ftpdlib_sessions_open is 0, i.e. the server has seen every close.
  metrics.py check
      exit 0 when prometheus_client can be imported, 3 otherwise.
"""

import ftplib
import io
import sys
import time
import urllib.request

USER, PASSWD = "user", "12345"


def work(host, port):
    for _ in range(3):
        ftp = ftplib.FTP()
        ftp.connect(host, port, timeout=10)
        ftp.login(USER, PASSWD)
        ftp.quit()
    for _ in range(2):
        ftp = ftplib.FTP()
        ftp.connect(host, port, timeout=10)
        try:
            ftp.login(USER, "wrong")
            raise SystemExit("a wrong password logged in")
        except ftplib.error_perm as e:
            assert str(e).startswith("530"), e
        ftp.quit()
    ftp = ftplib.FTP()
    ftp.connect(host, port, timeout=10)
    ftp.login(USER, PASSWD)
    a = bytes(range(256)) * 3 + b"x" * 232  # 1000 bytes
    ftp.storbinary("STOR a.bin", io.BytesIO(a))
    ftp.storbinary("STOR b.bin", io.BytesIO(b"y" * 2345))
    got = bytearray()
    ftp.retrbinary("RETR a.bin", got.extend)
    assert bytes(got) == a, len(got)
    ftp.quit()


def scrape(url):
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200, r.status
        ctype = r.headers.get("Content-Type", "")
        assert ctype.startswith("text/plain; version=0.0.4"), ctype
        text = r.read().decode("utf-8")
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}"] = s.value
    return out


def main():
    cmd = sys.argv[1]
    if cmd == "check":
        try:
            import prometheus_client  # noqa: F401
        except ImportError:
            sys.exit(3)
        return
    if cmd == "work":
        work(sys.argv[2], int(sys.argv[3]))
        return
    if cmd == "scrape":
        url = sys.argv[2]
        deadline = time.monotonic() + 10
        while True:
            samples = scrape(url)
            open_now = sum(v for k, v in samples.items() if k.startswith("ftpdlib_sessions_open{"))
            if "--until-idle" not in sys.argv or open_now == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for key in sorted(samples):
            print(key, repr(samples[key]))
        return
    raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
