"""The core path: HTTP/1.x requests to gunicorn, seen from syscall tracepoints, served as
RED metrics. Counts are compared exactly with what the clients sent."""
import collections
import socket
import time

import pytest

from conftest import CPU_SLOWDOWN, curl_requests, scaled, wait_for, wait_for_total, wrk_requests

pytestmark = pytest.mark.capture

ROUTES = {"/ok": 200, "/missing": 404, "/boom": 500}
PATHS = list(ROUTES)
SERVICE = "redapp"


def as_series(sent):
    """Counter[(path, status)] -> {(route, method, status): n}, as redscope labels them."""
    return {(path, "GET", status): n for (path, status), n in sent.items()}


def assert_clean(m):
    """Nothing lost, nothing unparsable (redscope watches gunicorn only: other servers of
    the host, gRPC say, are not the test's business)."""
    assert m.value("redscope_lost_events_total") == 0
    errors = {s.labels["reason"]: s.value for s in m.find("redscope_parse_errors_total")}
    assert errors and not any(errors.values()), errors


@pytest.mark.kernel_matrix
@pytest.mark.solo
def test_sync_workers_count_exactly_and_sum_matches_gunicorn_access_log(gunicorn, redscope, tmp_path):
    app = gunicorn("redapp:app", "--workers", "3", "--worker-class", "sync",
                   env={"REDAPP_WORK_MS": "5"})
    rs = redscope("--comm=gunicorn")

    sent = curl_requests(app.url, PATHS * scaled(50))
    sent += wrk_requests(app.url, PATHS, threads=2, quota=scaled(1200), workdir=tmp_path)
    assert {p: s for p, s in sent} == ROUTES
    total = sum(sent.values())
    assert total == len(PATHS) * scaled(50) + 2 * scaled(1200)

    wait_for_total(rs, SERVICE, total)
    time.sleep(0.5)  # anything late would show up now
    m = rs.metrics()
    assert m.request_counts(SERVICE) == as_series(sent)
    assert_clean(m)

    # gunicorn logs %(D)s: microseconds from after parsing the request to after the
    # response; redscope measures first byte read to last byte written.
    logged = collections.defaultdict(int)
    entries = app.access_entries()
    assert len(entries) == total
    for method, path, status, dur_us, _pid in entries:
        logged[(path, method, status)] += dur_us
    for key, ours in m.request_sums(SERVICE).items():
        theirs = logged[key] / 1e6
        print("%s %s %d: redscope %.6f s, gunicorn %.6f s (%+.2f%%)"
              % (key[1], key[0], key[2], ours, theirs, 100 * (ours - theirs) / theirs))
        # the difference is gunicorn's parsing, CPU work: more of it on a slower CPU
        assert abs(ours - theirs) <= 0.02 * CPU_SLOWDOWN * theirs, (key, ours, theirs)


@pytest.mark.kernel_matrix
def test_gthread_workers_on_keepalive_connections_count_exactly(gunicorn, redscope, tmp_path):
    app = gunicorn("redapp:app", "--workers", "2", "--worker-class", "gthread", "--threads", "4",
                   "--keep-alive", "30", env={"REDAPP_WORK_MS": "2"})
    rs = redscope("--comm=gunicorn")

    sent = wrk_requests(app.url, PATHS, threads=4, quota=scaled(600), workdir=tmp_path)
    total = sum(sent.values())
    wait_for_total(rs, SERVICE, total)
    time.sleep(0.5)
    m = rs.metrics()
    assert m.request_counts(SERVICE) == as_series(sent)
    assert_clean(m)
    # keep-alive really carried the load: a handful of connections for 2400 requests
    assert m.value("redscope_connections_total") <= 16


@pytest.mark.solo
def test_request_on_idle_keepalive_connection_shows_within_one_second(gunicorn, redscope):
    app = gunicorn("redapp:app", "--workers", "1", "--worker-class", "gthread", "--threads", "2",
                   "--keep-alive", "30", env={"REDAPP_WORK_MS": "1"})
    rs = redscope("--comm=gunicorn")
    assert rs.metrics().request_counts(SERVICE) == {}

    with socket.create_connection(("127.0.0.1", app.port)) as conn:
        conn.sendall(b"GET /ok HTTP/1.1\r\nHost: test\r\n\r\n")
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.endswith(b"ok\n"):
            chunk = conn.recv(4096)
            assert chunk, "server closed the keep-alive connection"
            reply += chunk
        answered = time.monotonic()
        assert reply.startswith(b"HTTP/1.1 200")

        def counted():
            return rs.metrics().request_counts(SERVICE).get(("/ok", "GET", 200)) == 1

        wait_for(counted, 1.0, interval=0.02, what="the request in /metrics")
        visible_after = time.monotonic() - answered
        print("visible %.3f s after the response, connection still open" % visible_after)
        assert visible_after < 1.0
        # still open and idle: the server has not closed it
        conn.setblocking(False)
        try:
            assert conn.recv(1) != b""
        except BlockingIOError:
            pass
