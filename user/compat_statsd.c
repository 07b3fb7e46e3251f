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
static void django_labels(struct buf *b, const void *ctx)
{
	const struct route_ctx *c = ctx;
	bool first = true;

	prom__label(b, &first, "service", c->svc->id.service_name);
	prom__label(b, &first, "endpoint", c->route);
	if (c->r) {
		char status[12];

		snprintf(status, sizeof(status), "%u", c->r->status);
		prom__label(b, &first, "method", http_method_name(c->r->method));
		prom__label(b, &first, "status", status);
	}
}

static bool is_compat(const struct service_series *svc)
{
	return svc->id.flags & IDENTITY_GUNICORN;
}

/* Requests of a service with this status; all of them for status 0. */
static uint64_t requests_with_status(const struct service_series *svc, unsigned int status)
{
	uint64_t n = 0;

	store_for_each_request(r, svc)
		if (!status || r->status == status)
			n += r->duration.count;
	return n;
}

void compat_statsd__render(const struct store *s, struct buf *b)
{
	bool done[1000] = {}; /* status codes whose family is out */
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;

	prom__family(b, "gunicorn_requests", "counter", "Requests served (gunicorn statsd compatible).");
	store_for_each_service(svc, s) {
		if (!is_compat(svc))
			continue;
		buf__puts(b, "gunicorn_requests");
		series__service_labels(b, svc);
		buf__printf(b, "} %" PRIu64 "\n", requests_with_status(svc, 0));
	}
	/* gunicorn_request_status_<code>: one family per status code seen */
	store_for_each_service(svc, s) {
		if (!is_compat(svc))
			continue;
		store_for_each_request(r, svc) {
			char name[64];

			if (r->status >= ARRAY_SIZE(done) || done[r->status])
				continue;
			done[r->status] = true;
			snprintf(name, sizeof(name), "gunicorn_request_status_%u", r->status);
			buf__printf(b, "# HELP %s Responses with status %u (gunicorn statsd compatible).\n"
				       "# TYPE %s counter\n",
				    name, r->status, name);
			store_for_each_service(o, s) {
				uint64_t n = is_compat(o) ? requests_with_status(o, r->status) : 0;

				if (!n)
					continue;
				buf__puts(b, name);
				series__service_labels(b, o);
				buf__printf(b, "} %" PRIu64 "\n", n);
			}
		}
	}
	prom__family(b, "gunicorn_request_duration", "summary",
		     "Request duration in seconds (gunicorn statsd compatible).");
	store_for_each_service(svc, s)
		if (is_compat(svc))
			prom__summary(b, "gunicorn_request_duration", &svc->duration, summary_ranks,
				      ARRAY_SIZE(summary_ranks), series__service_labels, svc, now);
	series__service_gauge(s, b, "gunicorn_workers", "Worker processes (gunicorn statsd compatible).",
			      series__workers, IDENTITY_GUNICORN);

	prom__family(b, "django_request_count", "counter",
		     "Requests by endpoint, method and status (Django statsd middleware compatible).");
	store_for_each_service(svc, s) {
		if (!is_compat(svc))
			continue;
		store_for_each_request(r, svc) {
			struct route_ctx c = { svc, r->route, r };
			const struct request_series *twin = store__find_request(
				svc, r->method, r->route_entry, r->status, !r->tls);
			uint64_t n = r->duration.count;

			/* the old series knew no scheme: http and https are one */
			if (twin && r->tls)
				continue;
			if (twin)
				n += twin->duration.count;
			buf__puts(b, "django_request_count");
			django_labels(b, &c);
			buf__printf(b, "} %" PRIu64 "\n", n);
		}
	}
	prom__family(b, "django_request_latency_seconds", "summary",
		     "Request latency by endpoint (Django statsd middleware compatible).");
	store_for_each_service(svc, s) {
		if (!is_compat(svc))
			continue;
		store_for_each_route(re, svc) {
			struct route_ctx c = { svc, re->route, NULL };

			if (re->latency.count)
				prom__summary(b, "django_request_latency_seconds", &re->latency,
					      summary_ranks, ARRAY_SIZE(summary_ranks), django_labels,
					      &c, now);
		}
	}
}
