// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What every family about a service shares, whoever renders it (expose.c,
 * compat_statsd.c, selfmetrics.c): the identity labels, and gauges with one value
 * per service.
 */
#include "prom.h"
#include "series.h"
#include "store.h"

void series__identity_labels(struct prom_out *o, const struct identity *id)
{
	prom__label(o, "service_name", id->service_name);
	if (id->k8s_namespace) {
		prom__label(o, "k8s_namespace_name", id->k8s_namespace);
		prom__label(o, "k8s_pod_name", id->k8s_pod);
		prom__label(o, "k8s_container_name", id->k8s_container);
	}
}

void series__service_labels(struct prom_out *o, const void *ctx)
{
	series__identity_labels(o, &((const struct service_series *)ctx)->id);
}

void series__service_gauge(const struct store *s, struct prom_out *o, const char *name,
			   const char *help, int64_t (*value)(const struct service_series *svc),
			   unsigned int only_flags)
{
	prom__family(o, name, PROM_GAUGE, help);
	store_for_each_service(svc, s) {
		if ((svc->id.flags & only_flags) != only_flags)
			continue;
		prom__sample(o, name);
		series__identity_labels(o, &svc->id);
		prom__value_i64(o, value(svc));
	}
}

int64_t series__workers(const struct service_series *svc)
{
	return svc->workers;
}
