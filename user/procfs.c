// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Bounded reads of /proc: every file redscope reads about a process goes through
 * one read loop that stops at a size the caller names, so a huge or endless file
 * (a command line of megabytes, a file that keeps growing) costs no more than that.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"

/* Up to max bytes of fd into buf; the count read. */
static size_t read_upto(int fd, char *buf, size_t max)
{
	size_t got = 0;
	ssize_t n;

	while (got < max) {
		n = read(fd, buf + got, max - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	return got;
}

char *procfs__read(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *data;
	size_t got;

	if (fd < 0)
		return NULL;
	data = malloc(max + 1);
	if (!data) {
		close(fd);
		return NULL;
	}
	got = read_upto(fd, data, max);
	close(fd);
	data[got] = '\0';
	if (len)
		*len = got;
	return data;
}

char *procfs__read_pid(pid_t pid, const char *name, size_t max, size_t *len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	return procfs__read(path, max, len);
}

bool procfs__text(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	buf[read_upto(fd, buf, size - 1)] = '\0';
	close(fd);
	return true;
}

bool procfs__exe(pid_t pid, char out[PATH_MAX])
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

pid_t procfs__ppid(pid_t pid)
{
	char line[512], *p;
	int ppid = 0;

	/* the name in parentheses may hold anything, parentheses too: the last one ends it */
	if (procfs__text(pid, "stat", line, sizeof(line)) && (p = strrchr(line, ')')))
		sscanf(p + 1, " %*c %d", &ppid);
	return ppid > 0 ? ppid : 0;
}
