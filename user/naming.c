// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The service name of a process. A process is named after what it shares with
 * every worker of the same server: its OTEL_SERVICE_NAME, its gunicorn or uwsgi
 * WSGI module, or the program it runs, so a gunicorn master and its workers are one
 * service. Pure string work on what the caller read from /proc: unit-tested.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "naming.h"

#define ARGS_MAX 256

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

/* The file name of a path without its extension: path/app.py gives app. */
static char *stem(const char *path)
{
	const char *base = basename_of(path), *dot = strrchr(base, '.');

	return strndup(base, dot && dot != base ? (size_t)(dot - base) : strlen(base));
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
		if (file)
			return stem(v);
		return strndup(v, strcspn(v, ".:"));
	}
	return NULL;
}

static bool is_interpreter(const char *exe)
{
	static const char *const names[] = { "python", "node", "nodejs", "ruby", "perl", "php" };
	const char *base = basename_of(exe);

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strncmp(base, names[i], strlen(names[i])))
			return true;
	return false;
}

/*
 * The name of the program a process runs: the executable, or for an interpreter the
 * script or module it runs ("python3 -m http.server" is http.server, "node app.js"
 * is app), for java the archive of -jar. A forked worker runs the same program as its master, so both get it.
 */
static char *program_name(const char *exe, const char **args, size_t n)
{
	if (!strncmp(basename_of(exe), "java", 4)) {
		for (size_t i = 1; i + 1 < n; i++)
			if (!strcmp(args[i], "-jar"))
				return stem(args[i + 1]);
	}
	if (is_interpreter(exe)) {
		for (size_t i = 1; i < n; i++) {
			const char *a = args[i];

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
			return stem(a);
		}
	}
	return strdup(basename_of(exe));
}

char *naming__service(const struct naming_input *in, unsigned int *flags)
{
	const char *args[ARGS_MAX];
	char *name = NULL;
	size_t n;

	if (in->service_name)
		name = strdup(in->service_name);
	else if (in->environ)
		name = env_value(in->environ, in->environ_len, "OTEL_SERVICE_NAME");
	if (!name && in->container)
		name = strdup(in->container);
	if (!in->exe)
		return name;
	if (!in->cmdline)
		return name ? name : strdup(basename_of(in->exe));
	n = split_cmdline(in->cmdline, in->cmdline_len, args, ARGS_MAX);
	if (is_gunicorn(args, n))
		*flags |= NAMING_GUNICORN;
	if (!name)
		name = gunicorn_module(args, n);
	if (!name)
		name = uwsgi_app(in->exe, args, n);
	if (!name)
		name = program_name(in->exe, args, n);
	return name;
}
