"""Outbound calls: the HTTP/1.x requests watched processes send, in http_client_*, named
by the server they call (its Host, else its address) with no API and no DNS. Counts
are checked against the callee's access log or the caller's own count; a call between
two watched services shows on both sides; calls that got no answer say why."""
import collections
import json
import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import CLIENT_CPUS, CPU_SLOWDOWN, curl_requests, free_port, pinned, scaled, wait_for

pytestmark = pytest.mark.capture

PYTHON = "/usr/bin/python3"
HANG_S = 0.3 * CPU_SLOWDOWN  # how long a caller waits for an answer that never comes
CLIENT_FAMILY = "http_client_request_duration_seconds_count"


def calls(m, service, **labels):
    """(server_address, server_port, method, status, error_type) -> calls of a service."""
    out = collections.Counter()
    for s in m.find(CLIENT_FAMILY, service_name=service, **labels):
        l = s.labels
        out[(l["server_address"], int(l["server_port"]), l["http_request_method"],
             int(l.get("http_response_status_code", "0")), l.get("error_type", ""))] += int(s.value)
    return dict(out)


def wait_calls(rs, service, total, timeout=15):
    def reached():
        m = rs.metrics()
        return m if sum(calls(m, service).values()) >= total else None
    wait_for(reached, timeout, what="%d calls of %s" % (total, service))
    time.sleep(0.5)  # nothing more comes
    return rs.metrics()


def test_a_service_calling_another_is_counted_on_both_sides(gunicorn, redscope, tmp_path):
    """A Flask app under gunicorn whose views call another gunicorn service through a
    requests session (keep-alive pool) and urllib: each call counted once in the caller's
    http_client_* with the callee's name (its Host: localhost), port and status, 4xx and
    5xx with their error_type; the callee counts the same requests as a server; the
    caller's own requests are unchanged; curl, the load, is not watched: no calls of it."""
    callee = gunicorn("redapp:app", "--workers", "2", env={"REDAPP_WORK_MS": "1"})
    caller = gunicorn("caller_app:app", "--workers", "2", "--worker-class", "gthread",
                      "--threads", "2", env={"CALLEE": "http://localhost:%d" % callee.port})
    rs = redscope("--comm=gunicorn")
    n = scaled(10, 3)
    sent = curl_requests(caller.url, ["/fan?to=/ok&n=3"] * n + ["/fan?to=/missing&n=1"] * 5 +
                         ["/fan?to=/boom&n=1"] * 4 + ["/urllib?to=/ok"] * 3 +
                         ["/urllib?to=/missing"] * 2 + ["/post?n=5000"] * 2)
    assert all(status == 200 for (_, status) in sent), sent
    total = 3 * n + 5 + 4 + 3 + 2 + 2
    m = wait_calls(rs, "caller_app", total)
    port = callee.port
    assert calls(m, "caller_app") == {
        ("localhost", port, "GET", 200, ""): 3 * n + 3,
        ("localhost", port, "GET", 404, "404"): 5 + 2,
        ("localhost", port, "GET", 500, "500"): 4,
        ("localhost", port, "POST", 200, ""): 2,
    }
    # what the callee's log says it served
    served = access_log_counts_gunicorn(callee)
    assert served == {("/ok", 200): 3 * n + 3, ("/missing", 404): 7, ("/boom", 500): 4,
                      ("/echo", 200): 2}
    # ... and what redscope counted it serving: the same requests, seen from the other side
    assert m.request_counts("redapp") == {("/ok", "GET", 200): 3 * n + 3,
                                          ("/missing", "GET", 404): 7,
                                          ("/boom", "GET", 500): 4, ("/echo", "POST", 200): 2}
    # the caller's own requests: as they were (none of its calls among them)
    assert m.request_counts("caller_app") == {("/fan", "GET", 200): n + 9,
                                              ("/urllib", "GET", 200): 5, ("/post", "GET", 200): 2}
    # the bodies of the calls: 5000 bytes up, the callee's answer down
    up = {s.labels["http_request_method"]: s.value
          for s in m.find("http_client_request_body_size_bytes_sum", service_name="caller_app")
          if s.labels.get("http_response_status_code") == "200"}
    assert up["POST"] == 2 * 5000 and up["GET"] == 0
    assert calls(m, "redapp") == {} and not m.find(CLIENT_FAMILY, service_name="curl")
    # the callee's sync workers close each connection after its answer: a connection per call
    assert m.value("redscope_client_connections_total") == total
    assert m.value("redscope_client_address_overflow_total", service_name="caller_app") == 0


def access_log_counts_gunicorn(app):
    return dict(collections.Counter((path, status) for (_, path, status, _, _) in app.access_entries()))


def test_client_metrics_off_leaves_the_server_side_as_it_was(gunicorn, redscope):
    """--client-metrics=off: no http_client_* series and no connection of a call followed;
    the requests served are counted as with it on."""
    callee = gunicorn("redapp:app", "--workers", "1", env={"REDAPP_WORK_MS": "1"})
    caller = gunicorn("caller_app:app", "--workers", "1",
                      env={"CALLEE": "http://127.0.0.1:%d" % callee.port})
    for setting in ("off", "on"):
        rs = redscope("--comm=gunicorn", "--client-metrics=" + setting)
        curl_requests(caller.url, ["/fan?to=/ok&n=2"] * 5)
        if setting == "on":
            m = wait_calls(rs, "caller_app", 10)
            assert calls(m, "caller_app") == {("127.0.0.1", callee.port, "GET", 200, ""): 10}
        else:
            wait_for(lambda: sum(rs.metrics().request_counts("redapp").values()) == 10, 10,
                     what="the callee's requests")
            time.sleep(0.5)
            m = rs.metrics()
            assert not m.find(CLIENT_FAMILY)
            assert m.value("redscope_client_connections_total") == 0
        assert m.request_counts("redapp") == {("/ok", "GET", 200): 10}
        assert m.request_counts("caller_app") == {("/fan", "GET", 200): 5}
        rs.stop()


class Misbehaving:
    """A server on a thread that, per connection, reads a request and then does what the
    path asks: /reset (a reset: SO_LINGER 0), /close (closes without answering), /hang
    (never answers until the test ends), anything else 200."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            path = data.split(b" ")[1] if data.count(b" ") >= 2 else b"/"
            if path == b"/reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                conn.close()
            elif path == b"/close":
                conn.close()
            elif path == b"/hang":
                self.held.append(conn)
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                conn.close()

    def stop(self):
        self.sock.close()
        for c in self.held:
            c.close()


CALLER = """
import json, sys, requests
base = sys.argv[1]
sys.stdin.readline()
got = {}
for path, n in (("/reset", %(n)d), ("/close", %(n)d), ("/hang", %(n)d), ("/fine", %(n)d)):
    for _ in range(n):
        try:
            timeout = %(hang)f if path == "/hang" else 30
            got.setdefault(path, []).append(requests.get(base + path, timeout=timeout).status_code)
        except requests.exceptions.ReadTimeout:
            got.setdefault(path, []).append("timeout")
        except requests.exceptions.ConnectionError as e:
            got.setdefault(path, []).append("connection")
print(json.dumps(got), flush=True)
"""


@pytest.mark.kernel_matrix
def test_calls_that_get_no_answer_say_why(redscope):
    """A callee that resets the connection, one that closes it without answering, one the
    caller gives up on (requests' timeout): each call in the caller's series once, with no
    status and the error_type that says which; answered calls beside them as ever."""
    srv = Misbehaving()
    n = scaled(4, 2)
    try:
        client = subprocess.Popen(pinned([PYTHON, "-c", CALLER % {"n": n, "hang": HANG_S},
                                          "http://127.0.0.1:%d" % srv.port], CLIENT_CPUS),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  env=dict(os.environ, OTEL_SERVICE_NAME="caller"))
        rs = redscope("--pid=%d" % client.pid)
        client.stdin.write("go\n")
        client.stdin.flush()
        got = json.loads(client.stdout.readline())
        client.wait(timeout=30)
    finally:
        srv.stop()
    assert got == {"/reset": ["connection"] * n, "/close": ["connection"] * n,
                   "/hang": ["timeout"] * n, "/fine": [200] * n}, got
    m = wait_calls(rs, "caller", 4 * n)
    assert calls(m, "caller") == {
        ("127.0.0.1", srv.port, "GET", 0, "connection_reset"): n,
        ("127.0.0.1", srv.port, "GET", 0, "connection_closed"): n,
        ("127.0.0.1", srv.port, "GET", 0, "timeout"): n,
        ("127.0.0.1", srv.port, "GET", 200, ""): n,
    }
    # the timed out calls took the caller's timeout, no more and not much less
    hangs = [s for s in m.find("http_client_request_duration_seconds_sum", service_name="caller")
             if s.labels.get("error_type") == "timeout"]
    assert HANG_S * n * 0.95 <= hangs[0].value <= (HANG_S + 1.2 * CPU_SLOWDOWN) * n


HOSTS = """
import socket, sys
port, spray = int(sys.argv[1]), int(sys.argv[2])
sys.stdin.readline()

def call(head):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(head)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1."), data

call(b"GET /a HTTP/1.1\\r\\nHost: Svc.Example.COM:8080\\r\\nConnection: close\\r\\n\\r\\n")
call(b"GET /b HTTP/1.1\\r\\nUser-Agent: t\\r\\nhost:   polls.default.svc.cluster.local  \\r\\nConnection: close\\r\\n\\r\\n")
call(b"GET /c HTTP/1.1\\r\\nHost: [::1]:%d\\r\\nConnection: close\\r\\n\\r\\n" % port)
call(b"GET /d HTTP/1.0\\r\\n\\r\\n")
call(b"GET /e HTTP/1.1\\r\\nHost: user:secret@evil\\r\\nConnection: close\\r\\n\\r\\n")
for i in range(spray):
    call(b"GET /s HTTP/1.1\\r\\nHost: h%d.example\\r\\nConnection: close\\r\\n\\r\\n" % i)
print("done", flush=True)
"""


def test_host_forms_and_the_cap_on_addresses(redscope, server, tmp_path):
    """Host values with a port, upper case, blanks, an IPv6 literal; none (HTTP/1.0) and
    userinfo name the server by its address instead. A caller spraying 1,000 distinct
    hosts: --max-server-addresses of them, the rest under {overflow}, counted."""
    port = free_port()
    server("http.server", [PYTHON, "-m", "http.server", "--bind", "127.0.0.1", str(port),
                                 "--directory", str(tmp_path)], port)
    spray, cap = scaled(1000, 200), 20
    client = subprocess.Popen(pinned([PYTHON, "-c", HOSTS, str(port), str(spray)], CLIENT_CPUS),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, OTEL_SERVICE_NAME="sprayer"))
    rs = redscope("--pid=%d" % client.pid, "--max-server-addresses=%d" % cap)
    client.stdin.write("go\n")
    client.stdin.flush()
    assert client.stdout.readline().strip() == "done"
    client.wait(timeout=60)
    m = wait_calls(rs, "sprayer", 5 + spray, timeout=30)
    by_address = collections.Counter()
    for (address, p, method, status, _), k in calls(m, "sprayer").items():
        assert p == port and method == "GET" and status == 404
        by_address[address] += k
    named = {"svc.example.com": 1, "polls.default.svc.cluster.local": 1, "::1": 1, "127.0.0.1": 2}
    assert {a: by_address[a] for a in named} == named
    # the named five took 4 of the cap (127.0.0.1 twice); the spray has the rest of it
    sprayed = {a: k for a, k in by_address.items() if a not in named}
    assert len(sprayed) == cap - 4 + 1 and sprayed.pop("{overflow}") == spray - (cap - 4)
    assert all(k == 1 and a.startswith("h") for a, k in sprayed.items())
    assert m.value("redscope_client_address_overflow_total", service_name="sprayer") == spray - (cap - 4)


def test_curl_in_a_loop_and_node_clients(redscope, gunicorn, tmp_path):
    """A watched shell running curl in a loop (each curl a child it forks): Content-Length
    and chunked answers, uploads that wait for 100 Continue; and Node.js fetch (undici,
    keep-alive) and http.request: every call counted, once, as the callee logged it."""
    callee = gunicorn("redapp:app", "--workers", "2", env={"REDAPP_WORK_MS": "1"})
    n = scaled(10, 4)
    upload = tmp_path / "upload.bin"
    upload.write_bytes(b"u" * 2000000)  # over 1 MB: curl asks for 100 Continue first
    base = "http://localhost:%d" % callee.port
    script = ("read go; for i in $(seq %d); do curl -s -o /dev/null %s/ok; "
              "curl -s -o /dev/null %s/missing; curl -s -o /dev/null '%s/stream?pieces=7'; done; "
              "for i in 1 2; do curl -s -o /dev/null -H 'Expect: 100-continue' --data-binary @%s %s/echo; done; "
              "echo done" % (n, base, base, base, upload, base))
    shell = subprocess.Popen(pinned(["sh", "-c", script], CLIENT_CPUS), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    node_code = """
const http = require("http");
const base = "http://127.0.0.1:%d";
process.stdin.once("data", async () => {
  let ok = 0;
  for (let i = 0; i < %d; i++) { const r = await fetch(base + "/ok"); await r.text(); ok += r.status === 200; }
  const agent = new http.Agent({ keepAlive: true });
  for (let i = 0; i < %d; i++) {
    await new Promise((resolve) => http.request(base + "/boom", { agent }, (r) => { r.resume(); r.on("end", resolve); }).end());
  }
  agent.destroy();
  console.log("done " + ok);
  process.exit(0);
});
""" % (callee.port, n, n)
    node = subprocess.Popen(pinned(["node", "-e", node_code], CLIENT_CPUS), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    rs = redscope("--pid=%d" % shell.pid, "--pid=%d" % node.pid)
    shell.stdin.write("go\n")
    shell.stdin.flush()
    node.stdin.write("go\n")
    node.stdin.flush()
    assert shell.stdout.readline().strip() == "done"
    assert node.stdout.readline().strip() == "done %d" % n
    shell.wait(timeout=30)
    node.wait(timeout=30)
    m = wait_calls(rs, "curl", 3 * n + 2)
    assert calls(m, "curl") == {("localhost", callee.port, "GET", 200, ""): 2 * n,
                                ("localhost", callee.port, "GET", 404, "404"): n,
                                ("localhost", callee.port, "POST", 200, ""): 2}
    up = m.value("http_client_request_body_size_bytes_sum", service_name="curl", http_request_method="POST")
    assert up == 2 * 2000000
    # (node's calls: below; what the callee served is all of both)
    served = access_log_counts_gunicorn(callee)
    assert served[("/echo", 200)] == 2 and served[("/stream", 200)] == n
    wait_for(lambda: sum(calls(rs.metrics(), "node").values()) >= 2 * n, 10, what="node's calls")
    time.sleep(0.5)
    assert calls(rs.metrics(), "node") == {("127.0.0.1", callee.port, "GET", 200, ""): n,
                                           ("127.0.0.1", callee.port, "GET", 500, "500"): n}


def test_https_calls_are_read_through_libssl(gunicorn, redscope, tmp_path):
    """Calls over TLS (requests' pool and urllib, libssl underneath): seen in plaintext
    through the libssl uprobes, url_scheme https, the callee's name and port; the callee,
    a TLS server, counts the same requests."""
    from test_tls import make_cert, hooked
    cert, key = make_cert(tmp_path)
    callee = gunicorn("redapp:app", "--workers", "2", "--certfile", str(cert), "--keyfile", str(key),
                      env={"REDAPP_WORK_MS": "1"})
    caller = gunicorn("caller_app:app", "--workers", "1", "--worker-class", "gthread",
                      "--threads", "2", env={"CALLEE": "https://localhost:%d" % callee.port})
    rs = redscope("--comm=gunicorn")
    hooked(rs)
    n = scaled(8, 3)
    sent = curl_requests(caller.url, ["/fan?to=/ok&n=2"] * n + ["/urllib?to=/missing"] * 3 +
                         ["/post?n=20000"] * 2)
    assert all(status == 200 for (_, status) in sent), sent
    m = wait_calls(rs, "caller_app", 2 * n + 3 + 2)
    port = callee.port
    assert calls(m, "caller_app", url_scheme="https") == {
        ("localhost", port, "GET", 200, ""): 2 * n,
        ("localhost", port, "GET", 404, "404"): 3,
        ("localhost", port, "POST", 200, ""): 2,
    }
    assert calls(m, "caller_app", url_scheme="http") == {}
    assert m.request_counts("redapp") == {("/ok", "GET", 200): 2 * n, ("/missing", "GET", 404): 3,
                                          ("/echo", "POST", 200): 2}


def test_report_lists_each_services_dependencies(gunicorn, tmp_path):
    """redscope report --format=json: a service's calls, by server called, beside the
    routes it served; the served figures without them."""
    from conftest import REDSCOPE
    callee = gunicorn("redapp:app", "--workers", "1", env={"REDAPP_WORK_MS": "1"})
    caller = gunicorn("caller_app:app", "--workers", "1",
                      env={"CALLEE": "http://localhost:%d" % callee.port})
    report = subprocess.Popen(pinned([str(REDSCOPE), "report", "--duration=120s", "--format=json",
                                      "--comm=gunicorn"], CLIENT_CPUS),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "watching" in report.stderr.readline()
    curl_requests(caller.url, ["/fan?to=/ok&n=3"] * 4 + ["/fan?to=/boom&n=1"] * 2)
    time.sleep(1.5)
    report.send_signal(2)  # SIGINT: prints what it saw
    out, err = report.communicate(timeout=30)
    assert report.returncode == 0, err
    services = {s["service_name"]: s for s in json.loads(out)["services"]}
    caller_svc = services["caller_app"]
    assert caller_svc["requests"] == 6 and caller_svc["errors"] == 0
    assert [(r["method"], r["route"], r["requests"]) for r in caller_svc["routes"]] == [("GET", "/fan", 6)]
    assert [(c["server_address"], c["requests"], c["errors"]) for c in caller_svc["calls"]] == \
        [("localhost", 14, 2)]
    assert services["redapp"]["calls"] == [] and services["redapp"]["requests"] == 14


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_a_django_view_calling_a_service(gunicorn, redscope, tmp_path, tls):
    """The demo's Django app (polls) under gunicorn, its view calling another service
    through a requests session, in plain HTTP and over TLS: each call once in polls'
    http_client_* as the callee's access log has it, with the scheme."""
    from conftest import ROOT
    from test_tls import make_cert, hooked
    cert_args = []
    if tls:
        cert, key = make_cert(tmp_path)
        cert_args = ["--certfile", str(cert), "--keyfile", str(key)]
    callee = gunicorn("redapp:app", "--workers", "2", *cert_args, env={"REDAPP_WORK_MS": "1"})
    scheme = "https" if tls else "http"
    polls = gunicorn("demo.wsgi:application", "--chdir", str(ROOT / "deploy" / "demo"),
                     "--workers", "2",
                     env={"DEMO_DEPENDENCY": "%s://localhost:%d" % (scheme, callee.port),
                          "OTEL_SERVICE_NAME": "polls"})
    rs = redscope("--comm=gunicorn")
    if tls:
        hooked(rs)
    n = scaled(10, 3)
    sent = curl_requests(polls.url, ["/polls/dependency/?to=/ok"] * n +
                         ["/polls/dependency/?to=/missing"] * 3 + ["/polls/dependency/?to=/boom"] * 2)
    assert all(status == 200 for (_, status) in sent), sent
    m = wait_calls(rs, "polls", n + 5)
    port = callee.port
    assert calls(m, "polls", url_scheme=scheme) == {
        ("localhost", port, "GET", 200, ""): n,
        ("localhost", port, "GET", 404, "404"): 3,
        ("localhost", port, "GET", 500, "500"): 2,
    }
    assert access_log_counts_gunicorn(callee) == {("/ok", 200): n, ("/missing", 404): 3,
                                                  ("/boom", 500): 2}
    assert m.request_counts("polls") == {("/polls/dependency/", "GET", 200): n + 5}


GRPC_CALLER = """
import sys, grpc
sys.stdin.readline()
add = grpc.insecure_channel("127.0.0.1:%d").unary_unary("/shop.Cart/Add")
for _ in range(%d):
    add(b"ok", timeout=30)
print("done", flush=True)
"""


def test_a_watched_grpc_client_is_no_http2_server(redscope, server):
    """A watched process calling a gRPC server (HTTP/2 calls are not followed yet): the
    server's frames it reads are no connection of a server picked up late, so it gets no
    server series, no HTTP/2 connection and no call."""
    from conftest import APPS
    port = free_port()
    server("grpc", [PYTHON, str(APPS / "grpc_app.py"), "serve", str(port)], port)
    n = scaled(10, 3)
    client = subprocess.Popen(pinned([PYTHON, "-c", GRPC_CALLER % (port, n)], CLIENT_CPUS),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, OTEL_SERVICE_NAME="grpc-caller"))
    rs = redscope("--pid=%d" % client.pid)
    client.stdin.write("go\n")
    client.stdin.flush()
    assert client.stdout.readline().strip() == "done"
    client.wait(timeout=30)
    time.sleep(1)
    m = rs.metrics()
    assert m.value("redscope_http2_connections_total") == 0
    assert m.value("redscope_client_connections_total") == 0
    assert not m.find("http_server_request_duration_seconds_count")
    assert not m.find("rpc_server_call_duration_seconds_count") and not m.find(CLIENT_FAMILY)
