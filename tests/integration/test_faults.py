"""Faults a node agent meets: redscope killed with SIGKILL under load and started
again (nothing left behind in the kernel, counting resumes), the watched application
killed in the middle of a request, scrapers that go away in the middle of a
response, and the systemd unit's sandbox."""
import os
import signal
import socket
import struct
import subprocess
import threading

from conftest import (REDSCOPE, ROOT, Redscope, bpf_ids_held_by, curl_requests, loaded_bpf_ids,
                      wait_for)

def test_sigkill_under_load_then_restart(gunicorn, tmp_path):
    app = gunicorn("redapp:app", "--workers", "2", "--worker-class", "gthread", "--threads", "4",
                   env={"REDAPP_WORK_MS": "1"})
    started = [Redscope(tmp_path, ["--comm=gunicorn"])]
    try:
        killed_then_restarted(app, tmp_path, started)
    finally:
        for rs in started:  # whatever failed, no redscope outlives the test
            if rs.proc.poll() is None:
                rs.proc.kill()
                rs.proc.wait()


def killed_then_restarted(app, tmp_path, started):
    first = started[0]
    # load that goes on through the kill and the restart, on long keep-alive connections
    stop = threading.Event()

    def load():
        while not stop.is_set():
            curl_requests(app.url, ["/ok"] * 2000)

    loaders = [threading.Thread(target=load) for _ in range(2)]
    for t in loaders:
        t.start()
    try:
        wait_for(lambda: sum(first.metrics().request_counts("redapp").values()) > 200, 20,
                 what="requests counted before the kill")
        progs, maps = bpf_ids_held_by(first.proc.pid), bpf_ids_held_by(first.proc.pid, "map")
        assert len(progs) > 10 and len(maps) > 5, (progs, maps)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(timeout=10)
        first.log.close()
        # nothing pinned, nothing left: the kernel side went with the process
        wait_for(lambda: not (progs & loaded_bpf_ids()) and not (maps & loaded_bpf_ids("map")), 10,
                 what="redscope's programs and maps gone")
        assert not [f for f in os.listdir("/sys/fs/bpf") if "redscope" in f]
        second = Redscope(tmp_path, ["--comm=gunicorn"])
        started.append(second)
        # counting resumed, on connections opened before the restart too
        wait_for(lambda: sum(second.metrics().request_counts("redapp").values()) > 100, 20,
                 what="counting after the restart")
    finally:
        stop.set()
        for t in loaders:
            t.join()
    # and exact for what comes after: a route only this batch asks for
    curl_requests(app.url, ["/missing"] * 50)
    wait_for(lambda: second.metrics().request_counts("redapp").get(("/missing", "GET", 404)) == 50,
             10, what="the batch after the restart")
    assert second.metrics().value("redscope_lost_events_total") == 0
    assert second.stop() == 0, second.logs()


def test_application_killed_mid_request(gunicorn, redscope):
    rs = redscope("--comm=gunicorn")
    app = gunicorn("redapp:app", "--workers", "1", "--timeout", "30")
    curl_requests(app.url, ["/ok"] * 3)
    before = rs.metrics()
    processes = before.value("redscope_tracked_processes")
    slow = subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                             app.url + "/sleep?ms=5000"], stdout=subprocess.PIPE, text=True)
    wait_for(lambda: rs.metrics().value("http_server_active_requests", service_name="redapp") == 1,
             10, what="the slow request in flight")
    workers = subprocess.run(["pgrep", "-P", str(app.proc.pid)], capture_output=True,
                             text=True).stdout.split()
    for pid in workers:
        os.kill(int(pid), signal.SIGKILL)
    out, _ = slow.communicate(timeout=20)
    assert out != "200"
    # the killed worker's request: not an HTTP series, counted as unanswered
    wait_for(lambda: rs.metrics().value("redscope_requests_unanswered_total") == 1, 10,
             what="the request counted as unanswered")
    m = rs.metrics()
    assert m.request_counts("redapp") == {("/ok", "GET", 200): 3}
    assert m.value("http_server_active_requests", service_name="redapp") == 0
    # gunicorn replaced its worker; the dead one is gone from the kernel's maps
    wait_for(lambda: rs.metrics().value("redscope_tracked_processes") <= processes, 10,
             what="the dead worker forgotten")
    curl_requests(app.url, ["/ok"] * 2)
    wait_for(lambda: rs.metrics().request_counts("redapp") == {("/ok", "GET", 200): 5}, 10,
             what="the new worker counted")


def test_scrapers_that_leave_mid_response(gunicorn, redscope):
    rs = redscope("--comm=gunicorn", "--max-routes=5000")
    app = gunicorn("redapp:app", "--workers", "2", env={"REDAPP_WORK_MS": "0"})
    # a few thousand series: a /metrics of a few MB
    curl_requests(app.url, ["/x/%s" % "".join(chr(97 + (i // 26 ** k) % 26) for k in range(3))
                            for i in range(3000)])
    size = len(rs.scrape_text())
    assert size > 1000000, size

    def leave(reset):
        s = socket.create_connection(("127.0.0.1", rs.port), timeout=5)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(1000)
        if reset:  # RST instead of FIN
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()

    threads = [threading.Thread(target=leave, args=(i % 2 == 0,)) for i in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # half a request, then silence; then gone
    s = socket.create_connection(("127.0.0.1", rs.port), timeout=5)
    s.sendall(b"GET /metr")
    s.close()
    assert rs.proc.poll() is None
    assert len(rs.scrape_text()) >= size
    assert rs.metrics().value("redscope_lost_events_total") == 0


def test_systemd_unit_is_valid_and_sandboxed(tmp_path):
    unit = (ROOT / "deploy" / "systemd" / "redscope.service").read_text()
    for option in ("NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=",
                   "RestrictAddressFamilies=", "SystemCallFilter=", "MemoryDenyWriteExecute=yes"):
        assert option in unit, option
    # systemd checks it as it would load it (the binary where this tree built it)
    copy = tmp_path / "redscope.service"
    copy.write_text(unit.replace("/usr/local/bin/redscope", str(REDSCOPE)))
    r = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True)
    assert r.returncode == 0 and "Unknown" not in r.stderr, r.stderr
    caps = unit.split("CapabilityBoundingSet=")[1].split("\n")[0].split()
    assert set(caps) <= {"CAP_BPF", "CAP_PERFMON", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH",
                         "CAP_SYS_RESOURCE", "CAP_SYS_ADMIN"}
