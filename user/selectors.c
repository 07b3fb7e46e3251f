// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The selectors (--pid, --comm, --port, --cgroup): checked and resolved once at
 * start (cgroup paths relative to the cgroup v2 root, and a descriptor of each for
 * the kernel side), then asked whether a running process or a port is selected.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "log.h"
#include "procfs.h"
#include "selectors.h"

/* The mount point of the cgroup v2 hierarchy, from /proc/self/mountinfo. */
static bool cgroup2_root(char *out, size_t len)
{
	char line[4096], mnt[PATH_MAX], fstype[64];
	FILE *f = fopen("/proc/self/mountinfo", "r");
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");

		if (sep && sscanf(line, "%*d %*d %*s %*s %4095s", mnt) == 1 &&
		    sscanf(sep + 3, "%63s", fstype) == 1 && !strcmp(fstype, "cgroup2")) {
			snprintf(out, len, "%s", mnt);
			found = true;
		}
	}
	fclose(f);
	return found;
}

int selectors__resolve(struct selectors *sel)
{
	char root[PATH_MAX], full[PATH_MAX * 2];

	for (size_t i = 0; i < RS_MAX_SEL_CGROUPS; i++)
		sel->cgroup_fd[i] = -1;
	if (!sel->n_cgroups)
		return 0;
	if (sel->n_cgroups > RS_MAX_SEL_CGROUPS) {
		p_err("too many --cgroup: at most %d", RS_MAX_SEL_CGROUPS);
		return -EINVAL;
	}
	if (!cgroup2_root(root, sizeof(root))) {
		p_err("--cgroup needs cgroup v2, which is not mounted here: mount it "
		      "(mount -t cgroup2 none /sys/fs/cgroup) or select processes otherwise");
		return -ENOENT;
	}
	for (size_t i = 0; i < sel->n_cgroups; i++) {
		const char *c = sel->cgroups[i];
		size_t rl = strlen(root);
		const char *rel = !strncmp(c, root, rl) && (c[rl] == '/' || !c[rl]) ? c + rl : c;

		snprintf(full, sizeof(full), "%s/%s", root, rel[0] == '/' ? rel + 1 : rel);
		if (asprintf(&sel->cgroup_rel[i], "/%s", rel[0] == '/' ? rel + 1 : rel) < 0)
			return -ENOMEM;
		/* "/a/b/" and "/a/b" are the same cgroup */
		for (size_t n = strlen(sel->cgroup_rel[i]); n > 1 && sel->cgroup_rel[i][n - 1] == '/'; n--)
			sel->cgroup_rel[i][n - 1] = '\0';
		sel->cgroup_fd[i] = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sel->cgroup_fd[i] < 0) {
			p_err("invalid --cgroup '%s': %s is not a cgroup (%s); give a path below %s",
			      c, full, strerror(errno), root);
			return -errno;
		}
	}
	return 0;
}

void selectors__free(struct selectors *sel)
{
	for (size_t i = 0; i < RS_MAX_SEL_CGROUPS; i++) {
		free(sel->cgroup_rel[i]);
		sel->cgroup_rel[i] = NULL;
		if (sel->cgroup_fd[i] >= 0)
			close(sel->cgroup_fd[i]);
		sel->cgroup_fd[i] = -1;
	}
}

bool selectors__port(const struct selectors *sel, unsigned int port)
{
	if (!sel->n_ports)
		return true;
	for (size_t i = 0; i < sel->n_ports; i++)
		if (sel->ports[i] == port)
			return true;
	return false;
}

/* Is path (relative to the cgroup2 root) the cgroup dir or below it? */
static bool cgroup_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (!strcmp(dir, "/"))
		return true;
	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

bool selectors__process(const struct selectors *sel, pid_t pid)
{
	char buf[4096], *line, *save = NULL;
	bool ok;

	if (sel->n_comms) {
		if (!procfs__text(pid, "comm", buf, sizeof(buf)))
			return false;
		buf[strcspn(buf, "\n")] = '\0';
		ok = false;
		for (size_t i = 0; i < sel->n_comms && !ok; i++)
			ok = !strcmp(buf, sel->comms[i]);
		if (!ok)
			return false;
	}
	if (!sel->n_cgroups)
		return true;
	if (!procfs__text(pid, "cgroup", buf, sizeof(buf)))
		return false;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "0::", 3))
			continue; /* the cgroup v2 line */
		for (size_t i = 0; i < sel->n_cgroups; i++)
			if (cgroup_under(line + 3, sel->cgroup_rel[i]))
				return true;
	}
	return false;
}
