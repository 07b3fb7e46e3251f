"""Helpers shared by the benchmark scripts in bench/: servers, load, redscope, readings.

Everything started here is registered and stopped by stop_all() (also at exit and
on SIGTERM/SIGINT), so an interrupted benchmark leaves no server or daemon behind.
Needs root (BPF, taskset of servers running as root, sysctl).
"""
import atexit
import gzip
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
REDSCOPE = ROOT / "build" / "redscope"
BENCH = pathlib.Path(__file__).resolve().parent
APPS = BENCH / "apps"
PYTHON = "/usr/bin/python3"
GUNICORN = "/usr/bin/gunicorn"
NCPU = os.cpu_count() or 1
SERVER_CPUS = "0"
CLIENT_CPUS = ("1" if NCPU == 2 else "1-%d" % (NCPU - 1)) if NCPU > 1 else "0"
BPF_STATS = pathlib.Path("/proc/sys/kernel/bpf_stats_enabled")

sys.path.insert(0, str(ROOT / "tests" / "lib"))
from bpfids import bpf_ids_held_by  # noqa: E402

_procs = []      # Popen objects we started, stopped by stop_all()
_tmpdirs = []    # temporary directories we created, removed by stop_all()


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes

def spawn(argv, **kw):
    """Popen that stop_all() will stop. Output goes to /dev/null unless given."""
    kw.setdefault("stdout", subprocess.DEVNULL)
    kw.setdefault("stderr", subprocess.DEVNULL)
    p = subprocess.Popen(argv, **kw)
    _procs.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=15):
    """Stop one process we started (SIGCONT first, in case it was stopped)."""
    if p.poll() is None:
        try:
            p.send_signal(signal.SIGCONT)
            p.send_signal(sig)
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
        except ProcessLookupError:
            pass
    if p in _procs:
        _procs.remove(p)


def tmpdir(prefix):
    d = pathlib.Path(tempfile.mkdtemp(prefix="redscope-bench-%s-" % prefix))
    _tmpdirs.append(d)
    return d


def stop_all():
    for p in reversed(list(_procs)):
        stop(p)
    bpf_stats_restore()
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)
    _tmpdirs.clear()


def _on_signal(signum, frame):
    stop_all()
    raise SystemExit(128 + signum)


atexit.register(stop_all)
signal.signal(signal.SIGTERM, _on_signal)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit("process %s exited with %s before listening on port %d"
                             % (proc.args, proc.returncode, port))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("nothing listens on port %d" % port)


def http_get(url, timeout=10, headers=None):
    """(status, body bytes, wall seconds) of one GET on a fresh connection."""
    req = urllib.request.Request(url, headers=headers or {})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        body, status = e.read(), e.code
    return status, body, time.perf_counter() - t0


# ---------------------------------------------------------------- load

WRK_SCRIPTS = {
    # constant pacing: each connection waits DELAY ms after each response
    "paced": """
local d = 0
function init(args) d = tonumber(args[1]) end
function delay() return d end
""",
    # N distinct routes made of letters only (never normalised to {id}), cycled
    "routes": """
local i, n = 0, 10000
function init(args) n = tonumber(args[1]) end
function request()
  local k = i % n
  i = i + 1
  local s = ""
  for _ = 1, 4 do s = s .. string.char(97 + k % 26); k = math.floor(k / 26) end
  return wrk.format("GET", "/r/" .. s)
end
""",
}
_script_dir = None


def wrk_script(name):
    global _script_dir
    if _script_dir is None:
        _script_dir = tmpdir("wrk")
    path = _script_dir / (name + ".lua")
    if not path.exists():
        path.write_text(WRK_SCRIPTS[name])
    return str(path)


class WrkResult:
    def __init__(self, rps, p99_ms, total, errors, seconds):
        self.rps, self.p99_ms, self.total, self.errors, self.seconds = rps, p99_ms, total, errors, seconds


def wrk(url, seconds, connections, threads=1, script=None, script_args=(), cpus=None,
        close=False):
    """Run wrk pinned to the client CPUs; requests/s, p99 ms, requests completed. close:
    a connection per request (Connection: close)."""
    cmd = ["taskset", "-c", cpus or CLIENT_CPUS, "wrk", "-t%d" % threads, "-c%d" % connections,
           "-d%ds" % seconds, "--latency"] + (["-H", "Connection: close"] if close else [])
    if script:
        cmd += ["-s", wrk_script(script)]
    cmd.append(url)
    if script_args:
        cmd += ["--"] + [str(a) for a in script_args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non2xx = int(m.group(1)) if m else 0
    r = WrkResult(rps, float(p99.group(1)) * scale, total, errors, seconds)
    r.non2xx = non2xx
    return r


def hey(url, seconds, connections, keepalive=True, cpus=None):
    """Run hey (a Go client) pinned to the client CPUs, as wrk() does; requests/s, p99 ms,
    requests completed (responses of any status)."""
    cmd = ["taskset", "-c", cpus or CLIENT_CPUS, "hey", "-z", "%ds" % seconds,
           "-c", str(connections), "-cpus", "1"] + ([] if keepalive else ["-disable-keepalive"])
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True,
                         timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    statuses = [(int(c), int(n)) for c, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)]
    total = sum(n for _, n in statuses)
    p99 = re.search(r"99%% in ([\d.]+) secs", out)
    m = re.search(r"Error distribution:(.*)", out, re.S)
    errors = sum(int(n) for n in re.findall(r"\[(\d+)\]", m.group(1))) if m else 0
    r = WrkResult(rps, float(p99.group(1)) * 1e3 if p99 else 0.0, total, errors, seconds)
    r.non2xx = sum(n for c, n in statuses if c >= 400)
    return r


# ---------------------------------------------------------------- readings

def rss_kib(pid):
    status = pathlib.Path("/proc/%d/status" % pid).read_text()
    return {k: int(v.split()[0]) for k, v in
            (line.split(":", 1) for line in status.splitlines()) if k in ("VmRSS", "VmHWM")}


def cpu_seconds(pid):
    """CPU time of all threads of pid, in seconds, at nanosecond resolution (schedstat)."""
    total = 0
    for task in pathlib.Path("/proc/%d/task" % pid).iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / 1e9


def cpu_seconds_ticks(pid):
    """utime + stime of /proc/PID/stat, in seconds (clock-tick resolution)."""
    fields = pathlib.Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def pct(new, base):
    """Relative change in percent."""
    return 100.0 * (new - base) / base


# ---------------------------------------------------------------- redscope

_METRIC = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_SERVICE = re.compile(r'service_name="([^"]*)"')
redscope_messages = []   # what the redscope instances logged (warn and above)


class Redscope:
    """build/redscope serving on a free port; ready when /healthz says ok."""

    def __init__(self, args=(), cpus=None, binary=None):
        binary = pathlib.Path(binary or REDSCOPE)
        if not binary.exists():
            raise SystemExit("%s is missing: run make first" % binary)
        self.port = free_port()
        pin = ["taskset", "-c", cpus] if cpus else []
        self.logfile = tmpdir("redscope") / "log"
        with open(self.logfile, "w") as logf:
            self.proc = spawn(pin + [str(binary), "--web.listen-address=127.0.0.1:%d" % self.port,
                                     "--log.level=warn"] + list(args), stdout=logf, stderr=logf)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise SystemExit("redscope exited with %s at start" % self.proc.returncode)
            try:
                if http_get(self.url("/healthz"), timeout=1)[1].strip() == b"ok":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("redscope did not become healthy in 30 s")
            time.sleep(0.05)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def alive(self):
        return self.proc.poll() is None

    def metrics_text(self):
        return http_get(self.url("/metrics"))[1].decode()

    def scrape(self, service=None):
        """{'requests': requests counted (of service_name=service if given; 'all_requests':
        of every service), plus every unlabelled sample}."""
        text = self.metrics_text()
        out = {"requests": 0.0, "all_requests": 0.0, "calls": 0.0}
        for line in text.splitlines():
            m = _METRIC.match(line)
            if not m:
                continue
            name, labels, value = m.groups()
            if name == "http_server_request_duration_seconds_count":
                out["all_requests"] += float(value)
                svc = _SERVICE.search(labels or "")
                if service is None or (svc and svc.group(1) == service):
                    out["requests"] += float(value)
            elif name == "http_client_request_duration_seconds_count":
                svc = _SERVICE.search(labels or "")
                if service is None or (svc and svc.group(1) == service):
                    out["calls"] += float(value)
            elif not labels:
                out[name] = float(value)
        return out

    def rss_kib(self):
        return rss_kib(self.pid)["VmRSS"]

    def cpu_seconds(self):
        return cpu_seconds(self.pid)

    def stop(self):
        died = self.proc.poll()
        stop(self.proc)
        for line in self.logfile.read_text().splitlines():
            log("redscope %d: %s" % (self.pid, line))
            redscope_messages.append(line)
        if died is not None:
            raise SystemExit("redscope died during the benchmark (exit status %s)" % died)


class HookFloor:
    """Programs that only return 0 on the sockets backend's four hooks
    (bench/apps/hookfloor.bpf.c), loaded and held by a small libbpf loader: the
    cost of any program on those tracepoints, before it does anything."""

    _exe = None

    @classmethod
    def build(cls):
        if cls._exe is None:
            d = tmpdir("hookfloor")
            arch = {"x86_64": "x86", "aarch64": "arm64"}[os.uname().machine]
            vmlinux = ROOT / "bpf" / "vmlinux" / arch / "vmlinux.h"
            subprocess.run(["clang", "-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_" + arch,
                            "-I", str(vmlinux.parent),
                            "-c", str(APPS / "hookfloor.bpf.c"), "-o", str(d / "hookfloor.bpf.o")],
                           check=True, timeout=120)
            subprocess.run(["cc", "-O2", "-o", str(d / "hookfloor"), str(APPS / "hookfloor.c"),
                            "-lbpf"], check=True, timeout=120)
            cls._exe = d
        return cls._exe

    def __init__(self):
        d = self.build()
        self.proc = spawn([str(d / "hookfloor"), str(d / "hookfloor.bpf.o")],
                          stdout=subprocess.PIPE)
        self.pid = self.proc.pid
        if self.proc.stdout.readline().strip() != b"attached":
            raise SystemExit("hookfloor could not attach its programs")

    def stop(self):
        stop(self.proc)
        self.proc.stdout.close()


class LeastWork:
    """The least any design of per-request metrics does on the same hooks
    (bench/apps/leastwork.bpf.c), for the server on port: process check, the
    connection's state, the heads' first bytes, the clock, a record. Its loader counts
    the records; stop() returns how many."""

    _exe = None

    @classmethod
    def build(cls):
        if cls._exe is None:
            d = tmpdir("leastwork")
            arch = {"x86_64": "x86", "aarch64": "arm64"}[os.uname().machine]
            subprocess.run(["clang", "-g", "-O2", "-target", "bpf", "-mcpu=v3",
                            "-D__TARGET_ARCH_" + arch, "-I", str(ROOT / "bpf" / "vmlinux" / arch),
                            "-I", str(ROOT / "bpf"), "-c", str(APPS / "leastwork.bpf.c"),
                            "-o", str(d / "leastwork.bpf.o")], check=True, timeout=120)
            skel = subprocess.run(["bpftool", "gen", "skeleton", str(d / "leastwork.bpf.o")],
                                  capture_output=True, check=True, timeout=60).stdout
            (d / "leastwork.skel.h").write_bytes(skel)
            subprocess.run(["cc", "-O2", "-I", str(d), "-o", str(d / "leastwork"),
                            str(APPS / "leastwork.c"), "-lbpf"], check=True, timeout=120)
            cls._exe = d / "leastwork"
        return cls._exe

    def __init__(self, port, hash_state=False):
        self.proc = spawn([str(self.build()), str(port)] + (["hash"] if hash_state else []),
                          stdout=subprocess.PIPE)
        self.pid = self.proc.pid
        if self.proc.stdout.readline().strip() != b"attached":
            raise SystemExit("leastwork could not attach its programs")

    def stop(self):
        stop(self.proc)
        out = self.proc.stdout.read().decode()
        self.proc.stdout.close()
        m = re.search(r"records (\d+)", out)
        if not m:
            raise SystemExit("leastwork said no count: %r" % out)
        return int(m.group(1))


def prog_stats(pid):
    """{prog id: (name, run_cnt, run_time_ns)} for the BPF programs pid holds."""
    ids = bpf_ids_held_by(pid)
    out = json.loads(subprocess.run(["bpftool", "--json", "prog", "show"], capture_output=True,
                                    text=True, check=True, timeout=30).stdout)
    return {p["id"]: (p["name"], p.get("run_cnt", 0), p.get("run_time_ns", 0))
            for p in out if p["id"] in ids}


def prog_delta(before, after):
    """{name: (runs, ns)} summed over the programs of each name."""
    per = {}
    for pid, (name, cnt, ns) in after.items():
        b = before.get(pid, (name, 0, 0))
        runs, total = per.get(name, (0, 0))
        per[name] = (runs + cnt - b[1], total + ns - b[2])
    return per


_bpf_stats_orig = None


def bpf_stats_set(value):
    """Set kernel.bpf_stats_enabled; the value found first is restored by stop_all()."""
    global _bpf_stats_orig
    if _bpf_stats_orig is None:
        _bpf_stats_orig = BPF_STATS.read_text().strip()
    BPF_STATS.write_text(str(value))


def bpf_stats_get():
    return BPF_STATS.read_text().strip()


def bpf_stats_restore():
    global _bpf_stats_orig
    if _bpf_stats_orig is not None:
        try:
            BPF_STATS.write_text(_bpf_stats_orig)
        except OSError:
            pass
        _bpf_stats_orig = None


# ---------------------------------------------------------------- servers

class Gunicorn:
    """gunicorn sync workers on the server CPUs, serving app (module:callable) from apps/."""

    def __init__(self, app="trivial:app", workers=3, extra=(), env=None, name="gunicorn", apps=APPS):
        self.port = free_port()
        # a service name of our own, so that other HTTP traffic on the host is not counted
        self.service = "bench-%s-%d" % (name, self.port)
        env = dict(env or os.environ, OTEL_SERVICE_NAME=self.service, PYTHONDONTWRITEBYTECODE="1")
        self.proc = spawn(["taskset", "-c", SERVER_CPUS, GUNICORN, "--chdir", str(apps),
                           "-w", str(workers), "-b", "127.0.0.1:%d" % self.port]
                          + list(extra) + [app], env=env)
        wait_port(self.port, proc=self.proc)
        self.url = "http://127.0.0.1:%d/" % self.port

    def stop(self):
        stop(self.proc)


NGINX_CONF = """
user root;
worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log crit;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush off;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path {dir}/tmp;
    proxy_temp_path {dir}/tmp;
    fastcgi_temp_path {dir}/tmp;
    uwsgi_temp_path {dir}/tmp;
    scgi_temp_path {dir}/tmp;
    types {{ text/html html; }}
    server {{
        listen 127.0.0.1:{port} backlog=4096{http2};
        root {dir}/www;
        location = / {{ try_files /index.html =404; }}
        location /r/ {{ return 404; }}
    }}
}}
"""
STATIC_BYTES = 612  # the size of nginx's own welcome page


class Nginx:
    """nginx, one worker, on the server CPUs, serving a small static file at /. http2:
    h2c with prior knowledge on its port (nginx's `http2`)."""

    http2 = False

    def __init__(self):
        self.dir = tmpdir("nginx")
        (self.dir / "www").mkdir()
        (self.dir / "tmp").mkdir()
        body = ("<html><body>" + "x" * STATIC_BYTES)[:STATIC_BYTES - 15] + "</body></html>\n"
        (self.dir / "www" / "index.html").write_text(body)
        self.port = free_port()
        conf = self.dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=self.dir, port=self.port,
                                          http2=" http2" if self.http2 else ""))
        # redscope names the service after the executable (nginx's setproctitle hides
        # OTEL_SERVICE_NAME): a copy of the binary under a name of our own keeps other
        # nginx traffic on the host out of our counts
        self.service = "nginx-bench-%d" % self.port
        exe = self.dir / self.service
        shutil.copy2(shutil.which("nginx") or "/usr/sbin/nginx", exe)
        self.proc = spawn(["taskset", "-c", SERVER_CPUS, str(exe), "-c", str(conf), "-p", str(self.dir)])
        wait_port(self.port, proc=self.proc)
        self.url = "http://127.0.0.1:%d/" % self.port

    def stop(self):
        stop(self.proc, signal.SIGQUIT)


class NginxH2(Nginx):
    """Nginx, speaking HTTP/2 (h2c) on its port."""

    http2 = True


class NodeHttp:
    """node's http server, one process, on the server CPUs (bench/apps/node_http.js)."""

    def __init__(self):
        self.port = free_port()
        self.service = "bench-node-%d" % self.port
        env = dict(os.environ, OTEL_SERVICE_NAME=self.service)
        self.proc = spawn(["taskset", "-c", SERVER_CPUS, "node", str(APPS / "node_http.js"),
                           str(self.port)], env=env)
        wait_port(self.port, proc=self.proc)
        self.url = "http://127.0.0.1:%d/" % self.port

    def stop(self):
        stop(self.proc)


# (server, connections, keep-alive) by name: gunicorn's sync workers close each connection
REQUEST_SERVERS = {
    "gunicorn": (Gunicorn, 6, True),
    "nginx": (Nginx, 50, True),
    "nginx-close": (Nginx, 50, False),
    "node": (NodeHttp, 6, False),
    "nginx-h2": (NginxH2, 10, True),
}
H2_STREAMS = 10  # h2load's concurrent streams per connection


def h2load(url, seconds, connections, streams=H2_STREAMS, cpus=None):
    """Run h2load (HTTP/2, h2c with prior knowledge) pinned to the client CPUs, as wrk()
    does: requests/s, requests completed (h2load reports no percentiles: p99 is 0)."""
    cmd = ["taskset", "-c", cpus or CLIENT_CPUS, "h2load", "-D", str(seconds), "-c", str(connections),
           "-m", str(streams), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         timeout=seconds + 30).stdout
    rps = float(re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out).group(1))
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored", out)
    done, succeeded, failed, errored = (int(m.group(i)) for i in (3, 4, 5, 6))
    r = WrkResult(rps, 0.0, done, failed + errored, seconds)
    r.non2xx = done - succeeded
    return r


def load(client, url, seconds, conns, keepalive):
    """A load run by wrk, hey or h2load: keep-alive, or a connection per request."""
    if client == "hey":
        return hey(url, seconds, conns, keepalive=keepalive)
    if client == "h2load":
        return h2load(url, seconds, conns)
    return wrk(url, seconds, conns, close=not keepalive)


def bpf_run(server, client, seconds, conns, keepalive, mode, perf=None, binary=None):
    """One load run of server (a class of REQUEST_SERVERS) by client (wrk or hey) with
    the hooks alone (mode "floor"), the least work (mode "least", "least-hash": its
    connection state in socket storage or a hash map) or redscope (binary, else
    build/redscope), with
    kernel.bpf_stats_enabled=1: {program: (runs, ns)}, requests (redscope's count; the
    load generator's for the floor), the load's result, daemon CPU s. perf: a path to
    record the whole machine into (perf record -a) during the load."""
    app = server()
    load(client, app.url, 1, conns, keepalive)
    if mode == "floor":
        holder = HookFloor()
    elif mode.startswith("least"):
        holder = LeastWork(app.port, hash_state=mode == "least-hash")
    else:
        holder = Redscope(binary=binary)
    time.sleep(0.5)
    bpf_stats_set(1)
    try:
        before = prog_stats(holder.pid)
        c0 = cpu_seconds(holder.pid)
        rec = None
        if perf:
            rec = subprocess.Popen(["perf", "record", "-a", "-q", "-o", str(perf), "--",
                                    "sleep", str(seconds)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        r = load(client, app.url, seconds, conns, keepalive)
        if rec:
            rec.wait(timeout=seconds + 60)
        time.sleep(0.3)
        after = prog_stats(holder.pid)
        c1 = cpu_seconds(holder.pid)
    finally:
        bpf_stats_set(0)
    counted = r.total
    if mode.startswith("least"):
        # its records: one per request answered, which the load generator may not have
        # read yet when it stopped
        records = holder.stop()
        if not r.total <= records <= r.total + conns:
            raise SystemExit("leastwork recorded %d requests, the load generator %d"
                             % (records, r.total))
        holder = None
    elif mode != "floor":
        # a build that counts nothing (one with a part cut out, to see what that part
        # costs) is divided by the load generator's count
        counted = holder.scrape(app.service)["requests"]
        if not counted:
            log("%s counted no request: per request is per the load generator's %d" % (mode, r.total))
            counted = r.total
    if holder:
        holder.stop()
    app.stop()
    return prog_delta(before, after), counted, r, c1 - c0


class RespSink:
    """A database stand-in that speaks no HTTP (bench/apps/resp_sink.py): answers each
    read "+PONG\\r\\n", as Redis answers a PING."""

    def __init__(self):
        self.port = free_port()
        self.proc = spawn([PYTHON, str(APPS / "resp_sink.py"), str(self.port)])
        wait_port(self.port, proc=self.proc)

    def stop(self):
        stop(self.proc)


class UdpSink:
    """A statsd stand-in: a UDP socket that reads, counts and discards datagrams."""

    def __init__(self):
        self.port = free_port()
        self.count_file = tmpdir("udpsink") / "count"
        self.proc = spawn([PYTHON, str(APPS / "udp_sink.py"), str(self.port), str(self.count_file)])
        deadline = time.monotonic() + 10
        while not self.count_file.exists():  # written once bound
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("UDP sink did not start")
            time.sleep(0.05)

    def count(self):
        """Datagrams received so far (the sink writes its count on SIGUSR1)."""
        self.count_file.unlink(missing_ok=True)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while not self.count_file.exists():
            if time.monotonic() > deadline:
                raise SystemExit("UDP sink does not answer")
            time.sleep(0.02)
        return int(self.count_file.read_text())

    def stop(self):
        stop(self.proc)


def gzip_size(data):
    return len(gzip.compress(data, 6))
