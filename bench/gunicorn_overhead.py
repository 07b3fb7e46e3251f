#!/usr/bin/python3
"""Throughput of gunicorn (3 sync workers, trivial app) bare and with redscope attached.

Runs alternate A (bare) / B (redscope) in one session so both see the same machine,
and prints requests/s, p99 latency, redscope's count of the requests and its RSS.
counted/sent: wrk leaves the requests in flight at the end of a run out of its count,
redscope does not, so redscope's count is higher by at most the number of connections.
Needs root. Usage: bench/gunicorn_overhead.py [--pairs N] [--seconds S] [--markdown FILE]
"""
import argparse
import os
import statistics
import sys
import time
sys.dont_write_bytecode = True  # no __pycache__ in the tree

from benchlib import (CLIENT_CPUS, SERVER_CPUS, Gunicorn, Redscope, bpf_stats_set, cpu_seconds,
                      prog_delta, prog_stats, rss_kib, stop_all)
from benchlib import wrk as run_wrk


def wrk(url, seconds, connections):
    r = run_wrk(url, seconds, connections)
    return r.rps, r.p99_ms, r.total


def scrape_total(rs, service):
    return rs.scrape(service)["requests"]


def bpf_cost_run(app, seconds, connections, cpus):
    """One more run with kernel.bpf_stats_enabled: BPF time per request, per program."""
    rs = Redscope(cpus=cpus)
    try:
        bpf_stats_set(1)
        before = prog_stats(rs.pid)
        start = scrape_total(rs, app.service)
        wrk(app.url, seconds, connections)
        time.sleep(0.5)
        after = prog_stats(rs.pid)
        counted = scrape_total(rs, app.service) - start
    finally:
        bpf_stats_set(0)
        rs.stop()
    per_prog = prog_delta(before, after)
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

    bpf_stats_set(0)  # restored at exit
    app = Gunicorn()
    url = app.url
    rows = []
    try:
        wrk(url, 2, args.connections)  # warm up
        for i in range(args.pairs):
            rps, p99, _ = wrk(url, args.seconds, args.connections)
            rows.append(("A", "bare", rps, p99, None, None, None, None))
            rs = Redscope(cpus=args.redscope_cpus)
            try:
                idle = rss_kib(rs.pid)["VmRSS"]
                before = scrape_total(rs, app.service)
                cpu0 = cpu_seconds(rs.pid)
                rps, p99, total = wrk(url, args.seconds, args.connections)
                time.sleep(0.5)
                cpu = cpu_seconds(rs.pid) - cpu0
                counted = scrape_total(rs, app.service) - before
                mem = rss_kib(rs.pid)
            finally:
                rs.stop()
            rows.append(("B", "redscope", rps, p99, "%d/%d" % (counted, total), idle, mem["VmHWM"],
                         "%.2f" % (1e6 * cpu / counted)))
            print("pair %d: bare %.0f req/s, redscope %.0f req/s" % (i + 1, rows[-2][2], rps),
                  file=sys.stderr)
        cost = bpf_cost_run(app, args.seconds, args.connections, args.redscope_cpus)
    finally:
        stop_all()

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
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
