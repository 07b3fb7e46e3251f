"""HTTPS without keys: the plaintext of TLS connections, seen in the libssl the
server maps (uprobes on SSL_read/SSL_write and their _ex forms), counted exactly and
labelled url_scheme="https"; never counted a second time as ciphertext. A server
whose TLS redscope cannot read (Node.js: OpenSSL linked in statically, or the
system's libssl driven through memory BIOs) is reported, not miscounted."""
import collections
import pathlib
import re
import subprocess
import time

import pytest

from conftest import (APPS, CPU_SLOWDOWN, Wrk, access_log_counts, curl_requests, free_port,
                      nginx_conf, scaled, wait_for, wait_for_total)

pytestmark = pytest.mark.capture

MIX = ["/ok", "/missing", "/boom"]


def make_cert(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    # an ECDSA key: a handshake costs a tenth of RSA's, which counts in an emulated guest
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def hooked(rs):
    """Wait until redscope has hooked a libssl (it does so when a server starts listening)."""
    wait_for(lambda: rs.metrics().value("redscope_tls_libraries") >= 1, 10, what="libssl hooked")


def access_counts(app):
    """(path, status) -> requests, as gunicorn logged them: what the server answered
    (a client that gives up on a response and asks again is not the server's count)."""
    return collections.Counter((p, s) for m, p, s, d, _ in app.access_entries())


def only_https(rs, service, sent, method="GET"):
    """Every request of sent, a Counter of (path, status), counted once, as https; no
    connection left behind as ciphertext nobody read (redscope watches the server alone)."""
    wait_for_total(rs, service, sum(sent.values()))
    time.sleep(0.5)
    m = rs.metrics()
    expected = {(p, method, s): n for (p, s), n in sent.items()}
    assert m.request_counts(service, url_scheme="https") == expected
    assert m.request_counts(service) == expected  # nothing as http
    errors = {s.labels["reason"]: s.value for s in m.find("redscope_parse_errors_total")}
    assert {k: v for k, v in errors.items() if v} == {}
    assert m.value("redscope_lost_events_total") == 0
    assert m.value("redscope_tls_unattributed_calls_total") == 0
    return m


@pytest.mark.kernel_matrix
@pytest.mark.solo
def test_gunicorn_https_new_connection_per_request(gunicorn, redscope, tmp_path):
    cert, key = make_cert(tmp_path)
    # redscope first: the workers' libssl is hooked when the master starts listening
    rs = redscope("--comm=gunicorn")
    app = gunicorn("redapp:app", "--workers", "3", "--certfile", str(cert), "--keyfile", str(key),
                   env={"REDAPP_WORK_MS": "2"})
    hooked(rs)
    # sync workers close the connection after each response: a TLS handshake per request
    sent = curl_requests(app.url, MIX * scaled(20))
    sent += Wrk(app.url, 2, scaled(300), tmp_path, env={"WRK_PATHS": ",".join(MIX)}).wait()
    total = len(MIX) * scaled(20) + 2 * scaled(300)
    assert sum(sent.values()) == total
    m = only_https(rs, "redapp", sent)
    assert m.value("redscope_tls_connections_total") >= total
    # the master and its three workers map one libssl: hooked once
    assert m.value("redscope_tls_libraries") == 1
    assert rs.logs().count("hooked TLS in") == 1
    # what gunicorn logged, request by request; its durations too (microseconds)
    logged, logged_us = {}, 0
    for method, path, status, dur_us, _ in app.access_entries():
        logged[(path, method, status)] = logged.get((path, method, status), 0) + 1
        logged_us += dur_us
    assert m.request_counts("redapp") == logged
    seen = sum(m.request_sums("redapp", url_scheme="https").values())
    print("duration sum: redscope %.4f s, gunicorn %.4f s" % (seen, logged_us / 1e6))
    # redscope's clock starts when SSL_read hands the request over, gunicorn's once
    # Python has parsed it; both stop after the last SSL_write. So redscope's is a
    # little longer, by a parse per request (0.1 to 0.3 ms here), never shorter.
    extra_ms = (seen - logged_us / 1e6) / len(app.access_entries()) * 1e3
    print("redscope - gunicorn: %.3f ms per request" % extra_ms)
    assert 0 <= extra_ms <= 1.0 * CPU_SLOWDOWN

def test_gunicorn_https_keepalive_gthread(gunicorn, redscope, tmp_path):
    cert, key = make_cert(tmp_path)
    app = gunicorn("redapp:app", "--workers", "2", "--worker-class", "gthread", "--threads", "4",
                   "--certfile", str(cert), "--keyfile", str(key), env={"REDAPP_WORK_MS": "1"})
    # redscope second: the running workers' libssl is hooked at start
    rs = redscope("--comm=gunicorn")
    hooked(rs)
    sent = Wrk(app.url, 2, 1000, tmp_path, env={"WRK_PATHS": ",".join(MIX)}).wait()
    sent += curl_requests(app.url, ["/ok"] * 30)  # one curl, one connection: keep-alive
    wait_for(lambda: sum(access_counts(app).values()) >= sum(sent.values()), 10,
             what="gunicorn's access log")
    m = only_https(rs, "redapp", access_counts(app))
    # keep-alive: a handful of TLS connections carried 2030 requests
    assert m.value("redscope_tls_connections_total") <= 10


def nginx_tls_conf(tmp_path, plain_port, tls_port, root):
    cert, key = make_cert(tmp_path)
    # one nginx, two ports: plain HTTP and HTTPS, same files
    return nginx_conf(tmp_path, plain_port, """root %s;
        access_log %s/plain.log;
    }
    server {
        listen 127.0.0.1:%d ssl;
        ssl_certificate %s;
        ssl_certificate_key %s;
        access_log %s/tls.log;
        root %s;""" % (root, tmp_path, tls_port, cert, key, tmp_path, root))


def test_nginx_plain_and_https_ports_side_by_side(server, redscope, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "ok").write_text("ok\n")
    (root / "big.bin").write_bytes(b"z" * (1024 * 1024))
    plain, tls = free_port(), free_port()
    server("nginx", nginx_tls_conf(tmp_path, plain, tls, root), plain)
    rs = redscope("--comm=nginx")
    hooked(rs)
    http_url, https_url = "http://127.0.0.1:%d" % plain, "https://127.0.0.1:%d" % tls
    paths = ["/ok"] * 20 + ["/big.bin"] * 3 + ["/nothing"] * 5
    # a new TLS connection per request (one curl each), and keep-alive (one curl, many)
    sent_tls = sum((curl_requests(https_url, [p]) for p in paths[::3]), curl_requests(https_url, paths))
    # (one path: nginx does not echo X-Path, by which wrk tells responses apart)
    sent_tls += Wrk(https_url, 2, 500, tmp_path, env={"WRK_PATHS": "/ok"}).wait()
    sent_plain = curl_requests(http_url, paths)
    sent_plain += Wrk(http_url, 2, 300, tmp_path, env={"WRK_PATHS": "/ok"}).wait()
    # what nginx answered on each port (a client retrying a response it gave up on
    # would otherwise look like a miscount)
    wait_for(lambda: sum(access_log_counts(tmp_path / "tls.log").values()) >= sum(sent_tls.values())
             and sum(access_log_counts(tmp_path / "plain.log").values()) >= sum(sent_plain.values()),
             10, what="nginx's access logs")
    sent_tls, sent_plain = access_log_counts(tmp_path / "tls.log"), access_log_counts(tmp_path / "plain.log")
    total = sum(sent_tls.values()) + sum(sent_plain.values())
    wait_for_total(rs, "nginx", total)
    time.sleep(0.5)
    m = rs.metrics()
    as_counts = lambda sent: {(p, "GET", s): n for (p, s), n in sent.items()}
    assert m.request_counts("nginx", url_scheme="https") == as_counts(sent_tls)
    assert m.request_counts("nginx", url_scheme="http") == as_counts(sent_plain)
    assert sum(m.request_counts("nginx").values()) == total  # nothing twice
    sizes = {s.labels["url_scheme"]: s.value
             for s in m.find("http_server_response_body_size_bytes_sum", service_name="nginx",
                             http_route="/big.bin")}
    # the plaintext body, not the ciphertext's records
    assert sizes == {"https": sent_tls[("/big.bin", 200)] * 1024 * 1024,
                     "http": sent_plain[("/big.bin", 200)] * 1024 * 1024}
    errors = {s.labels["reason"]: s.value for s in m.find("redscope_parse_errors_total")}
    assert {k: v for k, v in errors.items() if v} == {}
    assert m.value("redscope_tls_connections_total") >= 11
    assert m.value("redscope_lost_events_total") == 0


def test_tls_redscope_cannot_read_is_reported_not_miscounted(server, redscope, tmp_path):
    """Node.js: nodejs.org builds link OpenSSL in statically; Debian's use the system's
    libssl.so.3 through memory BIOs (node moves the ciphertext itself). Either way
    redscope cannot read its HTTPS, and says which."""
    cert, key = make_cert(tmp_path)
    port = free_port()
    node = server("node", ["node", str(APPS / "server.js"), str(port)], port,
                  env={"TLS_CERT": str(cert), "TLS_KEY": str(key)})
    maps = (pathlib.Path("/proc/%d/maps" % node.proc.pid)).read_text()
    if re.search(r"/libssl\.so[.0-9]*$", maps, re.M):
        why = "drives OpenSSL through memory BIOs"
    else:
        why = "speaks TLS without a libssl.so"
    rs = redscope("--comm=node")
    url = "https://127.0.0.1:%d" % port
    sent = curl_requests(url, ["/ok"] * 5)
    for _ in range(4):
        sent += curl_requests(url, ["/nope"])
    assert sent == {("/ok", 200): 5, ("/nope", 404): 4}  # node answers as ever
    def reported():
        m = rs.metrics()
        return m if m.value("redscope_tls_unsupported_processes_total") == 1 else None
    m = wait_for(reported, 10, what="the process reported")
    # no series from ciphertext, nothing as garbage: 5 connections it could not read
    assert m.find("http_server_request_duration_seconds_count") == []
    wait_for(lambda: rs.metrics().value("redscope_parse_errors_total", reason="tls_no_plaintext") == 5,
             10, what="the unreadable connections counted")
    assert rs.metrics().value("redscope_parse_errors_total", reason="not_http") == 0
    log = rs.logs()
    assert log.count("process %d (node) %s" % (node.proc.pid, why)) == 1, log
    if why.startswith("drives"):
        assert m.value("redscope_tls_unattributed_calls_total") >= 9  # an SSL_write each
