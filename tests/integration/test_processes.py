"""Pre-fork servers: recycled workers, which processes are watched, service identity,
and the saturation signals (queue time, busy time, workers)."""
import json
import os
import pathlib
import socket
import subprocess
import threading
import time

import pytest

from conftest import (CLIENT_CPUS, Wrk, bpf_ids_held_by, curl_requests, pinned, scaled,
                      wait_for, wait_for_total, wrk_requests)

pytestmark = pytest.mark.capture

ROUTES = {"/ok": 200, "/missing": 404, "/boom": 500}
CGROUP2 = pathlib.Path("/sys/fs/cgroup/unified")


def series_of(m, name, **labels):
    return {s.labels["service_name"]: s.value for s in m.find(name, **labels)}


def bpf_maps_of(pid):
    """{name: map id} of the BPF maps a process holds."""
    out = {}
    for i in bpf_ids_held_by(pid, "map"):
        m = json.loads(subprocess.run(["bpftool", "--json", "map", "show", "id", str(i)],
                                      capture_output=True, text=True, check=True).stdout)
        out[m["name"]] = i
    return out


def tgids_in_map(map_id, offset=0):
    """The process ids at byte offset of every key of a map."""
    out = json.loads(subprocess.run(["bpftool", "--json", "map", "dump", "id", str(map_id)],
                                    capture_output=True, text=True, check=True).stdout)
    return [int.from_bytes(bytes(int(b, 16) for b in e["key"][offset:offset + 4]), "little")
            for e in out]


@pytest.mark.kernel_matrix
def test_recycled_workers_lose_no_request_and_leave_nothing_behind(gunicorn, redscope, tmp_path):
    # a recycled worker is a fork of a master that preloaded the app (the soak test
    # recycles workers that import it themselves)
    app = gunicorn("redapp:app", "--workers", "3", "--max-requests", "20",
                   "--max-requests-jitter", "5", env={"REDAPP_WORK_MS": "1"})
    rs = redscope()
    sent = wrk_requests(app.url, list(ROUTES), threads=3, quota=scaled(1000), workdir=tmp_path)
    total = sum(sent.values())
    pids = {e[4] for e in app.access_entries()}
    assert len(pids) > total // 25 - 10, "workers were not recycled: %d pids" % len(pids)

    wait_for_total(rs, "redapp", total)
    time.sleep(0.5)
    m = rs.metrics()
    assert m.request_counts("redapp") == {(p, "GET", s): n for (p, s), n in sent.items()}
    services = {s.labels["service_name"] for s in m.find("http_server_request_duration_seconds_count")}
    assert services == {"redapp"}
    assert m.value("redscope_lost_events_total") == 0

    # the master replaces the last recycled workers: 3 again, whatever their pids
    wait_for(lambda: series_of(rs.metrics(), "http_server_workers").get("redapp") == 3, 10,
             what="http_server_workers to be 3")

    # nothing of a dead process in the maps, once the daemon swept them (every second)
    maps = bpf_maps_of(rs.proc.pid)

    def only_live():
        # maps keyed by process (inflight by thread: pid_tgid, the process in its high half)
        keys = {name: tgids_in_map(maps[name], offset)
                for name, offset in (("targets", 0), ("busy_open", 0), ("fds", 0),
                                     ("inflight", 4))}
        dead = {name: [t for t in ts if not os.path.exists("/proc/%d" % t)] for name, ts in keys.items()}
        return keys if not any(dead.values()) else None

    keys = wait_for(only_live, 5, interval=0.5, what="the maps to hold live processes only")
    # keyed by socket: sync workers close every connection, so nothing is left
    assert tgids_in_map(maps["conns"]) == [] and tgids_in_map(maps["pipeline"]) == []

    # of this app, exactly its master and 3 workers are watched: none of the recycled
    def of_app(tgid):
        try:
            return b"redapp:app" in pathlib.Path("/proc/%d/cmdline" % tgid).read_bytes()
        except OSError:
            return False

    assert len([t for t in keys["targets"] if of_app(t)]) == 4


def queue_stats(m, service):
    """(count, sum seconds) of the queue histogram and (count, sum) of durations."""
    qc = m.value("http_server_request_queue_duration_seconds_count", service_name=service)
    qs = m.value("http_server_request_queue_duration_seconds_sum", service_name=service)
    dc = sum(s.value for s in m.find("http_server_request_duration_seconds_count", service_name=service))
    ds = sum(s.value for s in m.find("http_server_request_duration_seconds_sum", service_name=service))
    return qc, qs, dc, ds


def closed_loop_queue(gunicorn, redscope, workers):
    """10 wrk connections, each sending its next request as soon as the last is
    answered, to `workers` sync workers; each request sleeps 100 ms. Returns the mean
    queue wait and the throughput over the steady part of the run."""
    app = gunicorn("redapp:app", "--workers", str(workers), env={"REDAPP_WORK_MS": "100"})
    rs = redscope()
    wrk = subprocess.Popen(pinned(["wrk", "-t2", "-c10", "-d14s", app.url + "/ok"], CLIENT_CPUS),
                           stdout=subprocess.DEVNULL)
    try:
        time.sleep(4)  # the queue fills up
        t0, a = time.monotonic(), queue_stats(rs.metrics(), "redapp")
        time.sleep(8)
        t1, b = time.monotonic(), queue_stats(rs.metrics(), "redapp")
    finally:
        wrk.wait(timeout=30)
    conns, waited = b[0] - a[0], b[1] - a[1]
    assert conns > 0
    return waited / conns, (b[2] - a[2]) / (t1 - t0), (b[3] - a[3]) / (b[2] - a[2])


@pytest.mark.solo
def test_queue_time_of_one_worker_and_ten_clients_is_what_theory_says(gunicorn, redscope):
    mean_wait, throughput, service = closed_loop_queue(gunicorn, redscope, workers=1)
    # A closed system: 10 clients, no think time, one worker always busy. Each new
    # connection finds the other 9 ahead of it, so by Little's law it waits
    # (N - 1) / X, X the throughput (about 1 / 100 ms). A client reconnecting after its
    # answer is briefly not in the queue, so the wait can fall a little short of that:
    # expected within 10%.
    expected = 9 / throughput
    print("mean queue wait %.3f s, throughput %.2f/s, service %.3f s, theory %.3f s"
          % (mean_wait, throughput, service, expected))
    assert 0.1 < service < 0.12
    assert abs(mean_wait - expected) <= 0.10 * expected


@pytest.mark.kernel_matrix
@pytest.mark.solo
def test_queue_time_shows_the_wait_for_a_saturated_pool(gunicorn, redscope):
    # one sync worker, four connections opened at once, 200 ms of work each: the worker
    # accepts them one by one, so the k-th waits in the listen queue while the k-1 before
    # it are served, however fast the machine is otherwise
    work_s, clients = 0.2, 4
    app = gunicorn("redapp:app", "--workers", "1", env={"REDAPP_WORK_MS": str(int(work_s * 1000))})
    rs = redscope()
    conns = [socket.create_connection(("127.0.0.1", app.port)) for _ in range(clients)]
    for c in conns:
        c.sendall(b"GET /ok HTTP/1.1\r\nHost: t\r\n\r\n")
    for c in conns:
        while c.recv(4096):
            pass
        c.close()
    wait_for_total(rs, "redapp", clients)
    count, waited, _, served = queue_stats(rs.metrics(), "redapp")
    print("queue: %d connections waited %.3f s in all; requests took %.3f s in all"
          % (count, waited, served))
    assert count == clients
    ahead = clients * (clients - 1) / 2  # requests served before each, summed: 0+1+2+3
    assert waited >= 0.95 * ahead * work_s
    # each waited for at most the ones before it, plus its own hand-over
    assert waited <= (clients - 1) * served + 0.5 * clients


@pytest.mark.solo
def test_queue_time_is_near_zero_with_a_worker_per_client(gunicorn, redscope):
    mean_wait, throughput, service = closed_loop_queue(gunicorn, redscope, workers=10)
    print("mean queue wait %.6f s with 10 workers, throughput %.2f/s" % (mean_wait, throughput))
    # a free worker is already blocked in accept(): the wait is its wake-up, well under 5 ms
    assert mean_wait < 0.005


@pytest.mark.solo
def test_busy_ratio_matches_the_offered_load(gunicorn, redscope):
    app = gunicorn("redapp:app", "--workers", "3", env={"REDAPP_WORK_MS": "100"})
    rs = redscope()
    stop = threading.Event()

    def paced_client(period):
        # open loop: a request every period seconds, whatever the answers take
        next_at = time.monotonic()
        while not stop.is_set():
            with socket.create_connection(("127.0.0.1", app.port)) as c:
                c.sendall(b"GET /ok HTTP/1.1\r\nHost: t\r\n\r\n")
                while c.recv(4096):
                    pass
            next_at += period
            time.sleep(max(0, next_at - time.monotonic()))

    # 6 clients, one request each per 0.4 s: 15 requests/s of ~0.1 s on 3 workers
    clients = [threading.Thread(target=paced_client, args=(0.4,)) for _ in range(6)]
    for c in clients:
        c.start()
    try:
        time.sleep(3)
        m0, t0 = rs.metrics(), time.monotonic()
        time.sleep(12)
        m1, t1 = rs.metrics(), time.monotonic()
    finally:
        stop.set()
        for c in clients:
            c.join()
    busy = (m1.value("http_server_worker_busy_seconds_total", service_name="redapp")
            - m0.value("http_server_worker_busy_seconds_total", service_name="redapp"))
    workers = m1.value("http_server_workers", service_name="redapp")
    ratio = busy / (t1 - t0) / workers
    # offered load: arrivals times what each takes the app (its own log) over capacity
    count = (sum(s.value for s in m1.find("http_server_request_duration_seconds_count", service_name="redapp"))
             - sum(s.value for s in m0.find("http_server_request_duration_seconds_count", service_name="redapp")))
    logged = [d for _, _, _, d, _ in app.access_entries()]
    offered = count / (t1 - t0) * (sum(logged) / len(logged) / 1e6) / 3
    print("busy ratio %.4f, offered load %.4f, workers %d" % (ratio, offered, workers))
    assert workers == 3
    assert abs(ratio - offered) <= 0.05 * offered


def traffic(*apps):
    for a in apps:
        curl_requests(a.url, ["/ok"] * 3)


def services_seen(rs, expected_total):
    if expected_total:
        wait_for(lambda: sum(s.value for s in rs.metrics().find("http_server_request_duration_seconds_count"))
                 >= expected_total, 10, what="%d requests counted" % expected_total)
    time.sleep(0.5)  # anything that should not be counted has had time to show
    m = rs.metrics()
    counts = {}
    for s in m.find("http_server_request_duration_seconds_count"):
        counts[s.labels["service_name"]] = counts.get(s.labels["service_name"], 0) + s.value
    # a process that is not selected leaves no trace in any per-service series either
    for name in ("http_server_workers", "http_server_active_requests", "http_server_worker_busy_seconds_total"):
        assert set(series_of(m, name)) <= set(counts), (name, series_of(m, name), counts)
    return counts


@pytest.fixture
def two_apps(gunicorn):
    return gunicorn("redapp:app", "--workers", "2"), gunicorn("otherapp:app", "--workers", "2")


@pytest.fixture
def test_cgroup():
    if not CGROUP2.is_dir():
        pytest.skip("no cgroup v2 hierarchy at %s" % CGROUP2)
    path = CGROUP2 / ("redscope-test-%d" % os.getpid())
    path.mkdir()
    yield path
    # back to the root before removal; the test's processes are stopped by then
    for pid in (path / "cgroup.procs").read_text().split():
        try:
            (CGROUP2 / "cgroup.procs").write_text(pid)
        except OSError:
            pass
    path.rmdir()


def test_two_apps_are_two_services(two_apps, redscope):
    a, b = two_apps
    rs = redscope()
    traffic(a, b)
    assert services_seen(rs, 6) == {"redapp": 3, "otherapp": 3}


def test_port_selects_the_connections_to_that_port_only(two_apps, redscope):
    a, b = two_apps
    rs = redscope("--port=%d" % a.port)
    traffic(a, b)
    assert services_seen(rs, 3) == {"redapp": 3}


def test_pid_selects_a_process_tree_only(two_apps, redscope):
    a, b = two_apps
    rs = redscope("--pid=%d" % b.proc.pid)
    traffic(a, b)
    assert services_seen(rs, 3) == {"otherapp": 3}


def test_comm_selects_by_process_name_including_later_ones(two_apps, redscope, gunicorn, tmp_path):
    a, b = two_apps
    rs = redscope("--comm=python3")  # gunicorn's processes are named gunicorn
    web = subprocess.Popen(["python3", "-u", "-m", "http.server", "--bind", "127.0.0.1", "0"],
                           cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = web.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N ..."
        port = int(line.split(" port ")[1].split()[0])
        traffic(a, b)
        curl_requests("http://127.0.0.1:%d" % port, ["/"] * 4)
        assert services_seen(rs, 4) == {"http.server": 4}
    finally:
        web.kill()
        web.wait()
    rs2 = redscope("--comm=gunicorn")
    traffic(a, b)
    assert services_seen(rs2, 6) == {"redapp": 3, "otherapp": 3}


def test_cgroup_selects_processes_in_it_by_either_path(two_apps, redscope, test_cgroup):
    a, b = two_apps

    def workers():
        return [int(p) for p in subprocess.run(["pgrep", "-P", str(b.proc.pid)],
                                               capture_output=True, text=True).stdout.split()]
    # both workers forked: one forked while the others are moved would stay outside
    wait_for(lambda: len(workers()) == 2, 10, what="gunicorn's two workers")
    for pid in [b.proc.pid] + workers():
        (test_cgroup / "cgroup.procs").write_text(str(pid))
    for arg in (str(test_cgroup), test_cgroup.name):
        rs = redscope("--cgroup=%s" % arg)
        traffic(a, b)
        assert services_seen(rs, 3) == {"otherapp": 3}
        assert rs.stop() == 0


def test_selectors_combine_as_and(two_apps, redscope):
    a, b = two_apps
    rs = redscope("--comm=gunicorn", "--port=%d" % a.port, "--port=%d" % b.port)
    traffic(a, b)
    assert services_seen(rs, 6) == {"redapp": 3, "otherapp": 3}
    rs2 = redscope("--comm=python3", "--port=%d" % a.port)
    traffic(a, b)
    assert services_seen(rs2, 0) == {}


def test_bad_selectors_are_refused_with_the_reason(redscope):
    for args, words in ((["--comm=averyveryverylongname"], "15 characters"),
                        (["--port=70000"], "1 to 65535"),
                        (["--cgroup=/no/such/cgroup-here"], "not a cgroup")):
        proc = subprocess.run([str(pathlib.Path(__file__).parents[2] / "build" / "redscope")] + args,
                              capture_output=True, text=True, timeout=10)
        assert proc.returncode == 2 and words in proc.stderr, (args, proc.stderr)


def test_started_while_wrk_runs_on_keepalive_connections(gunicorn, redscope, tmp_path):
    app = gunicorn("redapp:app", "--workers", "2", "--worker-class", "gthread", "--threads", "4",
                   "--keep-alive", "60", env={"REDAPP_WORK_MS": "1"})
    marker = tmp_path / "measuring"
    wrk = Wrk(app.url, threads=4, quota=500, workdir=tmp_path, script="phased.lua",
              env={"WRK_WARM_PATH": "/missing", "WRK_PATH": "/ok", "WRK_MARKER": str(marker)})
    time.sleep(2)  # wrk's keep-alive connections are open and busy
    rs = redscope()
    marker.write_text("go")
    sent = wrk.wait()
    assert sent == {("/ok", 200): 2000}
    wait_for_total(rs, "redapp", 2000)
    time.sleep(0.5)
    counts = rs.metrics().request_counts("redapp")
    # every request sent after the start is counted; the warm-up ones after it too
    assert counts[("/ok", "GET", 200)] == 2000
    assert counts.get(("/missing", "GET", 404), 0) > 0
    # through the connections opened before redscope: none was accepted since
    assert rs.metrics().value("redscope_connections_total") == 4


def test_service_name_comes_from_flag_then_environment_then_wsgi_module(gunicorn, redscope):
    named = gunicorn("redapp:app", "--workers", "2", env={"OTEL_SERVICE_NAME": "checkout"})
    plain = gunicorn("otherapp:app", "--workers", "2")
    rs = redscope()
    traffic(named, plain)
    assert services_seen(rs, 6) == {"checkout": 3, "otherapp": 3}
    assert rs.stop() == 0
    rs = redscope("--service-name=everything")
    traffic(named, plain)
    assert services_seen(rs, 6) == {"everything": 6}
