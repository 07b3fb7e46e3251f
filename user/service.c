// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Which service a watched process belongs to. All workers of a pre-fork server
 * resolve to the identity of their topmost ancestor running the same program, so
 * a gunicorn master and its workers are one service. Not thread-safe: callers hold
 * the store lock.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

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

/* Read a /proc file of a process into a NUL-terminated heap buffer. */
static char *proc_read(pid_t pid, const char *name, size_t *len)
{
	char path[64];
	char *data;
	ssize_t n;
	size_t got = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	data = malloc(PROC_READ_MAX + 1);
	if (!data) {
		close(fd);
		return NULL;
	}
	while (got < PROC_READ_MAX && (n = read(fd, data + got, PROC_READ_MAX - got)) > 0)
		got += n;
	close(fd);
	data[got] = '\0';
	if (len)
		*len = got;
	return data;
}

static bool proc_exe(pid_t pid, char out[PATH_MAX])
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, out, PATH_MAX - 1);
	if (n <= 0)
		return false;
	out[n] = '\0';
	return true;
}

static pid_t proc_ppid(pid_t pid)
{
	char *stat = proc_read(pid, "stat", NULL);
	char *p;
	int ppid = 0;

	if (!stat)
		return 0;
	p = strrchr(stat, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		ppid = 0;
	free(stat);
	return ppid;
}

/* The value of NAME= in a NUL-separated environment block, or NULL. */
static char *env_value(const char *env, size_t len, const char *name)
{
	size_t k = strlen(name);

	for (size_t i = 0; i < len; i += strlen(env + i) + 1)
		if (!strncmp(env + i, name, k) && env[i + k] == '=' && env[i + k + 1])
			return strdup(env + i + k + 1);
	return NULL;
}

/* A dotted Python identifier: module.sub.attr */
static bool is_dotted_ident(const char *s, size_t n)
{
	bool start = true;

	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c == '.') {
			if (start)
				return false;
			start = true;
		} else if (isalpha(c) || c == '_' || (!start && isdigit(c))) {
			start = false;
		} else {
			return false;
		}
	}
	return !start;
}

/*
 * The WSGI module of a gunicorn command line ("myproject.wsgi:application" gives
 * "myproject"), or NULL when the command line is not gunicorn's.
 */
static char *gunicorn_module(const char *cmdline, size_t len)
{
	const char *args[256], *app = NULL;
	size_t n = 0, i;
	bool is_gunicorn = false;

	for (i = 0; i < len && n < ARRAY_SIZE(args); i += strlen(cmdline + i) + 1)
		args[n++] = cmdline + i;
	for (i = 0; i < n && i < 2; i++) {
		const char *base = strrchr(args[i], '/');

		base = base ? base + 1 : args[i];
		if (!strncmp(base, "gunicorn", 8))
			is_gunicorn = true;
	}
	if (!is_gunicorn)
		return NULL;
	for (i = 1; i < n; i++) {
		const char *colon = strchr(args[i], ':');
		const char *prev = args[i - 1];

		if (args[i][0] == '-')
			continue;
		if (colon && is_dotted_ident(args[i], colon - args[i]) &&
		    (isalpha((unsigned char)colon[1]) || colon[1] == '_')) {
			app = args[i];
			break; /* module:variable is unambiguous */
		}
		/* a bare module, unless it is the value of the option before it */
		if (!colon && is_dotted_ident(args[i], strlen(args[i])) &&
		    (prev[0] != '-' || strchr(prev, '=')) && !strstr(args[i], "gunicorn"))
			app = args[i];
	}
	if (!app)
		return NULL;
	return strndup(app, strcspn(app, ".:"));
}

/* The topmost ancestor of pid that runs the same executable. */
static pid_t program_root(pid_t pid, const char *exe)
{
	char pexe[PATH_MAX];
	pid_t ppid;

	for (int depth = 0; depth < 64; depth++) {
		ppid = proc_ppid(pid);
		if (ppid <= 1 || !proc_exe(ppid, pexe) || strcmp(pexe, exe))
			return pid;
		pid = ppid;
	}
	return pid;
}

static char *resolve_name(pid_t tgid)
{
	char exe[PATH_MAX];
	char *env, *cmdline, *name = NULL;
	size_t len;
	pid_t root;

	if (opts.service_name)
		return strdup(opts.service_name);
	env = proc_read(tgid, "environ", &len);
	if (env) {
		name = env_value(env, len, "OTEL_SERVICE_NAME");
		free(env);
		if (name)
			return name;
	}
	if (!proc_exe(tgid, exe))
		return strdup(UNKNOWN_SERVICE);
	root = program_root(tgid, exe);
	cmdline = proc_read(root, "cmdline", &len);
	if (cmdline) {
		name = gunicorn_module(cmdline, len);
		free(cmdline);
		if (name)
			return name;
	}
	name = strrchr(exe, '/');
	return strdup(name ? name + 1 : exe);
}

static struct svc_entry *entry_add(pid_t tgid, char *name)
{
	struct svc_entry **slot = slot_of(tgid);
	struct svc_entry *e;

	if (!name)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e) {
		free(name);
		return NULL;
	}
	e->tgid = tgid;
	e->id.service_name = name;
	*slot = e;
	return e;
}

static struct svc_entry *entry_get(pid_t tgid)
{
	struct svc_entry *e = *slot_of(tgid);

	return e ? e : entry_add(tgid, resolve_name(tgid));
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
		entry_add(child, strdup(p->id.service_name));
}

void service__forget(pid_t tgid)
{
	struct svc_entry **slot = slot_of(tgid);
	struct svc_entry *e = *slot;

	if (!e)
		return;
	*slot = e->next;
	free((char *)e->id.service_name);
	free(e);
}

void service__cleanup(void)
{
	for (size_t i = 0; i < SVC_BUCKETS; i++) {
		while (table[i]) {
			struct svc_entry *e = table[i];

			table[i] = e->next;
			free((char *)e->id.service_name);
			free(e);
		}
	}
}
