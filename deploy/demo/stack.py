"""The demo stack: the gunicorn + Django app, redscope, Prometheus and locust.

Used by run.py (make demo) and by the integration test that checks the scenario.
"""
import os
import pathlib
import signal
import socket
import subprocess
import time

DEMO_DIR = pathlib.Path(__file__).resolve().parent
ROOT = DEMO_DIR.parents[1]
GUNICORN = "/usr/bin/gunicorn"
PROMETHEUS = "/usr/bin/prometheus"
LOCUST = "/usr/bin/locust"
PYTHON = "/usr/bin/python3"
# redscope's recording rules and alerts, as shipped
RULES = ROOT / "deploy" / "prometheus" / "redscope-rules.yaml"
WORKERS = 3
# the blog's access log format, with the worker pid (%(p)s) and response time (%(D)s, us)
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(p)s %(D)s'


def port_free(port, host="127.0.0.1"):
    """Could a server bind this port? Like the servers, ignore TIME_WAIT leftovers."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with status %s" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("%s does not listen on port %d after %ds" % (what, port, timeout))


def gunicorn_cmd(port, access_log, workers=WORKERS):
    return [GUNICORN, "--chdir", str(DEMO_DIR), "--workers", str(workers),
            "--bind", "127.0.0.1:%d" % port, "--access-logfile", str(access_log),
            "--access-logformat", ACCESS_LOG_FORMAT, "demo.wsgi:application"]


def prometheus_config(redscope_port, scrape_interval_s, rule_files=()):
    """A Prometheus scraping redscope every scrape_interval_s seconds, and evaluating
    the rules of rule_files as often."""
    config = """global:
  scrape_interval: {i}s
  evaluation_interval: {i}s
scrape_configs:
  - job_name: redscope
    static_configs:
      - targets: ["127.0.0.1:{port}"]
""".format(i=scrape_interval_s, port=redscope_port)
    if rule_files:
        config += "rule_files:\n" + "".join('  - "%s"\n' % f for f in rule_files)
    return config


def prometheus_cmd(workdir, port):
    return [PROMETHEUS, "--config.file=%s" % (workdir / "prometheus.yml"),
            "--storage.tsdb.path=%s" % (workdir / "prometheus-data"),
            "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"]


def locust_cmd(host_url, users, run_time=None, csv_prefix=None):
    cmd = [LOCUST, "-f", str(DEMO_DIR / "locustfile.py"), "--headless", "--users", str(users),
           "--spawn-rate", str(users), "--host", host_url, "--only-summary",
           # 404 and 500 answers are the point of two endpoints, not a failed run
           "--exit-code-on-error", "0"]
    if run_time:
        # let users finish the request they are in: every request sent is answered
        cmd += ["--run-time", "%ds" % run_time, "--stop-timeout", "30"]
    if csv_prefix:
        cmd += ["--csv", str(csv_prefix), "--csv-full-history"]
    return cmd


def stop(proc, timeout=30):
    """SIGTERM, then SIGKILL if it does not go."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def env_with_scale(scale, wait=None):
    env = dict(os.environ, DEMO_SCALE=str(scale), PYTHONUNBUFFERED="1")
    if wait:
        env["DEMO_WAIT"] = "%g,%g" % wait
    return env
