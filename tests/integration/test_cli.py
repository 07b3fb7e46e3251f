"""What a user sees when redscope cannot start, and how it stops."""
import re
import signal
import socket
import subprocess

import pytest

from conftest import REDSCOPE, Redscope, bpf_ids_held_by, free_port, loaded_bpf_ids, wait_for


def run_failing(cmd, timeout=30):
    """Run a redscope start that must fail; return its one error line."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode != 0, "redscope started although it should not:\n" + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "level=error" in line]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def listen_arg():
    return "--web.listen-address=127.0.0.1:%d" % free_port()


def test_without_root_it_says_to_use_sudo():
    line = run_failing(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        str(REDSCOPE), listen_arg()])
    assert "needs root" in line and "sudo" in line


def test_port_in_use_names_the_address_and_the_flag():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        addr = "127.0.0.1:%d" % holder.getsockname()[1]
        line = run_failing([str(REDSCOPE), "--web.listen-address=" + addr])
    assert addr in line and "already in use" in line and "--web.listen-address" in line


def test_kernel_without_btf_is_named_with_the_config_option():
    # a mount namespace of its own where /sys/kernel/btf is empty, as on a kernel without
    # BTF; /sys is made private there first so the empty mount never reaches the host
    script = ("mount --make-rprivate /sys && mount -t tmpfs none /sys/kernel/btf && exec %s %s"
              % (REDSCOPE, listen_arg()))
    line = run_failing(["unshare", "--mount", "--propagation", "unchanged", "sh", "-c", script])
    assert "no BTF" in line and "CONFIG_DEBUG_INFO_BTF" in line


def test_too_old_kernel_names_the_minimum_version():
    # the UNAME26 personality makes uname report a 2.6 kernel
    line = run_failing(["setarch", "x86_64", "--uname-2.6", str(REDSCOPE), listen_arg()])
    assert "too old" in line and "5.8" in line


def test_bad_arguments_exit_with_usage_status():
    for args in (["--pid=abc"], ["--duration-buckets=1,0.5"], ["--web.telemetry-path=metrics"],
                 ["--log.level=loud"], ["--no-such-flag"], ["extra"]):
        proc = subprocess.run([str(REDSCOPE)] + args, capture_output=True, text=True, timeout=10)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.strip(), args


def test_help_and_version_exit_zero():
    out = subprocess.run([str(REDSCOPE), "--help"], capture_output=True, text=True, check=True).stdout
    for flag in ("--web.listen-address", "--web.telemetry-path", "--pid", "--service-name"):
        assert flag in out
    out = subprocess.run([str(REDSCOPE), "--version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("redscope ")


def test_the_version_is_the_builds_everywhere_it_is_shown(redscope):
    """--version, the start-up log line and redscope_build_info all say the version the
    build was made at (git describe), not a placeholder."""
    built = re.search(r'REDSCOPE_VERSION "([^"]+)"',
                      (REDSCOPE.parent / "version.h").read_text()).group(1)
    assert built not in ("dev", "unknown", "")
    out = subprocess.run([str(REDSCOPE), "--version"], capture_output=True, text=True, check=True).stdout
    assert out == "redscope %s\n" % built
    rs = redscope()
    [info] = rs.metrics().find("redscope_build_info")
    assert info.labels["version"] == built
    assert "redscope %s serving" % built in rs.logs()


# SIGTERM, what Kubernetes and systemd send, in every kernel of the matrix; SIGINT here
@pytest.mark.parametrize("sig", [pytest.param(signal.SIGINT, id="SIGINT"),
                                 pytest.param(signal.SIGTERM, id="SIGTERM",
                                              marks=pytest.mark.kernel_matrix)])
def test_signal_stops_cleanly_and_unloads_every_program(tmp_path, sig):
    rs = Redscope(tmp_path)
    try:
        held = bpf_ids_held_by(rs.proc.pid)
        assert len(held) >= 10, "expected redscope's programs to be loaded, found %s" % held
        assert held <= loaded_bpf_ids()
    finally:
        code = rs.stop(sig)
    assert code == 0, rs.logs()
    assert "shutting down" in rs.logs()
    # the kernel frees programs after an RCU grace period, not at the exit itself
    wait_for(lambda: not held & loaded_bpf_ids(), 10, interval=0.1,
             what="redscope's programs to be unloaded")
