// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What every family about a service shares, whoever renders it (expose.c,
 * compat_statsd.c, selfmetrics.c): the identity labels, and gauges with one value
 * per service.
 */
#include <inttypes.h>

#include "buf.h"
#include "prom.h"
#include "series.h"
#include "store.h"

void series__identity_labels(struct buf *b, bool *first, const struct identity *id)
{
	prom__label(b, first, "service_name", id->service_name);
	if (id->k8s_namespace) {
		prom__label(b, first, "k8s_namespace_name", id->k8s_namespace);
		prom__label(b, first, "k8s_pod_name", id->k8s_pod);
		prom__label(b, first, "k8s_container_name", id->k8s_container);
	}
}

void series__service_labels(struct buf *b, const void *ctx)
{
	bool first = true;

	series__identity_labels(b, &first, &((const struct service_series *)ctx)->id);
}

void series__service_gauge(const struct store *s, struct buf *b, const char *name, const char *help,
			   int64_t (*value)(const struct service_series *svc), unsigned int only_flags)
{
	prom__family(b, name, "gauge", help);
	store_for_each_service(svc, s) {
		bool first = true;

		if ((svc->id.flags & only_flags) != only_flags)
			continue;
		buf__puts(b, name);
		series__identity_labels(b, &first, &svc->id);
		buf__printf(b, "} %" PRId64 "\n", value(svc));
	}
}

int64_t series__workers(const struct service_series *svc)
{
	return svc->workers;
}
