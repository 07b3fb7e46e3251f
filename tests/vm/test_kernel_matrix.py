"""The kernel matrix: the core integration cases inside each kernel line EKS nodes run
(Debian's newest cloud kernel of 5.10, 6.1 and 6.12 for x86-64, of 6.1 and 6.12 for
arm64, booted in QEMU), one test per kernel with its version and architecture in the
test id, and the README's table of tested kernels held to what redscope really attached
in each."""
import os
import pathlib
import re
import subprocess
import sys
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "lib"))
import vmtest  # noqa: E402
from hooks import hook_families  # noqa: E402

README = vmtest.ROOT / "README.md"
# the architectures whose kernels are booted here (REDSCOPE_VMTEST_ARCHES, comma-separated
# Debian names; default every one): make test boots each in a process of its own
BOOTED = [a for a in vmtest.ARCHES.values()
          if a.deb in os.environ.get("REDSCOPE_VMTEST_ARCHES", a.deb).split(",")]
KERNELS = [(arch,) + k for arch in BOOTED for k in vmtest.resolve_kernels(arch)] \
    if os.geteuid() == 0 else []


def skip_reason():
    if os.geteuid() != 0:
        return "needs root: debootstrap builds the guest root, redscope loads BPF (sudo make test)"
    if not (vmtest.ROOT / "build" / "redscope").exists():
        return "build/redscope is missing: run make"
    return None


@pytest.fixture(autouse=True)
def _privileged():
    reason = skip_reason()
    if reason:
        pytest.skip(reason)


def readme_kernels():
    """{(kernel line, architecture): (EKS node line, hooks, result)} from the README's
    Tested kernels table."""
    text = README.read_text()
    table = text[text.index("## Tested kernels"):]
    table = table[:table.index("\n## ")]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        m = re.match(r"(\d+\.\d+)\b", cells[0]) if len(cells) == 5 else None
        if m:
            rows[(m.group(1), cells[1])] = (cells[2], cells[3], cells[4])
    return rows


def kernel_id(kernel):
    arch, line, package, _, capture, _ = kernel
    return "%s-%s" % (vmtest.kernel_release(package) if package
                      else "%s-%s-unresolved" % (line, arch.deb), capture)


@pytest.mark.parametrize("kernel", KERNELS, ids=[kernel_id(k) for k in KERNELS])
def test_core_cases_pass_inside_the_kernel(kernel):
    arch, line, package, eks, capture, why = kernel
    assert package, "the %s %s kernel cannot be had: %s" % (line, arch.deb, why)
    cases = vmtest.core_cases(capture)
    r = vmtest.boot(arch, package, capture, cases)
    print("%s under %s: init ran %s s after the kernel started; result %.0f s after QEMU did"
          % (package, r.accel.upper(), r.up_seconds, r.seconds))
    for w in r.warnings():
        print("redscope switched off or warned: " + w)
    print("hooks: %s" % r.hooks)
    for case, seconds in sorted(r.case_seconds.items(), key=lambda kv: -kv[1]):
        print("%6.1f s  %s" % (seconds, case))
    assert r.rc is not None, "the guest reported nothing in %.0f s; its console ends:\n%s" % (
        r.seconds, r.tail())
    assert r.kernel == vmtest.kernel_release(package)
    failed = {c: o for c, o in r.cases.items() if o != "passed"}
    assert not failed, "%s\nconsole:\n%s" % (failed, r.tail(120))
    assert sorted(r.cases) == sorted(cases), "the guest ran other cases than asked"
    # nothing switched off; the syscalls capture, where it is the kernel's cheapest, says
    # what it costs
    said = [w for w in r.warnings() if not (capture == "syscalls" and "capture: syscalls" in w)]
    assert not said, r.redscope_log
    assert "redscope_lost_events_total 0" in r.self_metrics.splitlines()
    # left to choose, redscope takes the cheapest backend the kernel has: this one
    assert 'redscope_capture_info{backend="%s"} 1' % capture in r.self_metrics.splitlines()
    # the README's row of this line says what was run and found here (libssl uprobes, on
    # every kernel, are said once below the table)
    hooks = ", ".join(h for h in r.hooks if h != "uprobes")
    assert readme_kernels().get((line, arch.label)) == (eks, hooks, "core cases pass in QEMU")


def test_the_readme_lists_every_line_of_the_matrix_and_this_machine(tmp_path):
    rows = readme_kernels()
    lines = {(line, arch.label) for arch in vmtest.ARCHES.values() for line, _, _, _ in arch.lines}
    assert lines <= set(rows)
    assert len(set(rows) - lines) == 1, "one row for the build machine: %s" % rows
    # the build machine's row, when this is it, names the hooks redscope attaches here
    host = (".".join(os.uname().release.split(".")[:2]), vmtest.arch_of(os.uname().machine).label)
    rs = subprocess.Popen([str(vmtest.ROOT / "build" / "redscope"),
                           "--web.listen-address=127.0.0.1:0"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(200):
            if rs.poll() is not None or hook_families(rs.pid):
                break
            time.sleep(0.05)
        time.sleep(0.5)  # every program attached
        hooks = ", ".join(h for h in hook_families(rs.pid) if h != "uprobes")
    finally:
        rs.terminate()
        out = rs.communicate(timeout=15)[0]
    assert rs.returncode == 0, out
    if host in rows:
        assert rows[host][1] == hooks
        assert rows[host][2] == "every test passes"
    else:
        print("this machine runs %s, which the table has no row for; its hooks: %s" % (host, hooks))
