"""Hostile input on watched servers: garbage, half requests, 64 KiB header lines,
other protocols, TLS and HTTP/2 on the plain port, 100k distinct paths. redscope must
keep running with bounded memory, leave the applications' answers alone, count what
it cannot parse by reason, and make no series of it."""
import random
import re
import socket
import ssl
import threading
import time

import pytest

from conftest import Wrk, curl_requests, free_port, nginx_conf, wait_for_total

pytestmark = pytest.mark.capture

LEGIT = 50       # legitimate requests to each server, during the flood
PATHS = 100000   # distinct random paths
MAX_ROUTES = 50


def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def attack(port, kind, n):
    """n connections of one kind of hostile input to a server; returns how many were made."""
    rng = random.Random(kind)
    done = 0
    for _ in range(n):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                if kind == "garbage":
                    # not starting like a request line: a method starts with a letter
                    s.sendall(bytes([rng.randrange(0x80, 0x100)]) + rng.randbytes(4096))
                elif kind == "half":
                    # the rest never comes: the client goes away, the server waits no more
                    s.sendall(b"GET /ok HTTP/1.1\r\nHost: t\r\nX-Partial: ")
                    time.sleep(0.05)
                    done += 1
                    continue
                elif kind == "long-header":
                    s.sendall(b"GET /ok HTTP/1.1\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
                elif kind == "binary":  # a Redis command, then a MySQL-like packet
                    s.sendall(b"*1\r\n$4\r\nPING\r\n\x0a\x00\x00\x01\x85\xa6\xff\x01")
                elif kind == "tls":
                    # the server waits for the end of what it takes for a request line
                    s.settimeout(0.5)
                    ctx = ssl.create_default_context()
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                    try:
                        ctx.wrap_socket(s, server_hostname="t").close()
                    except (ssl.SSLError, OSError):
                        pass
                elif kind == "http2":
                    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
                # the server's first answer, if it gives one; then this client goes
                s.settimeout(0.5)
                try:
                    s.recv(65536)
                except OSError:
                    pass
            done += 1
        except OSError:
            done += 1  # refused or reset by the server: still sent
    return done


def test_hostile_input_neither_hurts_nor_pollutes(server, gunicorn, redscope, tmp_path):
    app = gunicorn("redapp:app", "--workers", "2", "--worker-class", "gthread", "--threads", "8",
                   "--timeout", "10", env={"REDAPP_WORK_MS": "1"})
    root = tmp_path / "www"
    root.mkdir()
    (root / "ok").write_text("ok\n")
    port = free_port()
    server("nginx", nginx_conf(tmp_path, port, "root %s;" % root), port)
    nginx_url = "http://127.0.0.1:%d" % port
    # only the two servers under attack: what other servers of the host do is not counted
    rs = redscope("--max-routes=%d" % MAX_ROUTES, "--comm=gunicorn", "--comm=nginx")
    # the real routes are there first: the cap keeps the routes a service had
    legit_app = curl_requests(app.url, ["/ok"])
    legit_nginx = curl_requests(nginx_url, ["/ok"])
    rss_before = rss_kib(rs.proc.pid)

    kinds = {"garbage": 200, "half": 50, "long-header": 20, "binary": 50, "tls": 30, "http2": 30}
    made = {}
    threads = []
    for target in (app.port, port):
        for kind, n in kinds.items():
            def run(target=target, kind=kind, n=n):
                made[(target, kind)] = attack(target, kind, n)
            threads.append(threading.Thread(target=run))
    paths = Wrk(nginx_url, 4, PATHS // 4, tmp_path, script="random_paths.lua")
    started = time.monotonic()
    for t in threads:
        t.start()
    # the applications keep answering their real clients, in the middle of it
    legit_app += curl_requests(app.url, ["/ok"] * (LEGIT - 1))
    legit_nginx += curl_requests(nginx_url, ["/ok"] * (LEGIT - 1))
    for t in threads:
        t.join()
    print("attacks took %.1f s" % (time.monotonic() - started))
    flooded = paths.wait(timeout=600)
    print("100k paths took %.1f s" % (time.monotonic() - started))
    assert legit_app == {("/ok", 200): LEGIT} and legit_nginx == {("/ok", 200): LEGIT}
    assert sum(flooded.values()) == PATHS and set(flooded) == {("/r/*", 404)}
    assert all(made[k] == kinds[k[1]] for k in made)

    wait_for_total(rs, "redapp", LEGIT)
    wait_for_total(rs, "nginx", LEGIT + PATHS, timeout=30)
    time.sleep(1)
    m = rs.metrics()
    # the real requests, exactly; nothing made of the junk. A 64 KiB header line is a
    # request both servers answer 400 (nginx before the line ends, past its 8 KiB
    # buffers; gunicorn once it read its limit): counted so, with its request line
    assert m.request_counts("redapp") == {("/ok", "GET", 200): LEGIT,
                                          ("/ok", "GET", 400): kinds["long-header"]}
    nginx = m.request_counts("nginx")
    assert nginx.pop(("/ok", "GET", 200)) == LEGIT
    assert nginx.pop(("/ok", "GET", 400)) == kinds["long-header"]
    assert sum(nginx.values()) == PATHS
    for (route, method, status), n in nginx.items():
        assert method == "GET" and status == 404
        assert re.fullmatch(r"/r/[a-z]{12}|\{overflow\}", route), route
    assert len(nginx) == MAX_ROUTES  # 49 random routes besides /ok, then {overflow}
    assert m.value("redscope_route_overflow_total", service_name="nginx") == PATHS - (MAX_ROUTES - 1)
    services = {s.labels["service_name"] for s in m.find("http_server_request_duration_seconds_count")}
    assert services == {"redapp", "nginx"}

    # what could not be parsed, by reason
    errors = {s.labels["reason"]: s.value for s in m.find("redscope_parse_errors_total")}
    print("parse errors:", {k: v for k, v in errors.items() if v})
    junk = 2 * (kinds["garbage"] + kinds["binary"])
    assert errors["not_http"] >= junk
    # a TLS handshake on a plain port is a TLS connection without plaintext, not garbage
    assert errors["tls_no_plaintext"] == 2 * kinds["tls"]
    # an HTTP/2 preface makes a connection HTTP/2's (followed by the frame walker); the
    # servers, which speak HTTP/1.x only, answer with no SETTINGS frame: not HTTP/2, and
    # no request of either protocol counted
    assert m.value("redscope_http2_connections_total") == 2 * kinds["http2"]
    assert errors["not_http2"] <= 2 * kinds["http2"]
    assert errors["http2_preface"] == 0
    assert errors["orphan_response"] == 0
    # what the servers answered to junk (400 Bad Request) is one unframed request each
    left_out = {s.labels["reason"]: s.value for s in m.find("redscope_requests_unframed_total")
                if s.value}
    print("unframed:", left_out)
    assert left_out == {"orphan_response": junk}
    assert m.value("redscope_lost_events_total") == 0

    # still up, memory bounded: the 100k paths did not each leave something behind
    rss_after = rss_kib(rs.proc.pid)
    print("redscope RSS %d KiB before, %d KiB after" % (rss_before, rss_after))
    assert rss_after - rss_before < 16 * 1024
    assert m.value("redscope_series") <= 2 * MAX_ROUTES
