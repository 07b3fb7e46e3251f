"""HTTP/2 and gRPC servers, counted exactly: h2c with prior knowledge (nghttpd, nginx),
HTTP/2 over TLS (nginx, ALPN h2: the plaintext through the libssl uprobes), HTTP/1.1 and
HTTP/2 on one port counted apart, and gRPC calls (python3-grpcio) in the RPC family with
their gRPC status codes, not also as HTTP requests. Counts are checked against the load
generator's own (h2load), curl's, or the gRPC client's; a connection opened before
redscope started is counted from then on, its labels as the README says."""
import collections
import json
import pathlib
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import APPS, CLIENT_CPUS, free_port, pinned, scaled, wait_for

pytestmark = pytest.mark.capture

GRPC_APP = APPS / "grpc_app.py"
PYTHON = "/usr/bin/python3"  # python3-grpcio is Debian's


def h2load(url, n, clients=10, streams=10, extra=()):
    """h2load's own count of the requests that succeeded, by status class."""
    out = subprocess.run(pinned(["h2load", "-n", str(n), "-c", str(clients), "-m", str(streams)]
                                + list(extra) + [url], CLIENT_CPUS),
                         check=True, capture_output=True, text=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("requests:"))
    succeeded = int(line.split("succeeded")[0].split(",")[-1])
    codes = next(l for l in out.splitlines() if l.startswith("status codes:"))
    by_class = {c.split()[1]: int(c.split()[0]) for c in codes.split(":")[1].split(",")}
    return succeeded, by_class


def curl_h2(url, n, prior_knowledge=True):
    """n curl processes, a request and a connection each, over HTTP/2; the statuses."""
    args = ["curl", "-s", "-k", "--http2-prior-knowledge" if prior_knowledge else "--http2",
            "-o", "/dev/null", "-w", "%{http_code} %{http_version}", url]
    seen = collections.Counter()
    for _ in range(n):
        out = subprocess.run(pinned(args, CLIENT_CPUS), check=True, capture_output=True,
                             text=True).stdout
        code, version = out.split()
        assert version == "2", "curl spoke HTTP/%s" % version
        seen[int(code)] += 1
    return seen


def series(m, family, **labels):
    """labels -> value of the _count samples of a histogram family."""
    return {tuple(sorted(s.labels.items())): int(s.value)
            for s in m.find(family + "_count", **labels)}


def h2_counts(m, service):
    """(route, method, status) -> requests of HTTP/2 only."""
    return m.request_counts(service, network_protocol_version="2")


def rpc_counts(m, service):
    """(rpc_method, status code) -> calls."""
    out = collections.Counter()
    for s in m.find("rpc_server_call_duration_seconds_count", service_name=service):
        out[(s.labels["rpc_method"], s.labels["rpc_response_status_code"])] += int(s.value)
    return dict(out)


def no_h2_problems(m, allow=()):
    problems = {s.labels["kind"]: s.value for s in m.find("redscope_http2_problems_total") if s.value}
    assert {k: v for k, v in problems.items() if k not in allow} == {}, problems
    errors = {s.labels["reason"]: s.value for s in m.find("redscope_parse_errors_total") if s.value}
    assert errors == {}, errors
    assert m.value("redscope_lost_events_total") == 0


def wait_total(rs, count, total, timeout=15):
    def reached():
        m = rs.metrics()
        return m if count(m) >= total else None
    try:
        return wait_for(reached, timeout, interval=0.1, what="%d requests" % total)
    except AssertionError:
        raise AssertionError("counted %d of %d:\n%s" % (count(rs.metrics()), total,
                             "\n".join(l for l in rs.scrape_text().splitlines()
                                       if "_count{" in l or "http2" in l)))


@pytest.mark.kernel_matrix
def test_h2c_prior_knowledge_nghttpd(server, redscope, tmp_path):
    """nghttpd, h2c with prior knowledge: h2load (10 connections x 10 streams) and curl,
    exact; network_protocol_version="2"; statuses from the static and dynamic tables."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("hello\n")
    (www / "big.bin").write_bytes(b"b" * 300000)  # DATA frames split across writes
    rs = redscope("--comm=nghttpd")
    port = free_port()
    srv = server("nghttpd", ["nghttpd", "--no-tls", "-d", str(www), str(port)], port)
    n = scaled(2000, 200)
    ok, by_class = h2load(srv.url + "/index.html", n)
    assert ok == n and by_class["2xx"] == n
    # 100 concurrent streams on one connection
    wide, _ = h2load(srv.url + "/index.html", scaled(1000, 200), clients=1, streams=100)
    big, _ = h2load(srv.url + "/big.bin", scaled(50, 10), clients=2, streams=5)
    # a header block larger than a frame: HEADERS and CONTINUATION frames
    tall, _ = h2load(srv.url + "/index.html", 20, clients=1, streams=4,
                     extra=["-H", "x-big: " + "q" * 40000])
    missing = curl_h2(srv.url + "/missing", 7)
    assert missing == {404: 7} and tall == 20 and wide == scaled(1000, 200)
    expected = {("/index.html", "GET", 200): n + wide + tall, ("/big.bin", "GET", 200): big,
                ("/missing", "GET", 404): 7}
    m = wait_total(rs, lambda m: sum(h2_counts(m, "nghttpd").values()), sum(expected.values()))
    time.sleep(0.5)
    m = rs.metrics()
    assert h2_counts(m, "nghttpd") == expected
    assert m.request_counts("nghttpd") == expected  # nothing as HTTP/1.x
    # the body sizes: DATA payloads, however nghttpd split them
    sizes = {s.labels["http_route"]: s.value
             for s in m.find("http_server_response_body_size_bytes_sum", service_name="nghttpd")}
    assert sizes["/big.bin"] == 300000 * big
    assert sizes["/index.html"] == 6 * (n + wide + tall)
    assert m.value("redscope_http2_connections_total") >= 10 + 2 + 1
    no_h2_problems(m)

    # a server that pads its HEADERS and DATA frames: counted the same
    port = free_port()
    padded = server("nghttpd-pad", ["nghttpd", "--no-tls", "--padding=32", "-d", str(www), str(port)],
                    port)
    ok, _ = h2load(padded.url + "/index.html", scaled(500, 100), clients=2)
    expected[("/index.html", "GET", 200)] += ok
    m = wait_total(rs, lambda m: sum(h2_counts(m, "nghttpd").values()), sum(expected.values()))
    time.sleep(0.5)
    m = rs.metrics()
    assert h2_counts(m, "nghttpd") == expected
    no_h2_problems(m)


def test_node_http2_h2c(server, redscope, tmp_path):
    """Node.js http2 (h2c): small and 256 KiB answers written in many pieces, trailers,
    uploads with a body, 404s; h2load and curl; exact, body sizes included."""
    rs = redscope("--comm=node")  # its service: the script's name, h2_server
    port = free_port()
    srv = server("node", ["node", str(APPS / "h2_server.js"), str(port)], port)
    n = scaled(1000, 100)
    ok, by_class = h2load(srv.url + "/ok", n, clients=4)
    big, _ = h2load(srv.url + "/big", scaled(40, 8), clients=2, streams=4)
    trailers, _ = h2load(srv.url + "/trailers", scaled(100, 20), clients=2)
    upload = tmp_path / "body.bin"
    upload.write_bytes(b"u" * 50000)
    uploads, _ = h2load(srv.url + "/upload", scaled(20, 5), clients=1, streams=2,
                        extra=["-d", str(upload)])
    missing = curl_h2(srv.url + "/missing", 5)
    assert ok == n and missing == {404: 5}
    expected = {("/ok", "GET", 200): ok, ("/big", "GET", 200): big,
                ("/trailers", "GET", 200): trailers, ("/upload", "POST", 200): uploads,
                ("/missing", "GET", 404): 5}
    m = wait_total(rs, lambda m: sum(h2_counts(m, "h2_server").values()), sum(expected.values()))
    time.sleep(0.5)
    m = rs.metrics()
    assert h2_counts(m, "h2_server") == expected
    sizes = {s.labels["http_route"]: s.value
             for s in m.find("http_server_response_body_size_bytes_sum", service_name="h2_server")}
    assert sizes["/big"] == 16 * 16384 * big
    assert sizes["/ok"] == 3 * ok
    req_sizes = {s.labels["http_route"]: s.value
                 for s in m.find("http_server_request_body_size_bytes_sum", service_name="h2_server")}
    assert req_sizes["/upload"] == 50000 * uploads
    no_h2_problems(m)


def apache_h2c(tmp_path, port, docroot):
    """Apache httpd with mod_http2 answering h2c by Upgrade and by prior knowledge, and
    HTTP/1.1, on one port; its workers run as www-data, the files are theirs to read."""
    conf = tmp_path / "httpd.conf"
    conf.write_text("""
ServerRoot %(w)s
ServerName localhost
PidFile %(w)s/httpd.pid
Listen 127.0.0.1:%(p)d
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule http2_module /usr/lib/apache2/modules/mod_http2.so
User www-data
Group www-data
ErrorLog %(w)s/error.log
DocumentRoot %(d)s
Protocols h2c http/1.1
<Directory %(d)s>
  Require all granted
</Directory>
""" % {"w": tmp_path, "p": port, "d": docroot})
    return ["apache2", "-f", str(conf), "-DFOREGROUND"]


def test_h2c_upgrade_and_http1_on_one_port(server, redscope, tmp_path):
    """Apache httpd, one port: h2c by Upgrade (curl --http2, nghttp -u), h2c with prior
    knowledge, and HTTP/1.1. The request that asked for the upgrade is HTTP/2's stream 1,
    counted once with the answer HTTP/2 gave it (the 101 is no answer); the streams after
    the upgrade and the prior-knowledge ones are HTTP/2 requests too; each protocol's
    counts exact and apart; the upgraded connections followed, not tunnels."""
    import tempfile
    docroot = pathlib.Path(tempfile.mkdtemp(prefix="redscope-h2c-"))
    docroot.chmod(0o755)
    for name in ("a", "b"):
        (docroot / name).write_text(name * 10)
        (docroot / name).chmod(0o644)
    rs = redscope("--comm=apache2")
    port = free_port()
    try:
        srv = server("apache2", apache_h2c(tmp_path, port, docroot), port)
        k = scaled(10, 3)
        http1, http2 = collections.Counter(), collections.Counter()
        for _ in range(k):
            # Apache answers some of the streams after an upgrade, not always all (its
            # GOAWAY says which it took): what nghttp got is what is expected
            out = subprocess.run(pinned(["nghttp", "-u", "-n", "-v", srv.url + "/a", srv.url + "/b",
                                         srv.url + "/nope"], CLIENT_CPUS),
                                 check=True, capture_output=True, text=True).stdout
            assert "HTTP Upgrade success" in out
            paths, stream = {"1": "/a"}, None  # stream 1: the request that asked
            for line in out.splitlines():
                sent = re.search(r"send HEADERS frame <.*stream_id=(\d+)>", line)
                if sent:
                    stream = sent.group(1)
                elif stream and line.strip().startswith(":path: "):
                    paths[stream], stream = line.split()[-1], None
            for stream, status in re.findall(r"recv \(stream_id=(\d+)\) :status: (\d+)", out):
                http2[(paths[stream], "GET", int(status))] += 1
        upgraded = curl_h2(srv.url + "/b", k, prior_knowledge=False)  # curl --http2: Upgrade
        prior = curl_h2(srv.url + "/a", k)
        plain = subprocess.run(pinned(["curl", "-s", "--http1.1", "-o", "/dev/null", "-w", "%{http_code}",
                                       srv.url + "/b"], CLIENT_CPUS),
                               check=True, capture_output=True, text=True).stdout
        assert upgraded == {200: k} and prior == {200: k} and plain == "200"
        http1[("/b", "GET", 200)] += 1
        http2[("/a", "GET", 200)] += k
        http2[("/b", "GET", 200)] += k
        total = sum(http1.values()) + sum(http2.values())
        m = wait_total(rs, lambda m: sum(m.request_counts("apache2").values()), total)
        time.sleep(0.5)
        m = rs.metrics()
        assert m.request_counts("apache2", network_protocol_version="1.1") == dict(http1)
        assert h2_counts(m, "apache2") == dict(http2)
        assert m.value("redscope_connections_upgraded_total") == 0
        # every connection of the clients above became HTTP/2's, once each (a frame
        # Apache's lingering close read after its end once counted one more)
        assert m.value("redscope_http2_connections_total") == 3 * k
        no_h2_problems(m, allow=("stream_refused",))
    finally:
        shutil.rmtree(docroot)


def test_nginx_http2_cleartext_and_tls(server, redscope, tmp_path):
    """nginx with http2: h2c and TLS with ALPN h2 (nginx writes its SETTINGS before it
    reads the client's preface), and HTTP/1.1 over TLS on the same TLS port, counted
    apart by network_protocol_version and url_scheme."""
    from test_tls import make_cert
    cert, key = make_cert(tmp_path)
    root = tmp_path / "www"
    root.mkdir()
    (root / "f.txt").write_text("hi\n")
    port, tls_port = free_port(), free_port()
    conf = tmp_path / "nginx-h2.conf"
    conf.write_text("""
user root;
worker_processes 1;
pid %(w)s/nginx-h2.pid;
error_log %(w)s/nginx-h2-error.log crit;
daemon off;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %(w)s/body; proxy_temp_path %(w)s/proxy;
    fastcgi_temp_path %(w)s/fastcgi; uwsgi_temp_path %(w)s/uwsgi; scgi_temp_path %(w)s/scgi;
    server { listen 127.0.0.1:%(p)d http2; root %(r)s; }
    server {
        listen 127.0.0.1:%(t)d ssl http2;
        ssl_certificate %(c)s;
        ssl_certificate_key %(k)s;
        root %(r)s;
    }
}
""" % {"w": tmp_path, "p": port, "t": tls_port, "r": root, "c": cert, "k": key})
    rs = redscope("--comm=nginx")
    server("nginx", ["nginx", "-c", str(conf), "-p", str(tmp_path)], port)
    wait_for(lambda: rs.metrics().value("redscope_tls_libraries") >= 1, 10, what="libssl hooked")
    n = scaled(600, 100)
    ok_plain, _ = h2load("http://127.0.0.1:%d/f.txt" % port, n, clients=4)
    ok_tls, _ = h2load("https://127.0.0.1:%d/f.txt" % tls_port, n, clients=4)
    tls_curl = curl_h2("https://127.0.0.1:%d/nope" % tls_port, 3, prior_knowledge=False)
    # HTTP/1.1 over TLS to the same port: ALPN http/1.1
    out = subprocess.run(pinned(["curl", "-s", "-k", "--http1.1", "-o", "/dev/null", "-w", "%{http_code}",
                                 "https://127.0.0.1:%d/f.txt" % tls_port], CLIENT_CPUS),
                         check=True, capture_output=True, text=True).stdout
    assert ok_plain == n and ok_tls == n and tls_curl == {404: 3} and out == "200"
    total = 2 * n + 3 + 1
    m = wait_total(rs, lambda m: sum(m.request_counts("nginx").values()), total)
    time.sleep(0.5)
    m = rs.metrics()
    assert m.request_counts("nginx", network_protocol_version="2", url_scheme="http") == \
        {("/f.txt", "GET", 200): n}
    assert m.request_counts("nginx", network_protocol_version="2", url_scheme="https") == \
        {("/f.txt", "GET", 200): n, ("/nope", "GET", 404): 3}
    assert m.request_counts("nginx", network_protocol_version="1.1") == {("/f.txt", "GET", 200): 1}
    # queue time: one per connection, HTTP/2 ones included
    queued = m.value("http_server_request_queue_duration_seconds_count", service_name="nginx")
    assert queued == 4 + 4 + 3 + 1  # h2load twice, three curls, one HTTP/1.1 curl
    no_h2_problems(m)


def grpc_call(port, script):
    out = subprocess.run(pinned([PYTHON, str(GRPC_APP), "call", str(port), json.dumps(script)],
                                CLIENT_CPUS), check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# what the client sees -> what the server's side of the call ended with
CLIENT_TO_SERVER = {"OK": "OK", "NOT_FOUND": "NOT_FOUND", "DEADLINE_EXCEEDED": "DEADLINE_EXCEEDED",
                    "UNKNOWN": "UNKNOWN", "CANCELLED": "CANCELLED"}


def test_grpc_calls_whose_client_went_away_are_cancelled(server, redscope):
    """A client exits in the middle of its server streams, cancelling none of them: the
    server's side of each ends at the connection's close, CANCELLED (what a gRPC server
    reports of a client that went away), not UNAVAILABLE."""
    rs = redscope("--comm=python3")
    port = free_port()
    server("grpc", [PYTHON, str(GRPC_APP), "serve", str(port)], port)
    seen = grpc_call(port, [["unary", "Add", 3, "ok"], ["abandon", "List", 3, ""]])
    assert seen == {"Add/OK": 3, "List/CANCELLED": 3}
    expected = {("shop.Cart/Add", "OK"): 3, ("shop.Cart/List", "CANCELLED"): 3}
    wait_total(rs, lambda m: sum(rpc_counts(m, "grpc_app").values()), 6)
    time.sleep(0.5)
    m = rs.metrics()
    assert rpc_counts(m, "grpc_app") == expected
    assert m.value("http_server_active_requests", service_name="grpc_app") == 0
    no_h2_problems(m)


@pytest.mark.kernel_matrix
def test_grpc_unary_and_streaming(server, redscope, tmp_path):
    """A Python gRPC server: unary calls that succeed, fail with a status and a
    grpc-message, run past the caller's deadline or crash; server, client and
    bidirectional streams; a stream the client cancels midway. Each in
    rpc_server_call_duration_seconds with its method and status, none also as HTTP."""
    rs = redscope("--comm=python3")
    port = free_port()
    server("grpc", [PYTHON, str(GRPC_APP), "serve", str(port)], port)
    k = scaled(30, 5)
    script = [["unary", "Add", k, "ok"], ["unary", "Add", 5, "notfound"], ["unary", "Add", 2, "slow"],
              ["unary", "Add", 3, "crash"], ["unary", "Add", 2, "big"],
              ["server_stream", "List", 4, "50"], ["client_stream", "Upload", 3, "40"],
              ["bidi", "Chat", 2, "30"], ["cancel", "List", 2, ""]]
    seen = grpc_call(port, script)
    expected = {}
    for key, n in seen.items():
        method, code = key.split("/")
        expected[("shop.Cart/" + method, CLIENT_TO_SERVER[code])] = n
    assert sum(expected.values()) == k + 5 + 2 + 3 + 2 + 4 + 3 + 2 + 2
    m = wait_total(rs, lambda m: sum(rpc_counts(m, "grpc_app").values()), sum(expected.values()))
    time.sleep(0.5)
    m = rs.metrics()
    assert rpc_counts(m, "grpc_app") == expected
    assert m.request_counts("grpc_app") == {}  # not counted twice
    # error_type on the server's errors only (UNKNOWN, DEADLINE_EXCEEDED), not NOT_FOUND
    errors = {s.labels["rpc_response_status_code"]: s.labels.get("error_type")
              for s in m.find("rpc_server_call_duration_seconds_count")}
    assert errors["UNKNOWN"] == "UNKNOWN" and errors["DEADLINE_EXCEEDED"] == "DEADLINE_EXCEEDED"
    assert errors["NOT_FOUND"] is None and errors["OK"] is None
    # busy time counts the time the process had streams in flight: the two slow calls
    # alone held one for about 1 s each (until the client gave up)
    busy = m.value("http_server_worker_busy_seconds_total", service_name="grpc_app")
    assert busy >= 1.5, busy
    assert m.value("http_server_active_requests", service_name="grpc_app") == 0
    no_h2_problems(m)


def test_grpc_connection_open_before_redscope(server, redscope, tmp_path):
    """A gRPC client's connection open before redscope started, then more calls on it:
    every call after the start is counted once. What the encoders put in their HPACK
    tables before the start is unknown, never guessed: grpcio's client indexed Add's
    path and the content-type, its server the grpc-status. So these calls cannot be told
    for gRPC and are HTTP/2 requests with their :status (in the static table): Add's as
    POST {unknown}, Upload's (first called after the start, its path a new literal) by
    its path. The README says which labels a late join loses."""
    port = free_port()
    server("grpc", [PYTHON, str(GRPC_APP), "serve", str(port)], port)
    # a client with one channel: calls before redscope, waits for a line on stdin, calls after
    code = """
import json, sys
sys.path.insert(0, %r)
import grpc
ch = grpc.insecure_channel("127.0.0.1:%d")
add = ch.unary_unary("/shop.Cart/Add")
for _ in range(5):
    add(b"ok", timeout=10)
print("ready", flush=True)
sys.stdin.readline()
n = 0
for _ in range(%d):
    add(b"ok", timeout=10); n += 1
up = ch.stream_unary("/shop.Cart/Upload")
for _ in range(3):
    up(iter([b"x"] * 3), timeout=10); n += 1
print(json.dumps({"after": n}), flush=True)
""" % (str(APPS), port, scaled(20, 5))
    client = subprocess.Popen(pinned([PYTHON, "-c", code], CLIENT_CPUS), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert client.stdout.readline().strip() == "ready"
    rs = redscope("--comm=python3")
    client.stdin.write("go\n")
    client.stdin.flush()
    after = json.loads(client.stdout.readline())["after"]
    client.wait(timeout=30)
    assert after == scaled(20, 5) + 3

    def counted(m):
        return sum(rpc_counts(m, "grpc_app").values()) + sum(m.request_counts("grpc_app").values())
    m = wait_total(rs, counted, after)
    time.sleep(0.5)
    m = rs.metrics()
    assert counted(m) == after
    assert rpc_counts(m, "grpc_app") == {}
    assert m.request_counts("grpc_app", network_protocol_version="2") == \
        {("{unknown}", "POST", 200): after - 3, ("/shop.Cart/Upload", "POST", 200): 3}
    assert m.value("redscope_http2_problems_total", kind="joined_late") == 1
    no_h2_problems(m, allow=("joined_late",))


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def attack(port, what, n):
    """n connections of one kind of hostile HTTP/2 client; what the server answers is read
    and dropped."""
    bomb = b"\x40\x01x\x7f\xa1\x1e" + b"v" * 4000 + b"\xbe" * 20  # a 4000-byte entry, 20 times
    get = b"\x82\x84\x86"  # GET / http, from the static table
    for _ in range(n):
        if what == "hpack_bomb":
            data = frame(4, 0, 0, b"") + frame(1, 5, 1, bomb)
        elif what == "continuation_flood":
            data = frame(4, 0, 0, b"") + frame(1, 1, 1, get)
            data += b"".join(frame(9, 0, 1, b"\x40" * 16000) for _ in range(8))
        elif what == "table_size":
            data = frame(4, 0, 0, b"") + frame(1, 5, 1, b"\x3f\xe1\xff\x07" + get)
        elif what == "garbage":
            data = bytes(range(256)) * 4
        else:  # a frame longer than any SETTINGS allows
            data = frame(4, 0, 0, b"") + b"\xff\xff\xff\x00\x00\x00\x00\x00\x01" + b"d" * 1000
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(PREFACE + data)
                s.settimeout(0.3)
                try:
                    while s.recv(65536):
                        pass
                except OSError:
                    pass
        except OSError:
            pass


def test_hostile_http2_clients(server, redscope, tmp_path):
    """HPACK bombs, CONTINUATION floods, a table size update out of range, garbage after
    the preface and an oversized frame, beside a real load: each counted as what it is,
    nothing of them in a series, the real requests exact, redscope and the server fine."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("hello\n")
    rs = redscope("--comm=nghttpd")
    port = free_port()
    srv = server("nghttpd", ["nghttpd", "--no-tls", "-d", str(www), str(port)], port)
    kinds = {"hpack_bomb": 20, "continuation_flood": 10, "table_size": 20, "garbage": 20,
             "huge_frame": 20}
    threads = [threading.Thread(target=attack, args=(port, k, n)) for k, n in kinds.items()]
    for t in threads:
        t.start()
    n = scaled(2000, 200)
    ok, _ = h2load(srv.url + "/index.html", n, clients=4)
    for t in threads:
        t.join()
    assert ok == n
    m = wait_total(rs, lambda m: sum(m.request_counts("nghttpd").values()), n)
    time.sleep(1)
    m = rs.metrics()
    assert m.request_counts("nghttpd") == {("/index.html", "GET", 200): n}
    problems = {s.labels["kind"]: s.value for s in m.find("redscope_http2_problems_total")}
    errors = {s.labels["reason"]: s.value for s in m.find("redscope_parse_errors_total") if s.value}
    print("http2 problems:", problems, "parse errors:", errors)
    # each connection is one problem of its kind: the bomb and the size update fail HPACK
    # decoding; the flood is a block too large; the oversized frame loses the walker's
    # framing; garbage after the preface has no SETTINGS frame first: not HTTP/2
    assert problems["hpack_error"] == kinds["hpack_bomb"] + kinds["table_size"]
    assert problems["header_block_lost"] == kinds["continuation_flood"]
    assert problems["framing_lost"] == kinds["huge_frame"]
    assert problems["frame_error"] == 0 and problems["stream_dropped"] == 0
    assert errors["not_http2"] == kinds["garbage"]
    assert m.value("redscope_lost_events_total") == 0
    # the junk's streams ended without an answer redscope could count as one
    assert m.value("redscope_requests_unanswered_total") <= sum(kinds.values())
    # both still serve
    ok, _ = h2load(srv.url + "/index.html", 50, clients=1)
    assert ok == 50
    rs.metrics()


def test_report_counts_grpc_errors_by_status_code(server, tmp_path):
    """redscope report with a gRPC service: a method's calls, and as errors the ones that
    ended with a server error (UNKNOWN here), not the client's NOT_FOUND, though every
    one of them was an HTTP/2 200."""
    from conftest import REDSCOPE
    port = free_port()
    server("grpc", [PYTHON, str(GRPC_APP), "serve", str(port)], port)
    report = subprocess.Popen(pinned([str(REDSCOPE), "report", "--duration=120s", "--format=json",
                                      "--comm=python3"], CLIENT_CPUS),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "watching" in report.stderr.readline()
    seen = grpc_call(port, [["unary", "Add", 10, "ok"], ["unary", "Add", 5, "notfound"],
                            ["unary", "Add", 3, "crash"]])
    assert seen == {"Add/OK": 10, "Add/NOT_FOUND": 5, "Add/UNKNOWN": 3}
    time.sleep(0.5)
    report.send_signal(signal.SIGINT)
    out, err = report.communicate(timeout=30)
    assert report.returncode == 0, err
    doc = json.loads(out)
    svc = [s for s in doc["services"] if s["service_name"] == "grpc_app"]
    assert len(svc) == 1, doc
    routes = {(r["method"], r["route"]): r for r in svc[0]["routes"]}
    add = routes[("POST", "shop.Cart/Add")]
    assert add["requests"] == 18 and add["errors"] == 3
