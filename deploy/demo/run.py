#!/usr/bin/python3
"""make demo: the gunicorn + Django polls app under locust load, watched by redscope,
scraped by a real Prometheus. Ctrl-C stops everything.

Everything lives under build/demo/: Prometheus config and data, logs, locust output.
"""
import argparse
import signal
import subprocess
import sys
import time

import stack


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0,
                    help="scale of the 2xx endpoint's sleep and of the users' waits (default 1)")
    ap.add_argument("--users", type=int, default=10)
    ap.add_argument("--app-port", type=int, default=8000)
    ap.add_argument("--redscope-port", type=int, default=9435)
    ap.add_argument("--prometheus-port", type=int, default=9090)
    ap.add_argument("--scrape-interval", type=int, default=5)
    ap.add_argument("--duration", type=int, help="stop after this many seconds")
    args = ap.parse_args()

    workdir = stack.ROOT / "build" / "demo"
    workdir.mkdir(parents=True, exist_ok=True)
    for name, port in (("app", args.app_port), ("redscope", args.redscope_port),
                       ("prometheus", args.prometheus_port)):
        if not stack.port_free(port):
            sys.exit("port %d for %s is taken: stop what holds it or pass --%s-port"
                     % (port, name, name))
    (workdir / "prometheus.yml").write_text(
        stack.prometheus_config(args.redscope_port, args.scrape_interval, [stack.RULES]))

    procs = []
    stopping = False

    def on_signal(sig, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    def start(name, cmd, **kw):
        log = open(workdir / ("%s.log" % name), "w")
        # own process group: the terminal's Ctrl-C reaches this script only, which then
        # stops each piece in order
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kw)
        procs.append((name, p))
        return p

    try:
        app = start("app", stack.gunicorn_cmd(args.app_port, workdir / "access.log"),
                    env=stack.env_with_scale(args.scale))
        stack.wait_port(args.app_port, app, "the demo app")
        rs = start("redscope", [str(stack.ROOT / "build" / "redscope"), "--compat=statsd",
                                "--web.listen-address=:%d" % args.redscope_port])
        stack.wait_port(args.redscope_port, rs, "redscope")
        prom = start("prometheus", stack.prometheus_cmd(workdir, args.prometheus_port))
        stack.wait_port(args.prometheus_port, prom, "prometheus")
        start("locust", stack.locust_cmd("http://127.0.0.1:%d" % args.app_port, args.users),
              env=stack.env_with_scale(args.scale))

        q = "sum(rate(django_request_count[1m])) by (endpoint)"
        print("""
redscope demo is running: gunicorn + Django polls app, %d locust users.

  the app          http://localhost:%d/polls/2xx_success/
  redscope         http://localhost:%d/metrics
  Prometheus       http://localhost:%d/graph?g0.expr=%s&g0.tab=0
  alerts           http://localhost:%d/alerts (deploy/prometheus/redscope-rules.yaml)
  logs, data       %s

Give Prometheus a minute for the [1m] rates. Ctrl-C stops everything.
""" % (args.users, args.app_port, args.redscope_port, args.prometheus_port,
       q.replace(" ", "%20").replace("[", "%5B").replace("]", "%5D"), args.prometheus_port,
       workdir), flush=True)

        deadline = time.monotonic() + args.duration if args.duration else None
        while not stopping and (deadline is None or time.monotonic() < deadline):
            for name, p in procs:
                if p.poll() is not None:
                    print("%s exited with status %s, see %s" % (name, p.returncode,
                                                                workdir / ("%s.log" % name)))
                    stopping = True
            time.sleep(0.5)
    finally:
        print("stopping...", flush=True)
        for name, p in reversed(procs):
            stack.stop(p)
        print("stopped")


if __name__ == "__main__":
    main()
