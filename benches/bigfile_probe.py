"""How long a command that frees a big file holds the server (issue 15).

A 512 MiB file is written into HOME (the user's home, on this machine, so
it is in the page cache as after an upload), then removed through the
server with MODE: `dele` (DELE it), `rnto` (RNFR a 1-byte file, RNTO over
it) or `stor` (STOR over it, timed up to the 150). Meanwhile a second
logged-in client sends NOOP every 2 ms. Per rep: the command's round trip
and the probe's worst NOOP round trip from 50 ms before the command to
50 ms after its reply; medians at the end.

Usage: python3 benches/bigfile_probe.py PORT HOME REPS [MODE]
(user `u`, password `p`, on 127.0.0.1; see docs/benchmarks.md).
"""
import ftplib, os, statistics, sys, threading, time

port, home, reps = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
mode = sys.argv[4] if len(sys.argv) > 4 else 'dele'
SIZE = 512 << 20

def login():
    f = ftplib.FTP(timeout=30)
    f.connect('127.0.0.1', port)
    f.login('u', 'p')
    return f

probe, ctl = login(), login()
samples = []  # (send time, rtt)
stop = False

def run_probe():
    while not stop:
        t = time.perf_counter()
        probe.voidcmd('NOOP')
        samples.append((t, time.perf_counter() - t))
        time.sleep(0.002)

th = threading.Thread(target=run_probe)
th.start()
chunk = b'\x5a' * (8 << 20)
deles, worst = [], []
for i in range(reps):
    name = f'big-{i}.bin'
    with open(os.path.join(home, name), 'wb') as fh:
        for _ in range(SIZE // len(chunk)):
            fh.write(chunk)
    time.sleep(1.0)
    if mode == 'rnto':
        with open(os.path.join(home, 'src.bin'), 'wb') as fh:
            fh.write(b'x')
        ctl.sendcmd('RNFR src.bin')
    if mode == 'stor':
        ctl.voidcmd('TYPE I')
        conn = None
    t0 = time.perf_counter()
    if mode == 'dele':
        resp = ctl.sendcmd(f'DELE {name}')
    elif mode == 'rnto':
        resp = ctl.sendcmd(f'RNTO {name}')
    else:
        conn = ctl.transfercmd(f'STOR {name}')
        resp = '250'
    t1 = time.perf_counter()
    if mode == 'stor':
        conn.sendall(b'y')
        conn.close()
        ctl.voidresp()
        os.unlink(os.path.join(home, name))
    if mode == 'rnto':
        os.unlink(os.path.join(home, name))
    assert resp[0] in '12', resp
    time.sleep(0.1)
    w = [rtt for (t, rtt) in samples if t0 - 0.05 <= t <= t1 + 0.05]
    deles.append((t1 - t0) * 1e3)
    worst.append(max(w) * 1e3 if w else float('nan'))
stop = True
th.join()
ctl.quit(); probe.quit()
print(mode.upper(), 'ms:', ' '.join(f'{x:.1f}' for x in deles), '| median', f'{statistics.median(deles):.1f}')
print('probe worst NOOP ms during the command:', ' '.join(f'{x:.1f}' for x in worst), '| median', f'{statistics.median(worst):.1f}')
allr = sorted(r for _, r in samples)
print(f'probe overall n {len(allr)} p50 {allr[len(allr)//2]*1e3:.2f} p99 {allr[int(len(allr)*0.99)]*1e3:.2f} max {allr[-1]*1e3:.1f} ms')
