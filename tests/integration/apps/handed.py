"""An HTTP/1.1 server that never listens itself: it is handed its socket, the ways
servers get one from outside. Logs each request as "METHOD PATH STATUS" on stderr.

Usage:
  handed.py listen-fds      the listening socket from systemd socket activation
                            (LISTEN_FDS=1, LISTEN_PID=own pid: fd 3)
  handed.py inetd           one accepted connection on fds 0 and 1 (inetd style)
  handed.py spawn N PORT    binds PORT and never listens: starts N workers as new
                            programs (fork, then exec) handed the socket, each of which
                            listens on it and serves (uvicorn --workers' shape)
  handed.py reexec N PORT   binds and listens on PORT, serves N requests, then executes
                            itself again keeping the listening socket (a binary
                            upgrade), and the new image serves on; "GET /generation"
                            answers how many times it has executed
"""
import http.server
import os
import signal
import socket
import socketserver
import subprocess
import sys

GENERATION = int(os.environ.get("HANDED_GENERATION", "0"))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, body=None):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = body or b"%d\n" % status
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/generation":
            self.answer(200, b"%d\n" % GENERATION)
        elif self.path == "/boom":
            self.answer(500)
        else:
            self.answer(200 if self.path == "/ok" else 404)

    def log_request(self, code="-", size="-"):
        sys.stderr.write("%s %s %s\n" % (self.command, self.path, code))
        sys.stderr.flush()
        self.server.served += 1


class Server(http.server.HTTPServer):
    """One connection at a time, all its requests: handle_request returns when it closes."""
    served = 0

    def __init__(self, sock):
        # the socket is given: no bind, no listen
        super().__init__(sock.getsockname(), Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock


def serve_inetd():
    conn = socket.socket(fileno=0)

    class One(socketserver.BaseServer):
        served = 0

    Handler(conn, conn.getpeername(), One(conn.getsockname(), Handler))


def serve_reexec(limit, port):
    fd = os.environ.get("HANDED_FD")
    if fd is None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(64)
    else:
        sock = socket.socket(fileno=int(fd))
    srv = Server(sock)
    while srv.served < limit:
        srv.handle_request()
    # a binary upgrade: the same program again, the listening socket kept open
    sock.set_inheritable(True)
    env = dict(os.environ, HANDED_FD=str(sock.fileno()), HANDED_GENERATION=str(GENERATION + 1))
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def serve_spawned(workers, port):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    procs = [subprocess.Popen([sys.executable, __file__, "worker", str(sock.fileno())],
                              pass_fds=[sock.fileno()]) for _ in range(workers)]

    def stop(*_):
        # the workers' exits end the waits below (a handler may not wait itself: the
        # wait it interrupted holds the lock)
        for p in procs:
            p.terminate()

    signal.signal(signal.SIGTERM, stop)
    for p in procs:
        p.wait()


def serve_worker(fd):
    sock = socket.socket(fileno=fd)
    sock.listen(64)  # the socket's state changes at the first worker's listen only
    Server(sock).serve_forever()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "listen-fds":
        assert os.environ.get("LISTEN_FDS") == "1" and int(os.environ["LISTEN_PID"]) == os.getpid()
        Server(socket.socket(fileno=3)).serve_forever()
    elif mode == "inetd":
        serve_inetd()
    elif mode == "spawn":
        serve_spawned(int(sys.argv[2]), int(sys.argv[3]))
    elif mode == "worker":
        serve_worker(int(sys.argv[2]))
    elif mode == "reexec":
        serve_reexec(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit("unknown mode %s" % mode)
