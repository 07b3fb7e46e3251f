/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * expose.c: the page a scrape gets. The RED and saturation families of the store,
 * then compat_statsd.c's and selfmetrics.c's; the labels every family of a service
 * carries.
 */
#ifndef REDSCOPE_EXPOSE_H
#define REDSCOPE_EXPOSE_H

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

/* The whole page, store lock held. */
void expose__render(struct store *s, const struct self_stats *self, struct buf *out);

/* The identity labels of a service's series (service_name, the pod's); opens the set. */
void expose__identity_labels(struct buf *b, bool *first, const struct identity *id);
/* The same for a struct service_series (a prom_labels_fn). */
void expose__service_labels(struct buf *b, const void *svc);
/* A gauge with one value per service (of those with all of only_flags). */
void expose__service_gauge(struct store *s, struct buf *b, const char *name, const char *help,
			   int64_t (*value)(const struct service_series *svc),
			   unsigned int only_flags);
int64_t expose__workers_of(const struct service_series *svc);

#endif /* REDSCOPE_EXPOSE_H */
