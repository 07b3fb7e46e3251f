// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The RED and saturation families of the store, in the Prometheus text or protobuf
 * format (prom.c): the request duration and body size histograms per series,
 * requests in flight, queue time, busy time and workers per service. Then the
 * --compat=statsd families (compat_statsd.c) and redscope's own (selfmetrics.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "compat_statsd.h"
#include "expose.h"
#include "grpc.h"
#include "http1.h"
#include "prom.h"
#include "selfmetrics.h"
#include "series.h"
#include "store.h"

/*
 * A call the service sent, as OpenTelemetry's HTTP client conventions label it: the
 * server called, its port, and error_type for a 4xx or 5xx answer (its code) or for no
 * answer (why); no status code without an answer.
 */
static void client_labels(struct prom_out *o, const struct identity *id,
			  const struct request_series *r)
{
	char status[12], port[8];

	snprintf(status, sizeof(status), "%u", r->status);
	snprintf(port, sizeof(port), "%u", r->server_port);
	series__identity_labels(o, id);
	prom__label(o, "http_request_method", http_method_name(r->method));
	if (r->status)
		prom__label(o, "http_response_status_code", status);
	prom__label(o, "server_address", r->route_entry->route);
	prom__label(o, "server_port", port);
	prom__label(o, "url_scheme", r->tls ? "https" : "http");
	prom__label(o, "network_protocol_version", http_version_name(r->version));
	if (r->client_error)
		prom__label(o, "error_type", client_error_name(r->client_error));
	else if (r->status >= 400)
		prom__label(o, "error_type", status);
}

static void request_labels(struct prom_out *o, const struct identity *id,
			   const struct request_series *r)
{
	char status[12];

	if (r->kind == SERIES_HTTP_CLIENT) {
		client_labels(o, id, r);
		return;
	}
	if (r->kind == SERIES_RPC_SERVER) {
		/* OpenTelemetry's RPC conventions: rpc.system.name, rpc.method, ... */
		series__identity_labels(o, id);
		prom__label(o, "rpc_system_name", "grpc");
		prom__label(o, "rpc_method", r->route_entry->route);
		prom__label(o, "rpc_response_status_code", grpc_code_name(r->status));
		if (grpc_server_error(r->status))
			prom__label(o, "error_type", grpc_code_name(r->status));
		prom__label(o, "url_scheme", r->tls ? "https" : "http");
		return;
	}
	snprintf(status, sizeof(status), "%u", r->status);
	series__identity_labels(o, id);
	prom__label(o, "http_request_method", http_method_name(r->method));
	prom__label(o, "http_route", r->route_entry->route);
	prom__label(o, "http_response_status_code", status);
	prom__label(o, "url_scheme", r->tls ? "https" : "http");
	prom__label(o, "network_protocol_version", http_version_name(r->version));
}

enum which_histogram { H_DURATION, H_REQ_BODY, H_RESP_BODY };

static const struct histogram *pick(const struct request_series *r, enum which_histogram w)
{
	return w == H_DURATION ? &r->duration : w == H_REQ_BODY ? &r->req_body : &r->resp_body;
}

struct series_ctx {
	const struct service_series *svc;
	const struct request_series *r;
};

static void series_labels(struct prom_out *o, const void *ctx)
{
	const struct series_ctx *c = ctx;

	request_labels(o, &c->svc->id, c->r);
}

/*
 * The histogram families, in page order: three of every HTTP request series, one of
 * every gRPC call's (a call is in its family only, not also an HTTP request), three of
 * every series of calls sent.
 */
static const struct {
	const char *name, *help;
	enum which_histogram which;
	enum series_kind kind;
} families[] = {
	{ "http_server_request_duration_seconds", "Duration of HTTP server requests.", H_DURATION,
	  SERIES_HTTP_SERVER },
	{ "http_server_request_body_size_bytes", "Size of HTTP server request bodies.", H_REQ_BODY,
	  SERIES_HTTP_SERVER },
	{ "http_server_response_body_size_bytes", "Size of HTTP server response bodies.",
	  H_RESP_BODY, SERIES_HTTP_SERVER },
	{ "rpc_server_call_duration_seconds", "Duration of RPCs received by the server.", H_DURATION,
	  SERIES_RPC_SERVER },
	{ "http_client_request_duration_seconds", "Duration of HTTP client requests.", H_DURATION,
	  SERIES_HTTP_CLIENT },
	{ "http_client_request_body_size_bytes", "Size of HTTP client request bodies.", H_REQ_BODY,
	  SERIES_HTTP_CLIENT },
	{ "http_client_response_body_size_bytes", "Size of HTTP client response bodies.",
	  H_RESP_BODY, SERIES_HTTP_CLIENT },
};

static const struct histogram_spec *spec_of(const struct store *s, enum which_histogram w)
{
	return w == H_DURATION ? &s->opts.duration : &s->opts.body_size;
}

/*
 * The series of histogram family c->family from where c stands, until out holds
 * budget bytes; true once the family is complete. A series appended meanwhile to a
 * service c has passed is in the next page.
 */
static bool histogram_series(struct expose_cursor *c, const struct store *s, size_t budget)
{
	enum which_histogram which = families[c->family].which;

	if (!c->started) {
		prom__family(&c->out, families[c->family].name, PROM_HISTOGRAM,
			     families[c->family].help);
		c->svc = store__services(s);
		c->r = c->svc ? store__requests(c->svc) : NULL;
		c->started = true;
	}
	while (c->svc) {
		for (; c->r; c->r = store__next_request(c->r)) {
			struct series_ctx sc = { c->svc, c->r };

			if (c->r->kind != families[c->family].kind)
				continue;
			if (prom__len(&c->out) >= budget)
				return false;
			prom__histogram(&c->out, families[c->family].name, pick(c->r, which),
					spec_of(s, which), series_labels, &sc);
		}
		c->svc = store__next_service(c->svc);
		c->r = c->svc ? store__requests(c->svc) : NULL;
	}
	return true;
}

static int64_t active_of(const struct service_series *svc)
{
	return svc->active;
}

/* Saturation of the services: queue time, busy time, workers. */
static void render_saturation(const struct store *s, struct prom_out *o)
{
	prom__family(o, "http_server_request_queue_duration_seconds", PROM_HISTOGRAM,
		     "Time connections waited in the listen queue before a worker accepted them.");
	store_for_each_service(svc, s)
		prom__histogram(o, "http_server_request_queue_duration_seconds", &svc->queue,
				&s->opts.queue, series__service_labels, svc);
	prom__family(o, "http_server_worker_busy_seconds_total", PROM_COUNTER,
		     "Time worker processes spent with at least one request in flight.");
	store_for_each_service(svc, s) {
		prom__sample(o, "http_server_worker_busy_seconds_total");
		series__service_labels(o, svc);
		prom__value_raw(o, svc->busy_ns, 1e-9);
	}
	series__service_gauge(s, o, "http_server_workers", "Live worker processes.",
			      series__workers, 0);
}

int expose__begin(struct expose_cursor *c, enum prom_format format, const struct store *s)
{
	*c = (struct expose_cursor){};
	return prom__out_init(&c->out, format, s->opts.native_max_buckets > 0);
}

void expose__end(struct expose_cursor *c)
{
	prom__out_free(&c->out);
}

/* The piece so far, up to budget, or the rest of the page; false once it was all out. */
static bool next_piece(struct expose_cursor *c, const struct store *s,
		       const struct self_stats *self, size_t budget)
{
	size_t start = prom__len(&c->out);

	budget = start + (budget ? budget : 1);
	while (c->family < ARRAY_SIZE(families)) {
		if (families[c->family].which != H_DURATION && s->opts.body_size_off) {
			c->family++; /* --body-size-buckets=none */
			continue;
		}
		if (!histogram_series(c, s, budget))
			return true;
		c->family++;
		c->started = false;
	}
	if (c->done)
		return false;
	/* the rest grows with the services, not the series (but for --compat=statsd) */
	series__service_gauge(s, &c->out, "http_server_active_requests",
			      "Number of HTTP server requests in flight.", active_of, 0);
	render_saturation(s, &c->out);
	if (s->opts.compat_statsd)
		compat_statsd__render(s, &c->out);
	selfmetrics__render(s, &c->out, self);
	c->done = true;
	return prom__len(&c->out) > start;
}

bool expose__next(struct expose_cursor *c, const struct store *s, const struct self_stats *self,
		  struct buf *out, size_t budget)
{
	bool more;

	c->out.b = out;
	more = next_piece(c, s, self, budget);
	prom__flush(&c->out);
	return more;
}

int expose__render(const struct store *s, const struct self_stats *self, enum prom_format format,
		   struct buf *out)
{
	struct expose_cursor c;

	if (expose__begin(&c, format, s))
		return -ENOMEM;
	while (expose__next(&c, s, self, out, SIZE_MAX / 2))
		;
	expose__end(&c);
	return 0;
}
