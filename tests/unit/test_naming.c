// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Service names from the command lines, environments and containers of real servers. */
#include <stdarg.h>

#include "naming.h"
#include "unit.h"

#define NO_NAME "(none)"

/* A /proc-style NUL-separated block of the strings up to NULL, with a NUL at [len]. */
static char *block(size_t *len, const char *first, va_list ap)
{
	static char buf[4096];
	size_t n = 0;

	for (const char *s = first; s; s = va_arg(ap, const char *)) {
		size_t k = strlen(s) + 1;

		memcpy(buf + n, s, k);
		n += k;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* The name naming__service gives exe run as the argv up to NULL (NO_NAME for NULL). */
static const char *name_of(struct naming_input in, unsigned int *flags, const char *arg0, ...)
{
	static char out[256];
	unsigned int ignored = 0;
	va_list ap;
	char *name;

	if (arg0) {
		va_start(ap, arg0);
		in.cmdline = block(&in.cmdline_len, arg0, ap);
		va_end(ap);
	}
	name = naming__service(&in, flags ? flags : &ignored);
	snprintf(out, sizeof(out), "%s", name ? name : NO_NAME);
	free(name);
	return out;
}

#define PYTHON "/usr/bin/python3.11"
#define RUN_BY(exe_path) ((struct naming_input){ .exe = (exe_path) })

static void gunicorn_is_named_after_its_application(void)
{
	unsigned int flags = 0;

	CHECK_STR(name_of(RUN_BY(PYTHON), &flags, "/usr/bin/python3", "/usr/bin/gunicorn",
			  "--workers", "4", "--bind", "0.0.0.0:8000", "mysite.wsgi:application", NULL),
		  "mysite");
	CHECK_EQ(flags, NAMING_GUNICORN);
	CHECK_STR(name_of(RUN_BY(PYTHON), NULL, "gunicorn", "-w", "3", "-b", ":8000", "app:app", NULL),
		  "app");
	CHECK_STR(name_of(RUN_BY(PYTHON), NULL, "/srv/venv/bin/gunicorn", "-k", "gevent",
			  "--worker-connections", "100", "shop.app:create_app()", NULL),
		  "shop");
	/* a bare module; an option's value is not one */
	CHECK_STR(name_of(RUN_BY(PYTHON), NULL, "gunicorn", "--chdir", "/srv", "hello", NULL), "hello");
	CHECK_STR(name_of(RUN_BY(PYTHON), NULL, "gunicorn", "--bind=:8000", "hello", NULL), "hello");
	/* workers renamed by setproctitle */
	flags = 0;
	CHECK_STR(name_of(RUN_BY(PYTHON), &flags, "gunicorn: worker [mysite.wsgi:application]", NULL),
		  "mysite");
	CHECK_EQ(flags, NAMING_GUNICORN);
	CHECK_STR(name_of(RUN_BY(PYTHON), NULL, "gunicorn: master [polls]", NULL), "polls");
	/* the application is in the configuration file: the program it is */
	flags = 0;
	CHECK_STR(name_of(RUN_BY(PYTHON), &flags, "/usr/bin/python3", "/usr/bin/gunicorn", "--config",
			  "gunicorn.conf.py", NULL),
		  "gunicorn");
	CHECK_EQ(flags, NAMING_GUNICORN);
}

static void uwsgi_is_named_after_its_module_or_file(void)
{
	unsigned int flags = 0;

	CHECK_STR(name_of(RUN_BY("/usr/bin/uwsgi-core"), &flags, "uwsgi", "--http", ":8000",
			  "--module", "mysite.wsgi", "--processes", "4", NULL),
		  "mysite");
	CHECK_EQ(flags, 0);
	CHECK_STR(name_of(RUN_BY("/usr/bin/uwsgi-core"), NULL, "uwsgi", "--module=polls.wsgi:application",
			  NULL),
		  "polls");
	CHECK_STR(name_of(RUN_BY("/usr/bin/uwsgi-core"), NULL, "uwsgi", "-w", "api", NULL), "api");
	CHECK_STR(name_of(RUN_BY("/usr/bin/uwsgi-core"), NULL, "uwsgi", "--wsgi-file",
			  "/srv/app/hello.py", "--master", NULL),
		  "hello");
	CHECK_STR(name_of(RUN_BY("/usr/bin/uwsgi-core"), NULL, "uwsgi", "--ini", "/etc/uwsgi/app.ini",
			  NULL),
		  "uwsgi-core");
}

static void interpreters_are_named_after_what_they_run(void)
{
	CHECK_STR(name_of(RUN_BY(PYTHON), NULL, "python3", "-m", "http.server", "8000", NULL),
		  "http.server");
	CHECK_STR(name_of(RUN_BY(PYTHON), NULL, "python3", "-X", "dev", "manage.py", "runserver", NULL),
		  "manage");
	CHECK_STR(name_of(RUN_BY(PYTHON), NULL, "python3", "-u", "/srv/bin/api_server.py", NULL),
		  "api_server");
	CHECK_STR(name_of(RUN_BY(PYTHON), NULL, "python3", "-c", "import app; app.run()", NULL),
		  "python3.11");
	CHECK_STR(name_of(RUN_BY("/usr/bin/node"), NULL, "node", "server.js", NULL), "server");
	CHECK_STR(name_of(RUN_BY("/usr/bin/node"), NULL, "node", "-r", "dotenv/config",
			  "dist/index.js", NULL),
		  "index");
	CHECK_STR(name_of(RUN_BY("/usr/bin/node"), NULL, "node", "--eval", "require('http')", NULL),
		  "node");
	CHECK_STR(name_of(RUN_BY("/usr/bin/ruby3.1"), NULL, "ruby", "config.ru", NULL), "config");
	CHECK_STR(name_of(RUN_BY("/usr/lib/jvm/java-17-openjdk-amd64/bin/java"), NULL, "java",
			  "-Xmx512m", "-jar", "/opt/app/orders-service-1.2.jar", NULL),
		  "orders-service-1.2");
	CHECK_STR(name_of(RUN_BY("/usr/lib/jvm/java-17-openjdk-amd64/bin/java"), NULL, "java", "-cp",
			  "app.jar", "com.example.Main", NULL),
		  "java");
}

static void other_programs_are_named_after_their_executable(void)
{
	CHECK_STR(name_of(RUN_BY("/usr/sbin/nginx"), NULL, "nginx: worker process", NULL), "nginx");
	CHECK_STR(name_of(RUN_BY("/usr/sbin/haproxy"), NULL, "/usr/sbin/haproxy", "-f",
			  "/etc/haproxy/haproxy.cfg", NULL),
		  "haproxy");
	/* the command line could not be read */
	CHECK_STR(name_of(RUN_BY("/usr/sbin/nginx"), NULL, NULL), "nginx");
}

static void what_is_given_comes_before_the_command_line(void)
{
	struct naming_input in = RUN_BY(PYTHON);
	unsigned int flags = 0;

	in.environ = "LANG=C.UTF-8\0OTEL_SERVICE_NAME=checkout\0PATH=/usr/bin";
	in.environ_len = sizeof("LANG=C.UTF-8\0OTEL_SERVICE_NAME=checkout\0PATH=/usr/bin") - 1;
	CHECK_STR(name_of(in, &flags, "gunicorn", "app:app", NULL), "checkout");
	CHECK_EQ(flags, NAMING_GUNICORN); /* still gunicorn's, for the statsd series */
	/* the container's name loses to OTEL_SERVICE_NAME, wins over the command line */
	in.container = "web";
	CHECK_STR(name_of(in, NULL, "gunicorn", "app:app", NULL), "checkout");
	in.environ = "OTEL_SERVICE_NAME=\0HOME=/root"; /* empty: not a name */
	in.environ_len = sizeof("OTEL_SERVICE_NAME=\0HOME=/root") - 1;
	CHECK_STR(name_of(in, NULL, "gunicorn", "app:app", NULL), "web");
	/* --service-name overrides everything */
	in.service_name = "storefront";
	CHECK_STR(name_of(in, NULL, "gunicorn", "app:app", NULL), "storefront");
}

static void a_process_gone_is_named_only_by_what_was_given(void)
{
	struct naming_input in = {};

	CHECK_STR(name_of(in, NULL, NULL), NO_NAME);
	in.container = "worker";
	CHECK_STR(name_of(in, NULL, NULL), "worker");
}

int main(void)
{
	RUN(gunicorn_is_named_after_its_application);
	RUN(uwsgi_is_named_after_its_module_or_file);
	RUN(interpreters_are_named_after_what_they_run);
	RUN(other_programs_are_named_after_their_executable);
	RUN(what_is_given_comes_before_the_command_line);
	RUN(a_process_gone_is_named_only_by_what_was_given);
	return unit_report("naming");
}
