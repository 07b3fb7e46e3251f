"""The servers people run, each counted exactly: gunicorn's gevent workers, uwsgi,
nginx (static files with sendfile, and as a reverse proxy), Python's http.server
(HTTP/1.0) and Node.js (keep-alive by default)."""
import collections
import subprocess

import pytest

from conftest import APPS, Wrk, curl_requests, exact, free_port, nginx_conf, wait_for, wrk_requests

pytestmark = pytest.mark.capture

MIX = ["/ok", "/missing", "/boom"]


def test_gunicorn_gevent_workers(gunicorn, redscope, tmp_path):
    app = gunicorn("redapp:app", "--workers", "2", "--worker-class", "gevent",
                   "--worker-connections", "100", env={"REDAPP_WORK_MS": "2"},
                   preload=False)  # gevent patches the standard library in each worker first
    rs = redscope()
    sent = wrk_requests(app.url, MIX, threads=4, quota=400, workdir=tmp_path)
    exact(rs, "redapp", sent)


def test_uwsgi_prefork(server, redscope, tmp_path):
    port = free_port()
    server("uwsgi", ["uwsgi", "--plugin", "python3", "--master", "--processes", "3",
                     "--http11-socket", "127.0.0.1:%d" % port,
                     "--wsgi-file", str(APPS / "redapp.py"), "--callable", "app",
                     "--disable-logging", "--need-app", "--die-on-term"], port,
           env={"REDAPP_WORK_MS": "2"})
    rs = redscope()
    sent = wrk_requests("http://127.0.0.1:%d" % port, MIX, threads=3, quota=400, workdir=tmp_path)
    m = exact(rs, "redapp", sent)
    assert m.value("http_server_workers", service_name="redapp") == 3


def test_nginx_static_files_with_sendfile(server, redscope, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "small.txt").write_text("small\n")
    (root / "big.bin").write_bytes(b"z" * (10 * 1024 * 1024))
    port = free_port()
    server("nginx", nginx_conf(tmp_path, port, "root %s;" % root), port)
    rs = redscope()
    url = "http://127.0.0.1:%d" % port
    sent = curl_requests(url, ["/small.txt"] * 20 + ["/big.bin"] * 3 + ["/nothing"] * 5)
    # keep-alive: wrk's connections stay up between requests
    sent += Wrk(url, 2, 500, tmp_path, env={"WRK_PATHS": "/small.txt"}).wait()
    assert sent == {("/small.txt", 200): 1020, ("/big.bin", 200): 3, ("/nothing", 404): 5}
    m = exact(rs, "nginx", sent)
    sizes = {s.labels["http_route"]: s.value
             for s in m.find("http_server_response_body_size_bytes_sum", service_name="nginx")}
    assert sizes["/big.bin"] == 3 * 10 * 1024 * 1024
    # a conditional request answered 304, without a body
    mtime = subprocess.run(["curl", "-sI", url + "/small.txt"], capture_output=True, text=True,
                           check=True).stdout
    last_modified = [l for l in mtime.splitlines() if l.lower().startswith("last-modified")][0]
    code = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                           "If-Modified-Since:" + last_modified.split(":", 1)[1], url + "/small.txt"],
                          capture_output=True, text=True, check=True).stdout
    assert code == "304"
    wait_for(lambda: rs.metrics().request_counts("nginx").get(("/small.txt", "GET", 304)) == 1, 5,
             what="the 304")
    assert rs.metrics().request_counts("nginx").get(("/small.txt", "HEAD", 200)) == 1


def test_nginx_reverse_proxy_in_front_of_gunicorn(server, gunicorn, redscope, tmp_path):
    app = gunicorn("redapp:app", "--workers", "2", env={"REDAPP_WORK_MS": "1"})
    port = free_port()
    server("nginx", nginx_conf(tmp_path, port, "location / { proxy_pass %s; }" % app.url), port)
    rs = redscope()
    sent = wrk_requests("http://127.0.0.1:%d" % port, MIX, threads=2, quota=300, workdir=tmp_path)
    # both hops, each as its own service, each exact
    exact(rs, "nginx", sent)
    exact(rs, "redapp", sent)


def test_nginx_to_gunicorn_over_a_unix_socket_with_close_delimited_responses(
        server, gunicorn, redscope, tmp_path):
    # HTTP/1.0 upstream over a unix socket: gunicorn streams a body of unknown length by
    # writing until it closes the connection, and a unix socket has no TCP state to tell
    sock = tmp_path / "gunicorn.sock"
    app = gunicorn("redapp:app", "--workers", "2", "--bind", "unix:%s" % sock,
                   env={"REDAPP_WORK_MS": "1"})
    port = free_port()
    server("nginx", nginx_conf(tmp_path, port, "location / { proxy_pass http://unix:%s:; "
                               "proxy_http_version 1.0; proxy_buffering off; }" % sock), port)
    rs = redscope()
    sent = curl_requests("http://127.0.0.1:%d" % port,
                         ["/stream?pieces=20"] * 10 + ["/ok"] * 10 + ["/missing"] * 5)
    assert sent == {("/stream?pieces=20", 200): 10, ("/ok", 200): 10, ("/missing", 404): 5}
    routes = {("/stream", 200): 10, ("/ok", 200): 10, ("/missing", 404): 5}
    exact(rs, "nginx", routes)
    m = exact(rs, "redapp", routes)
    logged = collections.Counter((path, status) for _, path, status, _, _ in app.access_entries())
    assert logged == routes
    # each streamed body whole, though its end was only the connection's close
    body = sum(len("piece %d\n" % i) for i in range(20))
    assert m.value("http_server_response_body_size_bytes_sum", service_name="redapp",
                   http_route="/stream", http_request_method="GET",
                   http_response_status_code="200", url_scheme="http") == 10 * body
    assert m.value("redscope_requests_unanswered_total") == 0


def test_python_http_server_speaks_http_1_0(server, redscope, tmp_path):
    root = tmp_path / "files"
    root.mkdir()
    (root / "a.txt").write_text("a\n")
    port = free_port()
    server("http.server", ["python3", "-m", "http.server", "--bind", "127.0.0.1", str(port)],
           port, cwd=root)
    rs = redscope()
    sent = curl_requests("http://127.0.0.1:%d" % port, ["/a.txt"] * 30 + ["/no.txt"] * 10 + ["/"] * 5)
    assert sent == {("/a.txt", 200): 30, ("/no.txt", 404): 10, ("/", 200): 5}
    exact(rs, "http.server", sent)


def test_node_http_keepalive_and_chunked(server, redscope, tmp_path):
    port = free_port()
    server("node", ["node", str(APPS / "server.js"), str(port)], port)
    rs = redscope()
    url = "http://127.0.0.1:%d" % port
    sent = wrk_requests(url, ["/ok", "/chunked", "/nope"], threads=2, quota=600, workdir=tmp_path)
    m = exact(rs, "server", sent)
    # chunked bodies are counted without their framing: 14 bytes of "one two three"
    sums = {s.labels["http_route"]: s.value
            for s in m.find("http_server_response_body_size_bytes_sum", service_name="server")}
    assert sums["/chunked"] == 14 * sent[("/chunked", 200)]
    # keep-alive carried the load: wrk opens its 2 connections plus one probe
    assert m.value("redscope_connections_total") <= 4
