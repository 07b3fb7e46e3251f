"""Soak: worker churn (gunicorn recycling its workers every ~20 requests), connection
churn (a new connection per request) and a scrape every second, for a bounded time
(REDSCOPE_SOAK_SECONDS, 60 in CI; `make soak` runs it longer). redscope's memory and
the kernel maps it fills must stay flat, and every request must be counted."""
import collections
import os
import statistics
import subprocess
import threading
import time

import pytest

from conftest import curl_requests, wait_for

pytestmark = pytest.mark.capture

SECONDS = float(os.environ.get("REDSCOPE_SOAK_SECONDS", "60"))
MIX = ["/ok", "/missing", "/boom"]


def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_soak_worker_and_connection_churn(gunicorn, redscope):
    # gunicorn's default: each new worker imports the app itself
    app = gunicorn("redapp:app", "--workers", "3", "--max-requests", "20",
                   "--max-requests-jitter", "5", env={"REDAPP_WORK_MS": "1"}, preload=False)
    rs = redscope("--comm=gunicorn")
    stop = threading.Event()
    samples = []

    def clients():
        while not stop.is_set():
            curl_requests(app.url, MIX * 10)  # sync workers: a connection per request

    def scraper():
        while not stop.is_set():
            m = rs.metrics()
            samples.append((time.monotonic(), rss_kib(rs.proc.pid),
                            m.value("redscope_tracked_connections"),
                            m.value("redscope_tracked_processes"), m.value("redscope_series")))
            time.sleep(1)

    threads = [threading.Thread(target=clients) for _ in range(2)] + [threading.Thread(target=scraper)]
    start = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(SECONDS)
    stop.set()
    for t in threads:
        t.join()

    logged = collections.Counter((p, "GET", s) for _, p, s, _, _ in app.access_entries())
    total = sum(logged.values())
    wait_for(lambda: sum(rs.metrics().request_counts("redapp").values()) >= total, 10,
             what="every request counted")
    time.sleep(1.5)  # the last recycled workers' exits are swept
    m = rs.metrics()
    workers = m.value("http_server_workers", service_name="redapp")
    recycled = len({pid for *_, pid in app.access_entries()})
    print("%.0f s: %d requests, %d worker processes served them, %d scrapes"
          % (time.monotonic() - start, total, recycled, len(samples)))
    assert m.request_counts("redapp") == dict(logged)
    assert recycled > 10  # the workers did churn
    assert workers == 3
    assert m.value("redscope_lost_events_total") == 0

    # flat: after a warm-up, the last third no higher than the first third (allowing
    # for the allocator's page granularity), and the maps hold only what is live
    steady = [s for s in samples if s[0] - start > min(10, SECONDS / 4)]
    third = max(1, len(steady) // 3)
    first, last = steady[:third], steady[-third:]
    rss_first, rss_last = max(s[1] for s in first), max(s[1] for s in last)
    print("RSS KiB first third max %d, last third max %d; connections max %d; processes %s"
          % (rss_first, rss_last, max(s[2] for s in samples),
             sorted({s[3] for s in samples})))
    assert rss_last - rss_first <= 1024
    assert max(s[2] for s in samples) <= 50
    assert max(s[3] for s in samples) <= 4 + 3  # master, 3 workers, a few being replaced
    assert statistics.median(s[4] for s in steady) == len(MIX)
    live = subprocess.run(["pgrep", "-f", "gunicorn.*%d" % app.port], capture_output=True,
                          text=True).stdout.split()
    assert m.value("redscope_tracked_processes") == len(live)
    assert m.value("redscope_tracked_connections") <= 2
