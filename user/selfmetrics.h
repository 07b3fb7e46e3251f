/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* selfmetrics.c: redscope's own families (redscope_*, process_*). */
#ifndef REDSCOPE_SELFMETRICS_H
#define REDSCOPE_SELFMETRICS_H

#include "internal.h"

/* The daemon's own CPU, memory and descriptors, from /proc/self: the main thread's job. */
void selfmetrics__sample(struct process_figures *out);
/* The families, store lock held. */
void selfmetrics__render(struct store *s, struct buf *b, const struct self_stats *self);

#endif /* REDSCOPE_SELFMETRICS_H */
