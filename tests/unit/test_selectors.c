// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The selectors: --cgroup paths resolved against the real cgroup v2 mount, and matching. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>

#include "procfs.h"
#include "selectors.h"
#include "unit.h"

/* Resolve with the error line muted; the selectors are freed by the caller. */
static int resolve(struct selectors *sel)
{
	int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);
	int r;

	dup2(null, STDERR_FILENO);
	r = selectors__resolve(sel);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(null);
	return r;
}

/* This process's cgroup v2 path ("/a/b"), from /proc/self/cgroup; false without v2. */
static bool own_cgroup(char out[PATH_MAX])
{
	char buf[4096], *line, *save = NULL;

	if (!procfs__text(getpid(), "cgroup", buf, sizeof(buf)))
		return false;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, "0::", 3)) {
			snprintf(out, PATH_MAX, "%s", line + 3);
			return true;
		}
	return false;
}

static void none(void)
{
	struct selectors sel = {};

	CHECK_EQ(resolve(&sel), 0);
	for (size_t i = 0; i < RS_MAX_SEL_CGROUPS; i++)
		CHECK_EQ(sel.cgroup_fd[i], -1);
	/* no --comm, no --cgroup: every process; no --port: every port */
	CHECK(selectors__process(&sel, getpid()));
	CHECK(selectors__port(&sel, 8000));
	selectors__free(&sel);
}

static void too_many_cgroups(void)
{
	const char *cgroups[RS_MAX_SEL_CGROUPS + 1];
	struct selectors sel = { .cgroups = cgroups, .n_cgroups = RS_MAX_SEL_CGROUPS + 1 };

	for (size_t i = 0; i < ARRAY_SIZE(cgroups); i++)
		cgroups[i] = "/";
	CHECK_EQ(resolve(&sel), -EINVAL);
	selectors__free(&sel);
}

static void cgroups(void)
{
	char own[PATH_MAX], with_slash[PATH_MAX + 1];
	const char *missing[] = { "/redscope-unit-no-such-cgroup" };
	const char *paths[] = { with_slash, "/" };
	struct selectors sel = { .cgroups = paths, .n_cgroups = 2 };
	struct selectors bad = { .cgroups = missing, .n_cgroups = 1 };

	if (!own_cgroup(own)) {
		fprintf(stderr, "SKIP cgroups: no cgroup v2 line in /proc/self/cgroup\n");
		return;
	}
	/* a trailing slash names the same cgroup */
	snprintf(with_slash, sizeof(with_slash), "%s/", own);
	CHECK_EQ(resolve(&sel), 0);
	CHECK_STR(sel.cgroup_rel[0], strcmp(own, "/") ? own : "/");
	CHECK_STR(sel.cgroup_rel[1], "/");
	CHECK(sel.cgroup_fd[0] >= 0 && sel.cgroup_fd[1] >= 0);
	/* this process is in its own cgroup, and below the root */
	CHECK(selectors__process(&sel, getpid()));
	selectors__free(&sel);
	CHECK_EQ(sel.cgroup_fd[0], -1);
	CHECK(!sel.cgroup_rel[0]);

	CHECK(resolve(&bad) < 0);
	selectors__free(&bad);
}

static void comms_and_ports(void)
{
	char comm[64];
	const char *mine[1] = { comm }, *other[1] = { "no-such-comm" };
	uint16_t ports[] = { 8000, 9435 };
	struct selectors sel = { .comms = mine, .n_comms = 1, .ports = ports, .n_ports = 2 };

	CHECK(procfs__text(getpid(), "comm", comm, sizeof(comm)));
	comm[strcspn(comm, "\n")] = '\0';
	CHECK(selectors__process(&sel, getpid()));
	sel.comms = other;
	CHECK(!selectors__process(&sel, getpid()));
	/* a process that is gone passes nothing */
	sel.comms = mine;
	CHECK(!selectors__process(&sel, INT_MAX));
	CHECK(selectors__port(&sel, 8000));
	CHECK(selectors__port(&sel, 9435));
	CHECK(!selectors__port(&sel, 80));
}

int main(void)
{
	RUN(none);
	RUN(too_many_cgroups);
	RUN(cgroups);
	RUN(comms_and_ports);
	return unit_report("selectors");
}
