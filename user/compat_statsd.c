// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --compat=statsd: the series gunicorn's --statsd-host and the Django statsd
 * middleware produced through statsd_exporter, kept under their old names so that
 * dashboards and alerts written for them work unchanged.
 */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "buf.h"
#include "common.h"
#include "compat_statsd.h"
#include "http1.h"
#include "prom.h"
#include "series.h"
#include "store.h"

/* statsd_exporter's default summary quantiles */
static const double summary_ranks[] = { 0.5, 0.9, 0.99 };

struct route_ctx {
	const struct service_series *svc;
	const char *route;
	const struct request_series *r; /* NULL: endpoint labels only */
};

/* django_request_*: the labels the DogStatsd middleware tagged with. */
static void django_labels(struct prom_out *o, const void *ctx)
{
	const struct route_ctx *c = ctx;

	prom__label(o, "service", c->svc->id.service_name);
	prom__label(o, "endpoint", c->route);
	if (c->r) {
		char status[12];

		snprintf(status, sizeof(status), "%u", c->r->status);
		prom__label(o, "method", http_method_name(c->r->method));
		prom__label(o, "status", status);
	}
}

static bool is_compat(const struct service_series *svc)
{
	return svc->id.flags & IDENTITY_GUNICORN;
}

/* HTTP requests of a service with this status; all of them for status 0. */
static uint64_t requests_with_status(const struct service_series *svc, unsigned int status)
{
	uint64_t n = 0;

	store_for_each_request(r, svc)
		if (r->kind == SERIES_HTTP_SERVER && (!status || r->status == status))
			n += r->duration.count;
	return n;
}

void compat_statsd__render(const struct store *s, struct prom_out *o)
{
	bool done[1000] = {}; /* status codes whose family is out */
	uint64_t now = mono_ns();

	prom__family(o, "gunicorn_requests", PROM_COUNTER,
		     "Requests served (gunicorn statsd compatible).");
	store_for_each_service(svc, s) {
		if (!is_compat(svc))
			continue;
		prom__sample(o, "gunicorn_requests");
		series__service_labels(o, svc);
		prom__value_u64(o, requests_with_status(svc, 0));
	}
	/* gunicorn_request_status_<code>: one family per status code seen */
	store_for_each_service(svc, s) {
		if (!is_compat(svc))
			continue;
		store_for_each_request(r, svc) {
			char name[64], help[96];

			if (r->kind != SERIES_HTTP_SERVER || r->status >= ARRAY_SIZE(done) || done[r->status])
				continue;
			done[r->status] = true;
			snprintf(name, sizeof(name), "gunicorn_request_status_%u", r->status);
			snprintf(help, sizeof(help),
				 "Responses with status %u (gunicorn statsd compatible).", r->status);
			prom__family(o, name, PROM_COUNTER, help);
			store_for_each_service(other, s) {
				uint64_t n = is_compat(other) ? requests_with_status(other, r->status) : 0;

				if (!n)
					continue;
				prom__sample(o, name);
				series__service_labels(o, other);
				prom__value_u64(o, n);
			}
		}
	}
	prom__family(o, "gunicorn_request_duration", PROM_SUMMARY,
		     "Request duration in seconds (gunicorn statsd compatible).");
	store_for_each_service(svc, s)
		if (is_compat(svc))
			prom__summary(o, "gunicorn_request_duration", &svc->duration, summary_ranks,
				      ARRAY_SIZE(summary_ranks), series__service_labels, svc, now);
	series__service_gauge(s, o, "gunicorn_workers", "Worker processes (gunicorn statsd compatible).",
			      series__workers, IDENTITY_GUNICORN);

	prom__family(o, "django_request_count", PROM_COUNTER,
		     "Requests by endpoint, method and status (Django statsd middleware compatible).");
	store_for_each_service(svc, s) {
		if (!is_compat(svc))
			continue;
		store_for_each_request(r, svc) {
			struct route_ctx c = { svc, r->route_entry->route, r };
			const struct request_series *first = NULL;
			uint64_t n = 0;

			if (r->kind != SERIES_HTTP_SERVER)
				continue; /* the old series counted HTTP requests */
			/*
			 * The old series knew no scheme nor protocol version: the series of one
			 * method, route and status are one, written where the first of them is.
			 */
			for (int tls = 0; tls < 2; tls++) {
				for (int v = 0; v < HTTP_VERSION__COUNT; v++) {
					struct request_key k = { .method = r->method,
								 .re = r->route_entry,
								 .status = r->status,
								 .tls = tls,
								 .version = v,
								 .kind = SERIES_HTTP_SERVER };
					const struct request_series *twin = store__find_request(svc, &k);
					if (!twin)
						continue;
					if (!first)
						first = twin;
					n += twin->duration.count;
				}
			}
			if (first != r)
				continue;
			prom__sample(o, "django_request_count");
			django_labels(o, &c);
			prom__value_u64(o, n);
		}
	}
	prom__family(o, "django_request_latency_seconds", PROM_SUMMARY,
		     "Request latency by endpoint (Django statsd middleware compatible).");
	store_for_each_service(svc, s) {
		if (!is_compat(svc))
			continue;
		store_for_each_route(re, svc) {
			struct route_ctx c = { svc, re->route, NULL };

			if (re->latency && re->latency->count)
				prom__summary(o, "django_request_latency_seconds", re->latency,
					      summary_ranks, ARRAY_SIZE(summary_ranks), django_labels,
					      &c, now);
		}
	}
}
