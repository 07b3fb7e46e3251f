// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Which service a watched process belongs to: its identity (service name, and in
 * Kubernetes its pod and container), resolved once per process from /proc and
 * inherited by forked children. Not thread-safe: callers hold the store lock.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "naming.h"
#include "procfs.h"

#define SVC_BUCKETS 4096
#define UNKNOWN_SERVICE "unknown_service"
#define PROC_READ_MAX (64 * 1024)

struct svc_entry {
	struct svc_entry *next;
	pid_t tgid;
	struct identity id;
};

static struct service_opts opts;
static struct svc_entry *table[SVC_BUCKETS];

void service__init(const struct service_opts *o)
{
	opts = *o;
}

static struct svc_entry **slot_of(pid_t tgid)
{
	struct svc_entry **e = &table[(unsigned int)tgid % SVC_BUCKETS];

	while (*e && (*e)->tgid != tgid)
		e = &(*e)->next;
	return e;
}

/*
 * The name of a process's service (naming.c decides from what /proc says). NULL when
 * the process is gone and nothing else names it: not something to remember (a
 * forked child that served one connection and exited gets its parent's name from the
 * fork event).
 */
static char *resolve_name(pid_t tgid, const struct kube_meta *pod, unsigned int *flags)
{
	char exe[PATH_MAX], *env = NULL, *cmdline = NULL, *name;
	struct naming_input in = { .service_name = opts.service_name,
				   .container = pod ? pod->container : NULL };
	unsigned int nflags = 0;

	if (!in.service_name)
		in.environ = env = procfs__read_pid(tgid, "environ", PROC_READ_MAX, &in.environ_len);
	if (procfs__exe(tgid, exe)) {
		in.exe = exe;
		in.cmdline = cmdline = procfs__read_pid(tgid, "cmdline", PROC_READ_MAX, &in.cmdline_len);
	}
	name = naming__service(&in, &nflags);
	if (nflags & NAMING_GUNICORN)
		*flags |= IDENTITY_GUNICORN;
	free(env);
	free(cmdline);
	return name;
}

static struct svc_entry *entry_add(pid_t tgid, const struct identity *id)
{
	struct svc_entry **slot = slot_of(tgid);
	struct svc_entry *e;

	if (!id->service_name)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	if (identity__copy(&e->id, id)) {
		free(e);
		return NULL;
	}
	e->tgid = tgid;
	*slot = e;
	return e;
}

static struct svc_entry *entry_get(pid_t tgid)
{
	struct svc_entry *e = *slot_of(tgid);
	struct identity id = {};
	struct kube_meta pod;
	bool in_pod;

	if (e)
		return e;
	in_pod = kube__of(tgid, &pod);
	if (in_pod) {
		id.k8s_namespace = pod.namespace;
		id.k8s_pod = pod.pod;
		id.k8s_container = pod.container;
	}
	id.service_name = resolve_name(tgid, in_pod ? &pod : NULL, &id.flags);
	e = entry_add(tgid, &id);
	free((char *)id.service_name);
	return e;
}

const struct identity *service__of(pid_t tgid)
{
	static const struct identity unknown = { .service_name = UNKNOWN_SERVICE };
	struct svc_entry *e = entry_get(tgid);

	return e ? &e->id : &unknown;
}

void service__on_fork(pid_t parent, pid_t child)
{
	struct svc_entry *p;

	/* a forked child runs the parent's program until it executes another one */
	if (*slot_of(child))
		return;
	p = entry_get(parent);
	if (p)
		entry_add(child, &p->id);
}

void service__forget(pid_t tgid)
{
	struct svc_entry **slot = slot_of(tgid);
	struct svc_entry *e = *slot;

	if (!e)
		return;
	*slot = e->next;
	identity__free(&e->id);
	free(e);
}

void service__cleanup(void)
{
	for (size_t i = 0; i < SVC_BUCKETS; i++) {
		while (table[i]) {
			struct svc_entry *e = table[i];

			table[i] = e->next;
			identity__free(&e->id);
			free(e);
		}
	}
}
