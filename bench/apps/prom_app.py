"""The trivial app behind a prometheus_client WSGI middleware, as apps do it today.

Multiprocess mode (PROMETHEUS_MULTIPROC_DIR must be set before import): a request
counter and a duration histogram by method, route and status, and /metrics serving
what all workers counted.
"""
import time

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram,
                               generate_latest, multiprocess)

from trivial import app as trivial_app

REQUESTS = Counter("http_requests_total", "HTTP requests.", ["method", "route", "status"])
DURATION = Histogram("http_request_duration_seconds", "HTTP request duration.",
                     ["method", "route", "status"])


def metrics_app(environ, start_response):
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    data = generate_latest(registry)
    start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST),
                              ("Content-Length", str(len(data)))])
    return [data]


class PrometheusMiddleware:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/metrics":
            return metrics_app(environ, start_response)
        start = time.perf_counter()
        status = []

        def record_status(s, headers, exc_info=None):
            status.append(s.split(" ", 1)[0])
            return start_response(s, headers, exc_info)

        body = self.app(environ, record_status)
        labels = (environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""),
                  status[0] if status else "")
        REQUESTS.labels(*labels).inc()
        DURATION.labels(*labels).observe(time.perf_counter() - start)
        return body


app = PrometheusMiddleware(trivial_app)
