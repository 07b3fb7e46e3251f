"""A statsd stand-in: read UDP datagrams on 127.0.0.1:PORT, count them, discard them.

Usage: udp_sink.py PORT COUNT_FILE. The count is written to COUNT_FILE (atomically)
once bound and on every SIGUSR1.
"""
import os
import signal
import socket
import sys

port, count_file = int(sys.argv[1]), sys.argv[2]
count = 0


def dump(*_):
    tmp = count_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(count))
    os.rename(tmp, count_file)


sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
sock.bind(("127.0.0.1", port))
signal.signal(signal.SIGUSR1, dump)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
dump()
recv = sock.recv
while True:
    recv(65536)
    count += 1
