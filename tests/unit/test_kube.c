// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kubernetes metadata parsers: the container ID and pod UID in /proc/PID/cgroup as
 * kubelet lays cgroups out (cgroupfs and systemd drivers, cgroup v1 and v2), and
 * annotation values in a containerd bundle's config.json.
 */
#include "kube.h"
#include "unit.h"

#define CID "3f1c2b4a5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8"
#define UID "0b2c4a4e-1f8a-4d7e-9a55-3e2c1a9d7f10"
#define UID_ "0b2c4a4e_1f8a_4d7e_9a55_3e2c1a9d7f10"

static bool cgroup_ids(const char *text, char id[KUBE_ID_LEN + 1], char uid[KUBE_UID_LEN + 1])
{
	struct guarded g = guard_copy(text, strlen(text));
	bool ok = kube_parse_cgroup(g.data, strlen(text), id, uid);

	guard_free(&g);
	return ok;
}

static void every_kubelet_layout_gives_the_container(void)
{
	static const char *const layouts[] = {
		/* cgroupfs driver, cgroup v2 (and v1 lines of a hybrid host before it) */
		"0::/kubepods/burstable/pod" UID "/" CID "\n",
		"0::/kubepods/pod" UID "/" CID "\n", /* Guaranteed QoS */
		/* cgroupfs driver, cgroup v1: every controller has the path */
		"12:pids:/kubepods/besteffort/pod" UID "/" CID "\n"
		"11:cpu,cpuacct:/kubepods/besteffort/pod" UID "/" CID "\n"
		"1:name=systemd:/kubepods/besteffort/pod" UID "/" CID "\n0::/\n",
		/* systemd driver, v2 and v1 */
		"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		".slice/cri-containerd-" CID ".scope\n",
		"0::/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" CID ".scope\n",
		"5:memory:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		".slice/cri-containerd-" CID ".scope\n0::/\n",
		/* read from inside a cgroup namespace: relative to redscope's own cgroup */
		"0::/../../kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		".slice/cri-containerd-" CID ".scope\n",
		/* docker as the runtime, no final newline */
		"0::/kubepods/burstable/pod" UID "/docker-" CID ".scope",
	};
	char id[KUBE_ID_LEN + 1], uid[KUBE_UID_LEN + 1];

	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		memset(id, 0, sizeof(id));
		CHECK(cgroup_ids(layouts[i], id, uid));
		CHECK_STR(id, CID);
		CHECK_STR(uid, UID);
	}
}

static void processes_outside_pods_have_none(void)
{
	static const char *const others[] = {
		"0::/system.slice/nginx.service\n",
		"0::/user.slice/user-0.slice/session-1.scope\n",
		"0::/system.slice/docker-" CID ".scope\n", /* a container, not a pod */
		"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice\n",
		"0::/kubepods/burstable/pod" UID "/" "3f1c2b4a5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a\n",
		"0::/kubepods/burstable/pod" UID "/" "3F1C2B4A5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F7A8\n",
		"0::/kubepods/burstable/podnot-a-uid/" CID "\n",
		"0::/kubepods/burstable/xpod" UID "/" CID "\n",
		"garbage without colons " CID "\n",
		"",
		"\n\n::\n",
	};
	char id[KUBE_ID_LEN + 1], uid[KUBE_UID_LEN + 1];

	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		CHECK(!cgroup_ids(others[i], id, uid));
}

static bool annotation(const char *json, const char *key, char *out, size_t len)
{
	struct guarded g = guard_copy(json, strlen(json));
	bool ok = kube_parse_annotation(g.data, strlen(json), key, out, len);

	guard_free(&g);
	return ok;
}

static void bundle_annotations_are_read(void)
{
	const char *json =
		"{\"ociVersion\":\"1.1.0\",\"process\":{\"args\":[\"io.kubernetes.cri.container-name\"]},"
		"\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\",\n"
		"  \"io.kubernetes.cri.container-name\" : \"web\",\n"
		"  \"io.kubernetes.cri.sandbox-name\":\"polls-7d4b9c-x2x\",\n"
		"  \"io.kubernetes.cri.sandbox-namespace\":\"shop\\u0041\",\n"
		"  \"odd\":\"a\\\"b\\\\c\"}}";
	char out[KUBE_NAME_MAX];

	CHECK(annotation(json, "io.kubernetes.cri.container-name", out, sizeof(out)));
	CHECK_STR(out, "web"); /* the key, not the same text as a value */
	CHECK(annotation(json, "io.kubernetes.cri.sandbox-name", out, sizeof(out)));
	CHECK_STR(out, "polls-7d4b9c-x2x");
	CHECK(annotation(json, "io.kubernetes.cri.sandbox-namespace", out, sizeof(out)));
	CHECK_STR(out, "shop?"); /* \u escapes are not names: replaced */
	CHECK(annotation(json, "odd", out, sizeof(out)));
	CHECK_STR(out, "a\"b\\c");
	CHECK(!annotation(json, "io.kubernetes.cri.sandbox-uid", out, sizeof(out)));
	CHECK(!annotation(json, "odd", out, 3)); /* too long for out */
	CHECK(!annotation("{\"k\":\"unterminated", "k", out, sizeof(out)));
	CHECK(!annotation("{\"k\":42}", "k", out, sizeof(out)));
	CHECK(!annotation("{\"k\"", "k", out, sizeof(out)));
	CHECK(!annotation("{\"k\":\"a\\", "k", out, sizeof(out)));
	CHECK(!annotation("{\"k\":\"a\\u12", "k", out, sizeof(out)));
	CHECK(!annotation("{\"k\":\"a\nb\"}", "k", out, sizeof(out)));
}

int main(void)
{
	RUN(every_kubelet_layout_gives_the_container);
	RUN(processes_outside_pods_have_none);
	RUN(bundle_annotations_are_read);
	return unit_report("kube");
}
