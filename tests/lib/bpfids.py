"""Which BPF objects a process holds: shared by the integration tests and bench/."""
import pathlib


def bpf_ids_held_by(pid, kind="prog"):
    """IDs of the BPF programs (or maps) a process holds file descriptors to."""
    field = "%s_id:" % kind
    ids = set()
    for info in pathlib.Path("/proc/%d/fdinfo" % pid).iterdir():
        try:
            text = info.read_text()
        except OSError:
            continue
        ids.update(int(l.split()[1]) for l in text.splitlines() if l.startswith(field))
    return ids
