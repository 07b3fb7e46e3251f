/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One fixed store for the exposition golden test: several services (a gunicorn one
 * with the statsd compat series, a pod's, one with characters to escape), methods,
 * statuses, schemes, bodies, queue times, an overflowing route cap and gauges.
 * Everything in it is a pure function of this file.
 */
#ifndef REDSCOPE_GOLDEN_STORE_H
#define REDSCOPE_GOLDEN_STORE_H

#include <stdio.h>
#include <time.h>

#include "http1.h"
#include "store.h"

#define GOLDEN_PATH "tests/unit/golden/exposition.txt"

static const double golden_duration[] = { 0.005, 0.05, 1 };
static const double golden_size[] = { 0, 1000 };
static const double golden_queue[] = { 0.001, 0.01, 0.1 };

static struct store *golden_store(void)
{
	struct store_opts o = {
		.duration = { golden_duration, 3, 1e-9 },
		.body_size = { golden_size, 2, 1.0 },
		.queue = { golden_queue, 3, 1e-9 },
		.max_routes = 6,
		.max_addresses = 2,
		.native_max_buckets = NHIST_DEFAULT_MAX_BUCKETS, /* not in the text */
		.compat_statsd = true,
		.summary_max_age_ns = 600000000000ULL,
		.summary_cap = 500,
	};
	struct identity ids[] = {
		{ .service_name = "shop", .flags = IDENTITY_GUNICORN },
		{ .service_name = "web", .k8s_namespace = "prod", .k8s_pod = "web-5d8f-x2x",
		  .k8s_container = "web" },
		{ .service_name = "odd \"name\"\\with\nnewline" },
	};
	static const char *const routes[] = { "/", "/users/{id}", "/orders/{id}/items",
					      "/static/app.js", "/a\"quote" };
	static const unsigned int statuses[] = { 200, 201, 304, 404, 500 };
	struct process_gauges g[] = {
		{ .active = 2, .busy_ns = 1500000000ULL, .worker = true },
		{ .active = 0, .busy_ns = 250000000ULL, .worker = true },
		{ .active = 1, .busy_ns = 3000000000ULL, .worker = false },
	};
	struct store *s = store__new(&o);
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	for (unsigned int i = 0; i < 40; i++) {
		struct request_obs obs = {
			.id = &ids[i % 3],
			.method = (enum http_method)(i % 4 == 3 ? HTTP_POST : i % 7 == 6 ? HTTP_OTHER
											 : HTTP_GET),
			.route = routes[(i / 3) % 5],
			.status = statuses[(i / 5) % 5],
			.end_ns = now,
			.duration_ns = 1000000ULL * (i % 97) + 12345 * i,
			.req_body_bytes = i % 4 == 3 ? 50ULL * i : 0,
			.resp_body_bytes = 17ULL * i,
			.queued = i % 11 == 0,
			.queue_ns = 300000ULL * (i % 13),
			.tls = i % 9 == 0,
		};
		store__observe_request(s, &obs);
	}
	/* calls sent: answered, a 503, one with no answer; more servers than the cap */
	static const char *const servers[] = { "polls.default.svc.cluster.local", "dynamodb.eu-west-1.amazonaws.com",
					       "10.0.0.7" };
	for (unsigned int i = 0; i < 9; i++) {
		struct request_obs obs = { .id = &ids[i % 2 ? 1 : 0], .method = i % 4 ? HTTP_GET : HTTP_POST,
					   .route = servers[i % 3], .status = i == 4 ? 503 : i == 7 ? 0 : 200,
					   .end_ns = now, .duration_ns = 2000000ULL * i,
					   .req_body_bytes = 10ULL * i, .resp_body_bytes = 100ULL * i,
					   .tls = i % 3 == 1, .kind = SERIES_HTTP_CLIENT,
					   .server_port = i % 3 == 1 ? 443 : 8000,
					   .client_error = i == 7 ? CLIENT_TIMEOUT : CLIENT_ANSWERED };
		store__observe_request(s, &obs);
	}
	/* more distinct routes than the cap on one service: the rest fold into {overflow} */
	for (unsigned int i = 0; i < 8; i++) {
		char route[32];
		struct request_obs obs = { .id = &ids[2], .method = HTTP_GET, .route = route,
					   .status = 200, .end_ns = now, .duration_ns = 1000 * i };

		snprintf(route, sizeof(route), "/r%u", i);
		store__observe_request(s, &obs);
	}
	for (size_t i = 0; i < 3; i++)
		g[i].id = &ids[i];
	store__set_gauges(s, g, 3);
	store__retire_busy(s, &ids[0], 500000000ULL);
	return s;
}

#endif /* REDSCOPE_GOLDEN_STORE_H */
