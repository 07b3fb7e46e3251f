"""Every server is watched, however it got its socket and whenever it started: pods
whose servers ran before redscope (and redscope restarted under them), workers that
were handed the listening socket and never listened (uvicorn --workers, systemd socket
activation), a server that executes itself again keeping its listening socket, and an
inetd-style server handed the connection itself. Counts are exact against what the
clients got; nothing is left out of a series, lost or counted as unwatched."""
import collections
import concurrent.futures
import sys

import pytest

from conftest import (APPS, GUNICORN, Redscope, Wrk, curl_requests, exact, free_port, unframed,
                      wait_for)
from rawhttp import Conn, request
from test_tls import make_cert
from test_kubernetes import MIX, containers  # noqa: F401  (the fixture)
from test_kubernetes import exact as exact_labelled

pytestmark = pytest.mark.capture

# a keep-alive connection's requests, as the FastAPI check sent them
UV_PATHS = ["/ok", "/items/7", "/ok", "/missing", "/stream", "/boom", "/ok", "/items/12",
            "/ok", "/missing", "/stream", "/ok", "/items/3", "/ok", "/stream"]
ROUTES = {"/items/7": "/items/{id}", "/items/12": "/items/{id}", "/items/3": "/items/{id}"}


def clean(m):
    """Nothing unframed, nothing a parse error, nothing unwatched."""
    assert unframed(m) == {}
    assert {s.labels["reason"]: s.value for s in m.find("redscope_parse_errors_total")
            if s.value} == {}
    assert m.value("redscope_requests_unwatched_total") == 0


def routed(sent):
    """The client's Counter of (path, status) by route, as redscope labels them."""
    out = collections.Counter()
    for (path, status), n in sent.items():
        out[(ROUTES.get(path, path), status)] += n
    return out


def keepalive_clients(url, conns, paths):
    """conns curl processes at once, each sending paths on one keep-alive connection."""
    with concurrent.futures.ThreadPoolExecutor(conns) as pool:
        return sum(pool.map(lambda _: curl_requests(url, paths), range(conns)),
                   collections.Counter())


def served_by(log):
    """(path, status) -> requests of a handed.py log ("METHOD PATH STATUS" lines)."""
    out = collections.Counter()
    for line in log.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "GET":
            out[(parts[1], int(parts[2]))] += 1
    return out


def uvicorn(server, tmp_path, workers, tls=False):
    """uvicorn serving asgi_app with this many workers, over TLS if asked; its base URL."""
    port = free_port()
    cmd = ["uvicorn", "asgi_app:app", "--port", str(port), "--workers", str(workers),
           "--no-access-log"]
    if tls:
        cert, key = make_cert(tmp_path)
        cmd += ["--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]
    server("uvicorn", cmd, port, cwd=str(APPS), env={"OTEL_SERVICE_NAME": "asgi"})
    return "%s://127.0.0.1:%d" % ("https" if tls else "http", port)


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("workers", [2, 4])
def test_uvicorn_workers_handed_the_listening_socket_are_counted(workers, tls, server, redscope,
                                                                 tmp_path):
    # uvicorn --workers spawns each worker (fork, then exec of a new python) and hands it
    # the socket its master bound: the workers listen on it, the first one alone changes
    # its state, and none of them descends from a process that listened. Over TLS, asyncio
    # drives OpenSSL through memory BIOs: SSL_read names no socket.
    rs = redscope()
    url = uvicorn(server, tmp_path, workers, tls)
    sent = keepalive_clients(url, 2 * workers + 1, UV_PATHS)
    assert sent[("/boom", 500)] == 2 * workers + 1
    m = exact(rs, "asgi", routed(sent))
    clean(m)
    scheme = "https" if tls else "http"
    assert sum(m.request_counts("asgi", url_scheme=scheme).values()) == sum(sent.values())
    assert m.value("redscope_tls_unattributed_calls_total") == 0
    assert m.value("redscope_tls_unsupported_processes_total") == 0


@pytest.mark.kernel_matrix
def test_workers_spawned_with_a_socket_their_master_never_listened_on(server, redscope):
    # uvicorn's shape in the standard library alone (the kernel matrix's guests run it):
    # the master binds, each worker is a new program that listens on the socket it was
    # handed; only the first listen changes the socket's state
    rs = redscope()
    port = free_port()
    srv = server("spawned", [sys.executable, str(APPS / "handed.py"), "spawn", "2", str(port)],
                 port, env={"OTEL_SERVICE_NAME": "spawned"})
    sent = keepalive_clients(srv.url, 6, MIX * 3)
    m = exact(rs, "spawned", sent)
    clean(m)
    assert sent == served_by(srv.log_path)
    assert m.value("http_server_workers", service_name="spawned") == 2


def test_uvicorn_running_before_redscope_is_counted(server, redscope, tmp_path):
    url = uvicorn(server, tmp_path, 2)
    keepalive_clients(url, 4, UV_PATHS)  # every worker has served before redscope starts
    rs = redscope()
    sent = keepalive_clients(url, 5, UV_PATHS)
    clean(exact(rs, "asgi", routed(sent)))


def test_systemd_socket_activation_hands_a_server_its_listening_socket(server, redscope,
                                                                       tmp_path):
    rs = redscope()
    port = free_port()
    srv = server("activated", ["systemd-socket-activate", "-l", "127.0.0.1:%d" % port,
                               "--setenv=OTEL_SERVICE_NAME=activated", sys.executable,
                               str(APPS / "handed.py"), "listen-fds"], port)
    sent = curl_requests(srv.url, MIX * 10) + curl_requests(srv.url, MIX * 5)
    m = exact(rs, "activated", sent)
    clean(m)
    assert sent == served_by(srv.log_path)


def test_gunicorn_started_by_socket_activation(server, redscope, tmp_path):
    # gunicorn takes the socket from LISTEN_FDS and forks its workers; started before
    # redscope, then one more started after it
    port_before, port_after = free_port(), free_port()

    def activated(port):
        return server("gunicorn-activated", [
            "systemd-socket-activate", "-l", "127.0.0.1:%d" % port,
            "--setenv=OTEL_SERVICE_NAME=activated-%d" % port, "--setenv=REDAPP_WORK_MS=1", GUNICORN, "--chdir", str(APPS),
            "--workers", "2", "redapp:app"], port)

    before = activated(port_before)
    curl_requests(before.url, ["/ok"])  # its first connection starts gunicorn
    rs = redscope()
    after = activated(port_after)
    for srv in (before, after):
        sent = curl_requests(srv.url, MIX * 10)
        sent += Wrk(srv.url, 2, 100, tmp_path, env={"WRK_PATHS": ",".join(MIX)}).wait()
        clean(exact(rs, "activated-%d" % srv.port, sent))


def test_a_server_that_executes_itself_again_keeps_being_counted(server, redscope):
    port = free_port()
    rs = redscope()
    srv = server("reexec", [sys.executable, str(APPS / "handed.py"), "reexec", "30", str(port)],
                 port, env={"OTEL_SERVICE_NAME": "reexec"})
    sent = collections.Counter()
    for generation in range(3):
        # one keep-alive connection of 30 requests, then the server executes itself
        sent += curl_requests(srv.url, MIX * 10)
        with Conn(port) as c:
            c.send(request("GET", "/generation"))
            status, _, body = c.response()
        sent[("/generation", status)] += 1
        assert int(body) == generation + 1
    clean(exact(rs, "reexec", sent))
    assert sent == served_by(srv.log_path)


def test_a_server_started_before_redscope_then_executing_itself_again(server, redscope):
    port = free_port()
    srv = server("reexec", [sys.executable, str(APPS / "handed.py"), "reexec", "30", str(port)],
                 port, env={"OTEL_SERVICE_NAME": "reexec"})
    curl_requests(srv.url, MIX * 10)  # generation 0 serves before redscope starts
    rs = redscope()
    sent = curl_requests(srv.url, ["/ok"] * 30) + curl_requests(srv.url, MIX * 10)
    clean(exact(rs, "reexec", sent))


def test_an_inetd_style_server_handed_the_connection_is_counted(server, redscope):
    rs = redscope()
    port = free_port()
    srv = server("inetd", ["systemd-socket-activate", "--inetd", "-a", "-l",
                           "127.0.0.1:%d" % port, "--setenv=OTEL_SERVICE_NAME=inetd",
                           sys.executable, str(APPS / "handed.py"), "inetd"], port)
    # a process per connection: five keep-alive connections, then five of one request
    sent = keepalive_clients(srv.url, 5, MIX * 4)
    for _ in range(5):
        sent += curl_requests(srv.url, ["/ok"])
    clean(exact(rs, "inetd", sent))


def test_pods_running_before_start_are_counted_across_restarts(containers, gunicorn, redscope,
                                                               tmp_path):
    # the DaemonSet's everyday case: redscope started, then restarted twice, under a pod
    # whose gunicorn has been serving since before the first start
    c = containers("systemd", "v2", "shop", "polls-7d4b9c-x2x9k", "web")
    app = gunicorn("redapp:app", "--workers", "2", "--worker-class", "gthread", "--threads", "4",
                   "--keep-alive", "300", env={"REDAPP_WORK_MS": "1"}, wrap=c.wrap())
    with Conn(app.port) as old:
        # a keep-alive connection from before the first start, used under every redscope
        old.send(request("GET", "/ok"))
        assert old.response()[0] == 200
        curl_requests(app.url, MIX * 3)
        for _ in range(3):
            rs = redscope("--kubernetes", "--kubernetes.runtime-dir=" + containers.runtime_dir)
            sent = curl_requests(app.url, MIX * 10)
            sent += Wrk(app.url, 2, 100, tmp_path, env={"WRK_PATHS": ",".join(MIX)}).wait()
            for path in MIX:
                old.send(request("GET", path))
                sent[(path, old.response()[0])] += 1
            m = exact_labelled(rs, "web", sent, c.labels())
            clean(m)
            assert m.value("http_server_workers", service_name="web", **c.labels()) == 2
            assert rs.stop() == 0
            # requests while redscope is down are not counted by the next one
            curl_requests(app.url, MIX)


def test_requests_of_servers_beyond_max_processes_are_counted_as_unwatched(server, tmp_path):
    # the table of watched processes is full: a server found afterwards cannot be
    # watched, and each request it reads is counted as such (the sockets and fentry
    # captures, the default on every kernel of the matrix; not parametrized by capture)
    holder = free_port()  # a listener that holds a place in the table from the start
    server("holder", [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(holder)],
           holder)
    probe = Redscope(tmp_path, [])
    try:
        seeded = int(probe.metrics().value("redscope_tracked_processes"))
    finally:
        assert probe.stop() == 0
    assert seeded >= 1
    rs = Redscope(tmp_path, ["--max-processes=%d" % seeded])
    try:
        url = uvicorn(server, tmp_path, 2)
        sent = keepalive_clients(url, 5, UV_PATHS)
        assert sum(sent.values()) == 75
        wait_for(lambda: rs.metrics().value("redscope_requests_unwatched_total") >= 75, 10,
                 what="the unwatched requests counted")
        m = rs.metrics()
        assert m.value("redscope_requests_unwatched_total") == 75
        assert m.request_counts("asgi") == {}
        assert m.value("redscope_tracked_processes") == seeded
    finally:
        assert rs.stop() == 0
