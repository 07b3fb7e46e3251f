// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Which processes are watched. The kernel side follows forks and accepts by itself;
 * this module seeds the targets map at start (named pids and their descendants, or
 * in auto mode every process with a listening socket), removes what processes
 * that exited left in the BPF maps, and turns the live targets into the gauges of
 * their services (for the store, which writes them).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "buf.h"
#include "kernel.h"
#include "log.h"
#include "procfs.h"
#include "procs.h"
#include "selectors.h"
#include "selfmetrics.h"
#include "store.h"
#include "targets.h"
#include "tls.h"

#define TCP_LISTEN 0x0a
#define UNIX_ACCEPTCON 0x10000
#define MAX_DEAD 4096

static pid_t dead[MAX_DEAD];
static size_t n_dead;

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

/*
 * Byte arrays of the kernel side, mapped: the watched processes (its first check of
 * every process) and the local ports connections are accepted on.
 */
static __u8 *watched, *conn_ports;
static size_t watched_len, conn_ports_len;

static int bytes_map(enum kernel_map m, const char *what, __u8 **bytes, size_t *bytes_len)
{
	int fd = kernel__map_fd(m);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	void *p;

	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		p_err("cannot size the %s array: %s", what, strerror(errno));
		return -errno;
	}
	*bytes_len = (size_t)info.max_entries * info.value_size;
	p = mmap(NULL, *bytes_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		p_err("cannot map the %s array: %s", what, strerror(errno));
		return -errno;
	}
	*bytes = p;
	return 0;
}

static int target_add(pid_t tgid, __u32 flags)
{
	struct rs_target t = { .flags = flags };
	__u32 key = tgid;

	if (tgid == getpid())
		return 0;
	if ((size_t)tgid >= watched_len) {
		p_warn("cannot watch process %d: above pid_max when redscope started", tgid);
		return -ERANGE;
	}
	if (bpf_map_update_elem(kernel__map_fd(KMAP_TARGETS), &key, &t, BPF_NOEXIST) &&
	    errno != EEXIST) {
		p_warn("cannot watch process %d: %s", tgid, strerror(errno));
		return -errno;
	}
	watched[tgid] = 1;
	p_debug("watching process %d", tgid);
	tls__scan(tgid);
	return 0;
}

/*
 * Inodes of listening TCP sockets (on selected ports) in one /proc/PID/net/tcp{,6}.
 * Their ports are marked for the kernel side: a process that reads a request on a
 * connection accepted there before redscope started is a server (tcp_server_found).
 */
static void listening_tcp(pid_t pid, const char *table, const struct selectors *sel,
			  struct uset *inodes)
{
	char path[64], line[512];
	unsigned int state, port;
	unsigned long inode;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, table);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*s %*s %lu", &port, &state,
			   &inode) == 3 &&
		    state == TCP_LISTEN && inode && selectors__port(sel, port)) {
			uset_add(inodes, inode);
			if (port < conn_ports_len)
				conn_ports[port] = 1;
		}
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
static void listening_inodes(const struct selectors *sel, struct uset *inodes)
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
		listening_tcp(atoi(de->d_name), "tcp", sel, inodes);
		listening_tcp(atoi(de->d_name), "tcp6", sel, inodes);
		if (!sel->n_ports) /* unix sockets have no port */
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

/* Add to a set of processes every process that descends from one in it. */
static void add_descendants(struct uset *set)
{
	struct dirent *de;
	bool grew = true;
	DIR *proc;

	/* grow the set until no process has a parent in it; trees are shallow */
	while (grew) {
		grew = false;
		uset_seal(set);
		proc = opendir("/proc");
		if (!proc)
			return;
		while ((de = readdir(proc))) {
			pid_t pid;

			if (!is_pid_dir(de->d_name))
				continue;
			pid = atoi(de->d_name);
			if (!uset_has(set, pid) && uset_has(set, procfs__ppid(pid))) {
				uset_add(set, pid);
				grew = true;
			}
		}
		closedir(proc);
	}
}

/*
 * Auto mode: processes holding a listening socket, and their descendants, which were
 * forked before redscope started and may serve what their parent accepts (a Node.js
 * cluster's workers, a forking server's children).
 */
static void seed_auto(const struct selectors *sel)
{
	struct uset inodes = {}, listeners = {};
	struct dirent *de;
	DIR *proc;

	listening_inodes(sel, &inodes);
	proc = opendir("/proc");
	if (!proc) {
		free(inodes.v);
		return;
	}
	while ((de = readdir(proc))) {
		pid_t pid = is_pid_dir(de->d_name) ? atoi(de->d_name) : 0;

		if (pid && pid != getpid() && owns_socket_in(pid, &inodes))
			uset_add(&listeners, pid);
	}
	closedir(proc);
	add_descendants(&listeners);
	for (size_t i = 0; i < listeners.n; i++)
		if (selectors__process(sel, listeners.v[i]))
			target_add(listeners.v[i], RS_TARGET_AUTO | RS_TARGET_FOLLOW);
	free(inodes.v);
	free(listeners.v);
}

/* --pid: the named processes and every process descending from them. */
static int seed_pids(const struct selectors *o)
{
	struct uset chosen = {};
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
	add_descendants(&chosen);
	for (size_t i = 0; i < chosen.n; i++)
		if (selectors__process(o, chosen.v[i]))
			target_add(chosen.v[i], RS_TARGET_FOLLOW);
out:
	free(chosen.v);
	return err;
}

int targets__init(const struct selectors *sel)
{
	int err;

	err = bytes_map(KMAP_WATCHED, "watched processes", &watched, &watched_len);
	if (!err)
		err = bytes_map(KMAP_CONN_PORTS, "connection ports", &conn_ports, &conn_ports_len);
	if (err)
		return err;
	if (sel->n_pids)
		err = seed_pids(sel);
	else
		seed_auto(sel);
	targets__resolve();
	return err;
}

void targets__on_exit(pid_t tgid)
{
	if (n_dead < MAX_DEAD)
		dead[n_dead++] = tgid;
}

/*
 * Resolve the identity and parent of every live target not known yet (targets the
 * kernel side added whose records were lost, or seeded at start). Main thread.
 */
void targets__resolve(void)
{
	int fd = kernel__map_fd(KMAP_TARGETS);
	__u32 key, next, *prev = NULL;
	struct rs_target t;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &t) || (t.flags & RS_TARGET_IGNORED) ||
		    (procs__known_identity(key) && procs__known_parent(key)))
			continue;
		procs__identity(key);
		procs__parent(key);
	}
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

/*
 * Connections whose last user died with no state change to come: unix sockets (a
 * process that exits without close() releases them with no syscall to see) and TCP
 * connections reset before. TCP ones otherwise end in the kernel side, at their
 * state change. Returns the requests they had in flight: the process died before
 * answering them.
 */
static uint64_t sweep_orphaned_conns(void)
{
	int fd = kernel__map_fd(KMAP_CONNS), pipe_fd = kernel__map_fd(KMAP_PIPELINE);
	struct buf doomed = {};
	__u64 key, next, *prev = NULL;
	uint64_t abandoned = 0;
	struct rs_conn c;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &c) || !(c.flags & (RS_CONN_UNIX | RS_CONN_RESET)) ||
		    !is_dead(c.tgid))
			continue;
		buf__append(&doomed, &key, sizeof(key));
		if (c.flags & RS_CONN_IN_REQUEST)
			abandoned += 1 + c.queued;
		for (__u32 i = 0; i < c.queued; i++) {
			struct rs_pipe_key pk = { .sk = key, .seq = (__u16)(c.seq + i) };

			bpf_map_delete_elem(pipe_fd, &pk);
		}
	}
	for (size_t off = 0; off + sizeof(key) <= doomed.len; off += sizeof(key))
		bpf_map_delete_elem(fd, doomed.data + off);
	buf__free(&doomed);
	return abandoned;
}

uint64_t targets__sweep(void)
{
	uint64_t abandoned;

	if (!n_dead)
		return 0;
	abandoned = sweep_orphaned_conns();
	sweep_map(kernel__map_fd(KMAP_FDS), sizeof(struct rs_fd_key));
	sweep_map(kernel__map_fd(KMAP_SSL_SOCKS), sizeof(struct rs_ssl_key));
	sweep_map(kernel__map_fd(KMAP_BUSY_OPEN), sizeof(__u32));
	n_dead = 0;
	return abandoned;
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
	st->tracked_processes = count_keys(kernel__map_fd(KMAP_TARGETS), sizeof(__u32));
	st->tracked_connections =
		count_keys(kernel__map_fd(KMAP_CONNS), sizeof(__u64));
}

/* A live target's figures for the gauges of its service. procs locked. */
static bool process_gauges(int fd, __u32 tgid, struct h2_conns *h2, struct process_gauges *g)
{
	int64_t h2_active;
	uint64_t h2_busy;

	struct rs_target t, pt;
	const struct identity *parent_id;
	pid_t ppid;

	if (bpf_map_lookup_elem(fd, &tgid, &t) || (t.flags & RS_TARGET_IGNORED))
		return false;
	/* exited, its exit not consumed yet: no gauge of it */
	if (kill((pid_t)tgid, 0) && errno == ESRCH)
		return false;
	/* not resolved yet by the main thread: counted from the next refresh on */
	g->id = procs__known_identity(tgid);
	if (!g->id)
		return false;
	g->active = t.active > 0 ? t.active : 0;
	g->busy_ns = kernel__busy_ns(tgid, &t);
	/* its HTTP/2 streams, which the daemon follows (a process serving both protocols
	 * at once counts the time both were in flight twice) */
	h2_conns_process(h2, tgid, mono_ns(), &h2_active, &h2_busy);
	g->active += h2_active;
	g->busy_ns += h2_busy;
	ppid = procs__known_parent(tgid);
	g->unwatched_parent = ppid > 0 && bpf_map_lookup_elem(fd, &(__u32){ ppid }, &pt) ? ppid : 0;
	g->worker = ppid > 0 && !g->unwatched_parent &&
		    (parent_id = procs__known_identity(ppid)) && identity__equal(parent_id, g->id);
	return true;
}

static int cmp_unwatched_parent(const void *a, const void *b)
{
	pid_t x = ((const struct process_gauges *)a)->unwatched_parent;
	pid_t y = ((const struct process_gauges *)b)->unwatched_parent;

	return x < y ? -1 : x > y;
}

/*
 * Targets of one service whose parent is not watched, forked by the same parent, are
 * its workers too: a master that never served (uvicorn's binds and hands the socket
 * over) is not a target.
 */
static void mark_sibling_workers(struct process_gauges *g, size_t n)
{
	qsort(g, n, sizeof(*g), cmp_unwatched_parent);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n && g[j].unwatched_parent == g[i].unwatched_parent; j++) {
			if (g[i].unwatched_parent && identity__equal(g[i].id, g[j].id))
				g[i].worker = g[j].worker = true;
		}
	}
}

/*
 * Refresh the per-service gauges from the live targets: requests in flight, worker
 * processes and busy time. Reads the kernel's maps and what procs knows, no /proc:
 * any thread. Takes the procs and store locks.
 */
void targets__refresh(struct store *st, struct h2_conns *h2)
{
	int fd = kernel__map_fd(KMAP_TARGETS);
	__u32 key, next, *prev = NULL;
	struct buf gauges = {};
	struct process_gauges g;

	procs__lock();
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (process_gauges(fd, key, h2, &g))
			buf__append(&gauges, &g, sizeof(g));
	}
	if (!gauges.oom)
		mark_sibling_workers((struct process_gauges *)gauges.data, gauges.len / sizeof(g));
	store__lock(st);
	if (!gauges.oom)
		store__set_gauges(st, (const struct process_gauges *)gauges.data,
				  gauges.len / sizeof(g));
	store__unlock(st);
	procs__unlock();
	buf__free(&gauges);
}

void targets__cleanup(void)
{
	if (watched)
		munmap(watched, watched_len);
	if (conn_ports)
		munmap(conn_ports, conn_ports_len);
	watched = conn_ports = NULL;
	n_dead = 0;
}
