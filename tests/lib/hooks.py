"""Which kernel hooks a process's BPF programs are attached to, by family.

Shared by the kernel matrix (run inside each guest and on the host) and its README check.
Usage: hooks.py PID  (prints the families as a JSON list)
"""
import json
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bpfids import bpf_ids_held_by  # noqa: E402

TRACEFS = [pathlib.Path("/sys/kernel/tracing/events"), pathlib.Path("/sys/kernel/debug/tracing/events")]
# bpftool's attach types of "tracing" links that perf list does not show
TRACING_FAMILIES = {"trace_fentry": "fentry", "trace_fexit": "fexit"}


def socket_tracepoints():
    """Does this kernel have the sock_recv_length tracepoint (Linux 6.3), what the sockets
    capture needs? Its BPF tracepoint's type is in the kernel's BTF whether tracefs is
    mounted or not (on a fresh machine nobody has mounted it before the first redscope
    does); tracefs says where there is no BTF."""
    try:
        return b"\0btf_trace_sock_recv_length\0" in pathlib.Path("/sys/kernel/btf/vmlinux").read_bytes()
    except OSError:
        return any((events / "sock" / "sock_recv_length").exists() for events in TRACEFS)


def tracepoint_category(name):
    for events in TRACEFS:
        found = list(events.glob("*/%s" % name))
        if found:
            return found[0].parent.name
    return "syscalls" if name.startswith(("sys_enter_", "sys_exit_")) else "unknown"


def bpftool(*args):
    out = subprocess.run(["bpftool", "--json"] + list(args), capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out or "[]")


def hook_families(pid):
    """Sorted names of the hook families pid's programs are attached to, such as
    "syscall tracepoints", "sock BTF tracepoints", "sched raw tracepoints", "fexit"."""
    families = set()
    types = {p["id"]: p.get("type") for p in bpftool("prog", "show")}
    for e in bpftool("perf", "list"):
        if e.get("pid") != pid:
            continue
        kind = e.get("fd_type")
        category = tracepoint_category(e.get("tracepoint", ""))
        if kind == "tracepoint":
            families.add("syscall tracepoints" if category == "syscalls"
                         else "%s tracepoints" % category)
        elif kind == "raw_tracepoint" and types.get(e.get("prog_id")) == "tracing":
            families.add("%s BTF tracepoints" % category)  # tp_btf
        elif kind == "raw_tracepoint":
            families.add("%s raw tracepoints" % category)
        elif kind in ("uprobe", "uretprobe"):
            families.add("uprobes")
        else:
            families.add(kind)
    held = bpf_ids_held_by(pid)
    for link in bpftool("link", "list"):
        kind = TRACING_FAMILIES.get(link.get("attach_type"))
        if link.get("prog_id") in held and link.get("type") == "tracing" and kind:
            families.add(kind)
    return sorted(families)


if __name__ == "__main__":
    print(json.dumps(hook_families(int(sys.argv[1]))))
