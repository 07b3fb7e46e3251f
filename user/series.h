/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* series.c: what every family about a service shares: its labels, gauges per service. */
#ifndef REDSCOPE_SERIES_H
#define REDSCOPE_SERIES_H

#include <stdbool.h>
#include <stdint.h>

#include "prom.h"
#include "store.h"

/* The identity labels of a service's series (service_name, the pod's); opens the set. */
void series__identity_labels(struct prom_out *o, const struct identity *id);
/* The same for a struct service_series (a prom_labels_fn). */
void series__service_labels(struct prom_out *o, const void *svc);
/* A gauge with one value per service (of those with all of only_flags). */
void series__service_gauge(const struct store *s, struct prom_out *o, const char *name,
			   const char *help, int64_t (*value)(const struct service_series *svc),
			   unsigned int only_flags);
/* A service's live worker processes (a value for series__service_gauge). */
int64_t series__workers(const struct service_series *svc);

#endif /* REDSCOPE_SERIES_H */
