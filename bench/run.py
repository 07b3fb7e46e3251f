#!/usr/bin/python3
"""Every redscope benchmark in one session; writes docs/benchmarks.md.

Sections (--sections, comma-separated, default all):
  gunicorn   requests/s and p99 of gunicorn (3 sync workers, trivial app): bare, redscope,
             prometheus_client multiprocess middleware, gunicorn --statsd-host
  nginx      requests/s and p99 of nginx serving a small static file: bare, redscope
  unwatched  slowdown of processes redscope does not watch: pipe ping-pong, dd bs=1
  bpf        BPF time per request (kernel.bpf_stats_enabled), daemon CPU per request
  capacity   request rates with and without lost events; a stalled daemon
  footprint  daemon RSS idle, under load, with 10k series; /metrics at 10k series
  scale      /metrics at 30k and 100k series: peak RSS growth during a scrape, time, size
  requests   per server and load generator (gunicorn, nginx, nginx with a connection per
             request, node; wrk and hey): throughput bare, with the hooks alone and with
             redscope, and BPF time per request beside the hooks alone's, per hook
  framing    instructions the HTTP/1 framing core runs per request (callgrind of its C
             build), beside those of a baseline revision (--framing-baseline)
  steps      what each kind of step of a BPF program costs here: a call, a user or kernel
             read, the clock, a map lookup or update, a ring buffer record

Baselines are measured in the same run, modes alternate run by run (A B C D, A B C D,
...) and medians are reported. Needs root. `--quick` is a smoke run (about 5 minutes);
the full run takes about 40 minutes on 2 cores.
"""
import argparse
import os
import pathlib
import platform
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.dont_write_bytecode = True  # no __pycache__ in the tree
from benchlib import (APPS, CLIENT_CPUS, GUNICORN, H2_STREAMS, REQUEST_SERVERS, ROOT, SERVER_CPUS,  # noqa: E402
                      STATIC_BYTES, Gunicorn, HookFloor, LeastWork, Nginx, Redscope, RespSink, UdpSink, bpf_run,
                      bpf_stats_get, bpf_stats_set, cpu_seconds, http_get, load, log, median, pct,
                      prog_delta, prog_stats, redscope_messages, rss_kib, stop_all, tmpdir, wrk)
from hooks import socket_tracepoints  # noqa: E402  (tests/lib, on the path benchlib sets)

SECTIONS = ["gunicorn", "nginx", "unwatched", "bpf", "capacity", "footprint", "scale", "requests",
            "framing", "steps", "calls"]


def host_backends():
    """The capture backends this kernel has, cheapest first: each is measured."""
    return (["sockets"] if socket_tracepoints() else []) + ["syscalls"]


BACKENDS = host_backends()
BEST = BACKENDS[0]      # what auto picks, and what the targets are about
# empty programs on the sockets backend's hooks: the floor of that capture
FLOOR = "hooks only" if "sockets" in BACKENDS else None
GUNICORN_CONNS = 6      # two per worker, as bench/gunicorn_overhead.py
NGINX_CONNS = 50
PACE_MS = 5             # wrk pacing: each connection waits this long after each response


class Profile:
    def __init__(self, quick):
        self.quick = quick
        self.seconds = 2 if quick else 5          # one load run
        self.rounds = 1 if quick else 5           # A/B/... rounds, gunicorn and nginx
        self.unwatched_rounds = 2 if quick else 9  # loops of a second or two: more rounds, steadier medians
        self.pingpong_n = 50000 if quick else 200000
        self.dd_n = 300000 if quick else 1000000
        self.capacity_rates = [10000, 20000] if quick else [5000, 10000, 20000, 30000]
        self.capacity_seconds = 2 if quick else 4
        self.stall_seconds = 2 if quick else 3


# ------------------------------------------------------------------ output

class Report:
    def __init__(self):
        self.parts = []      # markdown blocks, in order
        self.targets = {}    # key: (target, measured, met, margin)

    def add(self, text):
        text = text.rstrip("\n") + "\n"
        self.parts.append(text)
        print(text, flush=True)


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def f0(x):
    return "-" if x is None else "%.0f" % x


def f1(x):
    return "-" if x is None else "%.1f" % x


def f2(x):
    return "-" if x is None else "%.2f" % x


def signed(x, unit="%"):
    return "-" if x is None else "%+.1f%s" % (x, unit)


def mib(kib):
    return "%.1f MiB" % (kib / 1024.0)


# ------------------------------------------------------------------ modes

def run_modes(modes, rounds, log_prefix):
    """Run each mode's callable once per round, modes alternating; {mode: [result...]}."""
    res = {m: [] for m, _ in modes}
    for r in range(rounds):
        for name, fn in modes:
            out = fn()
            res[name].append(out)
            log("%s round %d/%d %-10s %7.0f req/s  p99 %.2f ms%s" % (
                log_prefix, r + 1, rounds, name, out["rps"], out["p99"],
                ("  " + out["note"]) if out.get("note") else ""))
    return res


def redscope_load(url, service, seconds, conns, args=(), run=None):
    """One load run (run(), else wrk) with a freshly started redscope; checks its count
    against the load generator's."""
    rs = Redscope(args)
    time.sleep(0.3)  # let the start-up scan settle
    idle_kib = rs.rss_kib()
    s0 = rs.scrape(service)
    c0 = rs.cpu_seconds()
    w = run() if run else wrk(url, seconds, conns)
    time.sleep(0.3)
    cpu = rs.cpu_seconds() - c0
    s1 = rs.scrape(service)
    rss = rs.rss_kib()
    rs.stop()
    counted = s1["requests"] - s0["requests"]
    lost = s1["redscope_lost_events_total"] - s0["redscope_lost_events_total"]
    extra = counted - w.total
    return {"rps": w.rps, "p99": w.p99_ms, "sent": w.total, "counted": counted, "lost": lost,
            "calls": s1["calls"] - s0["calls"],
            "extra": extra, "count_ok": 0 <= extra <= conns and lost == 0,
            "cpu_per_m": 1e6 * cpu / counted if counted else None,
            "rss_idle": idle_kib, "rss": rss,
            "note": "counted %d, wrk %d, lost %d" % (counted, w.total, lost)}


def floor_load(url, seconds, conns, run=None):
    """One load run (run(), else wrk) with only the empty programs of HookFloor loaded."""
    fl = HookFloor()
    w = run() if run else wrk(url, seconds, conns)
    fl.stop()
    return {"rps": w.rps, "p99": w.p99_ms}


FLOOR_NOTE = ("\n\"%s\" has no redscope, only programs that return 0 at once on the four "
              "hooks of the sockets capture (`bench/apps/hookfloor.bpf.c`): what any BPF "
              "program on those tracepoints costs on this kernel, before it does anything."
              % FLOOR) if FLOOR else ""


def floor_text(loss):
    """"hooks only X%, " from a {mode: loss %} that has the floor, else ""."""
    return "%s %.1f%%, " % (FLOOR, loss[FLOOR]) if FLOOR and FLOOR in loss else ""


def mode_table(res, base="bare", extra_cols=()):
    """Per mode: req/s of each run, median, ratio to bare; p99 likewise."""
    bare_rps = median(r["rps"] for r in res[base])
    bare_p99 = median(r["p99"] for r in res[base])
    rounds = len(res[base])
    header = ["mode"] + ["run %d req/s" % (i + 1) for i in range(rounds)] + \
             ["median req/s", "vs bare", "median p99 ms", "p99 vs bare"] + [c[0] for c in extra_cols]
    rows = []
    for mode, runs in res.items():
        rps = median(r["rps"] for r in runs)
        p99 = median(r["p99"] for r in runs)
        rows.append([mode] + [f0(r["rps"]) for r in runs] +
                    [f0(rps), "%.3f (%s)" % (rps / bare_rps, signed(pct(rps, bare_rps))),
                     f2(p99), "%.2fx" % (p99 / bare_p99)] +
                    [c[1](mode, runs) for c in extra_cols])
    return table(header, rows)


def check_counts(runs):
    if not runs or "counted" not in runs[0]:
        return "-"
    ok = all(r["count_ok"] for r in runs)
    worst = max(runs, key=lambda r: abs(r["extra"]))
    return "%s (max +%d, lost %d)" % ("ok" if ok else "MISMATCH", worst["extra"],
                                       sum(r["lost"] for r in runs))


def target_row(rep, key, target, measured, met, margin, words=("met", "**missed**")):
    """A row of the targets table; met None: a figure reported, no target."""
    rep.targets[key] = (target, measured, "reported" if met is None else
                        words[0] if met else words[1], margin)


# ------------------------------------------------------------------ a. gunicorn

def section_gunicorn(p, rep):
    sink = UdpSink()
    promdir = tmpdir("prom")
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(promdir))
    plain = Gunicorn()
    prom = Gunicorn("prom_app:app", extra=["-c", str(APPS / "prom_conf.py")], env=env, name="prom")
    statsd = Gunicorn(extra=["--statsd-host=127.0.0.1:%d" % sink.port], name="statsd")
    conns = GUNICORN_CONNS
    for g in (plain, prom, statsd):
        wrk(g.url, 1, conns)  # warm up

    def prom_total():
        body = http_get(prom.url + "metrics")[1].decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
                   if line.startswith("http_requests_total{"))

    def bare():
        w = wrk(plain.url, p.seconds, conns)
        return {"rps": w.rps, "p99": w.p99_ms}

    def with_redscope(backend):
        return lambda: redscope_load(plain.url, plain.service, p.seconds, conns,
                                     ["--capture=" + backend])

    def with_floor():
        return floor_load(plain.url, p.seconds, conns)

    def with_prom():
        before = prom_total()
        w = wrk(prom.url, p.seconds, conns)
        time.sleep(0.3)
        counted = prom_total() - before
        extra = counted - w.total
        return {"rps": w.rps, "p99": w.p99_ms, "sent": w.total, "counted": counted, "lost": 0,
                "extra": extra, "count_ok": 0 <= extra <= conns,
                "note": "counted %d, wrk %d" % (counted, w.total)}

    def with_statsd():
        before = sink.count()
        w = wrk(statsd.url, p.seconds, conns)
        time.sleep(0.3)
        dgrams = sink.count() - before
        return {"rps": w.rps, "p99": w.p99_ms, "sent": w.total, "dgrams": dgrams,
                "note": "%.2f datagrams per request" % (dgrams / w.total)}

    modes = [("bare", bare)] + ([(FLOOR, with_floor)] if FLOOR else []) + \
        [("redscope " + b, with_redscope(b)) for b in BACKENDS] + \
        [("prometheus_client", with_prom), ("statsd", with_statsd)]
    res = run_modes(modes, p.rounds, "gunicorn")
    for g in (plain, prom, statsd):
        g.stop()
    sink.stop()

    def count_col(mode, runs):
        if mode == "statsd":
            return "%.2f datagrams/request" % median(r["dgrams"] / r["sent"] for r in runs)
        return check_counts(runs)

    rs = res["redscope " + BEST]
    bare_rps = median(r["rps"] for r in res["bare"])
    loss = {m: -pct(median(r["rps"] for r in res[m]), bare_rps) for m in res if m != "bare"}
    rep.add("""## a. gunicorn: what the application loses

gunicorn %s, 3 sync workers on CPU %s, trivial WSGI app (`bench/apps/trivial.py`);
`wrk -t1 -c%d` on CPU %s, %d s per run, %d round(s) of the modes in turn; redscope
(auto mode, unpinned, with each capture backend of this kernel) started fresh for each
of its runs. In-app modes:
`prometheus_client` is `bench/apps/prom_app.py` (multiprocess mode, a Counter and a
Histogram by method, route and status, `child_exit` marks dead workers), `statsd` is
gunicorn `--statsd-host` sending to a local UDP socket that reads and discards
(`bench/apps/udp_sink.py`, unpinned). "counted" checks the metrics against wrk:
wrk leaves out the requests still in flight when it stops, so a correct count is
higher by 0 to %d (one per connection).%s
""" % (gunicorn_version(), SERVER_CPUS, conns, CLIENT_CPUS, p.seconds, p.rounds, conns, FLOOR_NOTE))
    rep.add(mode_table(res, extra_cols=[("counted vs wrk", count_col)]))
    rep.add("Throughput lost: %s%s, prometheus_client %.1f%%, statsd %.1f%%. "
            "redscope daemon (%s): %.2f CPU s per million requests, RSS %s idle, %s after the run."
            % (floor_text(loss),
               ", ".join("redscope %s %.1f%%" % (b, loss["redscope " + b]) for b in BACKENDS),
               loss["prometheus_client"], loss["statsd"], BEST,
               median(r["cpu_per_m"] for r in rs), mib(median(r["rss_idle"] for r in rs)),
               mib(median(r["rss"] for r in rs))))
    best = loss["redscope " + BEST]
    target_row(rep, "gunicorn", "gunicorn throughput loss < 3%",
               "%.1f%% (%s; %s%s; prometheus_client %.1f%%, statsd %.1f%%)"
               % (best, BEST, floor_text(loss),
                  ", ".join("%s %.1f%%" % (b, loss["redscope " + b]) for b in BACKENDS[1:]),
                  loss["prometheus_client"], loss["statsd"]),
               best < 3, "%+.1f points" % (best - 3))
    rep.gunicorn_loss = {b: loss["redscope " + b] for b in BACKENDS}
    if FLOOR:
        rep.gunicorn_loss[FLOOR] = loss[FLOOR]
    for b in BACKENDS:
        rep.problems += ["gunicorn run %d (%s): redscope counted %d, wrk %d, lost %d"
                         % (i + 1, b, r["counted"], r["sent"], r["lost"])
                         for i, r in enumerate(res["redscope " + b]) if not r["count_ok"]]


def gunicorn_version():
    out = subprocess.run([GUNICORN, "--version"], capture_output=True, text=True, timeout=30)
    return (out.stdout + out.stderr).split()[-1].strip("()") if out.returncode == 0 else "?"


# ------------------------------------------------------------------ b. nginx

def section_nginx(p, rep):
    ng = Nginx()
    conns = NGINX_CONNS
    wrk(ng.url, 1, conns)

    def bare():
        w = wrk(ng.url, p.seconds, conns)
        return {"rps": w.rps, "p99": w.p99_ms}

    def with_redscope(backend):
        return lambda: redscope_load(ng.url, ng.service, p.seconds, conns, ["--capture=" + backend])

    res = run_modes([("bare", bare)] +
                    ([(FLOOR, lambda: floor_load(ng.url, p.seconds, conns))] if FLOOR else []) +
                    [("redscope " + b, with_redscope(b)) for b in BACKENDS], p.rounds, "nginx")
    ng.stop()
    rs = res["redscope " + BEST]
    losses = {b: -pct(median(r["rps"] for r in res["redscope " + b]),
                      median(r["rps"] for r in res["bare"])) for b in BACKENDS}
    loss = losses[BEST]
    rep.add("""## b. nginx: a static file at full speed

nginx %s, `worker_processes 1` on CPU %s, `access_log off`, `sendfile on`, keep-alive;
a %d-byte static file; `wrk -t1 -c%d` on CPU %s, %d s per run, %d round(s) of the modes
in turn.%s
""" % (nginx_version(), SERVER_CPUS, STATIC_BYTES, conns, CLIENT_CPUS, p.seconds, p.rounds,
       FLOOR_NOTE))
    rep.add(mode_table(res, extra_cols=[("counted vs wrk", lambda m, runs: check_counts(runs))]))
    floor = {"redscope " + b: losses[b] for b in BACKENDS}
    if FLOOR:
        floor[FLOOR] = -pct(median(r["rps"] for r in res[FLOOR]),
                            median(r["rps"] for r in res["bare"]))
    rep.add("Throughput lost: %s%s; daemon (%s) %.2f CPU s per million requests."
            % (floor_text(floor), ", ".join("redscope %s %.1f%%" % (b, losses[b]) for b in BACKENDS),
               BEST,
               median(r["cpu_per_m"] for r in rs)))
    target_row(rep, "nginx", "nginx throughput loss < 8% at full speed",
               "%.1f%% (%s; %s%s)" % (loss, BEST, floor_text(floor),
                                     ", ".join("%s %.1f%%" % (b, losses[b]) for b in BACKENDS[1:])),
               loss < 8, "%+.1f points" % (loss - 8))
    rep.nginx_loss = dict(losses, **({FLOOR: floor[FLOOR]} if FLOOR else {}))
    for b in BACKENDS:
        rep.problems += ["nginx run %d (%s): redscope counted %d, wrk %d, lost %d"
                         % (i + 1, b, r["counted"], r["sent"], r["lost"])
                         for i, r in enumerate(res["redscope " + b]) if not r["count_ok"]]


def nginx_version():
    out = subprocess.run(["nginx", "-v"], capture_output=True, text=True, timeout=30)
    return out.stderr.strip().split("/")[-1]


# ------------------------------------------------------------------ c. unwatched

def timed(argv):
    """(wall s, CPU s of the process and its children) of one run."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out = proc.stdout.read()
    proc.stdout.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit("%s failed (%d)" % (argv, proc.returncode))
    return wall, ru.ru_utime + ru.ru_stime, out


def section_unwatched(p, rep):
    d = tmpdir("pingpong")
    exe = d / "pingpong"
    subprocess.run(["cc", "-O2", "-o", str(exe), str(APPS / "pingpong.c")], check=True, timeout=60)
    cpu = CLIENT_CPUS.split("-")[0]
    tests = {
        "pipe ping-pong": (["taskset", "-c", cpu, str(exe), str(p.pingpong_n), "pipe"],
                           4 * p.pingpong_n),
        "socketpair ping-pong": (["taskset", "-c", cpu, str(exe), str(p.pingpong_n), "socketpair"],
                                 4 * p.pingpong_n),
        "dd bs=1": (["taskset", "-c", cpu, "dd", "if=/dev/zero", "of=/dev/null", "bs=1",
                     "count=%d" % p.dd_n, "status=none"], 2 * p.dd_n),
    }
    loaded = ([FLOOR] if FLOOR else []) + BACKENDS
    modes = ["bare"] + loaded
    app = Gunicorn()  # the watched, idle service

    def start(mode):
        if mode == "bare":
            return None
        return HookFloor() if mode == FLOOR else Redscope(["--capture=" + mode])

    res = {(t, m): [] for t in tests for m in modes}
    for r in range(p.unwatched_rounds):
        for mode in modes:
            rs = start(mode)
            for name, (argv, _) in tests.items():
                wall, cpu_s, out = timed(argv)
                if "ping-pong" in name:
                    wall = int(out) / 1e9  # the loop itself, without fork and exit
                res[(name, mode)].append((wall, cpu_s))
                log("unwatched round %d/%d %-8s %-20s wall %.3f s  cpu %.3f s"
                    % (r + 1, p.unwatched_rounds, mode, name, wall, cpu_s))
            if rs:
                rs.stop()

    # BPF time spent on an unwatched process's calls (separate runs, stats on)
    bpf_ns = {}
    for backend in loaded:
        rs = start(backend)
        bpf_stats_set(1)
        for name in ("dd bs=1", "socketpair ping-pong"):
            before = prog_stats(rs.pid)
            timed(tests[name][0])
            after = prog_stats(rs.pid)
            bpf_ns[(backend, name)] = sum(ns for _, ns in prog_delta(before, after).values()) \
                / tests[name][1]
        bpf_stats_set(0)
        rs.stop()
    app.stop()

    rep.add("""## c. Processes redscope does not watch

Syscall-bound loops that redscope does not watch, pinned to CPU %s, run bare and with
redscope loaded (watching an idle gunicorn) with each capture backend, alternating,
%d rounds: a ping-pong between two processes exchanging one byte %d times over two pipes
or over a unix socket pair (`bench/apps/pingpong.c`, 4 syscalls per exchange), and
`dd if=/dev/zero of=/dev/null bs=1 count=%d` (2 syscalls per byte). CPU time is
user+system of the processes (less sensitive than wall time to other load on the
machine, though not immune on a VM); wall is the loop's elapsed time.%s
""" % (cpu, p.unwatched_rounds, p.pingpong_n, p.dd_n, FLOOR_NOTE))
    rows = []
    added = {}
    for name, (_, nsys) in tests.items():
        b = res[(name, "bare")]
        bw, bc = median(x[0] for x in b), median(x[1] for x in b)
        for mode in loaded:
            w = res[(name, mode)]
            rw, rc = median(x[0] for x in w), median(x[1] for x in w)
            added[(mode, name)] = (pct(rc, bc), 1e9 * (rc - bc) / nsys)
            rows.append([name, mode, "%.3f" % bc, "%.3f" % rc, signed(pct(rc, bc)), "%.3f" % bw,
                         "%.3f" % rw, signed(pct(rw, bw)), "%.0f" % (1e9 * (rc - bc) / nsys),
                         "%.0f" % bpf_ns.get((mode, name), 0) if (mode, name) in bpf_ns else "-"])
    rep.add(table(["loop", "loaded", "CPU s bare", "CPU s loaded", "slower (CPU)", "wall s bare",
                   "wall s loaded", "slower (wall)", "ns added per syscall (CPU)",
                   "BPF ns per syscall (stats on)"], rows))
    rep.add("With the syscall capture, every syscall of every process takes the kernel's "
            "traced entry and exit path, with the perf tracepoint handler around each program, "
            "watched or not. The socket capture enables no syscall tracepoint: `dd` runs no "
            "program at all, and a socket call of an unwatched process runs one, which checks "
            "one byte of an array indexed by process id (the JIT inlines the lookup) and "
            "returns. BPF ns are measured with `kernel.bpf_stats_enabled=1`, which adds two "
            "clock reads to each run and weighs on programs this short.")
    rep.unwatched = added
    dd_slow, dd_ns = added[(BEST, "dd bs=1")]
    sp_slow, sp_ns = added[(BEST, "socketpair ping-pong")]
    target_row(rep, "unwatched", "unwatched `dd bs=1` slowed < 1%",
               "%.1f%% (%s; syscalls %.1f%%, %.0f ns per syscall)"
               % (dd_slow, BEST, added[("syscalls", "dd bs=1")][0],
                  added[("syscalls", "dd bs=1")][1]),
               dd_slow < 1, "%+.1f points" % (dd_slow - 1))
    target_row(rep, "socketpair", "unwatched socket send/recv: < 60 ns added per call",
               "%.0f ns (%s; %ssyscalls %.0f ns)"
               % (sp_ns, BEST, "%s %.0f ns, " % (FLOOR, added[(FLOOR, "socketpair ping-pong")][1])
                  if FLOOR else "", added[("syscalls", "socketpair ping-pong")][1]),
               sp_ns < 60, "%+.0f ns" % (sp_ns - 60))


# ------------------------------------------------------------------ d. bpf cost

def bpf_cost(p, backend):
    """BPF time per gunicorn request with one capture backend, or with the hooks only
    (FLOOR): (rows, ns per request, runs per request, counted, wrk, daemon CPU s per
    million). The floor has no count of its own: wrk's stands in."""
    app = Gunicorn()
    wrk(app.url, 1, GUNICORN_CONNS)
    rs = HookFloor() if backend == FLOOR else Redscope(["--capture=" + backend])
    counts = not isinstance(rs, HookFloor)
    bpf_stats_set(1)
    try:
        before = prog_stats(rs.pid)
        s0 = rs.scrape(app.service) if counts else None
        c0 = cpu_seconds(rs.pid)
        w = wrk(app.url, p.seconds, GUNICORN_CONNS)
        time.sleep(0.3)
        after = prog_stats(rs.pid)
        c1 = cpu_seconds(rs.pid)
        s1 = rs.scrape(app.service) if counts else None
    finally:
        bpf_stats_set(0)
    rs.stop()
    app.stop()
    counted = s1["requests"] - s0["requests"] if counts else w.total
    per = prog_delta(before, after)
    rows, total = [], 0
    for name, (runs, ns) in sorted(per.items(), key=lambda kv: -kv[1][1]):
        if runs:
            rows.append([name, "%.2f" % (runs / counted), "%.0f" % (ns / runs),
                         "%.0f" % (ns / counted)])
            total += ns
    runs = sum(v[0] for v in per.values()) / counted
    rows.append(["**all**", "%.2f" % runs, "", "**%.0f**" % (total / counted)])
    return rows, total / counted, runs, counted, w, 1e6 * (c1 - c0) / counted


def section_bpf(p, rep):
    rep.add("""## d. Cost per request

gunicorn as in (a) under `wrk -c%d` for %d s per capture backend, with
`kernel.bpf_stats_enabled=1` for these runs only; `run_time_ns` and `run_cnt` of the
programs redscope holds (`bpftool prog show`), before and after, divided by the
requests redscope counted. This includes what the programs do for wrk's side of each
connection and anything else running. With the stats on, each run also pays two clock
reads, counted in its time: short runs are overstated.
""" % (GUNICORN_CONNS, p.seconds))
    per_req = {}
    for backend in ([FLOOR] if FLOOR else []) + BACKENDS:
        rows, ns, runs, counted, w, cpu_m = bpf_cost(p, backend)
        per_req[backend] = ns
        what = ("programs that return 0 at once on the same hooks, no redscope; %d requests by "
                "wrk, %.0f req/s" % (w.total, w.rps) if backend == FLOOR else
                "%d requests counted, %d completed by wrk, %.0f req/s; daemon %.2f CPU s per "
                "million requests" % (counted, w.total, w.rps, cpu_m))
        rep.add("**%s** (%s):\n\n%s\n" % (backend, what, table(["program", "runs per request",
                                                                "ns per run", "ns per request"],
                                                               rows)))
        if backend == BEST:
            rep.bpf_runs = runs
    rep.bpf_per_req = per_req
    best = per_req[BEST]
    target_row(rep, "bpf", "BPF time per gunicorn request <= 1 us",
               "%.0f ns (%s%s%s)" % (best, BEST,
                                     "; %s %.0f ns" % (FLOOR, per_req[FLOOR]) if FLOOR else "",
                                     "".join("; %s %.0f ns" % (b, per_req[b]) for b in BACKENDS[1:])),
               best <= 1000, "%.1fx the target" % (best / 1000))


# ------------------------------------------------------------------ requests

# (server of REQUEST_SERVERS, load generator): two clients on the servers of the targets,
# and the servers whose connections carry one request each
REQUEST_CASES = [("gunicorn", "wrk"), ("gunicorn", "hey"), ("nginx", "wrk"), ("nginx", "hey"),
                 ("nginx-close", "wrk"), ("node", "wrk"), ("nginx-h2", "h2load")]
HOOK_PROGRAMS = [("socket reads", "sock_recv", "floor_recv"),
                 ("socket writes", "sock_send", "floor_send"),
                 ("TCP state changes", "sock_state_btf", "floor_state"),
                 ("sockets freed", "sock_destroy_btf", "floor_destroy")]


LEAST_MODES = ["least", "least-hash"]  # the least work, its connections in socket storage, in a hash


def least_load(port, hash_state, run):
    """One load run (run()) with only the least work (LeastWork) loaded."""
    lw = LeastWork(port, hash_state=hash_state)
    w = run()
    lw.stop()
    return {"rps": w.rps, "p99": w.p99_ms}


def request_case(p, name, client):
    """BPF time per request (stats on: hooks alone, the least work both ways, redscope)
    and throughput (stats off: bare, hooks alone, the cheaper least work, redscope) of
    one server under one load generator."""
    server, conns, keepalive = REQUEST_SERVERS[name]
    # the least work reads HTTP/1.x heads: it has no HTTP/2 counterpart
    least_modes = LEAST_MODES if FLOOR and client != "h2load" else []
    # requests in flight when the load stops: a connection's, or its streams'
    in_flight = conns * (H2_STREAMS if client == "h2load" else 1)
    bpf_modes = (["floor"] if FLOOR else []) + least_modes + ["redscope"]
    per = {m: [] for m in bpf_modes}
    for rnd in range(p.rounds):
        for mode in bpf_modes:
            progs, counted, r, cpu = bpf_run(server, client, p.seconds, conns, keepalive, mode)
            total = sum(ns for _, ns in progs.values())
            per[mode].append({"ns": total / counted, "progs": progs, "counted": counted,
                              "runs": sum(n for n, _ in progs.values()) / counted,
                              "cpu_per_m": 1e6 * cpu / counted})
            log("%s/%s bpf round %d/%d %-10s %6.0f ns per request" % (name, client, rnd + 1,
                                                                      p.rounds, mode,
                                                                      total / counted))
    least = min(least_modes, key=lambda m: median(x["ns"] for x in per[m])) if least_modes else None
    app = server()
    service = getattr(app, "service", None)

    def run():
        return load(client, app.url, p.seconds, conns, keepalive)

    def bare():
        r = run()
        return {"rps": r.rps, "p99": r.p99_ms}

    load(client, app.url, 1, conns, keepalive)
    modes = [("bare", bare)]
    if FLOOR:
        modes.append((FLOOR, lambda: floor_load(app.url, p.seconds, conns, run=run)))
    if least:
        modes.append(("least", lambda: least_load(app.port, least == "least-hash", run)))
    modes.append(("redscope", lambda: redscope_load(app.url, service, p.seconds, in_flight,
                                                    run=run)))
    res = run_modes(modes, p.rounds, "%s/%s" % (name, client))
    app.stop()
    return res, per, least


def mid_run(runs):
    """The run of the median BPF time per request."""
    return sorted(runs, key=lambda x: x["ns"])[len(runs) // 2]


def section_requests(p, rep):
    rep.add("""## h. Per request, by server and load generator

Each server on CPU %s, the load generator on CPU %s, %d s per run, %d round(s) of the
modes in turn. First BPF time per request with `kernel.bpf_stats_enabled=1`: the hooks
alone (`bench/apps/hookfloor.bpf.c`), the least work (`bench/apps/leastwork.bpf.c`, its
connection state in socket storage, then in a hash map) and redscope (auto: the %s
capture) in turn: `run_time_ns` of the programs each holds, divided by the requests
redscope counted (for the others, by the load generator's; the least work's own record
count is checked against it). Then throughput with the stats off: bare, hooks alone,
the least work (the cheaper way of the two) and redscope. Servers: gunicorn as in (a)
(`-c%d`, a connection per request: its sync workers close each), nginx as in (b)
(`-c%d`, keep-alive), nginx with a connection per request (`-c%d`, `Connection:
close`), node's `http` server (`bench/apps/node_http.js`, `-c%d`, a connection per
request), and nginx speaking HTTP/2 (`http2`, h2c) under h2load (`-c%d -m%d`: %d
connections of %d concurrent streams; the least work has no HTTP/2 counterpart). Load
generators: wrk and hey (a Go client, `-cpus 1`). The spread: the runs' median and, in
brackets, their lowest and highest.

The least work is what any design of these metrics must do on the same hooks, and no
more: the process check, the connection's state, the request line's first 64 bytes
and the response's first 16 read from the application, the clock twice and a record
per request. No framing, no connection bookkeeping, so a lower bound, not a collector:
what a request costs above the hooks alone whatever is built.
""" % (SERVER_CPUS, CLIENT_CPUS, p.seconds, p.rounds, BEST, REQUEST_SERVERS["gunicorn"][1],
       REQUEST_SERVERS["nginx"][1], REQUEST_SERVERS["nginx-close"][1],
       REQUEST_SERVERS["node"][1], REQUEST_SERVERS["nginx-h2"][1], H2_STREAMS,
       REQUEST_SERVERS["nginx-h2"][1], H2_STREAMS))
    rows, ns_rows, hook_rows, figures = [], [], {h[0]: [] for h in HOOK_PROGRAMS}, {}

    def spread(xs, fmt="%.0f"):
        xs = sorted(xs)
        return (fmt + " (" + fmt + "-" + fmt + ")") % (median(xs), xs[0], xs[-1])

    def lost(loss, m):
        return "%.1f%%" % loss[m] if m in loss else "-"

    for name, client in REQUEST_CASES:
        res, per, least = request_case(p, name, client)
        bare = median(r["rps"] for r in res["bare"])
        loss = {m: -pct(median(r["rps"] for r in runs), bare) for m, runs in res.items()}
        ns = {m: median(x["ns"] for x in runs) for m, runs in per.items() if runs}
        ratio = ns["redscope"] / ns["floor"] if ns.get("floor") else None
        least_ratio = ns[least] / ns["floor"] if least else None
        figures[(name, client)] = {"loss": loss, "ns": ns, "ratio": ratio,
                                   "least_ratio": least_ratio,
                                   "over_least": ns["redscope"] / ns[least] if least else None}
        case = "%s, %s" % (name, client)
        rows.append([case, spread([r["rps"] for r in res["bare"]]), lost(loss, FLOOR),
                     lost(loss, "least"), lost(loss, "redscope"), check_counts(res["redscope"])])
        ns_rows.append([case] + [spread([x["ns"] for x in per[m]]) if per.get(m) else "-"
                                 for m in ["floor"] + LEAST_MODES + ["redscope"]] +
                       ["%.1fx" % least_ratio if least else "-",
                        "%.1fx" % ratio if ratio else "-",
                        "%.1fx" % (ns["redscope"] / ns[least]) if least else "-",
                        "%.1f" % mid_run(per["redscope"])["runs"],
                        "%.2f" % median(x["cpu_per_m"] for x in per["redscope"])])
        mids = {m: mid_run(per[m]) for m in per if per[m]}
        for what, prog, floor_prog in HOOK_PROGRAMS:
            def at(mode, pname):
                run = mids.get(mode)
                return "%.0f" % (run["progs"].get(pname, (0, 0))[1] / run["counted"]) if run else "-"
            hook_rows[what].append("%s (%s; %s)" % (at("redscope", prog),
                                                   at(least, floor_prog.replace("floor_", "least_"))
                                                   if least else "-", at("floor", floor_prog)))
        for m in res["redscope"]:
            if not m["count_ok"]:
                rep.problems.append("%s/%s: redscope counted %d, the load generator %d, lost %d"
                                    % (name, client, m["counted"], m["sent"], m["lost"]))
    rep.add("Throughput, and what each costs of it:\n\n" +
            table(["server, load", "bare req/s", "%s: lost" % (FLOOR or "hooks alone"),
                   "least work: lost", "redscope: lost", "counted vs load"], rows))
    rep.add("\nBPF ns per request:\n\n" +
            table(["server, load", "hooks alone", "least work, socket storage",
                   "least work, hash map", "redscope", "least work ÷ hooks alone",
                   "redscope ÷ hooks alone", "redscope ÷ least work", "program runs/request",
                   "daemon CPU s per million requests"], ns_rows))
    rep.add("\nBPF time per request by hook, redscope (in brackets the least work, the cheaper "
            "way, then the hooks alone), the run of the median:\n\n" +
            table(["hook"] + ["%s, %s" % c for c in REQUEST_CASES],
                  [[what] + hook_rows[what] for what, _, _ in HOOK_PROGRAMS]))
    rep.requests = figures
    if not FLOOR:
        return
    cases = [c for c in REQUEST_CASES if c[0] in ("gunicorn", "nginx")]
    worst = max(figures[c]["ratio"] for c in cases)
    target_row(rep, "req_bpf", "BPF time per request <= 2x the hooks alone (gunicorn, nginx; wrk, hey)",
               "; ".join("%s/%s %.1fx" % (c[0], c[1], figures[c]["ratio"]) for c in cases),
               worst <= 2, "%.1fx the hooks alone at worst" % worst)
    ng = [figures[c]["loss"] for c in cases if c[0] == "nginx"]
    ng_ok = all(x["redscope"] < 5 and x["redscope"] - x[FLOOR] <= 3 for x in ng)
    target_row(rep, "req_nginx", "nginx throughput lost < 5%, within 3 points of the hooks alone (wrk, hey)",
               "; ".join("%s %.1f%% (hooks alone %.1f%%)" % (c[1], figures[c]["loss"]["redscope"],
                                                           figures[c]["loss"][FLOOR])
                         for c in cases if c[0] == "nginx"),
               ng_ok, "%+.1f points at worst" % (max(x["redscope"] for x in ng) - 5))
    gu = [figures[c]["loss"]["redscope"] for c in cases if c[0] == "gunicorn"]
    target_row(rep, "req_gunicorn", "gunicorn throughput lost < 3% (wrk, hey)",
               "; ".join("%s %.1f%% (hooks alone %.1f%%)" % (c[1], figures[c]["loss"]["redscope"],
                                                           figures[c]["loss"][FLOOR])
                         for c in cases if c[0] == "gunicorn"),
               max(gu) < 3, "%+.1f points at worst" % (max(gu) - 3))
    h2 = figures[("nginx-h2", "h2load")]
    target_row(rep, "req_h2", "HTTP/2 (h2load against nginx http2): BPF time per request <= 2x "
               "the hooks alone, throughput lost < 5%",
               "%.1fx the hooks alone (%.0f ns); %.1f%% lost (hooks alone %.1f%%)"
               % (h2["ratio"], h2["ns"]["redscope"], h2["loss"]["redscope"], h2["loss"][FLOOR]),
               h2["ratio"] <= 2 and h2["loss"]["redscope"] < 5,
               "%.1fx the hooks alone" % h2["ratio"])
    # the same targets for the least work: whether any design can meet them here
    least_worst = max(figures[c]["least_ratio"] for c in cases)
    target_row(rep, "req_bpf_reach", "the least work, BPF time per request <= 2x the hooks alone "
               "(can any design meet req_bpf here?)",
               "; ".join("%s/%s %.1fx" % (c[0], c[1], figures[c]["least_ratio"]) for c in cases),
               least_worst <= 2, "%.1fx the hooks alone at worst" % least_worst,
               words=("reachable", "**unreachable**"))
    over = max(figures[c]["over_least"] for c in cases)
    target_row(rep, "req_over_least", "redscope's BPF time per request over the least work's "
               "(reported)", "; ".join("%s/%s %.1fx" % (c[0], c[1], figures[c]["over_least"])
                                       for c in cases), None, "%.1fx at worst" % over)
    lng = [figures[c]["loss"] for c in cases if c[0] == "nginx"]
    target_row(rep, "req_nginx_reach", "the least work, nginx throughput lost < 5%, within 3 "
               "points of the hooks alone (can any design meet req_nginx here?)",
               "; ".join("%s %.1f%%" % (c[1], figures[c]["loss"]["least"])
                         for c in cases if c[0] == "nginx"),
               all(x["least"] < 5 and x["least"] - x[FLOOR] <= 3 for x in lng),
               "%+.1f points at worst" % (max(x["least"] for x in lng) - 5),
               words=("reachable", "**unreachable**"))
    lgu = [figures[c]["loss"]["least"] for c in cases if c[0] == "gunicorn"]
    target_row(rep, "req_gunicorn_reach", "the least work, gunicorn throughput lost < 3% "
               "(can any design meet req_gunicorn here?)",
               "; ".join("%s %.1f%%" % (c[1], figures[c]["loss"]["least"])
                         for c in cases if c[0] == "gunicorn"),
               max(lgu) < 3, "%+.1f points at worst" % (max(lgu) - 3),
               words=("reachable", "**unreachable**"))


# ------------------------------------------------------------------ framing

FRAMING_SHAPES = [
    ("nginx-wrk", "nginx under wrk: a 2-line request read; a 10-line head written by writev, "
                  "the file by sendfile"),
    ("gunicorn-hey", "gunicorn under hey: a 5-line request read; a 6-line head and the body "
                     "in two sends"),
    ("post-chunked", "a POST with a JSON body in one read; a chunked answer in one write"),
]


def framing_build(tree, out):
    """bench/apps/framing.c built against the framing core of tree (a checkout)."""
    subprocess.run(["cc", "-O2", "-I", str(tree / "include"), "-I", str(tree / "tests" / "unit"),
                    "-o", str(out), str(APPS / "framing.c")], check=True, timeout=120)
    return out


def framing_instructions(exe, shape, n=10000):
    """Instructions per request of one shape: callgrind's count for n requests minus 0."""
    def count(k):
        out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                              str(exe), shape, str(k)], capture_output=True, text=True,
                             check=True, timeout=600)
        return int(re.search(r"Collected : (\d+)", out.stderr).group(1))
    return (count(n) - count(0)) / n


def section_framing(p, rep):
    d = tmpdir("framing")
    base = d / "base"
    base.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", p.framing_baseline, "bpf",
                              "include", "tests/unit"], capture_output=True, check=True,
                             timeout=120).stdout
    subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True, timeout=120)
    builds = [("baseline (%s)" % p.framing_baseline, framing_build(base, d / "framing-base")),
              ("now", framing_build(ROOT, d / "framing-now"))]
    rows = []
    for shape, what in FRAMING_SHAPES:
        n = [framing_instructions(exe, shape) for _, exe in builds]
        rows.append([what] + ["%.0f" % x for x in n] + [signed(pct(n[1], n[0]))])
    rep.add("""## i. The framing core's instructions per request

The HTTP/1 framing core (`bpf/h1.bpf.h` and the exchange layer in `bpf/h1_exchange.bpf.h`), the
very code the kernel runs, compiled as C through the unit tests' simulation
(`bench/apps/framing.c`, `cc -O2`) and run under valgrind's callgrind: x86 instructions
per request (the count for 10000 requests minus the count for none), which a machine's
load does not change. They are not BPF instructions, and helpers (the user copy, map
operations, the clock) are stood in for, but a cut here is one in the kernel. Beside them
the same shapes through the framing core of %s, the build before the cuts of the
request-cost work.

""" % p.framing_baseline + table(["request and response", builds[0][0], "now", "change"], rows))


# ------------------------------------------------------------------ steps

# (enum step of bench/apps/stepcost.bpf.c, what it is), EMPTY first
STEP_KINDS = [
    (0, "nothing (the loop alone)"),
    (1, "a call to a global BPF function (a per-CPU lookup and an add inside)"),
    (2, "the same work inlined"),
    (3, "bpf_probe_read_user, 64 bytes"),
    (4, "bpf_probe_read_user, 512 bytes"),
    (5, "bpf_probe_read_kernel, 4 bytes"),
    (6, "bpf_ktime_get_ns"),
    (7, "bpf_get_current_cgroup_id"),
    (8, "bpf_get_current_pid_tgid"),
    (9, "bpf_get_current_task_btf and bpf_task_pt_regs"),
    (10, "a hash map lookup (8-byte key, absent)"),
    (11, "a hash map update and delete (416-byte value)"),
    (12, "a ring buffer reserve and discard (328 bytes)"),
    (13, "a 416-byte copy inside a map value"),
]
STEP_REPEAT = 50  # STEPS in stepcost.bpf.c


def stepcost_build():
    d = tmpdir("stepcost")
    arch = {"x86_64": "x86", "aarch64": "arm64"}[os.uname().machine]
    subprocess.run(["clang", "-g", "-O2", "-target", "bpf", "-mcpu=v3", "-D__TARGET_ARCH_" + arch,
                    "-I", str(ROOT / "bpf" / "vmlinux" / arch), "-c",
                    str(APPS / "stepcost.bpf.c"), "-o", str(d / "stepcost.bpf.o")],
                   check=True, timeout=120)
    skel = subprocess.run(["bpftool", "gen", "skeleton", str(d / "stepcost.bpf.o")],
                          capture_output=True, check=True, timeout=60).stdout
    (d / "stepcost.skel.h").write_bytes(skel)
    subprocess.run(["cc", "-O2", "-I", str(d), "-o", str(d / "stepcost"),
                    str(APPS / "stepcost.c"), "-lbpf"], check=True, timeout=120)
    return d / "stepcost"


def section_steps(p, rep):
    exe = stepcost_build()
    trips = 5000 if p.quick else 20000
    per = {k: [] for k, _ in STEP_KINDS}
    bpf_stats_set(1)
    try:
        for _ in range(p.rounds):
            for k, _ in STEP_KINDS:
                out = subprocess.run(["taskset", "-c", SERVER_CPUS, str(exe), str(k), str(trips)],
                                     capture_output=True, text=True, check=True, timeout=300)
                per[k].append(int(out.stdout.split()[1]) / trips)
    finally:
        bpf_stats_set(0)
    empty = median(per[0])
    rows = [[what, "%.0f" % median(per[k]) if k == 0 else
             "%.1f" % ((median(per[k]) - empty) / STEP_REPEAT)] for k, what in STEP_KINDS]
    rows[0][0] += ": ns per run"
    rep.add("""## j. What a program's steps cost here

One program on `sock/sock_send_length` (`bench/apps/stepcost.bpf.c`) repeats one kind of
step %d times a run; a loader on CPU %s writes a byte on a socketpair %d times to run it
(`kernel.bpf_stats_enabled=1`), each kind in turn, %d round(s). ns per step: the run
time per write, less the loop's alone, over %d. What redscope's programs do per call is
made of these: on a VM whose user copies and clock reads cost this much, fewer of them is
what a request's cost comes down to.

""" % (STEP_REPEAT, SERVER_CPUS, trips, p.rounds, STEP_REPEAT) +
            table(["step", "ns per step"], rows))


# ------------------------------------------------------------------ k. outbound calls

CALLER_APPS = ROOT / "tests" / "integration" / "apps"
CALLER_CONNS = 4
DB_TRIPS = 20  # round trips to the database stand-in per request of section k's /db


def calls_bpf(app, url, seconds, mode):
    """BPF ns per request of the caller under wrk with the hooks alone (mode "floor") or
    redscope with client metrics on or off (mode "on", "off"): {program: (runs, ns)},
    the caller's requests and calls as redscope counted them (the floor: wrk's)."""
    wrk(url, 1, CALLER_CONNS)
    holder = HookFloor() if mode == "floor" else Redscope(["--client-metrics=" + mode])
    time.sleep(0.5)
    bpf_stats_set(1)
    try:
        before = prog_stats(holder.pid)
        s0 = holder.scrape(app.service) if mode != "floor" else None
        r = wrk(url, seconds, CALLER_CONNS)
        time.sleep(0.3)
        after = prog_stats(holder.pid)
        s1 = holder.scrape(app.service) if mode != "floor" else None
    finally:
        bpf_stats_set(0)
    holder.stop()
    if s0 is None:
        return prog_delta(before, after), r.total, r.total
    return prog_delta(before, after), s1["requests"] - s0["requests"], s1["calls"] - s0["calls"]


def section_calls(p, rep):
    down = Nginx()
    database = RespSink()
    app = Gunicorn("caller_app:app", workers=3, name="caller", apps=CALLER_APPS,
                   env=dict(os.environ, CALLEE=down.url.rstrip("/"),
                            DATABASE="127.0.0.1:%d" % database.port))
    url = app.url + "fan?to=/&n=1"
    modes = (["floor"] if FLOOR else []) + ["off", "on"]
    per = {m: [] for m in modes}
    # the same, for requests that talk to a database (no HTTP) DB_TRIPS times: what
    # looking for a request in each write of a watched process costs
    db_url = app.url + "db?n=%d" % DB_TRIPS
    per_db = {m: [] for m in ("off", "on")}

    def bpf_round(what, runs, u, mode, rnd):
        progs, counted, calls = calls_bpf(app, u, p.seconds, mode)
        runs[mode].append({"ns": sum(ns for _, ns in progs.values()) / counted,
                           "counted": counted, "calls": calls})
        log("%s bpf round %d/%d %-6s %6.0f ns per request" % (what, rnd + 1, p.rounds, mode,
                                                             runs[mode][-1]["ns"]))

    for rnd in range(p.rounds):
        for mode in modes:
            bpf_round("calls", per, url, mode, rnd)
        for mode in per_db:
            bpf_round("database", per_db, db_url, mode, rnd)

    def bare():
        r = wrk(url, p.seconds, CALLER_CONNS)
        return {"rps": r.rps, "p99": r.p99_ms}
    tp = [("bare", bare)]
    if FLOOR:
        tp.append((FLOOR, lambda: floor_load(url, p.seconds, CALLER_CONNS)))
    tp += [("client metrics off", lambda: redscope_load(url, app.service, p.seconds, CALLER_CONNS,
                                                        args=["--client-metrics=off"])),
           ("client metrics on", lambda: redscope_load(url, app.service, p.seconds, CALLER_CONNS,
                                                       args=["--client-metrics=on"]))]
    res = run_modes(tp, p.rounds, "calls")
    app.stop()
    down.stop()
    database.stop()
    ns = {m: median(x["ns"] for x in per[m]) for m in modes}
    db_ns = {m: median(x["ns"] for x in per_db[m]) for m in per_db}
    db_calls = sum(x["calls"] for m in per_db for x in per_db[m])
    if db_calls:
        rep.problems.append("calls: %d calls counted of a database that speaks no HTTP" % db_calls)
    on_runs = res["client metrics on"]
    calls_ok = all(r["calls"] == r["counted"] for r in on_runs) and \
        all(x["calls"] == x["counted"] for x in per["on"])
    off_calls = sum(r["calls"] for r in res["client metrics off"]) + sum(x["calls"] for x in per["off"])
    if not calls_ok or off_calls:
        rep.problems.append("calls: client metrics on counted %s calls for %s requests; off %d calls"
                            % ([r["calls"] for r in on_runs], [r["counted"] for r in on_runs], off_calls))
    bare_rps = median(r["rps"] for r in res["bare"])
    loss = {m: -pct(median(r["rps"] for r in runs), bare_rps) for m, runs in res.items()}
    per_call = ns["on"] - ns["off"]
    rep.add("""## k. Outbound calls

A watched gunicorn app (`tests/integration/apps/caller_app.py`, 3 sync workers on CPU %s)
whose every request makes one call downstream, to nginx's static page, through a
requests session (keep-alive); wrk on CPU %s, `-c%d`, %d s per run, %d round(s), modes in
turn. BPF time per request of the caller (its own request and its call, and nginx
answering the call, which redscope watches either way) with `kernel.bpf_stats_enabled=1`:
the hooks alone, redscope with `--client-metrics=off` and `=on`; a call's own cost is
the difference between the last two. Then throughput with the stats off.

""" % (SERVER_CPUS, CLIENT_CPUS, CALLER_CONNS, p.seconds, p.rounds) +
            table(["mode", "BPF ns per request", "calls counted per request"],
                  [[{"floor": FLOOR or "hooks alone", "off": "client metrics off",
                     "on": "client metrics on"}[m], "%.0f" % ns[m], "%.3f" % (median(x["calls"] for x in per[m]) /
                                               median(x["counted"] for x in per[m]))
                    if m != "floor" else "-"] for m in modes]) +
            "\n\nBPF time per outbound call (on minus off): **%.0f ns**%s.\n\n" % (
                per_call, ", %.1fx the hooks alone's whole request (%.0f ns)" % (per_call / ns["floor"], ns["floor"])
                if "floor" in ns else "") +
            mode_table(res) +
            "\n\nThroughput lost: %sclient metrics off %.1f%%, on %.1f%%; calls counted %s.\n" % (
                floor_text(loss), loss["client metrics off"], loss["client metrics on"],
                "exact (one per request, none with them off)" if calls_ok and not off_calls
                else "**not exact**") +
            """
Writes that start no request: the same app's `/db` makes %d round trips per request to a
database stand-in that speaks no HTTP (`bench/apps/resp_sink.py`, a Redis PING and its
PONG, on one kept connection). With client metrics on, each write a watched process
makes on a socket redscope does not follow is looked at for a request's start.

""" % DB_TRIPS +
            table(["mode", "BPF ns per request", "calls counted"],
                  [["client metrics %s" % m, "%.0f" % db_ns[m], str(sum(x["calls"] for x in per_db[m]))]
                   for m in per_db]) +
            "\n\nBPF time per write that starts no request (on minus off, over %d writes): "
            "**%.0f ns**.\n" % (DB_TRIPS, (db_ns["on"] - db_ns["off"]) / DB_TRIPS))
    target_row(rep, "calls", "outbound calls: throughput lost with client metrics on vs off, "
               "BPF time per call (reported)",
               "on %.1f%%, off %.1f%% lost; %.0f ns per call" % (loss["client metrics on"],
                                                                 loss["client metrics off"], per_call),
               None, "%+.1f points on vs off" % (loss["client metrics on"] - loss["client metrics off"]))


# ------------------------------------------------------------------ e. capacity

def section_capacity(p, rep):
    ng = Nginx()
    wrk(ng.url, 1, NGINX_CONNS)
    rs = Redscope()
    rows, best = [], None
    problems = []

    def step(label, conns, script=None, args=(), seconds=None, during=None):
        s0 = rs.scrape(ng.service)
        th = threading.Thread(target=during) if during else None
        if th:
            th.start()
        w = wrk(ng.url, seconds or p.capacity_seconds, conns, script=script, script_args=args)
        if th:
            th.join()
        time.sleep(0.5)
        s1 = rs.scrape(ng.service)
        counted = s1["requests"] - s0["requests"]
        lost = s1["redscope_lost_events_total"] - s0["redscope_lost_events_total"]
        events = s1["redscope_events_total"] - s0["redscope_events_total"]
        gap = counted + lost - w.total
        # every request counted or lost; lost events may also be other processes' records
        ok = 0 <= counted - w.total <= conns if not lost else counted <= w.total + conns and gap >= 0
        rows.append([label, conns, f0(w.rps), w.total, "%d" % counted, "%d" % lost, "%d" % events,
                     "%+d %s" % (gap, "ok" if ok else "MISMATCH"), mib(rs.rss_kib()),
                     w.errors])
        log("capacity %-22s %7.0f req/s  counted %d  lost %d  wrk %d" % (label, w.rps, counted,
                                                                        lost, w.total))
        if not ok:
            problems.append("capacity step %s: counted %d + lost %d vs wrk %d" %
                            (label, counted, lost, w.total))
        return w.rps, lost

    lossy = []  # rates of the steps (daemon running) that lost events
    for rate in p.capacity_rates:
        conns = max(1, round(rate * (PACE_MS + 0.4) / 1000))
        rps, lost = step("paced ~%dk/s" % (rate // 1000), conns, "paced", [PACE_MS])
        if lost == 0 and (best is None or rps > best):
            best = rps
        elif lost:
            lossy.append(rps)
    for conns in ([NGINX_CONNS] if p.quick else [NGINX_CONNS, 200]):
        rps, lost = step("full speed", conns)
        if lost == 0 and (best is None or rps > best):
            best = rps
        elif lost:
            lossy.append(rps)

    def stall():
        time.sleep(1)
        rs.proc.send_signal(signal.SIGSTOP)
        time.sleep(p.stall_seconds)
        rs.proc.send_signal(signal.SIGCONT)

    _, stall_lost = step("daemon stopped %d s" % p.stall_seconds, NGINX_CONNS,
                         seconds=p.stall_seconds + 2, during=stall)
    health = http_get(rs.url("/healthz"))[1].strip() == b"ok"
    rps_after, lost_after = step("full speed, after", NGINX_CONNS)
    if lost_after == 0 and (best is None or rps_after > best):
        best = rps_after
    elif lost_after:
        lossy.append(rps_after)
    alive = rs.alive()
    rs.stop()
    ng.stop()

    rep.add("""## e. Capacity

nginx as in (b), watched; redscope (auto mode, unpinned) started once. Paced steps:
each wrk connection waits %d ms after each response (wrk's `delay()` hook: wrk2 is
not available), so the rate is set by the connection count; then full speed. A
last step stops the daemon (SIGSTOP) for %d s under full load, the way a starved
or descheduled daemon would fall behind, to show what happens above capacity.
"counted" is nginx's requests in redscope's metrics; wrk leaves its in-flight requests
out, so a correct count is higher by 0 to the connection count. With losses, every
request must be counted or lost ("counted + lost - wrk" >= 0); lost events can also
be other processes' records (process starts and exits, other servers' requests).
""" % (PACE_MS, p.stall_seconds))
    rep.add(table(["step", "connections", "req/s", "wrk requests", "counted", "lost events",
                   "events", "counted + lost - wrk", "daemon RSS", "wrk socket errors"], rows))
    if lossy:
        limit = ("events were lost from %.0f req/s on, with the daemon running"
                 % min(lossy))
    else:
        limit = ("no step lost an event while the daemon ran: the highest rate is what nginx "
                 "on one CPU and wrk on the other could produce with the daemon sharing them, "
                 "the load generator is the limit on this machine, not the daemon")
    rep.capacity_note = "zero lost events up to %s req/s; %s (section e)." % (f0(best), limit)
    rep.add("Highest rate with zero lost events: **%s req/s**; %s. With "
            "the daemon stopped, the 2 MiB ring buffer fills and %d events are lost and counted "
            "in `redscope_lost_events_total`; nginx is unaffected, `/healthz` answers %s, the "
            "daemon %s, and the next run at %.0f req/s loses %d."
            % (f0(best), limit, stall_lost, "ok" if health else "NOT ok",
               "keeps running" if alive else "DIED", rps_after, lost_after))
    target_row(rep, "capacity", "zero lost events at 20k req/s",
               "zero lost up to %s req/s" % f0(best), best is not None and best >= 20000,
               "-" if best is None else "%+.0f req/s" % (best - 20000))
    if stall_lost == 0:
        problems.append("capacity: stopping the daemon %d s lost no events (ring buffer larger "
                        "than expected?)" % p.stall_seconds)
    if not health or not alive or lost_after:
        problems.append("capacity: after the stall healthz=%s alive=%s lost=%d"
                        % (health, alive, lost_after))
    rep.problems += problems


# ------------------------------------------------------------------ f. footprint

def section_footprint(p, rep):
    ng = Nginx()
    rs = Redscope(["--max-routes=20000"])
    time.sleep(2)
    idle = rss_kib(rs.pid)

    # ~10k req/s for a while, RSS sampled during the run
    samples = []
    stop_sampling = threading.Event()

    def sample():
        while not stop_sampling.wait(0.25):
            samples.append(rs.rss_kib())
    th = threading.Thread(target=sample)
    th.start()
    conns = round(10000 * (PACE_MS + 0.4) / 1000)
    w = wrk(ng.url, p.seconds, conns, script="paced", script_args=[PACE_MS])
    stop_sampling.set()
    th.join()
    load_rss = max(samples) if samples else rs.rss_kib()

    # 10k distinct routes, each answered 404 by nginx
    n_routes = 10000
    wr = wrk(ng.url, 2 if p.quick else 3, 10, script="routes", script_args=[n_routes])
    time.sleep(1)
    series_rss = rss_kib(rs.pid)  # before the first scrape renders the page
    scrapes = {}
    for kind, headers in (("gzip", {"Accept-Encoding": "gzip"}), ("plain text", {})):
        times, size = [], 0
        for _ in range(5):
            time.sleep(0.3)
            _, body, t = http_get(rs.url("/metrics"), timeout=60, headers=headers)
            times.append(t)
            size = len(body)
        time.sleep(1)  # as between two scrapes of a Prometheus
        scrapes[kind] = (median(times), size, rss_kib(rs.pid))
    s = rs.scrape(ng.service)  # plain text, after the measurements
    series = int(s["redscope_series"])
    rs.stop()
    ng.stop()
    rep.add("""## f. Footprint

redscope (auto mode, `--max-routes=20000`) watching nginx as in (b). Idle: 2 s
after start, no traffic. Under load: the highest RSS sampled every 0.25 s during
%d s of paced load. Series: %d requests to %d distinct routes `/r/aaaa`, `/r/baaa`, ...
(letters only, so route normalisation keeps them), each answered 404 by nginx. RSS
then, before any scrape; after five `GET /metrics` with `Accept-Encoding: gzip` (as
Prometheus scrapes); after five more without; RSS 1 s after the last scrape of each
kind, as between two scrapes of a Prometheus. Scrapes are 0.3 s apart; the time is the
wall time of the whole request from a fresh connection, median of five.
VmHWM is the peak RSS since the daemon started.
""" % (p.seconds, wr.total, n_routes))
    gz_t, gz, gz_rss = scrapes["gzip"]
    pl_t, size, pl_rss = scrapes["plain text"]
    rep.add(table(["state", "daemon RSS", "peak so far (VmHWM)", "detail"], [
        ["idle", mib(idle["VmRSS"]), mib(idle["VmHWM"]), "just started: the peak is the loader's"],
        ["under load", mib(load_rss), "-", "%.0f req/s (paced, %d connections)" % (w.rps, conns)],
        ["%d series" % series, mib(series_rss["VmRSS"]), mib(series_rss["VmHWM"]),
         "before any scrape"],
        ["%d series, gzip scrapes" % series, mib(gz_rss["VmRSS"]), mib(gz_rss["VmHWM"]),
         "after 5 scrapes with gzip"],
        ["%d series, plain scrapes" % series, mib(pl_rss["VmRSS"]), mib(pl_rss["VmHWM"]),
         "after 5 more without"],
    ]))
    rep.add(table(["/metrics at %d series" % series, "median time", "size"], [
        ["gzip", "%.0f ms" % (1e3 * gz_t), "%.2f MB (%d bytes)" % (gz / 1e6, gz)],
        ["plain text", "%.0f ms" % (1e3 * pl_t), "%.1f MB (%d bytes, %.0f per series)"
         % (size / 1e6, size, size / max(series, 1))],
    ]))
    peak_mb = gz_rss["VmHWM"] / 1024.0
    rss_mb = max(series_rss["VmRSS"], gz_rss["VmRSS"]) / 1024.0
    rep.add("Each series is three histograms (duration, request and response body size), "
            "about %.0f lines of text. A scrape renders the page a piece at a time and "
            "gzips it as it goes (section g)."
            % (size / max(series, 1) / 160))
    rss_si = rss_mb * 1.048576  # the target is in MB (10^6 bytes): 20 MB is 19.07 MiB
    target_row(rep, "rss", "daemon RSS < 20 MB at 10k series",
               "%.1f MB (%.1f MiB) at %d series scraped by Prometheus (gzip); %.0f MiB peak "
               "while rendering, %.0f MiB after plain-text scrapes"
               % (rss_si, rss_mb, series, peak_mb, pl_rss["VmRSS"] / 1024.0), rss_si < 20,
               "%+.1f MB" % (rss_si - 20))
    rep.footprint = {"store": series_rss["VmRSS"] / 1024.0, "gz": gz_rss["VmRSS"] / 1024.0,
                     "peak": peak_mb, "plain": pl_rss["VmRSS"] / 1024.0, "page": size / 1e6,
                     "series": series}
    if series < n_routes:
        rep.problems.append("footprint: only %d series after %d distinct routes" % (series, n_routes))
    if s["requests"] < wr.total:
        rep.problems.append("footprint: counted %d requests of %d" % (s["requests"], wr.total))


# ------------------------------------------------------------------ g. scrapes at node scale

def streamed_get(url, headers=None, timeout=120):
    """(status, body bytes, wall seconds) of one GET read in 64 KiB pieces, never held whole."""
    req = urllib.request.Request(url, headers=headers or {})
    t0 = time.perf_counter()
    n = 0
    with urllib.request.urlopen(req, timeout=timeout) as r:
        while True:
            piece = r.read(1 << 16)
            if not piece:
                break
            n += len(piece)
        status = r.status
    return status, n, time.perf_counter() - t0


# what Prometheus asks for: text (native histograms off) or protobuf (on), gzipped
PROTOBUF_ACCEPT = ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                   "encoding=delimited,text/plain;version=0.0.4;q=0.5")
SCRAPE_KINDS = (
    ("gzip", {"Accept-Encoding": "gzip"}),
    ("text", {}),
    ("protobuf gzip", {"Accept-Encoding": "gzip", "Accept": PROTOBUF_ACCEPT}),
    ("protobuf", {"Accept": PROTOBUF_ACCEPT}),
)


def scale_point(p, n_routes):
    """One store of n_routes series (404s of nginx to distinct routes): RSS before the
    first scrape, the peak growth during a gzip scrape and a plain one, times, sizes."""
    ng = Nginx()
    rs = Redscope(["--max-routes=%d" % n_routes])
    # routes.lua cycles through n_routes paths: long enough to ask each at least once
    wr = wrk(ng.url, max(3, n_routes // 8000 + 2), 10, script="routes", script_args=[n_routes])
    time.sleep(1)
    before = rss_kib(rs.pid)["VmRSS"]
    out = {"series": None, "routes": n_routes, "requests": wr.total, "before": before}
    for kind, headers in SCRAPE_KINDS:
        pathlib.Path("/proc/%d/clear_refs" % rs.pid).write_text("5")  # VmHWM := VmRSS
        start = rss_kib(rs.pid)["VmRSS"]
        status, size, seconds = streamed_get(rs.url("/metrics"), headers)
        peak = rss_kib(rs.pid)["VmHWM"]
        out[kind] = {"status": status, "bytes": size, "seconds": seconds,
                     "growth": peak - start}
    out["series"] = int(rs.scrape(ng.service)["redscope_series"])
    out["after"] = rss_kib(rs.pid)["VmRSS"]
    rs.stop()
    ng.stop()
    return out


def section_scale(p, rep):
    points = [scale_point(p, n) for n in ((10000, 30000) if p.quick else (30000, 100000))]
    rep.add("""## g. Scrapes at node scale

redscope (auto mode, `--max-routes=N`) watching nginx as in (b), N distinct routes
(letters only, each answered 404) so that the store holds N series; then one
`GET /metrics` with `Accept-Encoding: gzip`, as Prometheus scrapes, and one without,
then the same two asking for the protobuf format (what Prometheus asks for with
native histograms on: every histogram carries its native buckets too), each read by
the client 64 KiB at a time. The page is rendered a piece at a time (the store locked
per piece) and gzipped as it is sent, so a scrape holds one piece and the compressor's
state, whatever the number of series. Peak growth: the daemon's VmHWM
during the scrape (reset just before it through `/proc/PID/clear_refs`) minus its RSS
before.
""")
    rows = []
    names = {"gzip": "text, gzip", "text": "text", "protobuf gzip": "protobuf, gzip",
             "protobuf": "protobuf"}
    for pt in points:
        for kind, _ in SCRAPE_KINDS:
            k = pt[kind]
            rows.append(["%d" % pt["series"], names[kind], mib(pt["before"]), mib(k["growth"]),
                         "%.2f s" % k["seconds"], "%.1f MB" % (k["bytes"] / 1e6),
                         "%.0f" % (k["bytes"] / max(pt["series"], 1))])
    rep.add(table(["series", "scrape", "RSS before", "peak growth during the scrape",
                   "scrape time", "page", "bytes per series"], rows))
    worst = max(pt[kind]["growth"] for pt in points for kind, _ in SCRAPE_KINDS) / 1024.0
    target_row(rep, "scale", "peak RSS growth during a scrape < 16 MiB",
               "%.1f MiB at most (%s series)" % (worst, ", ".join(
                   "%d" % pt["series"] for pt in points)), worst < 16, "%+.1f MiB" % (worst - 16))
    at30 = [pt for pt in points if pt["series"] >= 30000]
    if at30:
        t = at30[0]["gzip"]["seconds"]
        target_row(rep, "scale_time", "gzip scrape at 30k series < 1 s",
                   "%.2f s (%.1f MB gzipped, %.1f MB as text)" % (
                       t, at30[0]["gzip"]["bytes"] / 1e6, at30[0]["text"]["bytes"] / 1e6),
                   t < 1, "%+.2f s" % (t - 1))
        per = {kind: at30[0][kind]["bytes"] / at30[0]["series"] for kind, _ in SCRAPE_KINDS}
        target_row(rep, "scale_bytes", "bytes per series per scrape, text / protobuf with "
                   "native histograms: report both",
                   "%.0f / %.0f (gzipped %.0f / %.0f)" % (
                       per["text"], per["protobuf"], per["gzip"], per["protobuf gzip"]),
                   True, "reported")
    for pt in points:
        statuses = [pt[kind]["status"] for kind, _ in SCRAPE_KINDS]
        if pt["series"] < pt["routes"] or any(s != 200 for s in statuses):
            rep.problems.append("scale: %d series of %d routes, scrapes %s" % (
                pt["series"], pt["routes"], statuses))


# ------------------------------------------------------------------ main

# What follows this line in the output file was measured by hand (bench/profile.py,
# builds made for a measurement): kept as it is when the file is written again.
HAND_MARKER = "<!-- measured by hand, kept by bench/run.py -->"
TARGET_ORDER = ["unwatched", "socketpair", "bpf", "gunicorn", "nginx", "req_bpf", "req_bpf_reach",
                "req_over_least", "req_nginx", "req_nginx_reach",
                "req_gunicorn", "req_gunicorn_reach", "req_h2", "rss", "capacity", "scale", "scale_time",
                "scale_bytes"]


def machine():
    cpu = "?"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    try:
        distro = [l.split("=", 1)[1].strip('"') for l in
                  pathlib.Path("/etc/os-release").read_text().splitlines()
                  if l.startswith("PRETTY_NAME=")][0]
    except (OSError, IndexError):
        distro = "?"
    mem = int(pathlib.Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    return "%d x %s, %d GiB, %s, Linux %s" % (os.cpu_count(), cpu, mem, distro, platform.release())


def redscope_version():
    try:
        rs = Redscope()
        text = rs.metrics_text()
        rs.stop()
        for line in text.splitlines():
            if line.startswith("redscope_build_info{"):
                return line.split('version="', 1)[1].split('"', 1)[0]
    except SystemExit:
        raise
    return "?"


def tracing_programs():
    """How many tracing BPF programs are loaded now."""
    import json
    try:
        progs = json.loads(subprocess.run(["bpftool", "--json", "prog", "show"],
                                          capture_output=True, text=True, timeout=30).stdout)
    except (ValueError, subprocess.SubprocessError):
        return 0
    return sum(1 for p in progs if p.get("type") in ("tracepoint", "raw_tracepoint", "kprobe",
                                                        "tracing", "perf_event"))


def foreign_bpf_tracepoints():
    """Tracing BPF programs loaded now by someone else (none of ours runs between sections):
    ['comm (pid)', ...] of the processes holding BPF programs or links. The programs of
    a daemon that just exited linger until the kernel frees them: held by no process,
    they are waited for (3 s at most) before they count."""
    deadline = time.monotonic() + 3
    while True:
        n = tracing_programs()
        if not n:
            return []
        holders = bpf_holders()
        if holders or time.monotonic() > deadline:
            return holders or ["%d tracing programs, holder unknown" % n]
        time.sleep(0.1)


def bpf_holders():
    """['comm (pid)', ...] of the processes holding a BPF program or link."""
    holders = set()
    for proc in pathlib.Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in ("anon_inode:bpf-prog", "anon_inode:bpf_link"):
                    holders.add("%s (%s)" % ((proc / "comm").read_text().strip(), proc.name))
                    break
        except OSError:
            continue
    return sorted(holders)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: short runs, one round")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"),
                    help="where to write the tables (default docs/benchmarks.md)")
    ap.add_argument("--framing-baseline", default="e0bb92d",
                    help="the revision whose framing core section i compares with (default: "
                         "e0bb92d, the build before the cuts of the request-cost work)")
    ap.add_argument("--sections", default=",".join(SECTIONS),
                    help="comma-separated subset of: " + ", ".join(SECTIONS))
    args = ap.parse_args()
    asked = [s.strip() for s in args.sections.split(",") if s.strip()]
    bad = [s for s in asked if s not in SECTIONS]
    sections = [s for s in SECTIONS if s in asked]
    if bad:
        ap.error("unknown section(s): %s (known: %s)" % (", ".join(bad), ", ".join(SECTIONS)))
    if os.geteuid() != 0:
        raise SystemExit("needs root: BPF programs, sysctl, nginx as root")
    signal.signal(signal.SIGINT, lambda *_: (stop_all(), os._exit(130)))

    p = Profile(args.quick)
    p.framing_baseline = args.framing_baseline
    rep = Report()
    rep.problems = []
    start = time.monotonic()
    load = os.getloadavg()
    stats_before = bpf_stats_get()
    bpf_stats_set(0)  # overhead runs without the stats' own cost; restored at exit
    stats_note = ""
    if stats_before != "0":
        stats_note = (" `kernel.bpf_stats_enabled` was %s at the start; it was set to 0 for the "
                      "overhead runs%s and restored at the end." %
                      (stats_before, "" if bpf_stats_get() == "0" else
                       " but stays enabled (someone holds a BPF_ENABLE_STATS fd), so the "
                       "redscope runs include its cost"))
    foreign = foreign_bpf_tracepoints()
    version = redscope_version()
    log("redscope %s; sections: %s%s" % (version, ", ".join(sections),
                                         " (quick)" if p.quick else ""))

    body = Report()
    body.problems = rep.problems
    funcs = {"gunicorn": section_gunicorn, "nginx": section_nginx,
             "unwatched": section_unwatched, "bpf": section_bpf, "requests": section_requests,
             "framing": section_framing, "steps": section_steps, "calls": section_calls,
             "capacity": section_capacity, "footprint": section_footprint,
             "scale": section_scale}
    for s in sections:
        t0 = time.monotonic()
        log("== %s" % s)
        foreign = sorted(set(foreign) | set(foreign_bpf_tracepoints()))
        funcs[s](p, body)
        log("== %s done in %.0f s" % (s, time.monotonic() - t0))
    elapsed = time.monotonic() - start
    stop_all()

    rep.parts.append("""# Benchmarks

What redscope costs the applications it watches, the rest of the node, and itself.
Everything below was measured in one run of `bench/run.py%s` (`make bench`), which
regenerates this file; every figure is compared with a baseline measured in the same
run, modes alternating run by run, and medians are reported.

- Machine: %s; loopback only. Load average when the run started: %.2f.
- redscope %s (`build/redscope`), started by the script, auto mode (every process
  that serves HTTP), not pinned, with each capture backend this kernel has (%s; auto
  picks %s). Servers on CPU %s, load generator (wrk %s) on CPU %s.
- The run took %.1f minutes (%s).%s
- Other BPF tracing programs loaded during the run: %s.
""" % (" --quick" if p.quick else "", machine(), load[0], version, ", ".join(BACKENDS), BEST,
       SERVER_CPUS, wrk_version(),
       CLIENT_CPUS, elapsed / 60, "quick mode" if p.quick else
       "%d s per load run, %d rounds" % (p.seconds, p.rounds), stats_note,
       (", ".join(foreign) + " (their tracepoints were enabled during the bare baselines "
        "too, so the overheads below are understated, and their load made the figures noisy)")
       if foreign else "none"))
    if body.targets:
        rows = [[t[0], t[1], t[2], t[3]] for k in TARGET_ORDER if k in body.targets
                for t in [body.targets[k]]]
        rep.parts.append("## Where we stand vs target\n\n" +
                         table(["target", "measured", "status", "vs target"], rows) + "\n\n" +
                         why_text(body) + "\n")
    rep.problems += ["redscope logged: " + m for m in sorted(set(redscope_messages))
                     if "level=error" in m or "level=warn" in m and "TLS" not in m]
    if rep.problems:
        rep.parts.append("## Problems seen in this run\n\n" +
                         "\n".join("- " + x for x in rep.problems) + "\n")
    summary = list(rep.parts)
    rep.parts += body.parts
    out = pathlib.Path(args.out)
    kept = out.read_text().split(HAND_MARKER, 1) if out.exists() else []
    if len(kept) == 2:
        rep.parts.append(HAND_MARKER + kept[1].rstrip("\n") + "\n")
    out.write_text("\n".join(rep.parts))
    print("\n".join(summary))
    log("wrote %s in %.1f minutes" % (args.out, elapsed / 60))


def why_text(body):
    """What explains the misses, and what the other backends cost."""
    out = []
    missed = [k for k, t in body.targets.items() if "missed" in t[2]]
    if set(missed) & {"gunicorn", "nginx", "unwatched", "socketpair", "bpf"}:
        per = getattr(body, "bpf_per_req", {})
        out.append(
            "Overhead: with the %s capture, what a request costs is the BPF time of section d "
            "(%s), spent in the calls that serve it, plus the kernel's cost of running the "
            "programs at all; unwatched processes pay only in section c. The lighter the "
            "application's work per request, the larger the share: a trivial WSGI app and "
            "nginx serving a small file are the worst cases." %
            (BEST, ", ".join("%s %.0f ns per request" % kv for kv in per.items())))
        floor = floor_summary(body)
        if floor:
            out.append(floor)
    if "syscalls" in BACKENDS and BEST != "syscalls":
        out.append(
            "The syscalls capture is the last resort, for kernels with neither the socket "
            "tracepoints nor BPF trampolines: any syscall tracepoint sends every syscall of "
            "every process through the kernel's traced path, which is what sections a to d "
            "show for it.")
    if "rss" in missed:
        f = body.footprint
        out.append(
            "Memory at %d series: the daemon holds %.1f MiB before any scrape; every series "
            "is three histograms (duration, request and response body size: about 50 samples, "
            "%.0f MB of text in all), rendered and gzipped a piece at a time: %.1f MiB after "
            "Prometheus-style (gzip) scrapes, %.0f MiB at the peak, and %.0f MiB after "
            "plain-text scrapes (section f)." % (f["series"], f["store"], f["page"], f["gz"],
                                                 f["peak"], f["plain"]))
    if "capacity" in missed:
        out.append("Capacity: " + body.capacity_note)
    if not out:
        out.append("Every target measured in this run is met.")
    return "\n\n".join(out)


def floor_summary(body):
    """What the sockets capture's hooks cost with programs that do nothing, next to
    redscope: the part no program on those hooks can avoid."""
    if not FLOOR:
        return ""
    parts = []
    un = getattr(body, "unwatched", {})
    if (FLOOR, "socketpair ping-pong") in un:
        parts.append("%.0f ns per socket call of an unwatched process (redscope: %.0f ns)"
                     % (un[(FLOOR, "socketpair ping-pong")][1],
                        un[("sockets", "socketpair ping-pong")][1]))
    per = getattr(body, "bpf_per_req", {})
    if FLOOR in per:
        parts.append("%.0f ns of BPF time per gunicorn request, stats on (redscope: %.0f ns)"
                     % (per[FLOOR], per["sockets"]))
    for what, attr in (("gunicorn", "gunicorn_loss"), ("nginx", "nginx_loss")):
        loss = getattr(body, attr, {})
        if FLOOR in loss:
            parts.append("%.1f%% of %s's throughput (redscope: %.1f%%)"
                         % (loss[FLOOR], what, loss["sockets"]))
    if not parts:
        return ""
    return ("The hooks alone: programs that return 0 at once on the four tracepoints of the "
            "sockets capture (\"%s\") cost %s. That much comes with the hooks on this kernel "
            "and machine, whatever a program does; the rest is redscope's work."
            % (FLOOR, "; ".join(parts)))


def wrk_version():
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=30)
    return (out.stdout + out.stderr).split()[1] if (out.stdout + out.stderr).split() else "?"


if __name__ == "__main__":
    main()
