"""redscope top and redscope report: the figures of a known load, without Prometheus.
report --format=json counts every request exactly and puts each percentile within
one histogram bucket of the truth (gunicorn's own access log); top, driven in tmux
like a user would, shows the rates, errors and latencies of a paced load, sorts and
filters on single keys, quits on q and on Ctrl-C, and gives the terminal back."""
import json
import math
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from conftest import CLIENT_CPUS, REDSCOPE, curl_requests, pinned, wait_for

# OpenTelemetry's duration buckets: redscope's default (upper bounds, seconds)
BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]


def bucket(seconds):
    """Index of the histogram bucket a duration falls in."""
    return next((i for i, b in enumerate(BOUNDS) if seconds <= b), len(BOUNDS))


def true_quantile(values, q):
    """Nearest-rank quantile: the smallest value with at least q of all at or below it."""
    return sorted(values)[max(0, math.ceil(q * len(values)) - 1)]


@pytest.mark.solo
def test_report_json_counts_exactly_and_percentiles_within_a_bucket(gunicorn, tmp_path):
    app = gunicorn("redapp:app", "--workers", "4", env={"REDAPP_WORK_MS": "3"})
    report = subprocess.Popen(pinned([str(REDSCOPE), "report", "--duration=120s", "--format=json"],
                                     CLIENT_CPUS), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    # it says when it starts counting: once the programs are attached
    assert "watching" in report.stderr.readline()
    # latencies spread from 0 to 240 ms on one route; and fast 200s and 500s
    sleeps = ["/sleep?ms=%d" % ((i * 37) % 61 * 4) for i in range(120)]
    threads = [threading.Thread(target=curl_requests,
                                args=(app.url, sleeps[part::4] + ["/ok"] * 15 + ["/boom"] * 5))
               for part in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(0.5)
    # Ctrl-C ends a report early: it prints what it saw and exits 0
    report.send_signal(signal.SIGINT)
    out, err = report.communicate(timeout=30)
    assert report.returncode == 0, err
    doc = json.loads(out)
    assert doc["format"] == "redscope-report/1"
    svc = [s for s in doc["services"] if s["service_name"] == "redapp"]
    assert len(svc) == 1, doc
    svc = svc[0]
    routes = {(r["method"], r["route"]): r for r in svc["routes"]}
    assert routes[("GET", "/sleep")]["requests"] == 120
    assert routes[("GET", "/ok")]["requests"] == 60
    assert routes[("GET", "/boom")]["requests"] == 20
    assert routes[("GET", "/boom")]["errors"] == 20 and routes[("GET", "/boom")]["error_ratio"] == 1
    assert routes[("GET", "/ok")]["errors"] == 0
    assert svc["requests"] == 200 and svc["errors"] == 20
    assert svc["workers"] == 4
    # the truth: what gunicorn measured, request by request
    truth = [d / 1e6 for m, p, s, d, _ in app.access_entries() if p == "/sleep"]
    assert len(truth) == 120
    for q in ("p50", "p90", "p99"):
        want = true_quantile(truth, float(q[1:]) / 100)
        got = routes[("GET", "/sleep")]["duration_seconds"][q]
        print("%s: report %.4f s, gunicorn %.4f s" % (q, got, want))
        assert abs(bucket(got) - bucket(want)) <= 1, (q, got, want)
    mean = sum(truth) / len(truth)
    assert abs(routes[("GET", "/sleep")]["duration_seconds"]["mean"] - mean) < 0.02 * mean + 0.001


@pytest.mark.solo
def test_report_table_after_its_duration(gunicorn):
    app = gunicorn("redapp:app", "--workers", "2", env={"REDAPP_WORK_MS": "1"})
    report = subprocess.Popen(pinned([str(REDSCOPE), "report", "--duration=4s"], CLIENT_CPUS),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "watching" in report.stderr.readline()
    curl_requests(app.url, ["/ok"] * 30 + ["/missing"] * 10)
    out, err = report.communicate(timeout=30)
    assert report.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["SERVICE", "ROUTE"]
    assert all(len(l) <= 80 for l in lines)
    rows = {tuple(l.split()[:2]): l.split() for l in lines[1:] if l.startswith("  ")}
    assert ("GET", "/ok") in rows and ("GET", "/missing") in rows


class Tmux:
    """A real terminal, 80 columns: keys in, screen out."""

    def __init__(self, cmd, width=80, height=24):
        self.name = "redscope-test-%d" % os.getpid()
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)
        # the shell prints the exit status and the terminal modes once redscope is gone
        script = "%s; echo EXITED $?; stty -a; sleep 60" % cmd
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(width),
                        "-y", str(height), script], check=True)

    def screen(self):
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], check=True,
                              capture_output=True, text=True).stdout

    def keys(self, *keys):
        subprocess.run(["tmux", "send-keys", "-t", self.name] + list(keys), check=True)

    def flag(self, name):
        return subprocess.run(["tmux", "display-message", "-p", "-t", self.name, "#{%s}" % name],
                              check=True, capture_output=True, text=True).stdout.strip()

    def close(self):
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def paced(url, path, per_second, stop):
    """Requests at a steady rate until stop is set: a known load."""
    import requests
    period, n = 1.0 / per_second, 0
    start = time.monotonic()
    while not stop.is_set():
        requests.get(url + path, timeout=5)
        n += 1
        delay = start + n * period - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def parse_duration(text):
    if text.endswith("ms"):
        return float(text[:-2]) / 1e3
    return float(text[:-1])


def rows(screen):
    """Route rows of the top table: (method, route) -> columns."""
    out = {}
    for line in screen.splitlines():
        m = re.match(r"  (\S+) (\S+)\s+([\d.]+)\s+([\d.]+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$", line)
        if m:
            out[(m.group(1), m.group(2))] = m.groups()[2:]
    return out


@pytest.fixture
def tmux():
    made = []

    def start(cmd):
        t = Tmux(cmd)
        made.append(t)
        return t

    yield start
    for t in made:
        t.close()


@pytest.mark.solo
def test_top_in_a_terminal(gunicorn, tmux):
    app = gunicorn("redapp:app", "--workers", "3", env={"REDAPP_WORK_MS": "15"})
    other = gunicorn("otherapp:app", "--workers", "1")
    stop = threading.Event()
    loads = [threading.Thread(target=paced, args=(app.url, "/ok", 40, stop)),
             threading.Thread(target=paced, args=(app.url, "/boom", 10, stop)),
             threading.Thread(target=paced, args=(other.url, "/", 5, stop))]
    for t in loads:
        t.start()
    try:
        term = tmux("taskset -c %s %s top" % (CLIENT_CPUS, REDSCOPE))
        wait_for(lambda: term.flag("alternate_on") == "1", 10, what="top on the alternate screen")
        time.sleep(12)  # a full window of the steady load
        screen = term.screen()
        print(screen)
        assert all(len(l) <= 80 for l in screen.splitlines())
        r = rows(screen)
        rate_ok, err_ok, p50_ok = float(r[("GET", "/ok")][0]), float(r[("GET", "/ok")][1]), r[("GET", "/ok")][2]
        rate_boom, err_boom = float(r[("GET", "/boom")][0]), float(r[("GET", "/boom")][1])
        assert abs(rate_ok - 40) <= 4, screen
        assert abs(rate_boom - 10) <= 1.5, screen
        assert err_ok == 0 and err_boom == 100
        assert bucket(parse_duration(p50_ok)) == bucket(0.017)  # 15 ms of work and a bit
        service = [l for l in screen.splitlines() if l.startswith("redapp ")][0].split()
        assert abs(float(service[1]) - 50) <= 5 and abs(float(service[2]) - 20) <= 3, service
        # sorted by rate: /ok above /boom; by errors: /boom above /ok
        order = [k for k in r if k[1] in ("/ok", "/boom")]
        assert order == [("GET", "/ok"), ("GET", "/boom")]
        term.keys("e")
        wait_for(lambda: [k for k in rows(term.screen()) if k[1] in ("/ok", "/boom")]
                 == [("GET", "/boom"), ("GET", "/ok")], 5, what="sorted by errors")
        assert "sort err%" in term.screen()
        # filter: only the other service
        term.keys("f", "otherapp", "Enter")
        wait_for(lambda: "filter otherapp" in term.screen(), 5, what="the filter")
        wait_for(lambda: "redapp" not in term.screen().split("\n", 1)[1], 5, what="redapp hidden")
        assert ("GET", "/") in rows(term.screen())
        term.keys("q")
        wait_for(lambda: "EXITED 0" in term.screen(), 10, what="top to quit")
        assert term.flag("alternate_on") == "0" and term.flag("cursor_flag") == "1"
        modes = term.screen()
        assert re.search(r"(?<!-)icanon", modes) and re.search(r"(?<!-)echo\b", modes), modes
    finally:
        stop.set()
        for t in loads:
            t.join()


def test_top_ctrl_c_restores_the_terminal(tmux):
    term = tmux("%s top" % REDSCOPE)
    wait_for(lambda: term.flag("alternate_on") == "1", 10, what="top on the alternate screen")
    wait_for(lambda: "SERVICE" in term.screen(), 10, what="the first frame")
    term.keys("C-c")
    wait_for(lambda: "EXITED 0" in term.screen(), 10, what="top to stop on Ctrl-C")
    assert term.flag("alternate_on") == "0" and term.flag("cursor_flag") == "1"
    modes = term.screen()
    assert re.search(r"(?<!-)icanon", modes) and re.search(r"(?<!-)echo\b", modes), modes


def test_top_without_a_terminal_prints_plain_tables(gunicorn):
    app = gunicorn("redapp:app", "--workers", "1", env={"REDAPP_WORK_MS": "1"})
    top = subprocess.Popen([str(REDSCOPE), "top"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, text=True)
    lines = []

    def read():
        for line in top.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    # the first table comes once the programs are attached; the requests go after it
    wait_for(lambda: any(l.startswith("SERVICE") for l in lines), 60, what="the first table")
    curl_requests(app.url, ["/ok"] * 20)
    wait_for(lambda: sum(l.startswith("SERVICE") for l in lines) >= 3
             and any(l.startswith("  GET /ok") for l in lines), 20,
             what="three tables, one showing GET /ok")
    top.send_signal(signal.SIGINT)
    err = top.communicate(timeout=15)[1]
    reader.join(5)
    out = "".join(lines)
    assert top.returncode == 0, err
    assert "\033" not in out  # no escape sequences in a pipe
    frames = [l for l in lines if l.startswith("redscope top ")]
    assert len(frames) == out.count("SERVICE") >= 3  # one status line per table
    assert "  GET /ok" in out
