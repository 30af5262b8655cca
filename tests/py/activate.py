"""Socket activation the way systemd does it (Accept=no), in a few lines.

Usage: activate.py N NAMES PROGRAM [ARGS...]

Binds N listening sockets on 127.0.0.1 (port 0), prints their ports on one
line, puts them on fds 3..3+N-1 and execs PROGRAM with LISTEN_FDS=N,
LISTEN_PID=its own pid (exec keeps the pid) and LISTEN_FDNAMES=NAMES, as
sd_listen_fds(3) expects. PROGRAM never binds these ports itself.
"""
import os
import socket
import sys

count, names, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
socks = []
for _ in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks), flush=True)
# Out of the way first, so that moving one onto fd 3+i never clobbers another.
for i, s in enumerate(socks):
    os.dup2(s.fileno(), 200 + i)
for s in socks:
    s.close()
for i in range(count):
    os.dup2(200 + i, 3 + i, inheritable=True)
    os.close(200 + i)
env = dict(os.environ, LISTEN_FDS=str(count), LISTEN_PID=str(os.getpid()),
           LISTEN_FDNAMES=names)
os.execve(argv[0], argv, env)
