"""gunicorn config for prometheus_client's multiprocess mode: forget dead workers."""
from prometheus_client import multiprocess


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
