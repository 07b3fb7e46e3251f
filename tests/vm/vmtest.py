#!/usr/bin/python3
"""The kernel matrix: redscope's core tests inside Debian's cloud kernels, under QEMU.

Each kernel line EKS nodes run is booted from Debian's own cloud kernel package, for
x86-64 (5.10, 6.1, 6.12, in qemu-system-x86_64) and for arm64, the Graviton node groups
(6.1, 6.12, in qemu-system-aarch64 -M virt), with an initramfs that carries a whole
minimal Debian root of that architecture: python3, gunicorn, curl, wrk, bpftool, the
redscope build of that architecture and its integration tests. The guest runs the
tests marked `kernel_matrix` as root and reports pytest's JUnit XML on a serial port of
its own; the host reads it.

Everything fetched is cached under /var/cache/redscope-vmtest (REDSCOPE_VMTEST_CACHE),
arm64's in arm64/: the kernels, fetched with `apt-get download` through a private apt
configuration per architecture (the machine's own sources are never touched), and the
guest root, kept as a cpio archive. The root of the host's architecture is built by
debootstrap at once; another architecture's by `debootstrap --foreign`, its packages
then unpacked here without running any of their code (nothing of the host, binfmt_misc
included, is changed), once. A second run starts in seconds.

Usage (root): vmtest.py list | vmtest.py run [LINE...] [--arch=ARCH] [--capture=BACKEND]
              vmtest.py exec LINE COMMAND [--arch=ARCH]  (a shell command in the guest)
              vmtest.py vmlinux ARCH HEADER  (vmlinux.h of the newest kernel of ARCH)
"""
import argparse
import base64
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

ROOT = pathlib.Path(__file__).resolve().parents[2]
CACHE = pathlib.Path(os.environ.get("REDSCOPE_VMTEST_CACHE", "/var/cache/redscope-vmtest"))
MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

# Kernel lines: (line, suites whose packages carry it, EKS node line, the capture backend
# redscope picks there: the socket tracepoints are Linux 6.3, trampolines older on x86; an
# arm64 kernel attaches trampolines to kernel functions through ftrace direct calls, which
# arm64 has since Linux 6.4 (Debian's 6.1 is built without them): the syscalls capture)
LINES_X86 = [
    ("5.10", ("bullseye", "bullseye-security"), "Amazon Linux 2", "fentry"),
    ("6.1", ("bookworm", "bookworm-security"), "AL2023, Bottlerocket", "fentry"),
    ("6.12", ("bookworm-backports", "bookworm-security"), "AL2023, Bottlerocket", "sockets"),
]
LINES_ARM64 = [
    ("6.1", ("bookworm", "bookworm-security"), "AL2023, Bottlerocket (Graviton)", "syscalls"),
    ("6.12", ("bookworm-backports", "bookworm-security"), "AL2023, Bottlerocket (Graviton)",
     "sockets"),
]
LIST_MAX_AGE = 24 * 3600  # package lists older than this are refreshed


class Arch:
    """What differs between the matrix's architectures: names, QEMU's machine, the
    serial ports, where its build and its cache are."""

    def __init__(self, deb, kernel, label, triplet, lines, qemu, machine, console, results_tty,
                 results_args, cpu_tcg):
        self.deb = deb            # Debian's name: amd64, arm64
        self.kernel = kernel      # the kernel's and the Makefile's: x86, arm64
        self.label = label        # the README's: x86-64, arm64
        self.triplet = triplet    # multiarch library directory: /usr/lib/<triplet>
        self.lines = lines
        self.qemu, self.machine = qemu, machine
        self.console = console    # the guest's console (kernel messages, pytest's output)
        self.results_tty = results_tty  # the guest's result port
        self.results_args = results_args  # QEMU options of the result port, %s: its file
        self.cpu_tcg = cpu_tcg

    @property
    def cache(self):
        # amd64 where the matrix always kept it, so that every checkout shares one cache
        return CACHE if self.deb == "amd64" else CACHE / self.deb

    @property
    def native(self):
        return self.deb == host_deb_arch()

    def binary(self):
        """The redscope build of this architecture: the host's in build/, another's in
        build/ARCH/ (make ARCH=arm64)."""
        if self.native:
            return ROOT / "build" / "redscope"
        return ROOT / "build" / self.kernel / "redscope"


ARCHES = {
    "amd64": Arch(deb="amd64", kernel="x86", label="x86-64", triplet="x86_64-linux-gnu",
                  lines=LINES_X86, qemu="qemu-system-x86_64", machine=[], console="ttyS0",
                  results_tty="/dev/ttyS1", results_args=["-serial", "file:%s"], cpu_tcg="max"),
    # virt has one UART of its own (ttyAMA0, the console); the result port is a 16550 on
    # PCI (ttyS0), which Debian's arm64 cloud kernels have built in. The CPU is QEMU's
    # max, every feature Graviton 3 and 4 have (pointer authentication, BTI), with QEMU's
    # own pointer authentication hash: the architected one boots the kernel three to four
    # times slower under TCG.
    "arm64": Arch(deb="arm64", kernel="arm64", label="arm64", triplet="aarch64-linux-gnu",
                  lines=LINES_ARM64, qemu="qemu-system-aarch64", machine=["-M", "virt"],
                  console="ttyAMA0", results_tty="/dev/ttyS0",
                  results_args=["-chardev", "file,id=results,path=%s",
                                "-device", "pci-serial,chardev=results"],
                  cpu_tcg="max,pauth-impdef=on"),
}


def arch_of(name):
    """An Arch by any of its names: amd64, x86, x86_64, arm64, aarch64."""
    aliases = {"x86": "amd64", "x86_64": "amd64", "aarch64": "arm64"}
    deb = aliases.get(name, name)
    if deb not in ARCHES:
        raise VmtestError("unknown architecture %s (the matrix has %s)" % (name, ", ".join(ARCHES)))
    return ARCHES[deb]


def host_deb_arch():
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)

# The guest: what the tests inside need besides the libraries redscope links.
GUEST_SUITE = "bookworm"
GUEST_PACKAGES = [
    "python3", "gunicorn", "python3-flask", "python3-pytest", "python3-requests",
    "python3-prometheus-client",
    "curl", "wrk", "openssl", "bpftool", "procps", "util-linux", "iproute2",
    "nghttp2-server", "nghttp2-client", "python3-grpcio",  # the HTTP/2 and gRPC cases
]
GUEST_DROP = ["usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale",
              "var/cache/apt", "var/lib/apt/lists", "var/cache/debconf"]
GUEST_FORMAT = 2  # bump when the way the root is built changes
GUEST_MEMORY_MB = 3072
GUEST_CPUS = 2
GUEST_TIMEOUT = 900  # seconds from boot to the end of the tests, at most
LOAD_SCALE = "0.1"   # the guest runs a tenth of the host's load: TCG is slow
# How much slower the guest's CPU is, at most: TCG emulates about ten times slower, and
# `make test` runs two guests beside the host's tests on two cores, which halves that again
CPU_SLOWDOWN = {"tcg": "20", "kvm": "1"}
RESULT_MARK = "REDSCOPE-VMTEST"  # sections on the result port: MARK-BEGIN name ... MARK-END name


def log(msg):
    print("vmtest: " + msg, file=sys.stderr, flush=True)


class VmtestError(Exception):
    """Something the matrix needs cannot be had: the message says what and why."""


def run(cmd, **kw):
    kw.setdefault("check", True)
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    try:
        return subprocess.run(cmd, **kw)
    except subprocess.CalledProcessError as e:
        raise VmtestError("%s failed (exit %d): %s" % (" ".join(map(str, cmd[:3])), e.returncode,
                                                      (e.stderr or e.stdout or "").strip()[-800:]))
    except FileNotFoundError:
        raise VmtestError("%s is not installed (sudo make test installs it)" % cmd[0])


# ------------------------------------------------------------------ kernels

class Apt:
    """apt-get and apt-cache of one architecture, with a configuration of their own under
    its cache."""

    def __init__(self, arch):
        self.arch = arch
        self.dir = arch.cache / "apt"
        self.sources = self.dir / "sources.list"
        self.lists = self.dir / "lists"

    def opts(self):
        return ["-o", "Dir::Etc::sourcelist=%s" % self.sources, "-o", "Dir::Etc::sourceparts=-",
                "-o", "Dir::State::Lists=%s" % self.lists, "-o", "Dir::Cache=%s" % (self.dir / "cache"),
                "-o", "APT::Architecture=%s" % self.arch.deb,
                "-o", "APT::Architectures=%s" % self.arch.deb,
                "-o", "APT::Sandbox::User=root", "-o", "Debug::NoLocking=1"]

    def update(self):
        """Fetch the package lists of every suite, unless fresh ones are here."""
        suites = sorted({s for _, ss, _, _ in self.arch.lines for s in ss})
        text = "".join("deb [arch=%s signed-by=%s] %s %s main\n"
                       % (self.arch.deb, KEYRING,
                          SECURITY_MIRROR if s.endswith("-security") else MIRROR, s)
                       for s in suites)
        (self.lists / "partial").mkdir(parents=True, exist_ok=True)
        (self.dir / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        stamp = self.dir / "updated"
        fresh = (stamp.exists() and stamp.read_text() == text
                 and time.time() - stamp.stat().st_mtime < LIST_MAX_AGE)
        if fresh:
            return
        self.sources.write_text(text)
        try:
            run(["apt-get"] + self.opts() + ["update"])
        except VmtestError:
            if stamp.exists():
                log("cannot refresh the package lists; using the ones from %s"
                    % time.ctime(stamp.stat().st_mtime))
                return
            raise
        stamp.write_text(text)

    def newest_kernel(self, line):
        """The newest cloud kernel package of a line (5.10, 6.1, 6.12) in the lists."""
        deb = self.arch.deb
        pattern = r"^linux-image-%s[.][0-9][0-9.+a-z~-]*-cloud-%s$" % (re.escape(line), deb)
        out = run(["apt-cache"] + self.opts() + ["search", "--names-only", pattern]).stdout
        names = [l.split(" - ")[0] for l in out.splitlines() if l.strip()]
        names = [n for n in names if not n.endswith("-unsigned") and "-dbg" not in n]
        if not names:
            raise VmtestError("the Debian archive lists no linux-image-%s.*-cloud-%s package"
                              % (line, deb))
        return max(names, key=natural_key)

    def download(self, package, into):
        run(["apt-get"] + self.opts() + ["download", package], cwd=into)


def natural_key(s):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def resolve_kernels(arch):
    """[(line, package, EKS node line, capture, None)], newest package of each line of an
    architecture. A line that cannot be resolved carries the reason instead of a package
    (the test says it)."""
    apt = Apt(arch)
    try:
        apt.update()
    except VmtestError as e:
        return [(line, None, eks, capture, str(e)) for line, _, eks, capture in arch.lines]
    out = []
    for line, _, eks, capture in arch.lines:
        try:
            out.append((line, apt.newest_kernel(line), eks, capture, None))
        except VmtestError as e:
            out.append((line, None, eks, capture, str(e)))
    return out


def kernel_release(package):
    """linux-image-6.1.0-57-cloud-amd64 -> 6.1.0-57-cloud-amd64 (what uname -r says)."""
    return package[len("linux-image-"):]


def fetch_kernel(arch, package):
    """Path of the kernel image of a package, downloaded and unpacked once. Debian's is
    what QEMU's -kernel boots as it is: a bzImage on x86, and on arm64 an uncompressed
    Image, which its EFI stub and signature do not stop from booting directly."""
    dest = arch.cache / "kernels" / package
    vmlinuz = dest / "vmlinuz"
    if vmlinuz.exists():
        return vmlinuz
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=arch.cache) as tmp:
        Apt(arch).download(package, tmp)
        debs = list(pathlib.Path(tmp).glob("*.deb"))
        if len(debs) != 1:
            raise VmtestError("apt-get download %s gave %d packages" % (package, len(debs)))
        unpacked = pathlib.Path(tmp) / "x"
        unpacked.mkdir()
        run(["dpkg-deb", "-x", str(debs[0]), str(unpacked)])
        images = list((unpacked / "boot").glob("vmlinuz-*"))
        if len(images) != 1:
            raise VmtestError("%s holds no kernel image in /boot" % package)
        shutil.copy(images[0], vmlinuz.with_suffix(".tmp"))
        os.replace(vmlinuz.with_suffix(".tmp"), vmlinuz)
    log("fetched %s" % package)
    return vmlinuz


# ------------------------------------------------------------------ the guest root

def needed_libraries(arch, binary):
    """Paths of the shared libraries a binary needs, and those they need (what ldd lists
    but the dynamic loader), read from their ELF headers in the architecture's multiarch
    directories: a build for another architecture cannot be run here to ask."""
    dirs = [pathlib.Path(d) / arch.triplet for d in ("/usr/lib", "/lib")]
    found, todo = {}, [pathlib.Path(binary)]
    for _ in range(1000):  # far more libraries than any binary here needs
        if not todo:
            break
        elf = todo.pop()
        out = run(["readelf", "-d", str(elf)]).stdout
        for soname in re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out):
            if soname in found or soname.startswith("ld-linux"):
                continue
            path = next((d / soname for d in dirs if (d / soname).exists()), None)
            if path is None:
                raise VmtestError("%s needs %s, which is in none of %s: sudo make test installs "
                                  "the %s libraries" % (elf, soname, " ".join(map(str, dirs)),
                                                        arch.deb))
            found[soname] = path
            todo.append(path)
    return sorted(found.values())


def runtime_packages(arch, binary):
    """The Debian packages of the shared libraries a binary links."""
    pkgs = set()
    for p in map(str, needed_libraries(arch, binary)):
        for candidate in (p, os.path.realpath(p), "/usr" + p if not p.startswith("/usr") else p[4:]):
            r = subprocess.run(["dpkg-query", "-S", candidate], capture_output=True, text=True)
            if r.returncode == 0:
                pkgs.add(r.stdout.split(":")[0].split(",")[0].strip())
                break
        else:
            raise VmtestError("no Debian package holds %s, which %s links" % (p, binary))
    return sorted(pkgs)


def guest_root(arch, binary):
    """Path of the guest root's cpio archive, built by debootstrap when not cached."""
    packages = sorted(set(GUEST_PACKAGES) | set(runtime_packages(arch, binary)))
    # the architecture is in the directory: arm64's roots are in arm64/
    key = hashlib.sha256(json.dumps([GUEST_FORMAT, GUEST_SUITE, MIRROR, packages])
                         .encode()).hexdigest()[:16]
    archive = arch.cache / ("root-%s.cpio" % key)
    if archive.exists():
        return archive
    arch.cache.mkdir(parents=True, exist_ok=True)
    for old in arch.cache.glob("root-*.cpio"):
        old.unlink()  # one root at a time: each is a few hundred MB
    log("building the %s guest root (debootstrap %s, once): %s"
        % (arch.deb, GUEST_SUITE, " ".join(packages)))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=arch.cache) as tmp:
        root = pathlib.Path(tmp) / "root"
        if arch.native:
            run(["debootstrap", "--variant=minbase", "--include=" + ",".join(packages),
                 GUEST_SUITE, str(root), MIRROR])
        else:
            run(["debootstrap", "--foreign", "--arch=" + arch.deb, "--variant=minbase",
                 "--include=" + ",".join(packages), GUEST_SUITE, str(root), MIRROR])
            unpack_foreign(root)
        for d in GUEST_DROP:
            shutil.rmtree(root / d, ignore_errors=True)
        # the init script and the tests come with each run's own archive
        cpio_of(root, archive)
    log("guest root built in %.0f s: %d MB" % (time.monotonic() - started, archive.stat().st_size >> 20))
    return archive


def unpack_foreign(root):
    """Finish a `debootstrap --foreign` root of another architecture on this machine.

    The first stage unpacked the required packages and left the others in
    var/cache/apt/archives for its second stage, which runs every maintainer script
    and would have to run in an emulated guest of that architecture (6 to 8 minutes
    under TCG on 2 cores). What the tests need of those scripts is little: every
    package's files, the users and groups base-passwd installs, awk and the time
    zone link that debootstrap itself makes. That is done here, in seconds, with
    nothing of the other architecture run; the dynamic loader finds the libraries in
    their multiarch directories without an ld.so.cache."""
    for deb in sorted((root / "var" / "cache" / "apt" / "archives").glob("*.deb")):
        data = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
        # merged /usr: /bin, /lib, /sbin are links into usr/ that the packages' paths go through
        tar = subprocess.run(["tar", "-x", "-p", "--keep-directory-symlink", "--numeric-owner",
                              "-C", str(root)], stdin=data.stdout, capture_output=True)
        data.stdout.close()
        if data.wait() or tar.returncode:
            raise VmtestError("unpacking %s failed: %s" % (deb.name, tar.stderr.decode()[-400:]))
    base = root / "usr" / "share" / "base-passwd"
    for name in ("passwd", "group"):
        shutil.copy(base / ("%s.master" % name), root / "etc" / name)
    for link, target in (("usr/bin/awk", "mawk"), ("etc/localtime", "/usr/share/zoneinfo/UTC")):
        if not os.path.lexists(root / link):
            os.symlink(target, root / link)
    # what python3's maintainer scripts would have done: the modules compiled once here
    # (the byte code is the same on every architecture), or each guest compiles every
    # module it imports, under TCG, every time (PYTHONDONTWRITEBYTECODE)
    for d in ("usr/lib/python3", "usr/lib/python3.11"):
        if (root / d).is_dir():
            out = run([sys.executable, "-m", "compileall", "-q", "-j0", "-s", str(root), "-p", "/",
                       str(root / d)], check=False)
            if out.returncode:
                log("some modules of %s did not compile (the guests compile them as they "
                    "import them): %s" % (d, (out.stdout + out.stderr).strip()[-400:]))
    # inside a container debootstrap makes /proc a link to the host's: the guest mounts its own
    if (root / "proc").is_symlink():
        (root / "proc").unlink()
        (root / "proc").mkdir()
    shutil.rmtree(root / "debootstrap")


def cpio_of(directory, archive):
    """A newc cpio archive of a directory (what the kernel unpacks as its initramfs)."""
    tmp = archive.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        find = subprocess.Popen(["find", ".", "-print0"], cwd=directory, stdout=subprocess.PIPE)
        cpio = subprocess.run(["cpio", "--null", "-o", "-H", "newc", "--quiet"], cwd=directory,
                              stdin=find.stdout, stdout=out, stderr=subprocess.PIPE)
        find.stdout.close()
        find.wait()
    if cpio.returncode or find.returncode:
        tmp.unlink()
        raise VmtestError("cpio of %s failed: %s" % (directory, cpio.stderr.decode()[-400:]))
    os.replace(tmp, archive)


GUEST_INIT = r"""#!/bin/sh
# /init of a kernel-matrix guest: mount what a system has, run the tests, say what
# redscope found in this kernel, power off. Results go to a serial port of their own
# ($RESULTS), the rest to the console ($CONSOLE); vmtest.env names them.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up
hostname vmtest
. /opt/redscope/vmtest.env
echo "vmtest: $(uname -r) up after $(cut -d' ' -f1 /proc/uptime) s" > $CONSOLE
cd /opt/redscope
if [ -f command ]; then
	sh command > $CONSOLE 2>&1
	{
		echo "MARK-BEGIN command"
		[ -f /tmp/output ] && base64 /tmp/output
		echo "MARK-END command"
	} > $RESULTS
else
	python3 -m pytest -p no:cacheprovider --color=no -ra -v --junitxml=/tmp/junit.xml \
		$(cat cases) > $CONSOLE 2>&1
	rc=$?
	{
		echo "MARK-BEGIN junit rc=$rc kernel=$(uname -r) uptime=$(cut -d' ' -f1 /proc/uptime)"
		cat /tmp/junit.xml
		echo
		echo "MARK-END junit"
	} > $RESULTS
	# what redscope probed and switched off here: its start-up log and self metrics
	build/redscope --web.listen-address=127.0.0.1:9435 > /tmp/rs.log 2>&1 &
	for i in $(seq 120); do
		curl -sf -o /tmp/metrics http://127.0.0.1:9435/metrics && break
		sleep 0.5
	done
	python3 tests/lib/hooks.py $! > /tmp/hooks 2>&1
	kill -TERM $! ; wait $!
	{
		echo "MARK-BEGIN redscope"
		cat /tmp/rs.log
		echo "MARK-END redscope"
		echo "MARK-BEGIN metrics"
		grep '^redscope_' /tmp/metrics
		echo "MARK-END metrics"
		echo "MARK-BEGIN hooks"
		cat /tmp/hooks
		echo "MARK-END hooks"
	} > $RESULTS
fi
sync
echo o > /proc/sysrq-trigger
sleep 60
""".replace("MARK", RESULT_MARK)


def core_cases(capture):
    """Node ids of the integration tests marked kernel_matrix, as pytest collects them for a
    guest whose tests run under one capture backend."""
    out = run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
               "-m", "kernel_matrix", "tests/integration"], cwd=ROOT, check=False,
              env=dict(os.environ, REDSCOPE_CAPTURES=capture)).stdout
    cases = [l.strip() for l in out.splitlines() if "::" in l]
    if not cases:
        raise VmtestError("no integration test is marked kernel_matrix:\n" + out[-800:])
    return cases


def run_archive(arch, guest, binary, capture, cases, accel, workdir, command=None):
    """The initramfs of one run: the guest root, then the init script, the build and the
    tests (the kernel unpacks concatenated archives in order)."""
    overlay = workdir / "overlay"
    opt = overlay / "opt" / "redscope"
    (opt / "build").mkdir(parents=True)
    shutil.copy(binary, opt / "build" / "redscope")
    for sub in ("tests/integration", "tests/lib"):
        shutil.copytree(ROOT / sub, opt / sub,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules"))
    (opt / "vmtest.env").write_text(
        "export REDSCOPE_LOAD_SCALE=%s REDSCOPE_CPU_SLOWDOWN=%s REDSCOPE_CAPTURES=%s "
        "PYTHONDONTWRITEBYTECODE=1\nCONSOLE=/dev/%s RESULTS=%s\n"
        % (LOAD_SCALE, CPU_SLOWDOWN[accel], capture, arch.console, arch.results_tty))
    (opt / "cases").write_text("\n".join(cases) + "\n")
    if command:
        (opt / "command").write_text(command + "\n")
    (overlay / "init").write_text(GUEST_INIT)
    (overlay / "init").chmod(0o755)
    mine = workdir / "overlay.cpio"
    cpio_of(overlay, mine)
    combined = workdir / "initrd.cpio"
    with open(combined, "wb") as out:
        for part in (guest, mine):
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)
    return combined


# ------------------------------------------------------------------ booting

def qemu_base(arch, vmlinuz, initrd, console, results, accel):
    cpu = ["-accel", "kvm", "-cpu", "host"] if accel == "kvm" else \
        ["-accel", "tcg,thread=multi", "-cpu", arch.cpu_tcg]
    return [arch.qemu] + arch.machine + cpu + [
        "-m", str(GUEST_MEMORY_MB), "-smp", str(GUEST_CPUS), "-no-reboot", "-display", "none",
        "-nodefaults", "-serial", "file:%s" % console] + \
        [a.replace("%s", str(results)) for a in arch.results_args] + [
        "-kernel", str(vmlinuz), "-initrd", str(initrd),
        "-append", "console=%s panic=-1 rdinit=/init random.trust_cpu=on quiet" % arch.console]


def kvm_works(arch, vmlinuz):
    """Does a KVM guest boot here? Never for another architecture than the host's. Some
    hosts hang a nested guest right after the kernel is decompressed: asked once per
    host boot, with a tiny initramfs and a short deadline, and remembered."""
    if not arch.native or not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    boot_id = pathlib.Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    memo = arch.cache / "kvm-probe"
    if memo.exists():
        seen = memo.read_text().split()
        if len(seen) == 2 and seen[0] == boot_id:
            return seen[1] == "yes"
    ok = False
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        d = tmp / "root"
        d.mkdir()
        # the kernel's own message is enough: a static init is not needed to tell a hang
        archive = tmp / "empty.cpio"
        cpio_of(d, archive)
        console = tmp / "console"
        cmd = qemu_base(arch, vmlinuz, archive, console, "/dev/null", "kvm")
        cmd[cmd.index("-append") + 1] = "console=%s panic=-1" % arch.console
        try:
            subprocess.run(cmd, timeout=8, capture_output=True)
        except subprocess.TimeoutExpired:
            pass
        ok = console.exists() and b"Kernel panic" in console.read_bytes()
    memo.write_text("%s %s\n" % (boot_id, "yes" if ok else "no"))
    return ok


class Result:
    """What one guest reported."""

    def __init__(self, package, accel, seconds, console, results_text):
        self.package, self.accel, self.seconds = package, accel, seconds
        self.console = console
        self.kernel, self.rc, self.cases, self.case_seconds = None, None, {}, {}
        up = re.search(r"^vmtest: \S+ up after ([0-9.]+) s", console, re.M)
        self.up_seconds = float(up.group(1)) if up else None  # kernel start to init, in the guest
        self.redscope_log, self.self_metrics, self.hooks = "", "", None
        sections = dict(re.findall(r"%s-BEGIN (\w+)[^\n]*\n(.*?)\n?%s-END \1"
                                   % (RESULT_MARK, RESULT_MARK), results_text, re.S))
        m = re.search(r"%s-BEGIN junit rc=(\d+) kernel=(\S+)" % RESULT_MARK, results_text)
        if m and "junit" in sections:
            self.rc, self.kernel = int(m.group(1)), m.group(2)
            for case in ET.fromstring(sections["junit"].strip()).iter("testcase"):
                self.cases[case_id(case)] = outcome(case)
                self.case_seconds[case_id(case)] = float(case.get("time") or 0)
        self.redscope_log = sections.get("redscope", "")
        self.self_metrics = sections.get("metrics", "")
        # what a command left in /tmp/output, None without one
        self.output = base64.b64decode(sections["command"]) if "command" in sections else None
        try:
            self.hooks = json.loads(sections.get("hooks", ""))
        except ValueError:
            self.hooks = None

    def warnings(self):
        """What redscope warned about at start in this kernel: what it switched off."""
        return [l for l in self.redscope_log.splitlines() if "level=warn" in l or "level=error" in l]

    def tail(self, lines=60):
        return "\n".join(self.console.splitlines()[-lines:])


def case_id(case):
    """tests/integration/test_x.py::test_y[param], from a JUnit testcase element."""
    module = case.get("classname").replace(".", "/")
    return "%s.py::%s" % (module, case.get("name"))


def outcome(case):
    """passed, or failure/error/skipped with its message."""
    for tag in ("failure", "error", "skipped"):
        el = case.find(tag)
        if el is not None:
            return "%s: %s" % (tag, (el.get("message") or "")[:300])
    return "passed"


def boot(arch, package, capture, cases, binary=None, command=None):
    """Boot a kernel package of an architecture with the guest root, run the test cases
    (node ids) in it under a capture backend, or a shell command instead (what it
    writes to /tmp/output comes back as Result.output); return its Result."""
    binary = pathlib.Path(binary or arch.binary())
    if not binary.exists():
        raise VmtestError("%s is missing: run make%s" % (
            binary, "" if arch.native else " ARCH=%s (or make vmtest)" % arch.kernel))
    vmlinuz = fetch_kernel(arch, package)
    guest = guest_root(arch, binary)
    accel = "kvm" if kvm_works(arch, vmlinuz) else "tcg"
    with tempfile.TemporaryDirectory(dir=arch.cache) as tmp:
        tmp = pathlib.Path(tmp)
        initrd = run_archive(arch, guest, binary, capture, cases, accel, tmp, command)
        console, results = tmp / "console.log", tmp / "results.log"
        text = lambda p: p.read_bytes().decode("utf-8", "replace") if p.exists() else ""
        for attempt in (1, 2):
            started = time.monotonic()
            try:
                subprocess.run(qemu_base(arch, vmlinuz, initrd, console, results, accel),
                               timeout=GUEST_TIMEOUT, capture_output=True)
            except subprocess.TimeoutExpired:
                log("%s: no result after %d s, guest stopped" % (package, GUEST_TIMEOUT))
            seconds = time.monotonic() - started
            r = Result(package, accel, seconds, text(console), text(results))
            # a kernel that panicked before the guest's init ran ran nothing of ours:
            # emulation gone wrong at boot (seen once: an int3 Oops patching the text of
            # a 6.12 kernel under TCG), booted once more
            if attempt == 1 and r.up_seconds is None and "Kernel panic" in r.console:
                log("%s: the kernel panicked before init, booting it again; its console ends:\n%s"
                    % (package, r.tail(20)))
                continue
            return r


def newest_package(arch):
    """The package of the newest line of an architecture's matrix."""
    line, package, _, _, why = resolve_kernels(arch)[-1]
    if not package:
        raise VmtestError("the %s kernel of %s cannot be had: %s" % (line, arch.deb, why))
    return package


def write_vmlinux_h(arch, header):
    """header: the C types of the newest kernel of an architecture's matrix, as bpftool
    formats its BTF (/sys/kernel/btf/vmlinux of a guest booted from it)."""
    package = newest_package(arch)
    r = boot(arch, package, "", [], command="cat /sys/kernel/btf/vmlinux > /tmp/output")
    if not r.output:
        raise VmtestError("the %s guest sent no BTF; its console ends:\n%s" % (package, r.tail()))
    with tempfile.TemporaryDirectory() as tmp:
        raw = pathlib.Path(tmp) / "vmlinux.btf"
        raw.write_bytes(r.output)
        text = run(["bpftool", "btf", "dump", "file", str(raw), "format", "c"]).stdout
    header = pathlib.Path(header)
    header.parent.mkdir(parents=True, exist_ok=True)
    header.write_text("/* Generated by `make vmlinux ARCH=%s` from the BTF of %s. */\n%s"
                      % (arch.kernel, package, text))
    log("%s: %d type definitions from %s" % (header, text.count("\n};\n"), package))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["list", "run", "exec", "vmlinux"])
    ap.add_argument("lines", nargs="*", help="kernel lines to run (default: all); for exec, "
                    "the line and the shell command; for vmlinux, the architecture and the header")
    ap.add_argument("--arch", help="the architecture (amd64 or arm64; default: every one, or "
                    "for exec, the host's)")
    ap.add_argument("--capture", help="the backend the tests run under (default: the line's)")
    a = ap.parse_intermixed_args()
    if a.command == "vmlinux":
        if len(a.lines) != 2:
            ap.error("vmlinux takes an architecture and the header to write")
        write_vmlinux_h(arch_of(a.lines[0]), a.lines[1])
        return 0
    arches = [arch_of(a.arch)] if a.arch else list(ARCHES.values())
    if a.command == "exec":
        arch = arch_of(a.arch or host_deb_arch())
        package = {line: pkg for line, pkg, _, _, _ in resolve_kernels(arch)}.get(
            a.lines[0] if a.lines else None)
        if not package or len(a.lines) != 2:
            ap.error("exec takes a resolvable kernel line and one shell command")
        r = boot(arch, package, "", [], command=a.lines[1])
        print(r.console)
        return 0
    failed = False
    for arch in arches:
        for line, package, eks, capture, why in resolve_kernels(arch):
            if a.lines and line not in a.lines:
                continue
            if a.command == "list" or not package:
                print("%-5s %-5s %-40s %s" % (arch.deb, line, package or "unresolved: " + why, eks))
                failed |= not package
                continue
            capture = a.capture or capture
            r = boot(arch, package, capture, core_cases(capture))
            bad = {k: v for k, v in r.cases.items() if v != "passed"}
            print("%-5s %-5s %s (%s): %s in %.0f s" % (
                arch.deb, line, package, r.accel, "no result" if r.rc is None else
                "%d passed, %d not" % (len(r.cases) - len(bad), len(bad)), r.seconds))
            for case, seconds in sorted(r.case_seconds.items(), key=lambda kv: -kv[1]):
                print("      %6.1f s  %s%s" % (seconds, case, "" if r.cases[case] == "passed"
                                               else ": " + r.cases[case]))
            if r.rc is None or bad or not r.cases:
                print(r.tail())
                failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
