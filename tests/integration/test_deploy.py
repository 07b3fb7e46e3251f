"""The Kubernetes deployment (deploy/kubernetes) and the container image recipe
(deploy/Dockerfile), checked as far as a machine without a cluster and without a
container engine allows.

Manifests: `kubectl kustomize` renders them; every document is validated offline
against the API server's schemas and the Prometheus Operator's CRD schema, as
strictly as `kubectl apply --validate=strict` (unknown fields are errors); broken
copies prove the validator rejects what the API server would; the security
context is what redscope needs and no more.

Image: the runtime stage's package list is installed into a fresh Debian 12 root
(debootstrap, cached under build/), redscope is copied where ENTRYPOINT says, and
runs there: its libraries resolve, it starts as PID 1 of its own PID namespace and
stops with exit 0 on SIGTERM, and with exactly the DaemonSet's capabilities,
no_new_privs, a read-only root and the node's tracefs mounted read-only, it
counts a real gunicorn's requests: once set up by hand (chroot, setpriv), once as
a container of a real containerd and runc (Debian's, unpacked under build/) with
the seccomp profile the DaemonSet names.

A cold run (nothing under build/deploy) downloads about 100 MB: debootstrap's base
system, the runtime packages, containerd and runc, the validator's npm packages.
"""
import collections
import copy
import hashlib
import json
import os
import pathlib
import re
import shlex
import shutil
import signal
import subprocess
import time

import pytest
import requests
import yaml

from conftest import REDSCOPE, ROOT, Metrics, curl_requests, free_port, wait_for

KUSTOMIZE_DIR = ROOT / "deploy" / "kubernetes"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
VALIDATOR_SRC = ROOT / "tests" / "deploy"
CACHE = ROOT / "build" / "deploy"

CAPS = {"BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH", "SYS_RESOURCE"}
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# what debian:bookworm-slim has in /etc/apt/sources.list.d/debian.sources
SOURCES = """Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
# what npm, apt and debootstrap (wget) say when the registry or the mirror cannot be
# reached at all; anything else (a 404, a broken package) is a failure
NETWORK_ERRORS = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "ENETUNREACH",
                  "Temporary failure resolving", "Could not resolve", "unable to resolve host",
                  "Network is unreachable", "Connection refused", "Connection timed out",
                  "Could not connect")

TIMINGS = {}


def run(cmd, timeout, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run(cmd, timeout=timeout, **kw)


def network_failure(what, proc):
    """Skip when the failure is the network's (registry or mirror unreachable), fail
    otherwise; either way say what and how."""
    out = (proc.stdout or "") + (proc.stderr or "")
    tail = "\n".join(out.strip().splitlines()[-15:])
    said = [line.strip() for line in out.splitlines() if any(e in line for e in NETWORK_ERRORS)]
    if said:
        pytest.skip("%s: the network is unavailable (%s)" % (what, said[0]))
    pytest.fail("%s failed (exit %s):\n%s" % (what, proc.returncode, tail))


# --------------------------------------------------------------------------------------
# manifests


@pytest.fixture(scope="module")
def rendered():
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.fail("kubectl is missing: scripts/install-deps.sh build test installs it "
                    "(Debian package kubernetes-client)")
    proc = run([kubectl, "kustomize", str(KUSTOMIZE_DIR)], timeout=60)
    assert proc.returncode == 0, "kubectl kustomize failed:\n" + proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d is not None]


def one(docs, kind):
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, "expected one %s, found %d" % (kind, len(found))
    return found[0]


@pytest.fixture(scope="module")
def validator():
    """validate.mjs (and validate-dashboard.mjs, for test_observability.py) beside their
    node_modules under build/, installed with npm ci from tests/deploy/package-lock.json
    once per lockfile."""
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            pytest.fail("%s is missing: scripts/install-deps.sh build test installs it" % tool)
    lock = (VALIDATOR_SRC / "package-lock.json").read_bytes()
    key = hashlib.sha256(lock + (VALIDATOR_SRC / "package.json").read_bytes()).hexdigest()[:16]
    home = CACHE / "validator"
    stamp = home / "node_modules" / ".redscope-lock"
    if not stamp.exists() or stamp.read_text() != key:
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(VALIDATOR_SRC / name, home / name)
        started = time.monotonic()
        try:
            proc = run(["npm", "ci", "--no-audit", "--no-fund", "--fetch-retries=1",
                        "--fetch-timeout=60000"], timeout=300, cwd=home)
        except subprocess.TimeoutExpired:
            pytest.skip("npm ci: no answer from the npm registry in 300 s")
        if proc.returncode != 0:
            network_failure("installing the manifest validator from the npm registry "
                            "(npm ci in %s)" % home, proc)
        TIMINGS["npm ci"] = time.monotonic() - started
        stamp.write_text(key)
    for script in VALIDATOR_SRC.glob("*.mjs"):
        shutil.copy(script, home / script.name)
    return home / "validate.mjs"


def validate(validator, docs, tmp_path):
    """{index: [errors]} for docs, by the offline validator."""
    path = tmp_path / ("docs-%d.json" % time.monotonic_ns())
    path.write_text(json.dumps(docs))
    proc = run(["node", str(validator), str(path)], timeout=120)
    assert proc.returncode in (0, 1), "the validator could not check:\n%s%s" % (proc.stdout,
                                                                                 proc.stderr)
    results = json.loads(proc.stdout)
    assert [r["index"] for r in results] == list(range(len(docs)))
    assert (proc.returncode == 0) == all(not r["errors"] for r in results)
    return {r["index"]: r["errors"] for r in results}


def test_kustomize_renders_every_manifest_in_the_namespace(rendered):
    kinds = sorted(d["kind"] for d in rendered)
    assert kinds == ["ConfigMap", "DaemonSet", "Namespace", "PodMonitor", "PrometheusRule",
                     "Service", "ServiceAccount"]
    assert one(rendered, "Namespace")["metadata"]["name"] == "redscope"
    for d in rendered:
        assert d["metadata"]["labels"]["app.kubernetes.io/name"] == "redscope", d["kind"]
        if d["kind"] != "Namespace":
            assert d["metadata"]["namespace"] == "redscope", d["kind"]


def test_every_manifest_is_valid_against_the_api_and_crd_schemas(rendered, validator, tmp_path):
    errors = validate(validator, rendered, tmp_path)
    bad = {rendered[i]["kind"]: e for i, e in errors.items() if e}
    assert not bad, json.dumps(bad, indent=2)


def _container(doc):
    return doc["spec"]["template"]["spec"]["containers"][0]


def _set(path, value):
    def mutate(doc):
        *parents, last = path
        node = doc
        for p in parents:
            node = node[p]
        node[last] = value
    return mutate


# Each a copy of a rendered manifest broken as a hand edit might break it, and
# what the validator must say about it.
BROKEN = {
    "unknown-container-field": (
        "DaemonSet", lambda d: _container(d).update(securityContexts={}), "securityContexts"),
    "misspelt-pod-field": (
        "DaemonSet", lambda d: d["spec"]["template"]["spec"].update(hostPid=True), "hostPid"),
    "string-for-int-port": (
        "DaemonSet", lambda d: _container(d)["ports"][0].update(containerPort="9435"),
        "containerPort must be integer"),
    "bad-enum-seccomp": (
        "DaemonSet", lambda d: _container(d)["securityContext"]["seccompProfile"].update(
            type="unconfined"), "seccompProfile/type must be equal to one of the allowed"),
    "capabilities-not-a-list": (
        "DaemonSet", lambda d: _container(d)["securityContext"]["capabilities"].update(
            add="BPF"), "capabilities/add must be array"),
    "bad-quantity": (
        "DaemonSet", lambda d: _container(d)["resources"]["limits"].update(memory="lots"),
        'must match format "quantity"'),
    "missing-selector": (
        "DaemonSet", lambda d: d["spec"].pop("selector"), "required property selector"),
    "service-port-as-string": (
        "Service", lambda d: d["spec"]["ports"][0].update(port="9435"),
        "port must be integer"),
    "podmonitor-unknown-field": (
        "PodMonitor", lambda d: d["spec"]["podMetricsEndpoints"][0].update(scrapePath="/metrics"),
        "scrapePath"),
    "podmonitor-int-interval": (
        "PodMonitor", lambda d: d["spec"]["podMetricsEndpoints"][0].update(interval=30),
        "interval must be string"),
    "podmonitor-bad-duration": (
        "PodMonitor", lambda d: d["spec"]["podMetricsEndpoints"][0].update(interval="30 s"),
        "interval must match pattern"),
    "rule-for-as-number": (
        "PrometheusRule", lambda d: d["spec"]["groups"][0]["rules"][0].update({"for": 300}),
        "for must be string"),
    "rule-bad-duration": (
        "PrometheusRule", lambda d: d["spec"]["groups"][-1]["rules"][0].update({"for": "5 min"}),
        "for must match pattern"),
    "rule-unknown-field": (
        "PrometheusRule", lambda d: d["spec"]["groups"][0]["rules"][0].update(expression="up"),
        "expression"),
    "rule-group-without-name": (
        "PrometheusRule", lambda d: d["spec"]["groups"][0].pop("name"), "required property name"),
    "rule-label-not-a-string": (
        "PrometheusRule", lambda d: d["spec"]["groups"][-1]["rules"][0]["labels"].update(page=True),
        "must be string"),
    "configmap-data-not-a-string": (
        "ConfigMap", lambda d: d["data"].update({"redscope-dashboard.json": {"panels": []}}),
        "must be string"),
    "unknown-kind": (
        "Service", lambda d: d.update(apiVersion="v2"), "no schema for apiVersion v2"),
}


@pytest.fixture(scope="module")
def broken_results(rendered, validator, tmp_path_factory):
    """Every broken copy, validated in one run: {case: errors}."""
    names = sorted(BROKEN)
    docs = []
    for name in names:
        kind, mutate, _ = BROKEN[name]
        doc = copy.deepcopy(one(rendered, kind))
        mutate(doc)
        docs.append(doc)
    errors = validate(validator, docs, tmp_path_factory.mktemp("broken"))
    return {name: errors[i] for i, name in enumerate(names)}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_validator_rejects_a_broken_manifest(case, broken_results):
    errors = broken_results[case]
    assert errors, "the validator accepted the broken manifest (%s)" % case
    expected = BROKEN[case][2]
    assert any(expected in e for e in errors), "%s not among %s" % (expected, errors)


def test_daemonset_runs_one_collector_per_node_with_what_it_needs_and_no_more(rendered):
    ds = one(rendered, "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    c = _container(ds)
    sc = c["securityContext"]

    assert pod["hostPID"] is True
    assert pod.get("hostNetwork", False) is False
    assert pod["priorityClassName"] == "system-node-critical"
    assert pod["terminationGracePeriodSeconds"] == 30
    assert {"operator": "Exists"} in pod["tolerations"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == one(rendered, "ServiceAccount")["metadata"]["name"]
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                            "rollingUpdate": {"maxUnavailable": 1}}

    assert c["image"] == "ghcr.io/redscope/redscope:latest"
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["args"] == ["--web.listen-address=:9435", "--kubernetes"]
    assert not [e for e in c.get("env", []) if e["name"].startswith("OTEL_")]
    assert c["resources"]["requests"] == {"cpu": "50m", "memory": "64Mi"}
    assert c["resources"]["limits"] == {"memory": "256Mi"}

    assert sc["privileged"] is False
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert set(sc["capabilities"]["add"]) == CAPS
    assert len(sc["capabilities"]["add"]) == len(CAPS)
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert sc["appArmorProfile"] == {"type": "Unconfined"}

    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}, probe

    # every hostPath is mounted read-only, at the path it has on the node
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert set(volumes) == set(mounts)
    host_paths = {}
    for name, v in volumes.items():
        assert mounts[name]["readOnly"] is True, name
        assert mounts[name]["mountPath"] == v["hostPath"]["path"], name
        host_paths[v["hostPath"]["path"]] = v["hostPath"]["type"]
    assert host_paths == {"/sys/kernel/tracing": "Directory", "/sys/fs/cgroup": "Directory",
                          "/run/containerd/io.containerd.runtime.v2.task": "Directory"}


def test_no_manifest_pins_an_architecture(rendered):
    """The image is built for amd64 and arm64 (deploy/Dockerfile): the DaemonSet runs on
    Graviton nodes as on x86-64 ones, so nothing selects nodes by architecture."""
    pod = one(rendered, "DaemonSet")["spec"]["template"]["spec"]
    text = json.dumps(rendered)
    assert "kubernetes.io/arch" not in text
    assert "nodeSelector" not in pod and "affinity" not in pod, pod


def test_scrape_targets_agree_on_port_path_and_labels(rendered):
    ds, svc, pm = (one(rendered, k) for k in ("DaemonSet", "Service", "PodMonitor"))
    template = ds["spec"]["template"]
    labels = template["metadata"]["labels"]
    c = _container(ds)
    (port,) = c["ports"]
    assert port == {"name": "metrics", "containerPort": 9435, "protocol": "TCP"}
    listen = [a for a in c["args"] if a.startswith("--web.listen-address=")]
    assert listen == ["--web.listen-address=:%d" % port["containerPort"]]

    assert template["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port["containerPort"]),
        "prometheus.io/path": "/metrics",
    }
    assert ds["spec"]["selector"]["matchLabels"].items() <= labels.items()

    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["selector"].items() <= labels.items()
    (sport,) = svc["spec"]["ports"]
    assert sport["name"] == port["name"] and sport["port"] == port["containerPort"]
    assert sport["targetPort"] in (port["name"], port["containerPort"])

    assert pm["apiVersion"] == "monitoring.coreos.com/v1"
    assert pm["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (ep,) = pm["spec"]["podMetricsEndpoints"]
    assert ep["port"] == port["name"] and ep["path"] == "/metrics"


def test_the_daemon_knows_every_flag_the_daemonset_passes(rendered):
    out = run([str(REDSCOPE), "--help"], timeout=10)
    text = out.stdout + out.stderr
    for arg in _container(one(rendered, "DaemonSet"))["args"]:
        flag = arg.split("=")[0]
        assert re.search(r"(^|\s)%s[\[=\s]" % re.escape(flag), text), "%s not in --help" % flag


# --------------------------------------------------------------------------------------
# image


def dockerfile_stages():
    """[(FROM line, [(instruction, argument)])] of deploy/Dockerfile, continuations joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instr, _, arg = line.partition(" ")
        instr, arg = instr.upper(), " ".join(arg.split())
        if instr == "FROM":
            stages.append((arg, []))
        else:
            assert stages, "instruction before FROM: " + line
            stages[-1][1].append((instr, arg))
    return stages


def runtime_recipe():
    """What the last stage installs and runs: (base, packages, binary path, stage)."""
    base, instrs = dockerfile_stages()[-1]
    packages = []
    for instr, arg in instrs:
        if instr != "RUN":
            continue
        for cmd in re.split(r"&&|;|\|\|", arg):
            words = shlex.split(cmd)
            words = [w for w in words if "=" not in w or w.startswith("-")]  # FOO=bar env
            if words[:2] == ["apt-get", "install"]:
                assert "--no-install-recommends" in words, cmd
                packages += [w for w in words[2:] if not w.startswith("-")]
    (entrypoint,) = [json.loads(a) for i, a in instrs if i == "ENTRYPOINT"]
    copies = [a.split() for i, a in instrs if i == "COPY"]
    assert any(c[-1] == entrypoint[0] and c[-2].endswith("/redscope") for c in copies), copies
    return base, sorted(set(packages)), entrypoint[0], instrs


def package_of(lib_path):
    """The Debian package that ships a library (dpkg -S), trying the merged-/usr aliases."""
    real = os.path.realpath(lib_path)
    candidates = []
    for p in (lib_path, real):
        d, b = os.path.split(p)
        for prefix in ("", "/usr"):
            d2 = d[4:] if d.startswith("/usr/") else d
            candidates.append(prefix + d2 + "/" + b)
    for c in dict.fromkeys(candidates):
        proc = run(["dpkg", "-S", c], timeout=30)
        if proc.returncode == 0:
            return proc.stdout.split(":")[0]
    raise AssertionError("no Debian package ships %s" % lib_path)


# The image's architectures by Docker's TARGETARCH: the multiarch triplet, Debian's cross
# compiler package for it (what a builder of the other architecture uses), and the
# Makefile's name for it (this machine's build of another architecture is build/ARCH/)
Target = collections.namedtuple("Target", "triplet cross_package make_arch")
TARGETS = {
    "amd64": Target("x86_64-linux-gnu", "gcc-x86-64-linux-gnu", "x86"),
    "arm64": Target("aarch64-linux-gnu", "gcc-aarch64-linux-gnu", "arm64"),
}
HOST_TARGET = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine)


def build_of(target):
    """This machine's build of redscope for a TARGETARCH."""
    if target == HOST_TARGET:
        return REDSCOPE
    return ROOT / "build" / TARGETS[target].make_arch / "redscope"


def test_dockerfile_cross_builds_on_the_builders_platform_and_runs_slim(rendered):
    stages = dockerfile_stages()
    assert [s[0] for s in stages] == ["--platform=$BUILDPLATFORM debian:bookworm AS build",
                                      "debian:bookworm-slim"]
    build = stages[0][1]
    assert ("ARG", "TARGETARCH") in build
    build_cmds = [shlex.split(cmd) for i, a in build if i == "RUN" for cmd in re.split(r"&&|;", a)]
    # the packages: scripts/install-deps.sh's build group for the target (see below)
    assert ["scripts/install-deps.sh", "--arch=$TARGETARCH", "build"] in build_cmds, build_cmds
    assert ("COPY", "scripts/install-deps.sh scripts/") in build
    # the build: make for the target, into a directory the runtime stage copies from
    (make,) = [words for words in build_cmds if words and words[0] == "make"]
    assert "ARCH=$TARGETARCH" in make, make
    (out,) = [w.split("=", 1)[1] for w in make if w.startswith("BUILD=")]

    base, packages, binary, instrs = runtime_recipe()
    copies = [a.split() for i, a in instrs if i == "COPY"]
    assert ["--from=build", "/src/%s/redscope" % out, binary] in copies, copies
    runs = " ".join(a for i, a in instrs if i == "RUN")
    assert "rm -rf /var/lib/apt/lists/*" in runs
    assert binary == "/usr/local/bin/redscope"
    assert ("STOPSIGNAL", "SIGTERM") in instrs
    port = _container(one(rendered, "DaemonSet"))["ports"][0]["containerPort"]
    assert ("EXPOSE", str(port)) in instrs


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_the_build_stage_installs_every_library_the_makefile_links_for_the_target(target):
    """What `scripts/install-deps.sh --arch=TARGET build` installs in the build stage: the
    builder's tools, a C compiler for the target, and for the target, the -dev package of
    every library LDLIBS names (asked of the target's compiler here: make test installs
    both architectures' packages)."""
    t = TARGETS[target]
    listed = run([str(ROOT / "scripts" / "install-deps.sh"), "--list", "--arch=" + target,
                  "build"], timeout=30)
    assert listed.returncode == 0, listed.stderr
    listed = set(listed.stdout.split())
    assert {"make", "clang", "llvm", "bpftool"} <= listed, listed
    native = target == HOST_TARGET
    assert ("gcc" if native else t.cross_package) in listed, listed
    gcc = "gcc" if native else t.triplet + "-gcc"
    if not shutil.which(gcc):
        pytest.fail("%s is missing: scripts/install-deps.sh build test installs it" % gcc)
    ldlibs = re.search(r"^LDLIBS\s*:?=(.*)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    for lib in re.findall(r"-l(\S+)", ldlibs):
        path = run([gcc, "-print-file-name=lib%s.so" % lib], timeout=30).stdout.strip()
        if "/" not in path:
            path = run([gcc, "-print-file-name=lib%s.a" % lib], timeout=30).stdout.strip()
        assert t.triplet in path, "-l%s: %s is not the %s library" % (lib, path, target)
        dev = "%s:%s" % (package_of(os.path.normpath(path)).split(":")[0], target)
        assert dev in listed, "-l%s needs %s in the build stage" % (lib, dev)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_the_runtime_stage_installs_every_library_the_targets_build_needs(target):
    """Every library a build links comes from a package on the runtime stage's list, for
    each architecture's build (the names are the same on every architecture)."""
    triplet = TARGETS[target].triplet
    binary = build_of(target)
    if not binary.exists():
        pytest.skip("%s is missing: make vmtest (or make ARCH=%s) builds it"
                    % (binary, TARGETS[target].make_arch))
    _, packages, _, _ = runtime_recipe()
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]",
                        run(["readelf", "-d", str(binary)], timeout=30).stdout)
    assert "libbpf.so.1" in needed
    for lib in needed:
        found = [p for p in ("/usr/lib/%s/%s" % (triplet, lib), "/lib/%s/%s" % (triplet, lib))
                 if os.path.exists(p)]
        assert found, "%s needs %s, which is not installed here" % (binary, lib)
        pkg = package_of(found[0]).split(":")[0]
        assert pkg in packages, "%s comes from %s, not installed by the runtime stage %s" % (
            lib, pkg, packages)


def mounted_under(path):
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == path or p.startswith(path + "/")]


def build_root(root, packages):
    """debootstrap + the runtime stage's apt-get install, in a mount namespace of its
    own so that nothing stays mounted whatever happens."""
    tmp = root.with_name(root.name + ".tmp")
    if tmp.exists():
        assert not mounted_under(tmp), "something is mounted under %s" % tmp
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    try:
        proc = run(["unshare", "--mount", "--propagation", "private", "debootstrap",
                    "--variant=minbase", SUITE, str(tmp), MIRROR], timeout=900)
    except subprocess.TimeoutExpired:
        pytest.fail("debootstrap took more than 900 s")
    if proc.returncode != 0:
        network_failure("debootstrap --variant=minbase %s %s %s" % (SUITE, tmp, MIRROR), proc)
    TIMINGS["debootstrap"] = time.monotonic() - started

    started = time.monotonic()
    (tmp / "etc/apt/sources.list").unlink()
    (tmp / "etc/apt/sources.list.d/debian.sources").write_text(SOURCES)
    script = ("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
              "--no-install-recommends %s && rm -rf /var/lib/apt/lists/*"
              % " ".join(shlex.quote(p) for p in packages))
    proc = run(["unshare", "--mount", "--propagation", "private", "chroot", str(tmp),
                "sh", "-c", script], timeout=600)
    if proc.returncode != 0:
        network_failure("apt-get install %s in %s" % (" ".join(packages), tmp), proc)
    TIMINGS["apt-get install"] = time.monotonic() - started
    tmp.rename(root)


@pytest.fixture(scope="module")
def image_root():
    """A Debian 12 root with the runtime stage's packages and build/redscope at the
    ENTRYPOINT path: the image's file system, without a container engine. Cached under
    build/deploy/ by suite, mirror and package list."""
    if not shutil.which("debootstrap"):
        pytest.fail("debootstrap is missing: scripts/install-deps.sh build test installs it")
    base, packages, binary, _ = runtime_recipe()
    key = hashlib.sha256(json.dumps([SUITE, MIRROR, SOURCES, packages]).encode()).hexdigest()[:16]
    root = CACHE / ("rootfs-%s" % key)
    started = time.monotonic()
    if not root.exists():
        build_root(root, packages)
        for old in CACHE.glob("rootfs-*"):  # the roots of package lists gone by
            if old != root and not mounted_under(old):
                shutil.rmtree(old, ignore_errors=True)
    TIMINGS["image root total"] = time.monotonic() - started
    dest = root / binary.lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REDSCOPE, dest)
    print("image root %s: %s" % (root, ", ".join("%s %.1f s" % kv for kv in TIMINGS.items())))
    return root, binary


def test_image_root_resolves_every_library(image_root):
    root, binary = image_root
    proc = run(["chroot", str(root), "ldd", binary], timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "not found" not in proc.stdout, proc.stdout
    libs = re.findall(r"=> (\S+)", proc.stdout)
    assert any("libbpf.so.1" in lib for lib in libs) and any("libmicrohttpd" in lib for lib in libs)
    for lib in libs:
        assert (root / lib.lstrip("/")).exists(), lib


def test_image_root_runs_the_binary(image_root):
    root, binary = image_root
    proc = run(["chroot", str(root), binary, "--version"], timeout=30)
    assert proc.returncode == 0, proc.stderr
    host = run([str(REDSCOPE), "--version"], timeout=30)
    assert proc.stdout == host.stdout and proc.stdout.startswith("redscope ")


def mount_script(root, read_only=False):
    """Shell lines that give the root what a container of the DaemonSet gets: its own
    proc, a read-only sysfs of its own, and the hostPath volumes, read-only."""
    r = shlex.quote(str(root))
    lines = ["set -e",
             "mount --bind %s %s" % (r, r),  # a mount of its own, to make read-only
             "mount -t proc -o nosuid,nodev,noexec proc %s/proc" % r,
             "mount -t sysfs -o ro,nosuid,nodev,noexec sysfs %s/sys" % r,
             "mount --rbind /dev %s/dev" % r]
    for path in ("/sys/kernel/tracing", "/sys/fs/cgroup",
                 "/run/containerd/io.containerd.runtime.v2.task"):
        if not os.path.isdir(path):
            continue
        q = shlex.quote(path)
        if not path.startswith("/sys/"):  # the root's sysfs has the others
            lines.append("mkdir -p %s%s" % (r, q))
        lines += ["mount --rbind %s %s%s" % (q, r, q),
                  "mount -o remount,bind,ro %s%s" % (r, q)]
    if read_only:
        lines.append("mount -o remount,bind,ro %s" % r)
    return "\n".join(lines)


class Daemon:
    """redscope started by a shell script that ends in exec; the pid that ends up being
    redscope's is found under the process started (unshare --fork forks it)."""

    def __init__(self, cmd, workdir, port, name, env=None):
        self.url = "http://127.0.0.1:%d" % port
        self.log_path = workdir / ("%s.log" % name)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def logs(self):
        self.log.flush()
        return self.log_path.read_text()

    def child(self, comm):
        """The pid running comm: the process started (unshare without --fork executes
        its command) or one of its children (with --fork)."""
        def find():
            try:
                kids = (pathlib.Path("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid))
                        .read_text().split())
            except OSError:
                kids = []
            for k in [self.proc.pid] + kids:
                try:
                    if pathlib.Path("/proc/%s/comm" % k).read_text().strip() == comm:
                        return int(k)
                except OSError:
                    pass
            if self.proc.poll() is not None:
                raise AssertionError("exited with %s:\n%s" % (self.proc.returncode, self.logs()))
            return None
        return wait_for(find, 30, what="the %s process" % comm)

    def healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError("redscope exited with %s:\n%s" % (self.proc.returncode,
                                                                   self.logs()))
        try:
            return requests.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def metrics(self):
        r = requests.get(self.url + "/metrics", timeout=10)
        r.raise_for_status()
        return Metrics(r.text)

    def kill(self):
        if self.proc.poll() is None:
            for pid in self._tree():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait(timeout=30)
        self.log.close()

    def _tree(self):
        pids, todo = [], [self.proc.pid]
        while todo:
            p = todo.pop()
            pids.append(p)
            try:
                todo += [int(k) for k in pathlib.Path("/proc/%d/task/%d/children" % (p, p))
                         .read_text().split()]
            except OSError:
                pass
        return pids


def ns_pids(pid):
    """The pid in every PID namespace it is in, outermost first (NSpid)."""
    for line in pathlib.Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("NSpid:"):
            return [int(x) for x in line.split()[1:]]
    raise AssertionError("no NSpid for %d" % pid)


def test_as_pid1_in_the_image_root_it_serves_and_stops_cleanly_on_sigterm(image_root, tmp_path):
    root, binary = image_root
    port = free_port()
    script = mount_script(root) + "\nexec chroot %s %s --web.listen-address=127.0.0.1:%d" % (
        shlex.quote(str(root)), shlex.quote(binary), port)
    d = Daemon(["unshare", "--mount", "--propagation", "private", "--pid", "--fork",
                "sh", "-c", script], tmp_path, port, "pid1")
    try:
        pid = d.child("redscope")
        assert ns_pids(pid)[1:] == [1], "redscope is not PID 1 of its namespace"
        st, want = os.stat("/proc/%d/root" % pid), os.stat(root)
        assert (st.st_dev, st.st_ino) == (want.st_dev, want.st_ino), "not chrooted to the image"
        wait_for(d.healthy, 30, what="redscope /healthz in the image root")
        assert requests.get(d.url + "/healthz", timeout=5).text.strip() == "ok"
        assert d.metrics().find("redscope_build_info")

        sent = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        code = d.proc.wait(timeout=10)
        took = time.monotonic() - sent
        assert code == 0, "exit %s on SIGTERM as PID 1:\n%s" % (code, d.logs())
        assert took < 5, "took %.1f s to stop" % took
        print("PID 1 stopped %.2f s after SIGTERM" % took)
    finally:
        d.kill()


def test_as_pid1_a_program_without_handlers_ignores_sigterm(image_root, tmp_path):
    """The control for the test above: PID 1 gets no default action for SIGTERM, so
    what made redscope exit was its own handler."""
    root, _ = image_root
    d = Daemon(["unshare", "--mount", "--propagation", "private", "--pid", "--fork",
                "chroot", str(root), "sleep", "60"], tmp_path, 0, "sleep")
    try:
        pid = d.child("sleep")
        assert ns_pids(pid)[1:] == [1]
        os.kill(pid, signal.SIGTERM)
        time.sleep(1)
        assert d.proc.poll() is None and pathlib.Path("/proc/%d" % pid).exists()
    finally:
        d.kill()


def cap_mask(names):
    known = {"DAC_READ_SEARCH": 2, "SYS_PTRACE": 19, "SYS_RESOURCE": 24, "PERFMON": 38,
             "BPF": 39}
    return sum(1 << known[n] for n in names)


def own_gunicorn(gunicorn):
    """A gunicorn whose service name no other test on this host shares: redscope
    watches the whole host, and other tests may run their own redapp meanwhile."""
    service = "deploy-%d-%d" % (os.getpid(), time.monotonic_ns())
    app = gunicorn("redapp:app", "--workers", "2", "--worker-class", "sync",
                   env={"OTEL_SERVICE_NAME": service})
    app.service = service
    return app


def assert_counts_exactly(d, app):
    """Requests sent to app are counted, every one, under its service."""
    sent = curl_requests(app.url, ["/ok", "/missing", "/boom"] * 20)
    expected = {(p, "GET", s): n for (p, s), n in sent.items()}
    last = {}

    def counted():
        last["m"] = d.metrics()
        return last["m"].request_counts(app.service) == expected
    try:
        wait_for(counted, 15, interval=0.2, what="%d requests of %s" % (sum(sent.values()),
                                                                        app.service))
    except AssertionError:
        m = last["m"]
        raise AssertionError("counted %s, sent %s; lost events %s\n%s" % (
            m.request_counts(app.service), expected,
            [s.value for s in m.find("redscope_lost_events_total")], d.logs()))


def report_warnings(logs):
    """Warnings are not failures here: redscope watches the whole host, whose other
    processes are none of this test's business. Expected among them, on kernels that
    need CAP_SYS_ADMIN for uprobes again (Linux 6.16, and the stable kernels that took
    ba677dbe77af "perf: Revert to requiring CAP_SYS_ADMIN for uprobes"): libssl
    cannot be hooked, HTTPS is not seen, plain HTTP is counted all the same."""
    for line in logs.splitlines():
        if "level=warn" in line:
            print("redscope warned: " + line)


def proc_status(pid, field):
    for line in pathlib.Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith(field + ":"):
            return line.split(None, 1)[1].strip()
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def test_with_the_daemonsets_security_context_it_counts_a_real_server(
        image_root, rendered, gunicorn, tmp_path):
    """The container as the DaemonSet describes it, minus the container engine: the
    host's PID namespace, exactly the added capabilities (all others dropped),
    no_new_privs, a read-only root, tracefs and the cgroup tree of the node read-only
    and nothing else of it, the manifest's own arguments. redscope must not need
    to mount anything, and must count every request of a gunicorn on the host."""
    root, binary = image_root
    c = _container(one(rendered, "DaemonSet"))
    caps = c["securityContext"]["capabilities"]["add"]
    # the capabilities this machine can hand out at all (a sandbox may lack some)
    bounding = int(proc_status(os.getpid(), "CapBnd"), 16)
    wanted = cap_mask(caps)
    granted = wanted & bounding
    missing = [n for n in caps if not cap_mask([n]) & bounding]
    if missing:
        print("this machine cannot grant %s; running without" % missing)

    port = free_port()
    args = [a for a in c["args"] if not a.startswith("--web.listen-address=")]
    args.append("--web.listen-address=127.0.0.1:%d" % port)
    setpriv = ["setpriv", "--no-new-privs", "--inh-caps=-all", "--ambient-caps=-all",
               "--bounding-set=-all," + ",".join("+" + n.lower() for n in caps), "--"]
    script = mount_script(root, read_only=True) + "\nexec chroot %s %s" % (
        shlex.quote(str(root)), " ".join(shlex.quote(w) for w in setpriv + [binary] + args))

    app = own_gunicorn(gunicorn)
    d = Daemon(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
               tmp_path, port, "daemonset")
    try:
        pid = d.child("redscope")
        assert ns_pids(pid) == [pid], "not in the host's PID namespace"
        assert int(proc_status(pid, "CapEff"), 16) == granted
        assert int(proc_status(pid, "CapBnd"), 16) == granted
        assert proc_status(pid, "NoNewPrivs") == "1"
        wait_for(d.healthy, 30, what="redscope /healthz with the DaemonSet's capabilities")

        # read-only root and mounts, as in the pod
        with open("/proc/%d/mountinfo" % pid) as f:
            mounts = {line.split()[4]: line.split()[5].split(",") for line in f}
        assert "ro" in mounts["/"], mounts.get("/")
        assert "ro" in mounts["/sys/kernel/tracing"]

        assert_counts_exactly(d, app)

        os.kill(pid, signal.SIGTERM)
        assert d.proc.wait(timeout=10) == 0, d.logs()
        logs = d.logs()
        assert "level=error" not in logs, logs
        assert "mounted tracefs" not in logs, logs
        report_warnings(logs)
    finally:
        d.kill()


# --------------------------------------------------------------------------------------
# a real container runtime: containerd and runc from Debian, unpacked under build/


# what `ctr run` grants unless told otherwise (containerd's default set), dropped one by
# one: ctr has no "drop ALL"
CTR_DEFAULT_CAPS = ["CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID",
                    "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL",
                    "AUDIT_WRITE"]
CTR_NAMESPACE = "redscope-test"


def containerd_binaries():
    """containerd, its runc shim and runc, from Debian's packages (apt-get download),
    unpacked under build/deploy/containerd: nothing is installed on the machine."""
    home = CACHE / "containerd"
    tree = home / "tree"
    stamp = home / ".ready"
    if not stamp.exists():
        shutil.rmtree(home, ignore_errors=True)
        (home / "debs").mkdir(parents=True)
        started = time.monotonic()
        cmd = ["apt-get", "download", "-q", "containerd", "runc"]
        proc = run(cmd, timeout=300, cwd=home / "debs")
        if proc.returncode != 0:  # package lists missing or stale
            run(["apt-get", "update", "-qq"], timeout=300)
            proc = run(cmd, timeout=300, cwd=home / "debs")
        if proc.returncode != 0:
            network_failure("apt-get download containerd runc", proc)
        for deb in sorted((home / "debs").glob("*.deb")):
            out = run(["dpkg-deb", "-x", str(deb), str(tree)], timeout=120)
            assert out.returncode == 0, out.stderr
        TIMINGS["containerd download"] = time.monotonic() - started
        stamp.write_text("ok")
    ldd = run(["ldd", str(tree / "usr/sbin/runc")], timeout=30).stdout
    assert "not found" not in ldd, "runc misses libraries (libseccomp2?):\n" + ldd
    return [str(tree / "usr/sbin"), str(tree / "usr/bin")]


class Containerd:
    """A containerd of the test's own, in a mount namespace of its own whose /run is a
    tmpfs (containerd puts shim sockets, fifos and runc's state under /run/containerd
    whatever it is told), with its root and state in a temporary directory."""

    def __init__(self, workdir):
        self.dir = workdir
        self.sock = str(workdir / "c.sock")
        (workdir / "config.toml").write_text(
            'version = 2\nroot = "%s"\nstate = "%s"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "%s"\n'
            % (workdir / "root", workdir / "state", self.sock))
        self.env = dict(os.environ, PATH=":".join(containerd_binaries() + [
            "/usr/sbin", "/usr/bin", "/sbin", "/bin"]))
        self.log = open(workdir / "containerd.log", "w")
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             'mount -t tmpfs -o mode=0755 tmpfs /run && exec containerd --config "$0"',
             str(workdir / "config.toml")],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: self._up(), 30, what="containerd")
        except BaseException:
            self.proc.kill()  # no fixture teardown follows a failed setup
            self.proc.wait()
            raise
        self.mnt_ns = os.readlink("/proc/%d/ns/mnt" % self.proc.pid)

    def _up(self):
        if self.proc.poll() is not None:
            raise AssertionError("containerd exited:\n" + (self.dir / "containerd.log").read_text())
        return os.path.exists(self.sock) and self.ctr("version").returncode == 0

    def ctr_cmd(self, *args):
        return ["nsenter", "--target", str(self.proc.pid), "--mount", "--root", "ctr", "--address",
                self.sock, "--namespace", CTR_NAMESPACE] + list(args)

    def ctr(self, *args, timeout=60):
        return run(self.ctr_cmd(*args), timeout=timeout, env=self.env)

    def task_pid(self, name):
        for line in self.ctr("task", "ls").stdout.splitlines()[1:]:
            fields = line.split()
            if fields and fields[0] == name and fields[2] == "RUNNING":
                return int(fields[1])
        return None

    def stop(self):
        for name in self.ctr("task", "ls", "-q").stdout.split():
            self.ctr("task", "kill", "-s", "SIGKILL", name)
            self.ctr("task", "delete", "-f", name)
        for name in self.ctr("containers", "ls", "-q").stdout.split():
            self.ctr("containers", "delete", name)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        # shims outlive containerd: every process left in its mount namespace is one
        for p in pathlib.Path("/proc").iterdir():
            if p.name.isdigit():
                try:
                    if os.readlink(p / "ns" / "mnt") == self.mnt_ns:
                        os.kill(int(p.name), signal.SIGKILL)
                except OSError:
                    pass
        # the namespace's cgroup parent that runc made and left (empty)
        cg = pathlib.Path("/sys/fs/cgroup")
        for d in list(cg.glob(CTR_NAMESPACE)) + list(cg.glob("*/" + CTR_NAMESPACE)):
            for sub in sorted(d.glob("**/"), key=lambda x: -len(str(x))):
                try:
                    sub.rmdir()
                except OSError:
                    pass
        self.log.close()


@pytest.fixture(scope="module")
def containerd(tmp_path_factory):
    c = Containerd(tmp_path_factory.mktemp("containerd"))
    yield c
    c.stop()


def test_in_containerd_with_the_daemonsets_security_context_it_counts_a_real_server(
        image_root, rendered, containerd, gunicorn, tmp_path):
    """The pod's container as containerd and runc make it from the DaemonSet: the
    image's file system, read-only; the seccomp profile the manifest names (containerd's
    own default profile for RuntimeDefault: bpf(2) and perf_event_open(2) must pass it
    with CAP_BPF and CAP_PERFMON, without CAP_SYS_ADMIN); exactly the added
    capabilities; no_new_privs; the host's PID namespace; the hostPath volumes,
    read-only. The container engine's network namespace is the host's (loopback only
    here); the pod's would not be, which redscope does not mind."""
    root, binary = image_root
    ds = one(rendered, "DaemonSet")
    pod, c = ds["spec"]["template"]["spec"], _container(ds)
    sc = c["securityContext"]
    assert sc["capabilities"]["drop"] == ["ALL"] and pod["hostPID"]

    bounding = int(proc_status(os.getpid(), "CapBnd"), 16)
    caps = [n for n in sc["capabilities"]["add"] if cap_mask([n]) & bounding]
    port = free_port()
    args = [a for a in c["args"] if not a.startswith("--web.listen-address=")]
    args.append("--web.listen-address=127.0.0.1:%d" % port)
    flags = ["--rm", "--rootfs", "--net-host", "--with-ns", "pid:/proc/%d/ns/pid" % os.getpid()]
    if sc["readOnlyRootFilesystem"]:
        flags.append("--read-only")
    assert sc["seccompProfile"]["type"] in ("RuntimeDefault", "Unconfined")
    if sc["seccompProfile"]["type"] == "RuntimeDefault":
        flags.append("--seccomp")
    flags += [x for n in CTR_DEFAULT_CAPS for x in ("--cap-drop", "CAP_" + n)]
    flags += [x for n in caps for x in ("--cap-add", "CAP_" + n)]
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    for v in pod["volumes"]:
        host = v["hostPath"]["path"]
        if os.path.isdir(host):
            flags += ["--mount", "type=bind,src=%s,dst=%s,options=rbind:%s" % (
                host, mounts[v["name"]]["mountPath"], "ro" if mounts[v["name"]]["readOnly"]
                else "rw")]

    app = own_gunicorn(gunicorn)
    d = Daemon(containerd.ctr_cmd("run", *flags, str(root), "redscope", binary, *args),
               tmp_path, port, "ctr-run", env=containerd.env)

    def task():
        if d.proc.poll() is not None:
            raise AssertionError("ctr run exited with %s:\n%s" % (d.proc.returncode, d.logs()))
        return containerd.task_pid("redscope")
    try:
        pid = wait_for(task, 30, interval=0.2, what="the container's task")
        assert ns_pids(pid) == [pid], "not in the host's PID namespace"
        assert int(proc_status(pid, "CapBnd"), 16) == cap_mask(caps)
        assert proc_status(pid, "NoNewPrivs") == "1"
        expect_seccomp = "2" if "--seccomp" in flags else "0"
        assert proc_status(pid, "Seccomp") == expect_seccomp
        wait_for(d.healthy, 30, what="redscope /healthz in the container")
        with open("/proc/%d/mountinfo" % pid) as f:
            mountinfo = {line.split()[4]: line.split()[5].split(",") for line in f}
        assert "ro" in mountinfo["/"] and "ro" in mountinfo["/sys/kernel/tracing"]

        assert_counts_exactly(d, app)

        # what the kubelet does to stop a pod: the runtime sends STOPSIGNAL to PID 1
        stop = containerd.ctr("task", "kill", "-s", "SIGTERM", "redscope")
        assert stop.returncode == 0, stop.stderr
        assert d.proc.wait(timeout=15) == 0, d.logs()
        logs = d.logs()
        assert "level=error" not in logs and "mounted tracefs" not in logs, logs
        report_warnings(logs)
    finally:
        if d.proc.poll() is None:
            containerd.ctr("task", "kill", "-s", "SIGKILL", "redscope")
        d.kill()
