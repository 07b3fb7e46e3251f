"""/metrics as Prometheus tooling sees it: promtool's lint, escaping, gzip, other paths."""
import gzip
import pathlib
import socket
import subprocess
import time
import zlib

import requests

from conftest import Wrk, curl_requests, free_port, nginx_conf, wait_for, wait_for_total

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


class MemoryCgroup:
    """A memory cgroup of its own for one process: cgroup v1's memory hierarchy where
    the host mounts it (hybrid), else cgroup v2 with the memory controller."""

    def __init__(self, name, limit, pid):
        v1 = pathlib.Path("/sys/fs/cgroup/memory")
        if (v1 / "memory.limit_in_bytes").exists():
            self.root, self.dir = v1, v1 / name
            self.dir.mkdir()
            (self.dir / "memory.limit_in_bytes").write_text(str(limit))
            self.peak_file, self.events_file = "memory.max_usage_in_bytes", "memory.oom_control"
        else:
            self.root = pathlib.Path("/sys/fs/cgroup")
            assert "memory" in (self.root / "cgroup.controllers").read_text().split()
            self.dir = self.root / name
            self.dir.mkdir()
            (self.dir / "memory.max").write_text(str(limit))
            self.peak_file, self.events_file = "memory.peak", "memory.events"
        (self.dir / "cgroup.procs").write_text(str(pid))

    def peak(self):
        return int((self.dir / self.peak_file).read_text())

    def oom_kills(self):
        for line in (self.dir / self.events_file).read_text().splitlines():
            key, value = line.split()
            if key == "oom_kill":
                return int(value)
        return 0

    def remove(self, pid):
        try:
            (self.root / "cgroup.procs").write_text(str(pid))
        except OSError:
            pass  # it is gone

        def removed():
            try:
                self.dir.rmdir()
                return True
            except OSError:  # busy until a killed process is reaped
                return False
        wait_for(removed, 10, interval=0.2, what="the test's memory cgroup removed")


def test_scrape_at_30k_series_fits_in_128_mib(server, redscope, tmp_path):
    """The page streams out piece by piece and gzips as it goes: a scrape of 30k series
    (a page of a few hundred MB as text) runs in a memory cgroup of 128 MiB, without the
    daemon getting killed, and the page holds every series."""
    series = 30000
    port = free_port()
    server("nginx", nginx_conf(tmp_path, port, "root %s;" % tmp_path), port)
    nginx_url = "http://127.0.0.1:%d" % port
    rs = redscope("--max-routes=%d" % series, "--comm=nginx")
    sent = Wrk(nginx_url, 2, series // 2, tmp_path, script="random_paths.lua").wait(timeout=300)
    assert sum(sent.values()) == series
    time.sleep(1)  # the records of the last requests reach the store
    cg = MemoryCgroup("redscope-test-%d" % port, 128 << 20, rs.proc.pid)
    try:
        r = requests.get(rs.url + "/metrics", headers={"Accept-Encoding": "gzip"}, stream=True,
                         timeout=60)
        assert r.headers["Content-Encoding"] == "gzip"
        assert "Content-Length" not in r.headers  # streamed, chunked
        routes, text_bytes, gz_bytes, tail = set(), 0, 0, b""
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        for chunk in r.raw.stream(1 << 16, decode_content=False):
            gz_bytes += len(chunk)
            data = tail + inflate.decompress(chunk)
            text_bytes += len(data) - len(tail)
            lines = data.split(b"\n")
            tail = lines.pop()
            for line in lines:
                if line.startswith(b"http_server_request_duration_seconds_count{"):
                    routes.add(line.split(b'http_route="', 1)[1].split(b'"', 1)[0])
                last = line
        assert inflate.eof and not tail and last.startswith(b"process_start_time_seconds ")
        print("page: %.1f MB of text, %.1f MB gzipped; cgroup peak %.1f MiB" %
              (text_bytes / 1e6, gz_bytes / 1e6, cg.peak() / 2**20))
        assert rs.proc.poll() is None and cg.oom_kills() == 0
        assert len(routes) == series
    finally:
        cg.remove(rs.proc.pid)


def test_fewer_series_and_no_personal_data_in_labels(gunicorn, redscope):
    """--body-size-buckets=none leaves the duration histograms alone; e-mail addresses
    and search phrases in paths reach no label, raw or percent-encoded."""
    app = gunicorn("redapp:app", "--workers", "1")
    rs = redscope("--comm=gunicorn", "--body-size-buckets=none")
    paths = ["/users/john.doe@example.com/profile", "/users/jane.roe%40example.org/profile",
             "/search/how+to+reset+password", "/search/how%20to%20reset%20my%20password",
             "/tags/c++"]
    sent = curl_requests(app.url, paths)
    wait_for_total(rs, SERVICE, sum(sent.values()))
    text = rs.scrape_text()
    routes = {route for route, _, _ in rs.metrics().request_counts(SERVICE)}
    assert routes == {"/users/{email}/profile", "/search/{text}", "/tags/c++"}, routes
    for secret in ("john", "jane", "example", "reset", "password"):
        assert secret not in text, secret
    assert "body_size" not in text
    assert "http_server_request_duration_seconds_bucket{" in text
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
