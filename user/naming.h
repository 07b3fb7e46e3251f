/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * naming.c: the service name of a process from what /proc says about it (its
 * environment, command line and executable) and what Kubernetes says (its
 * container). Pure: the caller reads, this only decides.
 */
#ifndef REDSCOPE_NAMING_H
#define REDSCOPE_NAMING_H

#include <stdbool.h>
#include <stddef.h>

/* Set in *flags by naming__service for a process gunicorn runs (statsd compat series). */
#define NAMING_GUNICORN (1u << 0)

/*
 * What names a process. environ and cmdline are NUL-separated blocks of len bytes
 * with a NUL at [len] (as /proc gives them, read whole); any field may be NULL.
 */
struct naming_input {
	const char *service_name; /* --service-name: overrides everything */
	const char *environ;	  /* /proc/PID/environ */
	size_t environ_len;
	const char *container;	  /* the Kubernetes container's name */
	const char *exe;	  /* where /proc/PID/exe points; NULL: the process is gone */
	const char *cmdline;	  /* /proc/PID/cmdline */
	size_t cmdline_len;
};

/*
 * The service name, on the heap: service_name, else OTEL_SERVICE_NAME, else the
 * container, else the gunicorn or uwsgi application, else the program (for an
 * interpreter or java -jar, the script, module or archive it runs). NULL when
 * nothing names it (no exe and no name given). *flags gets NAMING_GUNICORN.
 */
char *naming__service(const struct naming_input *in, unsigned int *flags);

#endif /* REDSCOPE_NAMING_H */
