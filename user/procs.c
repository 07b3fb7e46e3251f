// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The watched processes the daemon knows of: parent and identity, one table with one
 * writer (the main thread) and its own lock for the readers of other threads. See
 * procs.h.
 */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"
#include "naming.h"
#include "procfs.h"
#include "procs.h"
#include "store.h"

#define PROC_BUCKETS 4096
#define UNKNOWN_SERVICE "unknown_service"
#define PROC_READ_MAX (64 * 1024)

struct proc {
	struct proc *next;
	pid_t tgid;
	pid_t ppid;  /* 0: not known yet */
	bool has_id; /* id is resolved */
	struct identity id;
};

static struct procs_opts opts;
static struct proc *table[PROC_BUCKETS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void procs__init(const struct procs_opts *o)
{
	opts = *o;
}

void procs__lock(void)
{
	pthread_mutex_lock(&lock);
}

void procs__unlock(void)
{
	pthread_mutex_unlock(&lock);
}

static struct proc **slot_of(pid_t tgid)
{
	struct proc **e = &table[(unsigned int)tgid % PROC_BUCKETS];

	while (*e && (*e)->tgid != tgid)
		e = &(*e)->next;
	return e;
}

static struct proc *find(pid_t tgid)
{
	return *slot_of(tgid);
}

/* The entry of tgid, added if need be (the writer, under the lock). */
static struct proc *get_or_add(pid_t tgid)
{
	struct proc **slot = slot_of(tgid), *e = *slot;

	if (e)
		return e;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->tgid = tgid;
	*slot = e;
	return e;
}

/* Give e the identity id (copied); false when memory runs out. Main thread. */
static bool set_identity(struct proc *e, const struct identity *id)
{
	struct identity copy;

	if (identity__copy(&copy, id))
		return false;
	pthread_mutex_lock(&lock);
	if (e->has_id)
		identity__free(&e->id);
	e->id = copy;
	e->has_id = true;
	pthread_mutex_unlock(&lock);
	return true;
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

/* Resolve the identity of tgid from /proc; NULL when it is gone and nothing names it. */
static struct proc *resolve(pid_t tgid)
{
	struct identity id = {};
	struct kube_meta pod;
	struct proc *e;
	bool in_pod;

	in_pod = kube__of(tgid, &pod);
	if (in_pod) {
		id.k8s_namespace = pod.namespace;
		id.k8s_pod = pod.pod;
		id.k8s_container = pod.container;
	}
	id.service_name = resolve_name(tgid, in_pod ? &pod : NULL, &id.flags);
	if (!id.service_name)
		return NULL;
	pthread_mutex_lock(&lock);
	e = get_or_add(tgid);
	pthread_mutex_unlock(&lock);
	if (e && !set_identity(e, &id))
		e = NULL;
	free((char *)id.service_name);
	return e;
}

const struct identity *procs__identity(pid_t tgid)
{
	static const struct identity unknown = { .service_name = UNKNOWN_SERVICE };
	struct proc *e = find(tgid);

	if (!e || !e->has_id)
		e = resolve(tgid);
	return e ? &e->id : &unknown;
}

pid_t procs__parent(pid_t tgid)
{
	struct proc *e = find(tgid);
	pid_t ppid;

	if (e && e->ppid)
		return e->ppid;
	ppid = procfs__ppid(tgid);
	if (ppid <= 0)
		return 0;
	pthread_mutex_lock(&lock);
	e = get_or_add(tgid);
	if (e)
		e->ppid = ppid;
	pthread_mutex_unlock(&lock);
	return ppid;
}

void procs__fork(pid_t parent, pid_t child)
{
	struct proc *c, *p = find(parent);

	if (!p || !p->has_id)
		p = resolve(parent);
	pthread_mutex_lock(&lock);
	c = get_or_add(child);
	if (c)
		c->ppid = parent;
	pthread_mutex_unlock(&lock);
	/* a forked child runs the parent's program until it executes another one */
	if (c && !c->has_id && p)
		set_identity(c, &p->id);
}

void procs__exec(pid_t tgid)
{
	struct proc *e = find(tgid);

	if (!e || !e->has_id)
		return;
	pthread_mutex_lock(&lock);
	identity__free(&e->id);
	e->has_id = false;
	pthread_mutex_unlock(&lock);
}

static void proc_free(struct proc *e)
{
	if (e->has_id)
		identity__free(&e->id);
	free(e);
}

void procs__exit(pid_t tgid)
{
	struct proc **slot, *e;

	pthread_mutex_lock(&lock);
	slot = slot_of(tgid);
	e = *slot;
	if (e)
		*slot = e->next;
	pthread_mutex_unlock(&lock);
	if (e)
		proc_free(e);
}

const struct identity *procs__known_identity(pid_t tgid)
{
	struct proc *e = find(tgid);

	return e && e->has_id ? &e->id : NULL;
}

pid_t procs__known_parent(pid_t tgid)
{
	struct proc *e = find(tgid);

	return e ? e->ppid : 0;
}

void procs__cleanup(void)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < PROC_BUCKETS; i++) {
		while (table[i]) {
			struct proc *e = table[i];

			table[i] = e->next;
			proc_free(e);
		}
	}
	pthread_mutex_unlock(&lock);
}
