// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kubernetes pod metadata without the API server: the container ID and pod UID in
 * a process's cgroup path (kubelet's cgroupfs and systemd drivers, cgroup v1 and v2),
 * then the namespace, pod and container names from the annotations containerd's CRI
 * plugin writes into the container's OCI bundle (config.json under the runtime's
 * state directory). Cached per container; a container whose bundle is gone is
 * dropped. Main thread only (procs resolves identities there), but for the count.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "kube.h"
#include "log.h"
#include "procfs.h"

#define DEFAULT_RUNTIME_DIR "/run/containerd/io.containerd.runtime.v2.task"
#define CRI_NAMESPACE "k8s.io" /* containerd namespace of the CRI plugin's containers */
#define BUNDLE_READ_MAX (1024 * 1024)
#define CGROUP_READ_MAX 8192

struct kube_container {
	struct kube_container *next;
	char id[KUBE_ID_LEN + 1];
	struct kube_meta meta;
};

static bool enabled;
static char runtime_dir[PATH_MAX];
static struct kube_container *containers;
static size_t n_containers;

static bool is_hex_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/*
 * Within one path segment [start, e): a 64-hex-digit container ID, alone or with a
 * runtime prefix and a .scope suffix (cri-containerd-ID.scope, docker-ID.scope,
 * crio-ID.scope). Returns its start or NULL.
 */
static const char *segment_container_id(const char *start, const char *e)
{
	const size_t scope = strlen(".scope");
	const char *s;

	if ((size_t)(e - start) >= scope && !memcmp(e - scope, ".scope", scope))
		e -= scope;
	if (e - start < KUBE_ID_LEN)
		return NULL;
	s = e - KUBE_ID_LEN;
	for (const char *p = s; p < e; p++)
		if (!is_hex_char(*p))
			return NULL;
	/* the whole segment, or a prefix ending in '-' */
	return s == start || s[-1] == '-' ? s : NULL;
}

/*
 * Within one path segment: the pod UID of pod<uid> (cgroupfs) or
 * kubepods-<qos>-pod<uid with '_'>.slice (systemd). Written with '-'.
 */
static bool segment_pod_uid(const char *s, const char *e, char uid[KUBE_UID_LEN + 1])
{
	const char *p = NULL;

	for (const char *q = s; q + 3 <= e; q++)
		if (!memcmp(q, "pod", 3) && (q == s || q[-1] == '-'))
			p = q + 3;
	if (!p)
		return false;
	if (e - p >= (long)strlen(".slice") && !memcmp(e - strlen(".slice"), ".slice", strlen(".slice")))
		e -= strlen(".slice");
	if (e - p != KUBE_UID_LEN)
		return false;
	for (int i = 0; i < KUBE_UID_LEN; i++) {
		char c = p[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? c != '-' && c != '_' : !is_hex_char(c))
			return false;
		uid[i] = c == '_' ? '-' : c;
	}
	uid[KUBE_UID_LEN] = '\0';
	return true;
}

bool kube_parse_cgroup(const char *data, size_t len, char id[KUBE_ID_LEN + 1],
		       char uid[KUBE_UID_LEN + 1])
{
	const char *end = data + len, *line = data;

	/* hierarchy-ID:controllers:path, one line per hierarchy; v1 and v2 lay out alike */
	while (line < end) {
		const char *eol = memchr(line, '\n', end - line);
		const char *path, *seg, *cid = NULL;
		bool have_uid = false;

		if (!eol)
			eol = end;
		path = memchr(line, ':', eol - line);
		path = path ? memchr(path + 1, ':', eol - path - 1) : NULL;
		for (seg = path ? path + 1 : eol; seg < eol;) {
			const char *next = memchr(seg, '/', eol - seg);
			const char *found;

			if (!next)
				next = eol;
			if (next > seg) {
				found = segment_container_id(seg, next);
				if (found)
					cid = found;
				else if (segment_pod_uid(seg, next, uid))
					have_uid = true;
			}
			seg = next + 1;
		}
		if (cid && have_uid) {
			memcpy(id, cid, KUBE_ID_LEN);
			id[KUBE_ID_LEN] = '\0';
			return true;
		}
		line = eol + 1;
	}
	return false;
}

/* Parse the JSON string starting at p (its opening quote) into out; end of it or NULL. */
static const char *json_string(const char *p, const char *end, char *out, size_t out_len)
{
	size_t n = 0;

	if (p >= end || *p != '"')
		return NULL;
	for (p++; p < end; p++) {
		char c = *p;

		if (c == '"') {
			out[n] = '\0';
			return p + 1;
		}
		if ((unsigned char)c < 0x20)
			return NULL;
		if (c == '\\') {
			if (++p >= end)
				return NULL;
			switch (*p) {
			case '"': case '\\': case '/': c = *p; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u':
				/* names are DNS labels; anything else is replaced, not decoded */
				if (end - p < 5)
					return NULL;
				for (int i = 1; i <= 4; i++)
					if (!is_hex_char(p[i] | 0x20))
						return NULL;
				p += 4;
				c = '?';
				break;
			default:
				return NULL;
			}
		}
		if (n + 1 >= out_len)
			return NULL; /* longer than any Kubernetes name */
		out[n++] = c;
	}
	return NULL;
}

bool kube_parse_annotation(const char *json, size_t len, const char *key, char *out,
			   size_t out_len)
{
	const char *end = json + len, *p = json;
	size_t klen = strlen(key);

	/* "key" : "value", wherever it is: annotation keys are unique in a bundle */
	while (p < end && (p = memchr(p, '"', end - p))) {
		const char *q = p + 1 + klen;

		if (q < end && *q == '"' && !memcmp(p + 1, key, klen)) {
			for (q++; q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'); q++)
				;
			if (q < end && *q == ':') {
				for (q++; q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r');
				     q++)
					;
				return json_string(q, end, out, out_len) != NULL;
			}
		}
		p++;
	}
	return false;
}

int kube__init(const struct kube_opts *o)
{
	char probe[PATH_MAX + 16];
	struct stat st;

	snprintf(runtime_dir, sizeof(runtime_dir), "%s", o->runtime_dir ? o->runtime_dir : DEFAULT_RUNTIME_DIR);
	snprintf(probe, sizeof(probe), "%s/%s", runtime_dir, CRI_NAMESPACE);
	enabled = o->mode == KUBE_ON ||
		  (o->mode == KUBE_AUTO && (getenv("KUBERNETES_SERVICE_HOST") || !stat(probe, &st)));
	if (enabled)
		p_info("Kubernetes mode: pod metadata from cgroups and the container bundles in %s",
		       probe);
	return 0;
}

bool kube__enabled(void)
{
	return enabled;
}

static struct kube_container *load_container(const char *id)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{ "io.kubernetes.cri.sandbox-namespace", offsetof(struct kube_meta, namespace) },
		{ "io.kubernetes.cri.sandbox-name", offsetof(struct kube_meta, pod) },
		{ "io.kubernetes.cri.container-name", offsetof(struct kube_meta, container) },
	};
	char path[PATH_MAX + 128];
	struct kube_container *c;
	size_t len;
	char *json;

	snprintf(path, sizeof(path), "%s/%s/%s/config.json", runtime_dir, CRI_NAMESPACE, id);
	json = procfs__read(path, BUNDLE_READ_MAX, &len);
	if (!json) {
		p_debug("no bundle for container %s: %s", id, strerror(errno));
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		free(json);
		return NULL;
	}
	memcpy(c->id, id, sizeof(c->id));
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (!kube_parse_annotation(json, len, keys[i].key, (char *)&c->meta + keys[i].off,
					   KUBE_NAME_MAX)) {
			p_debug("container %s: no %s in %s", id, keys[i].key, path);
			free(json);
			free(c);
			return NULL;
		}
	}
	free(json);
	c->next = containers;
	containers = c;
	__atomic_add_fetch(&n_containers, 1, __ATOMIC_RELAXED); /* read by scrapes */
	p_debug("container %s is %s/%s/%s", id, c->meta.namespace, c->meta.pod, c->meta.container);
	return c;
}

bool kube__of(pid_t pid, struct kube_meta *out)
{
	char path[64], id[KUBE_ID_LEN + 1], uid[KUBE_UID_LEN + 1];
	struct kube_container *c;
	size_t len;
	char *data;
	bool found;

	if (!enabled)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	data = procfs__read(path, CGROUP_READ_MAX, &len);
	if (!data)
		return false;
	found = kube_parse_cgroup(data, len, id, uid);
	free(data);
	if (!found)
		return false;
	for (c = containers; c; c = c->next)
		if (!strcmp(c->id, id))
			break;
	if (!c)
		c = load_container(id);
	if (!c)
		return false;
	*out = c->meta;
	return true;
}

void kube__sweep(void)
{
	struct kube_container **pc = &containers;

	/* a container whose bundle is gone has stopped: its IDs are not reused */
	while (*pc) {
		struct kube_container *c = *pc;
		char path[PATH_MAX + 128];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s/%s", runtime_dir, CRI_NAMESPACE, c->id);
		if (stat(path, &st) && errno == ENOENT) {
			p_debug("container %s (%s/%s) is gone", c->id, c->meta.namespace, c->meta.pod);
			*pc = c->next;
			free(c);
			__atomic_sub_fetch(&n_containers, 1, __ATOMIC_RELAXED);
			continue;
		}
		pc = &c->next;
	}
}

size_t kube__containers(void)
{
	return __atomic_load_n(&n_containers, __ATOMIC_RELAXED);
}

void kube__cleanup(void)
{
	while (containers) {
		struct kube_container *c = containers;

		containers = c->next;
		free(c);
	}
	n_containers = 0;
	enabled = false;
}
