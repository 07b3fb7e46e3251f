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
# bpftool's attach types of "tracing" links
TRACING_FAMILIES = {"trace_fentry": "fentry", "trace_fexit": "fexit", "trace_raw_tp": "BTF tracepoints"}


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
    "syscall tracepoints", "sched raw tracepoints", "fexit"."""
    families = set()
    for e in bpftool("perf", "list"):
        if e.get("pid") != pid:
            continue
        kind = e.get("fd_type")
        if kind == "tracepoint":
            category = tracepoint_category(e["tracepoint"])
            families.add("syscall tracepoints" if category == "syscalls"
                         else "%s tracepoints" % category)
        elif kind == "raw_tracepoint":
            families.add("%s raw tracepoints" % e["tracepoint"].split("_")[0])
        elif kind in ("uprobe", "uretprobe"):
            families.add("uprobes")
        else:
            families.add(kind)
    held = bpf_ids_held_by(pid)
    for link in bpftool("link", "list"):
        if link.get("prog_id") in held and link.get("type") == "tracing":
            families.add(TRACING_FAMILIES.get(link.get("attach_type"), link.get("attach_type")))
    return sorted(families)


if __name__ == "__main__":
    print(json.dumps(hook_families(int(sys.argv[1]))))
