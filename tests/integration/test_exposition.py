"""/metrics as Prometheus tooling sees it: promtool's lint, escaping, gzip, other paths."""
import gzip
import socket
import subprocess

import requests

from conftest import curl_requests, wait_for_total

SERVICE = "redapp"


def raw_request(port, line):
    """Send one request line as raw bytes; return the status code the server gave."""
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(line + b"\r\nHost: t\r\nConnection: close\r\n\r\n")
        reply = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            reply += chunk
    return int(reply.split(b" ", 2)[1])


def test_promtool_finds_nothing_to_complain_about(gunicorn, redscope):
    app = gunicorn("redapp:app", "--workers", "2", env={"REDAPP_WORK_MS": "1"})
    rs = redscope()
    sent = curl_requests(app.url, ["/ok", "/missing", "/boom", "/ok?token=secret"])
    odd = raw_request(app.port, b'GET /we"ird\\path HTTP/1.1')
    wait_for_total(rs, SERVICE, sum(sent.values()) + 1)

    text = rs.scrape_text()
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.strip() == "" and check.stderr.strip() == "", check.stdout + check.stderr

    # the escaped label reads back as the exact path, and the query string is gone
    counts = rs.metrics().request_counts(SERVICE)
    assert counts[('/we"ird\\path', "GET", odd)] == 1
    assert counts[("/ok", "GET", 200)] == 2
    assert "secret" not in text


def test_scrapes_are_gzipped_when_asked_and_other_paths_behave(redscope):
    rs = redscope("--web.telemetry-path=/custom")
    plain = requests.get(rs.url + "/custom", headers={"Accept-Encoding": "identity"}, timeout=5)
    assert plain.status_code == 200
    assert plain.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "Content-Encoding" not in plain.headers

    raw = requests.get(rs.url + "/custom", headers={"Accept-Encoding": "gzip"}, timeout=5, stream=True)
    assert raw.headers["Content-Encoding"] == "gzip"
    body = gzip.decompress(raw.raw.read())
    assert b"# TYPE http_server_request_duration_seconds histogram" in body

    assert requests.get(rs.url + "/metrics", timeout=5).status_code == 404
    assert requests.get(rs.url + "/healthz", timeout=5).text == "ok\n"
    landing = requests.get(rs.url + "/", timeout=5)
    assert landing.status_code == 200 and 'href="/custom"' in landing.text
    assert requests.post(rs.url + "/custom", timeout=5).status_code == 405
