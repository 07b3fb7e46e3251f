/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * procs.c: the watched processes the daemon knows of, one table: each one's parent
 * and identity (service name, and in Kubernetes its pod and container), resolved
 * from /proc once per process and inherited by forked children.
 *
 * One writer: the main thread, which resolves what is missing (reading /proc) as the
 * kernel's records come in. Other threads read what is known, with no I/O, between
 * procs__lock and procs__unlock; the main thread reads without the lock. Lock order:
 * procs before the store.
 */
#ifndef REDSCOPE_PROCS_H
#define REDSCOPE_PROCS_H

#include <sys/types.h>

#include "store.h"

struct procs_opts {
	const char *service_name; /* --service-name: overrides everything */
};
void procs__init(const struct procs_opts *opts);
void procs__cleanup(void);

/* Main thread only. The identity of a watched process (resolved now if need be); never NULL. */
const struct identity *procs__identity(pid_t tgid);
/* Its parent (read from /proc now if need be); 0 when unknown. */
pid_t procs__parent(pid_t tgid);
/* A child runs its parent's program until it executes another one. */
void procs__fork(pid_t parent, pid_t child);
/* It executed another program: its identity is resolved again. */
void procs__exec(pid_t tgid);
void procs__exit(pid_t tgid);

/* Any thread, the lock held: what is known, NULL or 0 when not resolved yet. */
void procs__lock(void);
void procs__unlock(void);
const struct identity *procs__known_identity(pid_t tgid);
pid_t procs__known_parent(pid_t tgid);

#endif /* REDSCOPE_PROCS_H */
