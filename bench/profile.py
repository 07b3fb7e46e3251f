#!/usr/bin/python3
"""Where redscope's BPF time per request goes, for one server and one load generator.

    bench/profile.py [--server gunicorn|nginx|nginx-close|node|nginx-h2] [--client wrk|hey|h2load]
                     [--seconds S] [--rounds N] [--build NAME=PATH]... [--least] [--perf]

Each round runs the load with the hooks alone (bench/apps/hookfloor.bpf.c) and with
redscope (the capture auto picks), with kernel.bpf_stats_enabled=1, and prints each
program's runs and BPF time per request; the medians of the rounds at the end. Each
--build adds another redscope binary to the rounds (a change beside the build it
changes: --build before=/tmp/old/redscope). --least adds the least work any design does
on the same hooks (bench/apps/leastwork.bpf.c), its connection state in socket storage
("least") and in a hash map ("least-hash"). --perf
also samples the whole machine (perf record -a) during one more redscope run and lists
the symbols BPF time is spent in: the programs themselves (bpf_prog_*) and the kernel
helpers they call (map operations, probe reads, the ring buffer). Needs root.
"""
import argparse
import collections
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.dont_write_bytecode = True
from benchlib import (REQUEST_SERVERS as SERVERS, bpf_run, log, median,  # noqa: E402
                      stop_all, tmpdir)


def perf_symbols(data, top=25):
    """The symbols with the most samples, from perf report (kernel and BPF only)."""
    out = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--sort", "sym",
                          "--no-children", "-q"], capture_output=True, text=True,
                         timeout=300).stdout
    rows = []
    for line in out.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0].endswith("%") and parts[1] == "[k]":
            rows.append((float(parts[0][:-1]), parts[2].strip()))
    return rows[:top]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", choices=sorted(SERVERS), default="gunicorn")
    ap.add_argument("--client", choices=["wrk", "hey", "h2load"], default="wrk")
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--build", action="append", default=[], metavar="NAME=PATH",
                    help="another redscope binary to measure beside build/redscope")
    ap.add_argument("--least", action="store_true",
                    help="also the least work any design does (bench/apps/leastwork.bpf.c)")
    ap.add_argument("--perf", action="store_true")
    a = ap.parse_args()
    builds = [("redscope", None)] + [tuple(b.split("=", 1)) for b in a.build]
    modes = ["floor"] + (["least", "least-hash"] if a.least else []) + [name for name, _ in builds]
    server, conns, keepalive = SERVERS[a.server]
    per_mode = collections.defaultdict(list)
    try:
        for rnd in range(a.rounds):
            for mode in modes:
                progs, counted, r, cpu = bpf_run(server, a.client, a.seconds, conns, keepalive, mode,
                                             binary=dict(builds).get(mode))
                total = sum(ns for _, ns in progs.values())
                per_mode[mode].append((total / counted, r.rps, progs, counted, cpu))
                log("round %d %-8s %7.0f req/s, %6.0f ns BPF per request, %.2f runs per request"
                    % (rnd + 1, mode, r.rps, total / counted,
                       sum(n for n, _ in progs.values()) / counted))
        print("%s under %s (%d connections%s), %d s per run, %d rounds:"
              % (a.server, a.client, conns, "" if keepalive else ", one request each",
                 a.seconds, a.rounds))
        for mode in modes:
            runs = per_mode[mode]
            mid = sorted(runs, key=lambda x: x[0])[len(runs) // 2]
            print("\n%s: median %.0f ns per request (runs: %s), %.0f req/s median%s"
                  % ("hooks alone" if mode == "floor" else mode, mid[0],
                     ", ".join("%.0f" % x[0] for x in runs), median([x[1] for x in runs]),
                     "" if mode == "floor" or mode.startswith("least") else ", daemon %.2f CPU s per million requests"
                     % (1e6 * median([x[4] / x[3] for x in runs]))))
            print("  %-22s %10s %10s %12s" % ("program", "runs/req", "ns/run", "ns/req"))
            for name, (n, ns) in sorted(mid[2].items(), key=lambda kv: -kv[1][1]):
                if n:
                    print("  %-22s %10.2f %10.0f %12.0f" % (name, n / mid[3], ns / n, ns / mid[3]))
        fl = median([x[0] for x in per_mode["floor"]])
        for mode in modes[1:]:
            rs = median([x[0] for x in per_mode[mode]])
            print("\n%s / hooks alone: %.1fx (%.0f / %.0f ns per request)" % (mode, rs / fl, rs, fl))
        if a.perf:
            data = tmpdir("perf") / "perf.data"
            bpf_run(server, a.client, a.seconds, conns, keepalive, "redscope", perf=data)
            print("\nperf record -a during a redscope run: kernel symbols by share of samples")
            for share, sym in perf_symbols(data):
                print("  %6.2f%%  %s" % (share, sym))
    finally:
        stop_all()


if __name__ == "__main__":
    main()
