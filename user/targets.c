// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Which processes are watched. The kernel side follows forks and accepts by itself;
 * this module seeds the targets map at start (named pids and their descendants, or
 * in auto mode every process with a listening socket) and removes what processes
 * that exited left in the BPF maps.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "internal.h"
#include "redscope.skel.h"

#define TCP_LISTEN 0x0a
#define UNIX_ACCEPTCON 0x10000
#define MAX_DEAD 4096

#define PROC_BUCKETS 4096

static struct redscope_bpf *skel;
static pid_t dead[MAX_DEAD];
static size_t n_dead;

/* Parent of each watched process, for telling workers from their master. */
struct proc_entry {
	struct proc_entry *next;
	pid_t tgid;
	pid_t ppid;
};
static struct proc_entry *procs[PROC_BUCKETS];

static struct proc_entry **proc_slot(pid_t tgid)
{
	struct proc_entry **e = &procs[(unsigned int)tgid % PROC_BUCKETS];

	while (*e && (*e)->tgid != tgid)
		e = &(*e)->next;
	return e;
}

static void proc_set(pid_t tgid, pid_t ppid)
{
	struct proc_entry **slot = proc_slot(tgid), *e = *slot;

	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return;
		e->tgid = tgid;
		*slot = e;
	}
	e->ppid = ppid;
}

static void proc_forget(pid_t tgid)
{
	struct proc_entry **slot = proc_slot(tgid), *e = *slot;

	if (e) {
		*slot = e->next;
		free(e);
	}
}

/* A set of unsigned integers (pids, inodes): sorted array, built once, searched often. */
struct uset {
	unsigned long *v;
	size_t n, cap;
};

static int uset_add(struct uset *s, unsigned long x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		unsigned long *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
	return 0;
}

static int cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

static void uset_seal(struct uset *s)
{
	qsort(s->v, s->n, sizeof(*s->v), cmp_ulong);
}

static bool uset_has(const struct uset *s, unsigned long x)
{
	return s->n && bsearch(&x, s->v, s->n, sizeof(*s->v), cmp_ulong);
}

static bool is_pid_dir(const char *name)
{
	for (const char *p = name; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return *name;
}

static int target_add(pid_t tgid, __u32 flags)
{
	struct rs_target t = { .flags = flags };
	__u32 key = tgid;

	if (tgid == getpid())
		return 0;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.targets), &key, &t, BPF_NOEXIST) &&
	    errno != EEXIST) {
		p_warn("cannot watch process %d: %s", tgid, strerror(errno));
		return -errno;
	}
	p_debug("watching process %d", tgid);
	return 0;
}

/* Inodes of listening TCP sockets in one /proc/PID/net/tcp{,6} table. */
static void listening_tcp(pid_t pid, const char *table, struct uset *inodes)
{
	char path[64], line[512];
	unsigned int state;
	unsigned long inode;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, table);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " %*d: %*s %*s %x %*s %*s %*s %*s %*s %lu", &state, &inode) == 2 &&
		    state == TCP_LISTEN && inode)
			uset_add(inodes, inode);
	}
	fclose(f);
}

static void listening_unix(pid_t pid, struct uset *inodes)
{
	char path[64], line[512];
	unsigned long flags, inode;
	unsigned int type;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/unix", pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %*s %*s %lx %x %*s %lu", &flags, &type, &inode) == 3 &&
		    (flags & UNIX_ACCEPTCON) && type == 1 && inode)
			uset_add(inodes, inode);
	}
	fclose(f);
}

/* Every listening stream socket on the host, one read per network namespace. */
static void listening_inodes(struct uset *inodes)
{
	struct uset netns = {};
	struct dirent *de;
	char path[300], link[64];
	unsigned long ns;
	DIR *proc = opendir("/proc");
	ssize_t n;

	if (!proc)
		return;
	while ((de = readdir(proc))) {
		if (!is_pid_dir(de->d_name))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "net:[%lu]", &ns) != 1)
			continue;
		/* small sets: linear search keeps the table read once per namespace */
		bool seen = false;

		for (size_t i = 0; i < netns.n && !seen; i++)
			seen = netns.v[i] == ns;
		if (seen)
			continue;
		uset_add(&netns, ns);
		listening_tcp(atoi(de->d_name), "tcp", inodes);
		listening_tcp(atoi(de->d_name), "tcp6", inodes);
		listening_unix(atoi(de->d_name), inodes);
	}
	closedir(proc);
	free(netns.v);
	uset_seal(inodes);
}

static bool owns_socket_in(pid_t pid, const struct uset *inodes)
{
	char path[64], link[64];
	struct dirent *de;
	unsigned long inode;
	bool found = false;
	DIR *fds;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	fds = opendir(path);
	if (!fds)
		return false;
	while (!found && (de = readdir(fds))) {
		n = readlinkat(dirfd(fds), de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		found = sscanf(link, "socket:[%lu]", &inode) == 1 && uset_has(inodes, inode);
	}
	closedir(fds);
	return found;
}

/* Auto mode: processes that hold a listening socket now are servers. */
static void seed_auto(void)
{
	struct uset inodes = {};
	struct dirent *de;
	DIR *proc;

	listening_inodes(&inodes);
	proc = opendir("/proc");
	if (!proc) {
		free(inodes.v);
		return;
	}
	while ((de = readdir(proc)))
		if (is_pid_dir(de->d_name) && owns_socket_in(atoi(de->d_name), &inodes))
			target_add(atoi(de->d_name), RS_TARGET_AUTO | RS_TARGET_FOLLOW);
	closedir(proc);
	free(inodes.v);
}

static pid_t ppid_of(const char *pid)
{
	char path[64], line[512], *p;
	int ppid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(line, sizeof(line), f) && (p = strrchr(line, ')')))
		sscanf(p + 1, " %*c %d", &ppid);
	fclose(f);
	return ppid;
}

/* The parent of a watched process: from its fork record, else from /proc (cached). */
static pid_t parent_of(pid_t tgid)
{
	struct proc_entry *e = *proc_slot(tgid);
	char pid[16];
	pid_t ppid;

	if (e)
		return e->ppid;
	snprintf(pid, sizeof(pid), "%d", tgid);
	ppid = ppid_of(pid);
	if (ppid > 0)
		proc_set(tgid, ppid);
	return ppid;
}

/* --pid: the named processes and every process descending from them. */
static int seed_pids(const struct targets_opts *o)
{
	struct uset chosen = {};
	struct dirent *de;
	bool grew = true;
	DIR *proc;
	int err = 0;

	for (size_t i = 0; i < o->n_pids; i++) {
		char path[32];

		snprintf(path, sizeof(path), "/proc/%d", o->pids[i]);
		if (access(path, F_OK)) {
			p_err("process %d does not exist: check the --pid value", o->pids[i]);
			err = -ESRCH;
			goto out;
		}
		uset_add(&chosen, o->pids[i]);
	}
	/* grow the set until no process has a parent in it; trees are shallow */
	while (grew) {
		grew = false;
		uset_seal(&chosen);
		proc = opendir("/proc");
		if (!proc)
			break;
		while ((de = readdir(proc))) {
			pid_t pid;

			if (!is_pid_dir(de->d_name))
				continue;
			pid = atoi(de->d_name);
			if (!uset_has(&chosen, pid) && uset_has(&chosen, ppid_of(de->d_name))) {
				uset_add(&chosen, pid);
				grew = true;
			}
		}
		closedir(proc);
	}
	for (size_t i = 0; i < chosen.n; i++)
		target_add(chosen.v[i], RS_TARGET_FOLLOW);
out:
	free(chosen.v);
	return err;
}

int targets__init(struct redscope_bpf *s, const struct targets_opts *o)
{
	skel = s;
	if (o->n_pids)
		return seed_pids(o);
	seed_auto();
	return 0;
}

void targets__on_fork(pid_t parent, pid_t child)
{
	proc_set(child, parent);
	service__on_fork(parent, child);
}

void targets__on_exit(pid_t tgid)
{
	service__forget(tgid);
	proc_forget(tgid);
	if (n_dead < MAX_DEAD)
		dead[n_dead++] = tgid;
}

static bool is_dead(__u32 tgid)
{
	for (size_t i = 0; i < n_dead; i++)
		if ((__u32)dead[i] == tgid)
			return true;
	return false;
}

/* Delete the entries of dead processes from a map whose keys start with a tgid. */
static void sweep_map(int fd, size_t key_size)
{
	char key[64], next[64];
	struct buf doomed = {};
	void *prev = NULL;

	/* collect first: deleting while iterating would restart the walk */
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		if (is_dead(*(__u32 *)key))
			buf__append(&doomed, key, key_size);
		prev = key;
	}
	for (size_t off = 0; off + key_size <= doomed.len; off += key_size)
		bpf_map_delete_elem(fd, doomed.data + off);
	buf__free(&doomed);
}

void targets__sweep(void)
{
	if (!n_dead)
		return;
	sweep_map(bpf_map__fd(skel->maps.conns), sizeof(struct rs_conn_key));
	sweep_map(bpf_map__fd(skel->maps.pipeline), sizeof(struct rs_pipe_key));
	n_dead = 0;
}

static uint64_t count_keys(int fd, size_t key_size)
{
	char key[64], next[64];
	void *prev = NULL;
	uint64_t n = 0;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		n++;
	}
	return n;
}

void targets__stats(struct self_stats *st)
{
	st->tracked_processes = count_keys(bpf_map__fd(skel->maps.targets), sizeof(__u32));
	st->tracked_connections =
		count_keys(bpf_map__fd(skel->maps.conns), sizeof(struct rs_conn_key));
}

/*
 * Refresh the per-service gauges from the live targets: requests in flight, and
 * worker processes. A worker is a watched process whose parent is watched and in
 * the same service (gunicorn, uwsgi and nginx workers under their master); a
 * service with no such process, a single-process server, has one. Services are
 * only created here for gunicorn, whose worker gauge exists before any request.
 * Store lock held.
 */
void targets__refresh(struct store *st)
{
	int fd = bpf_map__fd(skel->maps.targets);
	struct service_series *svc;
	__u32 key, next, *prev = NULL;
	struct rs_target t, pt;

	for (svc = st->services; svc; svc = svc->next) {
		svc->active = 0;
		svc->processes = 0;
		svc->workers = 0;
	}
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		const struct identity *id, *parent_id;
		pid_t ppid;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &t) || (t.flags & RS_TARGET_IGNORED))
			continue;
		id = service__of(key);
		svc = (id->flags & IDENTITY_GUNICORN) || t.active > 0 ? store__service(st, id)
								    : store__find_service(st, id);
		if (!svc)
			continue;
		svc->active += t.active > 0 ? t.active : 0;
		svc->processes++;
		ppid = parent_of(key);
		if (ppid > 0 && !bpf_map_lookup_elem(fd, &(__u32){ ppid }, &pt) &&
		    (parent_id = service__of(ppid)) &&
		    !strcmp(parent_id->service_name, id->service_name))
			svc->workers++;
	}
	for (svc = st->services; svc; svc = svc->next)
		if (!svc->workers && svc->processes)
			svc->workers = 1; /* a single-process server is its own worker */
}

void targets__cleanup(void)
{
	skel = NULL;
	n_dead = 0;
	for (size_t i = 0; i < PROC_BUCKETS; i++) {
		while (procs[i]) {
			struct proc_entry *e = procs[i];

			procs[i] = e->next;
			free(e);
		}
	}
}
