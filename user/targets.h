/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * targets.c: which processes are watched: the targets map seeded at start, what
 * dead processes left in the maps swept, the live targets turned into gauges.
 */
#ifndef REDSCOPE_TARGETS_H
#define REDSCOPE_TARGETS_H

#include <stdint.h>
#include <sys/types.h>

#include "selectors.h"
#include "selfmetrics.h"
#include "h2.h"
#include "store.h"

int targets__init(const struct selectors *sel);
/* A process exited: what it left in the maps goes at the next sweep. */
void targets__on_exit(pid_t tgid);
/* Resolve the identity and parent of the live targets procs does not know yet. */
void targets__resolve(void);
/* Set the gauges of the services from the live targets: any thread, no /proc I/O. */
void targets__refresh(struct store *st, struct h2_conns *h2);
/* Free what dead processes left in the maps; returns their requests left unanswered. */
uint64_t targets__sweep(void);
/* Counts for self metrics. */
void targets__stats(struct self_stats *st);
void targets__cleanup(void);

#endif /* REDSCOPE_TARGETS_H */
