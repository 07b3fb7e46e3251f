"""Real parts for the integration tests: redscope, gunicorn, curl and wrk clients.

Every test here loads BPF programs, so it needs root and a kernel with BTF; when
either is missing the test is skipped and says why.
"""
import collections
import json
import os
import pathlib
import re
import shlex
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "lib"))
from bpfids import bpf_ids_held_by  # noqa: E402,F401  (the tests import it from here)
from hooks import socket_tracepoints  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
# the demo's launcher (deploy/demo/stack.py): how the tests run Prometheus and the demo
# app; imported where used, since the kernel matrix's guests carry tests/ alone
sys.path.insert(0, str(ROOT / "deploy" / "demo"))
REDSCOPE = ROOT / "build" / "redscope"
APPS = pathlib.Path(__file__).parent / "apps"
GUNICORN = "/usr/bin/gunicorn"

# Servers on one CPU, clients and redscope on the others: a client woken by a
# response must not preempt the worker before the worker reads its own clock.
NCPU = os.cpu_count() or 1
SERVER_CPUS = "0"
CLIENT_CPUS = "1-%d" % (NCPU - 1) if NCPU > 1 else "0"

# The kernel matrix (tests/vm) runs the tests marked kernel_matrix in QEMU guests, with a
# fraction of the load, with room for an emulated CPU's slowness in the tolerances that
# depend on how long the application's own code takes (TCG runs it about 10 times slower)
# and, for a capture backend, with more redscope arguments.
LOAD_SCALE = float(os.environ.get("REDSCOPE_LOAD_SCALE", "1"))
CPU_SLOWDOWN = float(os.environ.get("REDSCOPE_CPU_SLOWDOWN", "1"))
EXTRA_ARGS = shlex.split(os.environ.get("REDSCOPE_EXTRA_ARGS", ""))


def scaled(n, least=1):
    """n requests (or connections, or seconds of load) at this run's load scale."""
    return max(least, round(n * LOAD_SCALE))


def host_captures():
    """The capture backends the tests marked capture run under: the socket tracepoints
    where the kernel has them (Linux 6.3) and the syscall tracepoints, each; a kernel
    matrix guest names its own (REDSCOPE_CAPTURES)."""
    if os.environ.get("REDSCOPE_CAPTURES"):
        return os.environ["REDSCOPE_CAPTURES"].split(",")
    return (["sockets"] if socket_tracepoints() else []) + ["syscalls"]


CAPTURES = host_captures()


def pytest_configure(config):
    config.addinivalue_line("markers", "kernel_matrix: a core case the kernel matrix (tests/vm) "
                            "runs inside every guest kernel")
    config.addinivalue_line("markers", "capture: its outcome depends on how bytes are captured: "
                            "runs once under each capture backend of CAPTURES")
    config.addinivalue_line("markers", "solo: it checks times or rates against a server's or a "
                            "load's own clock, so it needs the CPUs to itself: `make test` runs "
                            "it after the kernel matrix's guests, not beside them")


def pytest_generate_tests(metafunc):
    if "redscope" in metafunc.fixturenames and metafunc.definition.get_closest_marker("capture"):
        metafunc.parametrize("capture", CAPTURES, indirect=True)


@pytest.fixture
def capture(request):
    """The --capture backend of the test's redscope, None: the default (auto)."""
    return getattr(request, "param", None)


def skip_reason():
    if os.geteuid() != 0:
        return "needs root to load BPF programs (run: sudo make test)"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "kernel has no BTF (/sys/kernel/btf/vmlinux)"
    if not REDSCOPE.exists():
        return "build/redscope is missing: run make"
    return None


@pytest.fixture(autouse=True)
def _privileged():
    reason = skip_reason()
    if reason:
        pytest.skip(reason)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def loaded_bpf_ids(kind="prog"):
    """IDs of every BPF program (or map) in the kernel."""
    out = subprocess.run(["bpftool", "--json", kind, "show"], capture_output=True, text=True,
                         check=True).stdout
    return {o["id"] for o in json.loads(out)}


def pinned(cmd, cpus):
    return ["taskset", "-c", cpus] + list(cmd)


class Metrics:
    """One parsed scrape."""

    def __init__(self, text):
        self.text = text
        self.samples = []
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                self.samples.append(s)

    def find(self, name, **labels):
        return [s for s in self.samples
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, name, **labels):
        found = self.find(name, **labels)
        assert len(found) == 1, "expected one %s%r, found %d" % (name, labels, len(found))
        return found[0].value

    def _by_request(self, name, service, labels):
        out = collections.Counter()
        for s in self.find(name, service_name=service, **labels):
            key = (s.labels["http_route"], s.labels["http_request_method"],
                   int(s.labels["http_response_status_code"]))
            out[key] += s.value
        return dict(out)

    def request_counts(self, service, **labels):
        """(route, method, status) -> _count of the duration histogram, summed over the
        other labels (url_scheme) unless given."""
        return {k: int(v) for k, v in
                self._by_request("http_server_request_duration_seconds_count", service,
                                 labels).items()}

    def request_sums(self, service, **labels):
        """(route, method, status) -> _sum of the duration histogram, as request_counts."""
        return self._by_request("http_server_request_duration_seconds_sum", service, labels)


class Redscope:
    def __init__(self, workdir, args=(), cpus=CLIENT_CPUS):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log_path = workdir / ("redscope-%d.log" % self.port)
        cmd = [str(REDSCOPE), "--web.listen-address=127.0.0.1:%d" % self.port] + list(args) + EXTRA_ARGS
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(pinned(cmd, cpus), stdout=self.log, stderr=subprocess.STDOUT)
        # most of a start is the kernel verifying the programs: an emulated CPU's slowness
        # applies (the 5.10 guest under TCG beside the host's tests took over 30 s)
        wait_for(self._healthy, 30 * CPU_SLOWDOWN, what="redscope /healthz")

    def _healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError("redscope exited with %s:\n%s" % (self.proc.returncode, self.logs()))
        try:
            return requests.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def scrape_text(self, headers=None):
        r = requests.get(self.url + "/metrics", timeout=10, headers=headers or {})
        r.raise_for_status()
        return r.text

    def metrics(self):
        return Metrics(self.scrape_text())

    def logs(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("redscope did not stop on %s" % sig)
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def redscope(tmp_path, capture):
    """Start redscope with the given arguments; stopped (and checked) at the end."""
    started = []

    def start(*args):
        r = Redscope(tmp_path, list(args) + (["--capture=" + capture] if capture else []))
        started.append(r)
        return r

    yield start
    for r in started:
        code = r.stop()
        assert code == 0, "redscope exited with %s:\n%s" % (code, r.logs())


class Prometheus:
    """A real Prometheus scraping redscope every scrape_s seconds (and evaluating the
    rules of rule_files as often), in workdir/name."""

    def __init__(self, workdir, redscope_port, scrape_s, name="prometheus", args=(),
                 rule_files=()):
        import stack
        self.stack = stack
        self.port = stack.free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        home = workdir / name
        home.mkdir(exist_ok=True)
        (home / "prometheus.yml").write_text(
            stack.prometheus_config(redscope_port, scrape_s, rule_files))
        self.log = open(home / "prometheus.log", "w")
        self.proc = subprocess.Popen(pinned(stack.prometheus_cmd(home, self.port) + list(args),
                                            CLIENT_CPUS),
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._ready, 60, interval=0.2, what="prometheus to be ready")

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("prometheus exited with %s" % self.proc.returncode)
        try:
            return requests.get(self.url + "/-/ready", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def api(self, path, **params):
        """The data of a successful answer of the HTTP API at /api/v1/path."""
        r = requests.get(self.url + "/api/v1/" + path, params=params, timeout=10)
        body = r.json()
        assert r.status_code == 200 and body["status"] == "success", (path, params, body)
        return body["data"]

    def answer(self, promql, at=None):
        """Instant query: the result list of the answer, as the HTTP API gives it."""
        params = {"query": promql}
        if at is not None:
            params["time"] = "%.3f" % at
        return self.api("query", **params)["result"]

    def query(self, promql, at=None):
        """Instant query: {label-tuple: value} for every series of the answer."""
        return {tuple(sorted(s["metric"].items())): float(s["value"][1])
                for s in self.answer(promql, at)}

    def scalar(self, promql, at=None):
        answer = self.query(promql, at)
        assert len(answer) == 1, (promql, answer)
        return next(iter(answer.values()))

    def by(self, label, promql, at=None):
        return {dict(k)[label]: v for k, v in self.query(promql, at).items()}

    def stop(self):
        self.stack.stop(self.proc)
        self.log.close()


class Gunicorn:
    """gunicorn serving app from tests/integration/apps. preload: the master imports the
    app and its workers are forks that have it (--preload, common in production); without,
    gunicorn's default, each worker imports it itself: half a second of CPU per worker
    here, ten times that in an emulated guest, and nothing redscope sees (files, not
    sockets). Tests of worker churn keep the default (test_soak)."""

    def __init__(self, workdir, app, args=(), env=None, cpus=SERVER_CPUS, wrap=(), preload=True):
        self.port = free_port()
        scheme = "https" if "--certfile" in args else "http"
        self.url = "%s://127.0.0.1:%d" % (scheme, self.port)
        self.access_log = workdir / ("access-%d.log" % self.port)
        self.error_log = workdir / ("gunicorn-%d.log" % self.port)
        cmd = [GUNICORN, "--chdir", str(APPS), "--bind", "127.0.0.1:%d" % self.port,
               "--access-logfile", str(self.access_log),
               "--access-logformat", "%(m)s %(U)s %(s)s %(D)s %(p)s",
               "--error-logfile", str(self.error_log)] + ["--preload"] * preload + list(args) + [app]
        full_env = dict(os.environ, **(env or {}))
        # wrap: a command prefix that ends by executing its arguments (into a cgroup, say)
        self.proc = subprocess.Popen(pinned(list(wrap) + cmd, cpus), env=full_env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._ready, 30 * CPU_SLOWDOWN, what="gunicorn on port %d" % self.port)

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("gunicorn exited: %s" % self.error_log.read_text())
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def access_entries(self):
        """(method, path, status, duration_us, pid) for every logged request."""
        out = []
        if not self.access_log.exists():
            return out
        for line in self.access_log.read_text().splitlines():
            method, path, status, dur, pid = line.split()
            out.append((method, path, int(status), int(dur), pid))
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def gunicorn(tmp_path):
    started = []

    def start(app, *args, env=None, wrap=(), preload=True):
        g = Gunicorn(tmp_path, app, args, env, wrap=wrap, preload=preload)
        started.append(g)
        return g

    yield start
    for g in started:
        g.stop()


class Server:
    """Any server process listening on a port of its own; stopped at the end."""

    def __init__(self, workdir, name, cmd, port, env=None, cpus=SERVER_CPUS, cwd=None):
        self.port = port
        self.url = "http://127.0.0.1:%d" % port
        self.log_path = workdir / ("%s-%d.log" % (name, port))
        self.proc = subprocess.Popen(pinned(cmd, cpus), env=dict(os.environ, **(env or {})),
                                     stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT,
                                     cwd=cwd)
        wait_for(self._ready, 30 * CPU_SLOWDOWN, what="%s on port %d" % (name, port))

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("server exited: %s" % self.log_path.read_text())
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def server(tmp_path):
    """Start a server: server(name, cmd, port, env=None, cwd=None)."""
    started = []

    def start(name, cmd, port, **kw):
        srv = Server(tmp_path, name, cmd, port, **kw)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def nginx_conf(workdir, port, body):
    """The command line of an nginx with body as its one server block, files in workdir."""
    conf = workdir / ("nginx-%d.conf" % port)
    conf.write_text("""
# the test's files are in a directory only root may read
user root;
worker_processes 2;
pid %(w)s/nginx-%(p)d.pid;
error_log %(w)s/nginx-%(p)d-error.log crit;
daemon off;
events { worker_connections 256; }
http {
    access_log %(w)s/nginx-%(p)d-access.log;
    client_body_temp_path %(w)s/body; proxy_temp_path %(w)s/proxy;
    fastcgi_temp_path %(w)s/fastcgi; uwsgi_temp_path %(w)s/uwsgi; scgi_temp_path %(w)s/scgi;
    sendfile on;
    keepalive_requests 100000;
    server {
        listen 127.0.0.1:%(p)d;
        %(body)s
    }
}
""" % {"w": workdir, "p": port, "body": body})
    return ["nginx", "-c", str(conf), "-p", str(workdir)]


def curl_requests(base_url, paths, cpus=CLIENT_CPUS):
    """One curl process fetching base_url+path for each path, in order.

    Returns a Counter of (path, status) as curl saw them."""
    args = ["curl", "-s", "-k", "-w", "%{http_code}\\n"]  # -k: the tests' own certificates
    for p in paths:
        args += ["-o", "/dev/null", base_url + p]
    out = subprocess.run(pinned(args, cpus), check=True, capture_output=True, text=True).stdout
    codes = [int(c) for c in out.split()]
    assert len(codes) == len(paths), "curl answered %d of %d requests" % (len(codes), len(paths))
    return collections.Counter(zip(paths, codes))


class Wrk:
    """wrk with one connection per thread and a Lua script (apps/*.lua) that stops each
    thread after a quota of responses and writes "path status count" lines to a file
    per thread. One connection per thread: no request is in flight when a thread stops."""

    def __init__(self, base_url, threads, quota, workdir, script="mix.lua", env=None,
                 cpus=CLIENT_CPUS):
        self.threads, self.quota = threads, quota
        self.done = workdir / ("wrk-done-%d" % time.monotonic_ns())
        self.done.mkdir()
        full_env = dict(os.environ, WRK_QUOTA=str(quota), WRK_DONE_DIR=str(self.done), **(env or {}))
        cmd = ["wrk", "-t", str(threads), "-c", str(threads), "-d", "600s",
               "-s", str(APPS / script), base_url + "/"]
        self.proc = subprocess.Popen(pinned(cmd, cpus), env=full_env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)

    def wait(self, timeout=300):
        """Counter of (path, status) of the quota responses, once every thread is done."""
        try:
            wait_for(lambda: len(list(self.done.iterdir())) == self.threads, timeout,
                     interval=0.1, what="wrk threads to reach their quota")
        finally:
            self.proc.send_signal(signal.SIGINT)  # wrk sleeps for -d; SIGINT ends it early
            self.proc.communicate(timeout=30)
        counts = collections.Counter()
        for f in self.done.iterdir():
            for line in f.read_text().splitlines():
                path, status, n = line.split()
                counts[(path, int(status))] += int(n)
        assert sum(counts.values()) == self.threads * self.quota
        return counts


def wrk_requests(base_url, paths, threads, quota, workdir, cpus=CLIENT_CPUS):
    """wrk cycling through paths; Counter of (path, status) of every request it sent,
    all of them answered."""
    return Wrk(base_url, threads, quota, workdir, env={"WRK_PATHS": ",".join(paths)},
               cpus=cpus).wait()


def exact(rs, service, sent, method="GET"):
    """redscope counted exactly sent for service, a Counter of (path, status) requests of
    method, or of (path, method, status); nothing lost, no request left out of a series."""
    expected = collections.Counter()
    for key, n in sent.items():
        expected[(key[0], method, key[1]) if len(key) == 2 else tuple(key)] += n
    wait_for_total(rs, service, sum(expected.values()))
    time.sleep(0.5)
    m = rs.metrics()
    assert m.request_counts(service) == dict(expected)
    assert m.value("redscope_lost_events_total") == 0
    return m


def unframed(m):
    """{reason: requests} of redscope_requests_unframed_total, the ones above 0."""
    return {s.labels["reason"]: s.value for s in m.find("redscope_requests_unframed_total") if s.value}


def access_log_counts(log, methods=r"[A-Z]+"):
    """(path, status) -> requests of an access log in nginx's combined format, or any
    log with '"METHOD TARGET HTTP/1.x" STATUS' in its lines (http.server's); the path is
    the target without its query, as redscope's routes."""
    out = collections.Counter()
    for line in log.read_text().splitlines():
        m = re.search(r'"(%s) (\S+) HTTP/1\.[01]" (\d{3})' % methods, line)
        if m:
            out[(m.group(2).split("?")[0], int(m.group(3)))] += 1
    return out


def wait_for_total(rs, service, total, timeout=10):
    """Scrape until the service's request count reaches total; return that scrape."""
    last = {}

    def reached():
        m = rs.metrics()
        last["m"] = m
        return m if sum(m.request_counts(service).values()) >= total else None

    try:
        return wait_for(reached, timeout, interval=0.1, what="%d requests of %s" % (total, service))
    except AssertionError:
        m = last.get("m")
        seen = [(s.labels, s.value) for s in m.find("http_server_request_duration_seconds_count")] if m else []
        raise AssertionError("redscope counted %s for %s, expected %d in all"
                             % (seen, service, total))
