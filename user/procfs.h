/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* procfs.c: bounded reads of /proc files (and other small files). */
#ifndef REDSCOPE_PROCFS_H
#define REDSCOPE_PROCFS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * At most max bytes of the file at path, on the heap, NUL-terminated at [*len]; NULL
 * when it cannot be opened (or memory runs out).
 */
char *procfs__read(const char *path, size_t max, size_t *len);
/* The same for /proc/PID/name. */
char *procfs__read_pid(pid_t pid, const char *name, size_t max, size_t *len);
/* /proc/PID/name into buf (size bytes with the NUL); false when it is gone. */
bool procfs__text(pid_t pid, const char *name, char *buf, size_t size);
/* Where /proc/PID/exe points; false when the process is gone (or a kernel thread). */
bool procfs__exe(pid_t pid, char out[PATH_MAX]);
/* The parent of a process, from /proc/PID/stat; 0 when it is gone. */
pid_t procfs__ppid(pid_t pid);

#endif /* REDSCOPE_PROCFS_H */
