/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* cli.c: the command line of redscope, parsed into one struct config. */
#ifndef REDSCOPE_CLI_H
#define REDSCOPE_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel.h"
#include "kube.h"
#include "procs.h"
#include "selectors.h"
#include "store.h"
#include "targets.h"
#include "view.h"
#include "web.h"

#define CLI_MAX_BUCKETS 64

enum command { CMD_SERVE, CMD_TOP, CMD_REPORT };

/*
 * Everything the command line says, with the defaults where it is silent. Option
 * values point into argv. Holds pointers into itself (kernel.sel, the duration
 * histogram's bounds): not to be copied.
 */
struct config {
	enum command cmd;
	struct web_opts web;
	const char *web_config_path; /* --web.config.file */
	struct procs_opts procs;
	struct kube_opts kube;
	struct selectors sel;
	struct kernel_opts kernel;
	struct store_opts store;
	double duration_buckets[CLI_MAX_BUCKETS]; /* --duration-buckets */
	double size_buckets[CLI_MAX_BUCKETS];	  /* --body-size-buckets */
	uint64_t report_ns;			  /* report --duration */
	enum view_sort sort;			  /* top and report --sort */
	const char *filter;			  /* top and report --service */
	bool json;				  /* report --format=json */
};

enum cli_result {
	CLI_RUN = 0,   /* go on with c */
	CLI_DONE = 1,  /* --help or --version was answered: exit 0 */
	CLI_USAGE = 2, /* a mistake, said on stderr: exit 2 */
};

/* Parse argv into c; --route patterns go to route.c, log levels to log.c. */
enum cli_result cli__parse(int argc, char **argv, struct config *c);
/* Some process is selected (--pid, --comm, --port or --cgroup): not auto mode. */
bool cli__selects(const struct config *c);
/* Free the lists of selectors the command line gave. */
void cli__free(struct config *c);

#endif /* REDSCOPE_CLI_H */
