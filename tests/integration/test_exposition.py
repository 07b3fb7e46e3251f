"""/metrics as Prometheus tooling sees it: promtool's lint, escaping, gzip, other paths, and
the protobuf format with native histograms, as a real Prometheus ingests it."""
import collections
import gzip
import importlib.util
import pathlib
import socket
import subprocess
import time
import zlib

import pytest
import requests

from conftest import (ROOT, Prometheus, Wrk, curl_requests, free_port, nginx_conf, wait_for,
                      wait_for_total)

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


def test_scrape_at_30k_series_fits_in_128_mib(server, redscope, tmp_path, metrics_pb2):
    """The page streams out piece by piece and gzips as it goes: a scrape of 30k series
    (a page of a few hundred MB as text) runs in a memory cgroup of 128 MiB, without the
    daemon getting killed, and the page holds every series; so does the protobuf page,
    native histograms and all."""
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

        r = requests.get(rs.url + "/metrics", stream=True, timeout=60,
                         headers={"Accept-Encoding": "gzip", "Accept": PROTOBUF_ACCEPT})
        assert r.headers["Content-Type"] == PROTOBUF_TYPE
        inflate, pending, natives, pb_bytes = zlib.decompressobj(16 + zlib.MAX_WBITS), b"", 0, 0
        for chunk in r.raw.stream(1 << 16, decode_content=False):
            pending += inflate.decompress(chunk)
            # each complete MetricFamily message, as it arrives
            while (whole := next_message(pending)):
                mf = metrics_pb2.MetricFamily()
                mf.ParseFromString(whole[0])
                pb_bytes += len(pending) - len(whole[1])
                pending = whole[1]
                if mf.name == "http_server_request_duration_seconds":
                    natives += sum(1 for m in mf.metric if m.histogram.positive_span)
        assert inflate.eof and not pending
        print("protobuf page: %.1f MB; cgroup peak %.1f MiB" % (pb_bytes / 1e6, cg.peak() / 2**20))
        assert rs.proc.poll() is None and cg.oom_kills() == 0
        assert natives == series
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


# ------------------------------------------------------------------ protobuf exposition

# what Prometheus sends with --enable-feature=native-histograms
PROTOBUF_ACCEPT = ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                   "encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,"
                   "application/openmetrics-text;version=0.0.1;q=0.75,"
                   "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
PROTOBUF_TYPE = ("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
                 "encoding=delimited")


@pytest.fixture(scope="module")
def metrics_pb2(tmp_path_factory):
    """The io.prometheus.client messages for Python's protobuf runtime, compiled by protoc
    from the schema redscope is built with: a decoder independent of protobuf-c."""
    out = tmp_path_factory.mktemp("pb")
    subprocess.run(["protoc", "--python_out=%s" % out, "-I%s" % (ROOT / "proto"),
                    str(ROOT / "proto" / "metrics.proto")], check=True)
    spec = importlib.util.spec_from_file_location("metrics_pb2", out / "metrics_pb2.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def next_message(data):
    """(first message, the rest) of a delimited stream (a varint length, a message, and
    again), or None while the first message is not all there."""
    length, shift, pos = 0, 0, 0
    while True:
        if pos == len(data):
            return None
        byte = data[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    if pos + length > len(data):
        return None
    return data[pos:pos + length], data[pos + length:]


def decode_families(pb2, body):
    """The MetricFamily messages of a whole page; families that came in several messages
    (one per piece of the page) joined, in order."""
    families = {}
    while body:
        whole = next_message(body)
        assert whole, "the page ends inside a message"
        mf = pb2.MetricFamily()
        mf.ParseFromString(whole[0])
        body = whole[1]
        if mf.name in families:
            assert list(families)[-1] == mf.name, "family %s is not contiguous" % mf.name
            assert (families[mf.name].type, families[mf.name].help) == (mf.type, mf.help)
            families[mf.name].metric.extend(mf.metric)
        else:
            families[mf.name] = mf
    return families


def scrape_protobuf(rs, pb2, gzip_ok=True):
    r = requests.get(rs.url + "/metrics", timeout=10, headers={
        "Accept": PROTOBUF_ACCEPT, "Accept-Encoding": "gzip" if gzip_ok else "identity"})
    r.raise_for_status()
    assert r.headers["Content-Type"] == PROTOBUF_TYPE
    return decode_families(pb2, r.content)


def labels_of(metric):
    return {lp.name: lp.value for lp in metric.label}


def native_buckets(h):
    """{index: count} of a native histogram's positive buckets, from spans and deltas."""
    out, index, count, deltas = {}, 0, 0, iter(h.positive_delta)
    for n, span in enumerate(h.positive_span):
        index += span.offset if n == 0 else span.offset
        for _ in range(span.length):
            count += next(deltas)
            out[index] = count
            index += 1
    return out


def schema3_index(size):
    """The native bucket of a positive integer size at schema 3, by the definition and in
    integers: the least i with size <= 2^(i/8), that is size^8 <= 2^i."""
    return (size ** 8 - 1).bit_length()


def test_protobuf_scrape_has_the_text_series_and_exact_native_buckets(gunicorn, redscope,
                                                                        metrics_pb2, tmp_path):
    app = gunicorn("redapp:app", "--workers", "2", env={"REDAPP_WORK_MS": "1"})
    rs = redscope()
    sizes = [0, 0, 1, 2, 3, 100, 181, 1000, 1024, 1025, 4096, 65536, 65537]
    for size in sizes:
        body = tmp_path / "body"
        body.write_bytes(b"b" * size)
        out = subprocess.run(["curl", "-s", "-w", " %{http_code}", "--data-binary", "@%s" % body,
                              "-H", "Content-Type: application/octet-stream", app.url + "/echo"],
                             check=True, capture_output=True, text=True).stdout
        assert out.split() == [str(size), "200"]
    sent = curl_requests(app.url, ["/ok"] * 20 + ["/missing"] * 3)
    wait_for_total(rs, SERVICE, len(sizes) + sum(sent.values()))

    text = rs.metrics()
    families = scrape_protobuf(rs, metrics_pb2)
    plain = scrape_protobuf(rs, metrics_pb2, gzip_ok=False)
    assert [f for f in plain if not f.startswith(("redscope_", "process_"))] == \
        [f for f in families if not f.startswith(("redscope_", "process_"))]

    # every histogram series of the text page, with the same count, sum and buckets
    duration = families["http_server_request_duration_seconds"]
    assert duration.type == metrics_pb2.HISTOGRAM
    for name in ("http_server_request_duration_seconds", "http_server_request_body_size_bytes",
                 "http_server_response_body_size_bytes"):
        fam = families[name]
        assert len(fam.metric) == len(text.find(name + "_count")), name
        for m in fam.metric:
            labels = labels_of(m)
            h = m.histogram
            assert text.value(name + "_count", **labels) == h.sample_count
            assert text.value(name + "_sum", **labels) == pytest.approx(h.sample_sum, rel=1e-12)
            for b in h.bucket:
                le = "%.15g" % b.upper_bound
                assert text.value(name + "_bucket", le=le, **labels) == b.cumulative_count
            # native: every observation in the zero bucket or a positive one
            assert h.schema == 3 and h.zero_threshold > 0
            assert h.zero_count + sum(native_buckets(h).values()) == h.sample_count

    # body sizes are exact: their native buckets are what the definition says
    def echo_histogram(name):
        [m] = [m for m in families[name].metric if labels_of(m)["http_route"] == "/echo"]
        return m.histogram

    req = echo_histogram("http_server_request_body_size_bytes")
    expected = collections.Counter(schema3_index(s) for s in sizes if s)
    assert req.zero_count == sizes.count(0)
    assert native_buckets(req) == dict(expected)
    resp = echo_histogram("http_server_response_body_size_bytes")  # "<size>\n"
    assert native_buckets(resp) == dict(collections.Counter(
        schema3_index(len(str(s)) + 1) for s in sizes))

    # counters and gauges: the same values where they cannot have moved between scrapes
    for name in ("http_server_workers", "redscope_series", "redscope_build_info"):
        fam = families[name]
        for m in fam.metric:
            value = m.gauge.value if fam.type == metrics_pb2.GAUGE else m.counter.value
            assert text.value(name, **labels_of(m)) == value, name


def test_native_histograms_off_and_text_for_other_scrapers(gunicorn, redscope, metrics_pb2):
    app = gunicorn("redapp:app", "--workers", "1", env={"REDAPP_WORK_MS": "1"})
    rs = redscope("--native-histogram-max-buckets=0")
    sent = curl_requests(app.url, ["/ok"] * 5)
    wait_for_total(rs, SERVICE, sum(sent.values()))
    h = scrape_protobuf(rs, metrics_pb2)["http_server_request_duration_seconds"].metric[0].histogram
    assert h.sample_count == 5 and len(h.bucket) > 0
    assert not h.HasField("schema") and not h.positive_span and h.zero_threshold == 0
    # Prometheus without native histograms, and anyone else, gets text
    for accept in ("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
                   "*/*", None):
        r = requests.get(rs.url + "/metrics", headers={"Accept": accept} if accept else {},
                         timeout=10)
        assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert "# TYPE http_server_request_duration_seconds histogram" in r.text


def test_prometheus_ingests_native_histograms_that_agree_with_the_classic_ones(
        gunicorn, redscope, tmp_path):
    """Two real Prometheus servers scrape one redscope: one with native histograms on
    (the protobuf format), one without (text, classic buckets). Over the same requests
    their quantiles agree within the resolution of the classic buckets."""
    app = gunicorn("redapp:app", "--workers", "4")
    rs = redscope()
    native = Prometheus(tmp_path, rs.port, 1, "native", ["--enable-feature=native-histograms"])
    classic = Prometheus(tmp_path, rs.port, 1, "classic")
    try:
        # durations spread over 0 to 90 ms, so that quantiles fall in different buckets
        paths = ["/sleep?ms=%d" % (i * 37 % 91) for i in range(240)]
        sent = sum(curl_requests(app.url, paths).values())
        sel = 'http_server_request_duration_seconds{http_route="/sleep"}'
        wait_for(lambda: native.query("histogram_count(%s) == %d" % (sel, sent)), 30,
                 interval=0.5, what="native Prometheus to see %d requests" % sent)
        wait_for(lambda: classic.query("%s == %d" % (sel.replace("{", "_count{"), sent)), 30,
                 interval=0.5, what="classic Prometheus to see %d requests" % sent)
        text = rs.metrics()
        labels = {"http_route": "/sleep"}
        assert native.scalar("histogram_sum(%s)" % sel) == pytest.approx(
            text.value("http_server_request_duration_seconds_sum", **labels), rel=1e-9)
        bounds = sorted(float(s.labels["le"]) for s in
                        text.find("http_server_request_duration_seconds_bucket", **labels))
        for q in (0.5, 0.9, 0.99):
            n = native.scalar("histogram_quantile(%g, %s)" % (q, sel))
            c = classic.scalar("histogram_quantile(%g, sum by (le) (%s))"
                               % (q, sel.replace("{", "_bucket{")))
            # the classic bucket the quantile is in; the native answer is in that bucket
            # widened by one native bucket (2^(1/8)) each way
            hi = min(b for b in bounds if b >= c)
            lo = max([b for b in bounds if b < c] or [0.0])
            print("p%g: native %.5f s, classic %.5f s (bucket %g to %g)" % (q * 100, n, c, lo, hi))
            assert lo / 2 ** 0.125 <= n <= hi * 2 ** 0.125, (q, n, c, lo, hi)
    finally:
        native.stop()
        classic.stop()
