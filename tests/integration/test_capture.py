"""How socket I/O is seen: the socket tracepoints where the kernel has them, and then no
syscall tracepoint is on, so processes redscope does not watch pay nothing on their
other syscalls; each backend says which it is; a backend the kernel lacks is refused
with the reason."""
import json
import subprocess

import pytest

from conftest import CAPTURES, REDSCOPE, Redscope, curl_requests, exact, wait_for
from hooks import bpftool, hook_families, tracepoint_category


def attached_syscall_hooks(pid):
    """Every attachment of pid's programs to a syscall tracepoint, classic or raw."""
    found = []
    for e in bpftool("perf", "list"):
        if e.get("pid") != pid:
            continue
        name = e.get("tracepoint", "")
        if tracepoint_category(name) in ("syscalls", "raw_syscalls") or name in ("sys_enter",
                                                                                 "sys_exit"):
            found.append(e)
    return found


def test_socket_capture_turns_on_no_syscall_tracepoint(gunicorn, tmp_path):
    if "sockets" not in CAPTURES:
        pytest.skip("this kernel has no sock_recv_length tracepoint (Linux 6.3 and later)")
    app = gunicorn("redapp:app", "--workers", "2")
    rs = Redscope(tmp_path, ["--capture=sockets"])
    try:
        families = hook_families(rs.proc.pid)
        print("hooks:", families)
        assert attached_syscall_hooks(rs.proc.pid) == []
        assert "syscall tracepoints" not in families
        assert {"sock BTF tracepoints", "tcp BTF tracepoints", "sched raw tracepoints"} <= set(families)
        # and it counts
        sent = curl_requests(app.url, ["/ok"] * 5 + ["/missing"] * 2)
        m = exact(rs, "redapp", sent)
        assert m.value("redscope_capture_info", backend="sockets") == 1
        assert "capture: sockets" in rs.logs()
    finally:
        assert rs.stop() == 0


def test_left_to_choose_it_takes_the_cheapest_and_says_so(tmp_path):
    rs = Redscope(tmp_path)
    try:
        m = rs.metrics()
        backend = [s.labels["backend"] for s in m.find("redscope_capture_info")]
        assert backend == [CAPTURES[0]]
        assert "capture: %s" % CAPTURES[0] in rs.logs()
    finally:
        assert rs.stop() == 0


def test_the_syscall_capture_is_the_expensive_one_and_says_so(tmp_path):
    rs = Redscope(tmp_path, ["--capture=syscalls"])
    try:
        assert "syscall tracepoints" in hook_families(rs.proc.pid)
        assert rs.metrics().value("redscope_capture_info", backend="syscalls") == 1
        assert "every syscall of every process" in rs.logs()
    finally:
        assert rs.stop() == 0


def test_fentry_runs_where_trampolines_attach_or_is_refused_with_the_reason(tmp_path):
    # fentry needs BPF trampolines: some kernels (this build machine's) forbid them
    proc = subprocess.Popen([str(REDSCOPE), "--capture=fentry", "--web.listen-address=127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        proc.wait(timeout=15)
        refused = True
    except subprocess.TimeoutExpired:
        refused = False
    if refused:
        log = proc.stdout.read()
        assert proc.returncode != 0
        assert "--capture=fentry: this kernel cannot attach BPF trampolines" in log, log
        assert "use --capture=auto" in log
    else:
        held = json.loads(subprocess.run(["bpftool", "--json", "link", "list"], capture_output=True,
                                         text=True, check=True).stdout)
        assert any(l.get("attach_type") == "trace_fexit" for l in held)
        proc.terminate()
        assert proc.wait(timeout=15) == 0


def test_an_unknown_backend_is_a_usage_error():
    out = subprocess.run([str(REDSCOPE), "--capture=kprobes"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "invalid --capture 'kprobes': expected auto, sockets, fentry or syscalls" in out.stderr
