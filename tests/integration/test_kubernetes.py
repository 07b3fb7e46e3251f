"""Kubernetes pod metadata without the API server. A real gunicorn runs in a cgroup
laid out exactly as kubelet lays out a pod's container on EKS (cgroupfs and systemd
cgroup drivers, cgroup v1 and v2), with the OCI bundle containerd's CRI plugin
writes for it; redscope must label its series with the pod's namespace, pod and
container names, name the service after the container, and count exactly. When the
container goes away its metadata goes too, and a new container whose process reuses
the same PID is labelled as itself."""
import json
import os
import secrets
import shutil
import time
import uuid

import pytest

from conftest import Wrk, curl_requests, wait_for, wait_for_total

V1_ROOT = "/sys/fs/cgroup/pids"      # a cgroup v1 hierarchy of this host
V2_ROOT = "/sys/fs/cgroup/unified"   # the cgroup v2 hierarchy
MIX = ["/ok", "/missing", "/boom"]


class Container:
    """A container of a pod as kubelet and containerd leave it on a node: its cgroup
    (for one driver and cgroup version) and its bundle under the runtime state dir."""

    def __init__(self, runtime_dir, driver, version, namespace, pod, name, qos="burstable"):
        self.id = secrets.token_hex(32)
        self.pod_uid = str(uuid.uuid4())
        self.namespace, self.pod, self.name = namespace, pod, name
        if driver == "systemd":
            uid = self.pod_uid.replace("-", "_")
            rel = ("kubepods.slice/kubepods-%s.slice/kubepods-%s-pod%s.slice/cri-containerd-%s.scope"
                   % (qos, qos, uid, self.id))
        else:
            rel = "kubepods/%s/pod%s/%s" % (qos, self.pod_uid, self.id)
        root = V2_ROOT if version == "v2" else V1_ROOT
        if not os.path.isdir(root):
            pytest.skip("no cgroup %s hierarchy at %s" % (version, root))
        self.top = os.path.join(root, rel.split("/")[0])
        self.cgroup = os.path.join(root, rel)
        os.makedirs(self.cgroup)
        self.bundle = os.path.join(runtime_dir, "k8s.io", self.id)
        os.makedirs(os.path.join(self.bundle, "rootfs"))
        sandbox_id = secrets.token_hex(32)
        config = {
            "ociVersion": "1.1.0",
            "process": {"user": {"uid": 0, "gid": 0}, "args": ["gunicorn"], "cwd": "/app"},
            "root": {"path": "rootfs"},
            "hostname": pod,
            "annotations": {
                "io.kubernetes.cri.container-name": name,
                "io.kubernetes.cri.container-type": "container",
                "io.kubernetes.cri.image-name": "registry.example/%s:1.0" % name,
                "io.kubernetes.cri.sandbox-id": sandbox_id,
                "io.kubernetes.cri.sandbox-name": pod,
                "io.kubernetes.cri.sandbox-namespace": namespace,
                "io.kubernetes.cri.sandbox-uid": self.pod_uid,
            },
            "linux": {"cgroupsPath": rel},
        }
        with open(os.path.join(self.bundle, "config.json"), "w") as f:
            json.dump(config, f, indent=4)

    def wrap(self):
        """Command prefix that moves the process into the container's cgroup, then runs
        the rest: gunicorn's master and the workers it forks live there."""
        return ["sh", "-c", 'echo $$ > %s/cgroup.procs && exec "$@"' % self.cgroup, "sh"]

    def labels(self):
        return {"k8s_namespace_name": self.namespace, "k8s_pod_name": self.pod,
                "k8s_container_name": self.name}

    def remove(self):
        """The container stopped: containerd deletes its bundle, kubelet its cgroup."""
        shutil.rmtree(self.bundle, ignore_errors=True)
        deadline = time.monotonic() + 10
        path = self.cgroup
        while len(path) >= len(self.top):
            try:
                os.rmdir(path)
            except FileNotFoundError:
                pass
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)  # the last processes are still leaving it
                continue
            path = os.path.dirname(path)


@pytest.fixture
def containers(tmp_path):
    runtime_dir = tmp_path / "io.containerd.runtime.v2.task"
    made = []

    def make(*args, **kw):
        c = Container(str(runtime_dir), *args, **kw)
        made.append(c)
        return c

    make.runtime_dir = str(runtime_dir)
    yield make
    for c in made:
        try:
            c.remove()
        except OSError:
            pass


def exact(rs, service, sent, labels):
    wait_for_total(rs, service, sum(sent.values()))
    time.sleep(0.5)
    m = rs.metrics()
    assert m.request_counts(service, **labels) == {(p, "GET", s): n for (p, s), n in sent.items()}
    assert m.request_counts(service) == m.request_counts(service, **labels)  # no unlabelled series
    return m


@pytest.mark.parametrize("driver,version", [("cgroupfs", "v1"), ("cgroupfs", "v2"),
                                            ("systemd", "v1"), ("systemd", "v2")])
def test_pod_labels_from_cgroup_and_bundle(driver, version, containers, gunicorn, redscope, tmp_path):
    c = containers(driver, version, "shop", "polls-7d4b9c-x2x9k", "web")
    rs = redscope("--kubernetes", "--kubernetes.runtime-dir=" + containers.runtime_dir)
    app = gunicorn("redapp:app", "--workers", "3", env={"REDAPP_WORK_MS": "1"}, wrap=c.wrap())
    assert open("/proc/%d/cgroup" % app.proc.pid).read().count(c.id) == 1
    sent = curl_requests(app.url, MIX * 10)
    sent += Wrk(app.url, 2, 300, tmp_path, env={"WRK_PATHS": ",".join(MIX)}).wait()
    # the service is named after the container, and carries the pod's labels
    m = exact(rs, "web", sent, c.labels())
    assert m.value("http_server_workers", service_name="web", **c.labels()) == 3
    assert m.value("redscope_kubernetes_containers") == 1


def start_with_pid(start, pid, attempts=50):
    """Start a process that gets the given PID: the kernel hands out the PID after
    ns_last_pid next (other processes forking meanwhile can take it: retry)."""
    for _ in range(attempts):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
        proc = start()
        if proc.proc.pid == pid:
            return proc
        proc.stop()
    pytest.fail("could not start a process with PID %d" % pid)


def test_gone_container_is_forgotten_and_a_reused_pid_is_labelled_anew(containers, gunicorn,
                                                                       redscope, tmp_path):
    rs = redscope("--kubernetes", "--kubernetes.runtime-dir=" + containers.runtime_dir)
    a = containers("systemd", "v2", "shop", "polls-aaaa", "web")
    app_a = gunicorn("redapp:app", "--workers", "2", wrap=a.wrap())
    sent_a = curl_requests(app_a.url, MIX * 5)
    exact(rs, "web", sent_a, a.labels())
    pid = app_a.proc.pid
    # container a stops: its processes exit, its bundle and cgroup go
    app_a.stop()
    a.remove()
    wait_for(lambda: rs.metrics().value("redscope_kubernetes_containers") == 0, 5,
             what="the gone container's metadata dropped")

    # container b of another pod: its gunicorn master gets the PID a's master had
    b = containers("cgroupfs", "v2", "billing", "invoices-bbbb", "api")
    app_b = start_with_pid(lambda: gunicorn("redapp:app", "--workers", "2", wrap=b.wrap()), pid)
    sent_b = curl_requests(app_b.url, MIX * 7)
    m = exact(rs, "api", sent_b, b.labels())
    assert m.value("http_server_workers", service_name="api", **b.labels()) == 2
    # a's series stay as they were: nothing of b's was counted under a's labels
    assert m.request_counts("web", **a.labels()) == {(p, "GET", s): n for (p, s), n in sent_a.items()}
    assert m.value("redscope_kubernetes_containers") == 1


def test_processes_outside_pods_keep_plain_labels(containers, gunicorn, redscope, tmp_path):
    # a node also runs processes of its own (kubelet's neighbours, host daemons)
    rs = redscope("--kubernetes", "--kubernetes.runtime-dir=" + containers.runtime_dir)
    app = gunicorn("redapp:app", "--workers", "2")
    sent = curl_requests(app.url, MIX * 4)
    m = exact(rs, "redapp", sent, {})
    for s in m.find("http_server_request_duration_seconds_count", service_name="redapp"):
        assert not any(k.startswith("k8s_") for k in s.labels), s.labels
    assert m.value("redscope_kubernetes_containers") == 0
