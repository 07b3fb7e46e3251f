/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* selectors.c: which processes and ports the command line selects (--pid, --comm, --port, --cgroup). */
#ifndef REDSCOPE_SELECTORS_H
#define REDSCOPE_SELECTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common.h"

struct selectors {
	pid_t *pids; /* --pid: these and their descendants; none: auto mode */
	size_t n_pids;
	const char **comms; /* --comm: process names (as in /proc/PID/comm) */
	size_t n_comms;
	uint16_t *ports; /* --port: connections to these local ports */
	size_t n_ports;
	const char **cgroups; /* --cgroup: cgroup v2 paths, as given */
	size_t n_cgroups;
	/* resolved by selectors__resolve */
	char *cgroup_rel[RS_MAX_SEL_CGROUPS]; /* relative to the cgroup2 root: "/a/b" */
	int cgroup_fd[RS_MAX_SEL_CGROUPS];
};
/* Check and resolve the selectors; the error names the bad one. */
int selectors__resolve(struct selectors *sel);
/* Free what selectors__resolve made; the lists belong to the command line (cli__free). */
void selectors__free(struct selectors *sel);
/* Does a running process pass the --comm and --cgroup selectors (reads /proc)? */
bool selectors__process(const struct selectors *sel, pid_t pid);
/* Is a local port selected (--port; every port without it)? */
bool selectors__port(const struct selectors *sel, unsigned int port);

#endif /* REDSCOPE_SELECTORS_H */
