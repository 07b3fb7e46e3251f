#!/usr/bin/python3
"""Throughput of gunicorn (3 sync workers, trivial app) bare and with redscope attached.

Runs alternate A (bare) / B (redscope) in one session so both see the same machine,
and prints requests/s, p99 latency, redscope's count of the requests and its RSS.
counted/sent: wrk leaves the requests in flight at the end of a run out of its count,
redscope does not, so redscope's count is higher by at most the number of connections.
Needs root. Usage: bench/gunicorn_overhead.py [--pairs N] [--seconds S] [--markdown FILE]
"""
import argparse
import json
import os
import pathlib
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
REDSCOPE = ROOT / "build" / "redscope"
APPS = pathlib.Path(__file__).parent / "apps"
NCPU = os.cpu_count() or 1
SERVER_CPUS = "0"
CLIENT_CPUS = "1-%d" % (NCPU - 1) if NCPU > 1 else "0"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("nothing listens on port %d" % port)


def wrk(url, seconds, connections):
    out = subprocess.run(["taskset", "-c", CLIENT_CPUS, "wrk", "-t1", "-c%d" % connections,
                          "-d%ds" % seconds, "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    return rps, float(p99.group(1)) * scale, total


def rss_kib(pid):
    status = pathlib.Path("/proc/%d/status" % pid).read_text()
    return {k: int(v.split()[0]) for k, v in
            (line.split(":", 1) for line in status.splitlines()) if k in ("VmRSS", "VmHWM")}


def scrape_total(port):
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("http_server_request_duration_seconds_count{"))


def cpu_seconds(pid):
    """CPU time of all threads of pid, in seconds, at nanosecond resolution."""
    total = 0
    for task in pathlib.Path("/proc/%d/task" % pid).iterdir():
        total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


class Redscope:
    def __init__(self, cpus):
        self.port = free_port()
        pin = ["taskset", "-c", cpus] if cpus else []
        self.proc = subprocess.Popen(pin + [str(REDSCOPE), "--web.listen-address=127.0.0.1:%d" % self.port,
                                            "--log.level=warn"])
        wait_port(self.port)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


def prog_stats(pid):
    """{prog id: (name, run_cnt, run_time_ns)} for the BPF programs pid holds."""
    ids = set()
    for info in pathlib.Path("/proc/%d/fdinfo" % pid).iterdir():
        for line in info.read_text().splitlines():
            if line.startswith("prog_id:"):
                ids.add(int(line.split()[1]))
    out = json.loads(subprocess.run(["bpftool", "--json", "prog", "show"], capture_output=True,
                                    text=True, check=True).stdout)
    return {p["id"]: (p["name"], p.get("run_cnt", 0), p.get("run_time_ns", 0))
            for p in out if p["id"] in ids}


def bpf_cost_run(url, seconds, connections, cpus):
    """One more run with kernel.bpf_stats_enabled: BPF time per request, per program."""
    sysctl = pathlib.Path("/proc/sys/kernel/bpf_stats_enabled")
    old = sysctl.read_text().strip()
    rs = Redscope(cpus)
    try:
        sysctl.write_text("1")
        before = prog_stats(rs.proc.pid)
        start = scrape_total(rs.port)
        wrk(url, seconds, connections)
        time.sleep(0.5)
        after = prog_stats(rs.proc.pid)
        counted = scrape_total(rs.port) - start
    finally:
        sysctl.write_text(old)
        rs.stop()
    per_prog = {}
    for pid, (name, cnt, ns) in after.items():
        b = before.get(pid, (name, 0, 0))
        runs, total = per_prog.get(name, (0, 0))
        per_prog[name] = (runs + cnt - b[1], total + ns - b[2])
    lines = ["", "BPF time per request (separate run with kernel.bpf_stats_enabled=1, "
             "%d requests; programs fire for every process, watched or not):" % counted, "",
             "| program | runs per request | ns per run | ns per request |", "|---|---|---|---|"]
    total = 0
    for name, (runs, ns) in sorted(per_prog.items(), key=lambda kv: -kv[1][1]):
        if runs:
            lines.append("| %s | %.2f | %.0f | %.0f |" % (name, runs / counted, ns / runs, ns / counted))
            total += ns
    lines.append("| all | | | %.0f |" % (total / counted))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--connections", type=int, default=6)
    ap.add_argument("--redscope-cpus", help="pin redscope to these CPUs (default: unpinned)")
    ap.add_argument("--markdown", help="also write the result table to this file")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root to load BPF programs")

    port = free_port()
    gunicorn = subprocess.Popen(["taskset", "-c", SERVER_CPUS, "/usr/bin/gunicorn", "--chdir",
                                 str(APPS), "-w", "3", "-b", "127.0.0.1:%d" % port, "trivial:app"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d/" % port
    rows = []
    try:
        wait_port(port)
        wrk(url, 2, args.connections)  # warm up
        for i in range(args.pairs):
            rps, p99, _ = wrk(url, args.seconds, args.connections)
            rows.append(("A", "bare", rps, p99, None, None, None, None))
            rs = Redscope(args.redscope_cpus)
            try:
                idle = rss_kib(rs.proc.pid)["VmRSS"]
                before = scrape_total(rs.port)
                cpu0 = cpu_seconds(rs.proc.pid)
                rps, p99, total = wrk(url, args.seconds, args.connections)
                time.sleep(0.5)
                cpu = cpu_seconds(rs.proc.pid) - cpu0
                counted = scrape_total(rs.port) - before
                mem = rss_kib(rs.proc.pid)
            finally:
                rs.stop()
            rows.append(("B", "redscope", rps, p99, "%d/%d" % (counted, total), idle, mem["VmHWM"],
                         "%.2f" % (1e6 * cpu / counted)))
            print("pair %d: bare %.0f req/s, redscope %.0f req/s" % (i + 1, rows[-2][2], rps),
                  file=sys.stderr)
        cost = bpf_cost_run(url, args.seconds, args.connections, args.redscope_cpus)
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=30)

    bare = statistics.median(r[2] for r in rows if r[0] == "A")
    withrs = statistics.median(r[2] for r in rows if r[0] == "B")
    bare99 = statistics.median(r[3] for r in rows if r[0] == "A")
    rs99 = statistics.median(r[3] for r in rows if r[0] == "B")
    lines = [
        "gunicorn 20 sync, 3 workers, trivial WSGI app; wrk -t1 -c%d, %d s per run, runs "
        "alternating A/B; server on CPU %s, wrk on CPU %s, redscope %s"
        % (args.connections, args.seconds, SERVER_CPUS, CLIENT_CPUS,
           "on CPU " + args.redscope_cpus if args.redscope_cpus else "unpinned"),
        "",
        "| run | mode | req/s | p99 ms | counted/sent | RSS idle KiB | RSS peak KiB | daemon CPU s per 1M req |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, r in enumerate(rows):
        lines.append("| %d%s | %s | %.0f | %.2f | %s | %s | %s | %s |" % (
            n // 2 + 1, r[0], r[1], r[2], r[3], r[4] or "-", r[5] or "-", r[6] or "-", r[7] or "-"))
    lines += [
        "",
        "median req/s: bare %.0f, with redscope %.0f (ratio %.3f, %+.1f%%)"
        % (bare, withrs, withrs / bare, 100 * (withrs - bare) / bare),
        "median p99: bare %.2f ms, with redscope %.2f ms" % (bare99, rs99),
    ] + cost
    print("\n".join(lines))
    if args.markdown:
        pathlib.Path(args.markdown).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
