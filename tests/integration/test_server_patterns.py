"""Exact counts on the servers people run, in the everyday patterns that strain a
framing parser: many iovecs in one writev (Node.js, nginx gzip), a chunked upload of
many small chunks, deep pipelines, a huge head, a head written in pieces by two
processes (CGI), a child that reads and writes the socket on fds 0 and 1 and exits
without closing it (busybox httpd), bodies moved by splice (haproxy), CONNECT tunnels
(tinyproxy), and connections accepted by one process and read by another (Node.js
cluster, Python's ForkingMixIn). Each is compared with the server's access log where
it has one, else with what the client got; nothing may be left out of a series."""
import collections
import os
import pathlib
import random
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import (APPS, access_log_counts, exact, free_port, nginx_conf, scaled, unframed,
                      wait_for, wait_for_total)
from rawhttp import Conn, chunked, request

pytestmark = pytest.mark.capture


def exchange(conn, reqs):
    """Send each (method, path, bytes) and read its response: Counter of (path, method, status)."""
    out = collections.Counter()
    for method, path, data in reqs:
        conn.send(data)
        out[(path, method, conn.response(method)[0])] += 1
    return out


def pipelined(conn, reqs):
    """Send every request at once, then read the responses in order."""
    conn.send(b"".join(data for _, _, data in reqs))
    return collections.Counter((path, method, conn.response(method)[0]) for method, path, _ in reqs)


def clean(m):
    assert unframed(m) == {}
    errors = {s.labels["reason"]: s.value for s in m.find("redscope_parse_errors_total") if s.value}
    assert errors == {}


@pytest.fixture
def node(server):
    def start(cluster=0):
        port = free_port()
        server("node", ["node", str(APPS / "patterns.js"), str(port)], port,
               env={"CLUSTER": str(cluster)})
        return port
    return start


def test_node_writes_of_one_tick_and_a_stream_to_a_slow_reader(node, redscope):
    port = node()
    rs = redscope()
    sent = collections.Counter()
    with Conn(port) as c:
        for _ in range(20):
            # res.write() eight times and res.end(): the head and nine chunks in one writev
            sent += exchange(c, [("GET", "/multi", request("GET", "/multi")),
                                 ("GET", "/ok", request("GET", "/ok"))])
    with Conn(port, pause=0.001, read_size=8192) as c:
        for _ in range(3):
            # 2 MiB written at once to a reader that takes it 8 KiB at a time
            c.send(request("GET", "/stream"))
            status, _, body = c.response()
            assert status == 200 and len(body) == 64 * 32768
            sent[("/stream", "GET", 200)] += 1
            sent += exchange(c, [("GET", "/ok", request("GET", "/ok"))])
    assert sent == {("/multi", "GET", 200): 20, ("/ok", "GET", 200): 23, ("/stream", "GET", 200): 3}
    m = exact(rs, "patterns", sent)
    sizes = {s.labels["http_route"]: s.value
             for s in m.find("http_server_response_body_size_bytes_sum", service_name="patterns")}
    assert sizes["/stream"] == 3 * 64 * 32768
    assert sizes["/multi"] == 20 * (8 * len("part 0\n") + len("last\n"))
    clean(m)


def test_node_pipelines_of_posts_and_gets_up_to_128_deep(node, redscope):
    port = node()
    rs = redscope()
    sent = collections.Counter()
    with Conn(port) as c:
        # 9 small POSTs then a GET, in one send
        reqs = [("POST", "/p", request("POST", "/p", b"x" * (i + 1))) for i in range(9)]
        sent += pipelined(c, reqs + [("GET", "/ok", request("GET", "/ok"))])
        for depth in (16, 50, 128):
            sent += pipelined(c, [("GET", "/ok", request("GET", "/ok"))] * depth)
        sent += exchange(c, [("GET", "/ok", request("GET", "/ok"))])
    assert sent == {("/p", "POST", 201): 9, ("/ok", "GET", 200): 1 + 16 + 50 + 128 + 1}
    clean(exact(rs, "patterns", sent))


def test_node_huge_cookie_then_ordinary_requests(node, redscope):
    port = node()
    rs = redscope()
    cookie = "Cookie: session=" + "c" * 9216
    sent = collections.Counter()
    for _ in range(3):
        with Conn(port) as c:
            sent += exchange(c, [("GET", "/ok", request("GET", "/ok")),
                                 ("GET", "/ok", request("GET", "/ok", headers=[cookie]))] +
                             [("GET", "/ok", request("GET", "/ok"))] * 3)
    assert sent == {("/ok", "GET", 200): 15}
    clean(exact(rs, "patterns", sent))


def test_nginx_gzip_chunked_responses(server, redscope, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "text.txt").write_text("".join("line %d of a text file nginx gzips\n" % i
                                           for i in range(4000)))
    (root / "small.txt").write_text("small\n")
    port = free_port()
    server("nginx", nginx_conf(tmp_path, port, "root %s; gzip on; gzip_types text/plain; "
                               "gzip_min_length 1; gzip_buffers 16 1k;" % root), port)
    rs = redscope()
    gz = ["Accept-Encoding: gzip"]
    for _ in range(4):
        with Conn(port) as c:
            for path in ["/text.txt", "/small.txt", "/text.txt", "/nothing", "/text.txt"]:
                status, headers, _ = exchange_one(c, "GET", path, gz)
                if path == "/text.txt":
                    assert headers.get("content-encoding") == "gzip"
                    assert headers.get("transfer-encoding") == "chunked"
    log = tmp_path / ("nginx-%d-access.log" % port)
    wait_for(lambda: sum(access_log_counts(log).values()) == 20, 10, what="nginx's log")
    logged = access_log_counts(log)
    assert logged == {("/text.txt", 200): 12, ("/small.txt", 200): 4, ("/nothing", 404): 4}
    clean(exact(rs, "nginx", logged))


def exchange_one(conn, method, path, headers=()):
    conn.send(request(method, path, headers=headers))
    return conn.response(method)


def test_gunicorn_gthread_chunked_upload_of_many_small_chunks(gunicorn, redscope):
    app = gunicorn("redapp:app", "--workers", "1", "--worker-class", "gthread", "--threads", "2",
                   "--keep-alive", "30", env={"REDAPP_WORK_MS": "0"})
    rs = redscope("--comm=gunicorn")
    for _ in range(3):
        with Conn(app.port) as c:
            # 40 chunks of 5 bytes in one send: the worker reads them at once
            c.send(chunked("POST", "/echo", [b"hello"] * 40))
            status, _, body = c.response("POST")
            assert (status, body) == (200, b"200\n")
            # then more requests on the connection
            exchange(c, [("GET", "/ok", request("GET", "/ok"))] * 3)
    wait_for(lambda: len(app.access_entries()) == 12, 10, what="gunicorn's access log")
    logged = collections.Counter((p, m, s) for m, p, s, _, _ in app.access_entries())
    assert logged == {("/echo", "POST", 200): 3, ("/ok", "GET", 200): 9}
    m = exact(rs, "redapp", logged)
    assert m.value("http_server_request_body_size_bytes_sum", service_name="redapp",
                   http_route="/echo", http_request_method="POST",
                   http_response_status_code="200") == 3 * 200
    clean(m)


CGI_SCRIPT = """#!/usr/bin/python3
import os, sys
sys.stdout.write("Content-Type: text/plain\\r\\n")
sys.stdout.write("X-Script: hello\\r\\n\\r\\n")
sys.stdout.flush()
sys.stdout.write("hello from %s\\n" % os.environ.get("QUERY_STRING", ""))
"""


@pytest.fixture
def public_dir():
    """A directory every user may read: http.server runs CGI scripts as nobody."""
    with tempfile.TemporaryDirectory(prefix="redscope-cgi-") as d:
        os.chmod(d, 0o755)
        yield pathlib.Path(d)


def test_python_cgi_whose_head_is_written_by_two_processes(server, redscope, public_dir):
    root = public_dir
    (root / "cgi-bin").mkdir(parents=True)
    script = root / "cgi-bin" / "hello.py"
    script.write_text(CGI_SCRIPT)
    script.chmod(0o755)
    port = free_port()
    srv = server("http.server", ["python3", "-u", "-W", "ignore", "-m", "http.server", "--cgi",
                                 "--bind", "127.0.0.1", str(port)], port, cwd=root)
    rs = redscope()
    for i in range(12):
        out = subprocess.run(["curl", "-s", "http://127.0.0.1:%d/cgi-bin/hello.py?n=%d" % (port, i)],
                             capture_output=True, text=True, check=True).stdout
        assert out == "hello from n=%d\n" % i
    for _ in range(3):
        subprocess.run(["curl", "-s", "-o", "/dev/null", "http://127.0.0.1:%d/nope" % port], check=True)
    wait_for(lambda: sum(access_log_counts(srv.log_path).values()) == 15, 10, what="the server's log")
    logged = access_log_counts(srv.log_path)
    assert logged == {("/cgi-bin/hello.py", 200): 12, ("/nope", 404): 3}
    clean(exact(rs, "http.server", {("/cgi-bin/hello.py", 200): 12, ("/nope", 404): 3}))


def test_busybox_httpd_children_on_fds_0_and_1(server, redscope, tmp_path):
    root = tmp_path / "bb"
    root.mkdir()
    (root / "index.html").write_text("<p>busybox</p>\n")
    (root / "a.txt").write_text("a" * 5000)
    port = free_port()
    server("busybox", ["busybox", "httpd", "-f", "-p", "127.0.0.1:%d" % port, "-h", str(root)], port)
    rs = redscope()
    sent = collections.Counter()
    for path in ["/", "/a.txt", "/missing"] * 8:
        with Conn(port) as c:
            c.send(request("GET", path, headers=["Connection: close"]))
            status, _, body = c.response()
            sent[(path, "GET", status)] += 1
    assert sent == {("/", "GET", 200): 8, ("/a.txt", "GET", 200): 8, ("/missing", "GET", 404): 8}
    m = exact(rs, "busybox", sent)
    assert m.value("redscope_requests_unanswered_total") == 0
    clean(m)


def haproxy_conf(tmp_path, port, backend):
    conf = tmp_path / "haproxy.cfg"
    conf.write_text("""
global
    log stdout format raw local0
defaults
    mode http
    log global
    option httplog
    option splice-response
    option splice-request
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    server s1 127.0.0.1:%d
""" % (port, backend))
    return ["haproxy", "-db", "-f", str(conf)]


def test_haproxy_splicing_bodies(server, redscope, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "big.bin").write_bytes(b"b" * (4 << 20))
    (root / "small.txt").write_text("small\n")
    backend = free_port()
    server("nginx", nginx_conf(tmp_path, backend, "root %s;" % root), backend)
    port = free_port()
    proxy = server("haproxy", haproxy_conf(tmp_path, port, backend), port)
    rs = redscope("--comm=haproxy")
    sent = collections.Counter()
    for _ in range(3):
        with Conn(port) as c:
            for path in ["/big.bin", "/small.txt", "/big.bin", "/nope", "/small.txt"]:
                status, _, body = exchange_one(c, "GET", path)
                assert status != 200 or len(body) in (4 << 20, 6)
                sent[(path, "GET", status)] += 1
            # a body going up, spliced too
            c.send(request("POST", "/small.txt", b"u" * (1 << 20)))
            sent[("/small.txt", "POST", c.response("POST")[0])] += 1
    assert sent == {("/big.bin", "GET", 200): 6, ("/small.txt", "GET", 200): 6,
                    ("/nope", "GET", 404): 3, ("/small.txt", "POST", 405): 3}
    wait_for(lambda: sum(haproxy_counts(proxy.log_path).values()) == 18, 10, what="haproxy's log")
    assert haproxy_counts(proxy.log_path) == sent
    clean(exact(rs, "haproxy", sent))


def haproxy_counts(log):
    """(path, method, status) -> requests of haproxy's HTTP log (option httplog)."""
    out = collections.Counter()
    for line in log.read_text().splitlines():
        m = re.search(r' (\d{3}) \d+ .*"([A-Z]+) (\S+) HTTP/1\.[01]"', line)
        if m:
            out[(m.group(3), m.group(2), int(m.group(1)))] += 1
    return out


def tinyproxy_conf(tmp_path, port, connect_ports):
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text("""
Port %d
Listen 127.0.0.1
Timeout 30
MaxClients 20
Allow 127.0.0.1
LogFile "%s"
LogLevel Info
%s
""" % (port, tmp_path / "tinyproxy.log", "\n".join("ConnectPort %d" % p for p in connect_ports)))
    return ["tinyproxy", "-d", "-c", str(conf)]


def connect(port, target):
    c = Conn(port)
    c.send(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
    return c, c.response("CONNECT")[0]


def test_tinyproxy_connect_tunnels_are_one_request_each(server, redscope, tmp_path):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(tmp_path / "k.pem"),
                    "-out", str(tmp_path / "c.pem")], check=True, capture_output=True)
    tls_port, plain_port, closed_port = free_port(), free_port(), free_port()
    server("openssl", ["openssl", "s_server", "-quiet", "-www", "-accept", "127.0.0.1:%d" % tls_port,
                       "-cert", str(tmp_path / "c.pem"), "-key", str(tmp_path / "k.pem")], tls_port)
    www = tmp_path / "www"
    www.mkdir()
    (www / "inner").write_text("inner\n")
    server("http.server", ["python3", "-m", "http.server", "--bind", "127.0.0.1", str(plain_port)],
           plain_port, cwd=www)
    port = free_port()
    server("tinyproxy", tinyproxy_conf(tmp_path, port, [tls_port, plain_port]), port)
    rs = redscope("--comm=tinyproxy")
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    for _ in range(3):
        # TLS through the tunnel: the proxy reads a ClientHello right after CONNECT
        c, status = connect(port, "127.0.0.1:%d" % tls_port)
        assert status == 200
        with ctx.wrap_socket(c.sock, server_hostname="127.0.0.1") as t:
            t.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert t.recv(100).startswith(b"HTTP/1.0 200")
        # a plain tunnel: an HTTP request inside is the far server's, not the proxy's
        c, status = connect(port, "127.0.0.1:%d" % plain_port)
        assert status == 200
        c.send(request("GET", "/inner"))
        assert c.response()[0] == 200
        c.close()
        # refused: a port the proxy does not tunnel to
        c, status = connect(port, "127.0.0.1:%d" % closed_port)
        assert status == 403
        c.close()
    m = exact(rs, "tinyproxy", {("", "CONNECT", 200): 6, ("", "CONNECT", 403): 3})
    assert m.value("redscope_connections_tunneled_total") == 6
    clean(m)


def split_first_read(port, method="GET", path="/ok"):
    """A request whose first two bytes come in a segment of their own."""
    with Conn(port) as c:
        data = request(method, path)
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.send(data[:2])
        time.sleep(0.05)
        c.send(data[2:])
        return c.response(method)[0]


@pytest.mark.parametrize("kind", ["node-cluster", "python-forking"])
def test_accepted_by_one_process_read_by_another(kind, node, server, redscope, tmp_path):
    if kind == "node-cluster":
        port, service = node(cluster=2), "patterns"
    else:
        port, service = free_port(), "forking"
        srv = server("forking", ["python3", "-u", str(APPS / "forking.py"), str(port)], port)
    rs = redscope()
    sent = collections.Counter()
    for _ in range(5):
        sent[("/ok", "GET", split_first_read(port))] += 1
        sent[("/d", "PROPFIND", split_first_read(port, "PROPFIND", "/d"))] += 1
        with Conn(port) as c:
            sent += exchange(c, [("GET", "/ok", request("GET", "/ok")),
                                 ("PROPFIND", "/d", request("PROPFIND", "/d", b"<propfind/>"))])
    assert sent == {("/ok", "GET", 200): 10, ("/d", "PROPFIND", 207): 10}
    m = exact(rs, service, {(p, "_OTHER" if meth == "PROPFIND" else meth, s): n
                            for (p, meth, s), n in sent.items()})
    clean(m)
    if kind == "python-forking":
        logged = collections.Counter(tuple(l.split()) for l in srv.log_path.read_text().splitlines()
                                     if l.split()[0] in ("GET", "PROPFIND"))
        assert logged == {("GET", "/ok", "200"): 10, ("PROPFIND", "/d", "207"): 10}


def test_gunicorn_counts_are_its_log_plus_truncated_responses(gunicorn, redscope):
    """Clients that leave at random moments: gunicorn logs nothing for a response whose
    body write failed, redscope counts it under its status and as truncated."""
    app = gunicorn("redapp:app", "--workers", "2", env={"REDAPP_WORK_MS": "0"})
    rs = redscope("--comm=gunicorn")
    rng = random.Random(16)
    for _ in range(60):
        c = Conn(app.port, timeout=10)
        c.send(request("GET", "/big"))
        # leave after reading a random part of the 10 MiB, or before anything came,
        # or read it all
        want = rng.choice([0, 1, 100, 5000, 200000, 3000000, 20000000, 20000000])
        got = 0
        while got < want:
            chunk = c.sock.recv(65536)
            if not chunk:
                break
            got += len(chunk)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()

    def settled():
        m = rs.metrics()
        counted = sum(m.request_counts("redapp").values())
        return counted + m.value("redscope_requests_unanswered_total") == 60 and m
    m = wait_for(settled, 20, interval=0.2, what="all 60 requests accounted for")
    counted = sum(m.request_counts("redapp").values())
    truncated = m.value("redscope_responses_truncated_total")
    logged = len(app.access_entries())
    print("counted %d = logged %d + truncated %d; unanswered %d"
          % (counted, logged, truncated, m.value("redscope_requests_unanswered_total")))
    assert truncated > 0 and logged > 0
    assert counted == logged + truncated


def test_what_a_server_reads_after_shutting_its_writing_is_no_request(server, redscope):
    """A server that closes as Apache and nginx do: it shuts down its writing after its
    answer, then reads and drops what its client still sends (a lingering close). A
    request or an HTTP/2 frame read then is never answered: no connection picked up
    mid-stream, no request or HTTP/2 connection counted; the answered requests exact."""
    rs = redscope("--comm=python3")
    port = free_port()
    srv = server("lingering", [sys.executable, str(APPS / "lingering.py"), str(port)], port)
    after = [b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n",
             bytes.fromhex("000004080000000000") + b"\x00\x00\x01\x00",  # WINDOW_UPDATE
             bytes.fromhex("000000040100000000")]  # SETTINGS with ACK
    n = scaled(4, 2)
    for i in range(n * len(after)):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            c.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            while True:  # the answer, then the server's end of writing
                chunk = c.recv(4096)
                if not chunk:
                    break
                got += chunk
            assert got.startswith(b"HTTP/1.1 200 OK"), got
            c.sendall(after[i % len(after)])
            time.sleep(0.05)  # read by the server's lingering close
    assert [l for l in srv.log_path.read_text().splitlines() if l.startswith("GET")] == \
        ["GET /ok 200"] * (n * len(after))
    m = wait_for_total(rs, "lingering", n * len(after))
    time.sleep(0.5)
    m = rs.metrics()
    assert m.request_counts("lingering") == {("/ok", "GET", 200): n * len(after)}
    # each connection followed once (the server's readiness check, a connection that
    # sends nothing, is one more under a capture that follows connections from accept)
    assert n * len(after) <= m.value("redscope_connections_total") <= n * len(after) + 1
    assert m.value("redscope_requests_unanswered_total") == 0
    assert m.value("redscope_http2_connections_total") == 0
    assert unframed(m) == {}
