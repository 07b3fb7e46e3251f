// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Which service a watched process belongs to. A process is named after what it
 * shares with every worker of the same server: its OTEL_SERVICE_NAME, its gunicorn
 * or uwsgi WSGI module, or the program it runs. So a gunicorn master and its workers are one
 * service. Not thread-safe: callers hold the store lock.
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

/* Split a NUL-separated command line into at most max arguments. */
static size_t split_cmdline(const char *cmdline, size_t len, const char **args, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n < max; i += strlen(cmdline + i) + 1)
		args[n++] = cmdline + i;
	return n;
}

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/*
 * The WSGI module of a gunicorn command line ("myproject.wsgi:application" gives
 * "myproject"), or NULL when the command line is not gunicorn's. Workers renamed
 * by setproctitle read "gunicorn: worker [myproject.wsgi:application]".
 */
static bool is_gunicorn(const char **args, size_t n)
{
	if (n && !strncmp(args[0], "gunicorn: ", 10))
		return true;
	for (size_t i = 0; i < n && i < 2; i++)
		if (!strncmp(basename_of(args[i]), "gunicorn", 8))
			return true;
	return false;
}

static char *gunicorn_module(const char **args, size_t n)
{
	const char *app = NULL;
	size_t i;

	if (n && !strncmp(args[0], "gunicorn: ", 10)) {
		const char *open = strchr(args[0], '['), *close = open ? strrchr(open, ']') : NULL;

		if (close && close > open + 1)
			return strndup(open + 1, strcspn(open + 1, ".:]"));
		return NULL;
	}
	if (!is_gunicorn(args, n))
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
		    (prev[0] != '-' || strchr(prev, '=')) && strncmp(basename_of(args[i]), "gunicorn", 8))
			app = args[i];
	}
	if (!app)
		return NULL;
	return strndup(app, strcspn(app, ".:"));
}

/*
 * The application of a uwsgi command line: --module / -w (myproject.wsgi gives
 * myproject) or --wsgi-file (path/app.py gives app); NULL when it has neither.
 */
static char *uwsgi_app(const char *exe, const char **args, size_t n)
{
	if (strncmp(basename_of(exe), "uwsgi", 5))
		return NULL;
	for (size_t i = 1; i < n; i++) {
		const char *a = args[i], *v = NULL;
		bool file = false;

		if ((!strcmp(a, "--module") || !strcmp(a, "-w") || !strcmp(a, "--wsgi")) && i + 1 < n)
			v = args[++i];
		else if (!strncmp(a, "--module=", 9))
			v = a + 9;
		else if ((file = !strcmp(a, "--wsgi-file") || !strcmp(a, "--file")) && i + 1 < n)
			v = args[++i];
		else if ((file = !strncmp(a, "--wsgi-file=", 12)))
			v = a + 12;
		if (!v)
			continue;
		if (file) {
			const char *base = basename_of(v), *dot = strrchr(base, '.');

			return strndup(base, dot && dot != base ? (size_t)(dot - base) : strlen(base));
		}
		return strndup(v, strcspn(v, ".:"));
	}
	return NULL;
}

static bool is_interpreter(const char *exe)
{
	static const char *const names[] = { "python", "node", "nodejs", "ruby", "perl", "php" };
	const char *base = basename_of(exe);

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strncmp(base, names[i], strlen(names[i])))
			return true;
	return false;
}

/*
 * The name of the program a process runs: the executable, or for an interpreter the
 * script or module it runs ("python3 -m http.server" is http.server, "node app.js"
 * is app). A forked worker runs the same program as its master, so both get it.
 */
static char *program_name(const char *exe, const char **args, size_t n)
{
	if (is_interpreter(exe)) {
		for (size_t i = 1; i < n; i++) {
			const char *a = args[i], *base, *dot;

			if (!strcmp(a, "-m") && i + 1 < n)
				return strdup(args[i + 1]);
			if (!strcmp(a, "-c") || !strcmp(a, "-e") || !strcmp(a, "--eval"))
				break; /* inline code: no script to name */
			if (a[0] == '-') {
				/* options that take a separate value */
				if (!strcmp(a, "-X") || !strcmp(a, "-W") || !strcmp(a, "-r") ||
				    !strcmp(a, "--require"))
					i++;
				continue;
			}
			base = basename_of(a);
			dot = strrchr(base, '.');
			return strndup(base, dot && dot != base ? (size_t)(dot - base) : strlen(base));
		}
	}
	return strdup(basename_of(exe));
}

/*
 * The name of a process's service: --service-name, else its OTEL_SERVICE_NAME, else
 * in Kubernetes its container's name, else what the program is. NULL when the process
 * is gone and nothing else names it: not something to remember (a forked child that
 * served one connection and exited gets its parent's name from the fork event).
 */
static char *resolve_name(pid_t tgid, const struct kube_meta *pod, unsigned int *flags)
{
	char exe[PATH_MAX];
	const char *args[256];
	char *env, *cmdline, *name = NULL;
	size_t len, n;

	if (opts.service_name) {
		name = strdup(opts.service_name);
	} else {
		env = proc_read(tgid, "environ", &len);
		if (env) {
			name = env_value(env, len, "OTEL_SERVICE_NAME");
			free(env);
		}
	}
	if (!name && pod)
		name = strdup(pod->container);
	if (!proc_exe(tgid, exe))
		return name;
	cmdline = proc_read(tgid, "cmdline", &len);
	if (!cmdline)
		return name ? name : strdup(basename_of(exe));
	n = split_cmdline(cmdline, len, args, ARRAY_SIZE(args));
	if (is_gunicorn(args, n))
		*flags |= IDENTITY_GUNICORN;
	if (!name)
		name = gunicorn_module(args, n);
	if (!name)
		name = uwsgi_app(exe, args, n);
	if (!name)
		name = program_name(exe, args, n);
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
