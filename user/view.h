/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* view.c: the figures of top and report, over a window of ticks. */
#ifndef REDSCOPE_VIEW_H
#define REDSCOPE_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "http1.h"
#include "store.h"

#define VIEW_TICKS 11 /* snapshots kept: top's window is the last 10 ticks */
struct view_figures {
	uint64_t requests, errors, sum_ns; /* errors: status 5xx */
	double rate;			   /* requests per second */
	double error_ratio;
	double mean, p50, p90, p99; /* seconds; NAN without requests */
};
struct view_route {
	const char *route; /* call: the server called (server_address) */
	enum http_method method;
	bool call; /* the service's calls to a server (all methods), not requests it served */
	struct view_figures f;
};
struct view_service {
	const struct identity *id;
	struct view_figures all;
	int64_t active, workers;
	double busy_ratio; /* busy time per worker over the window */
	double queue_mean; /* seconds waited in the listen queue; NAN without connections */
	struct view_route *routes;
	size_t n_routes;
};
struct view {
	double seconds; /* the window */
	struct view_service *services;
	size_t n_services;
};
struct view_state;
struct view_state *view__new(const struct store *s);
void view__free(struct view_state *v);
/* Snapshot the store's cumulative figures (after targets__refresh). */
void view__tick(struct view_state *v, const struct store *s, uint64_t now_ns);
/*
 * Figures over the last window ticks, or since counting started at since_ns when
 * window is 0 or not that many ticks were taken. view__clear frees them.
 */
int view__compute(struct view_state *v, const struct store *s, size_t window, uint64_t since_ns,
		  struct view *out);
void view__clear(struct view *out);
/* The q-quantile in seconds of per-bucket counts b[0..n] with upper bounds in ns. */
double view_quantile(const uint64_t *b, const uint64_t *bound, size_t n, double q);
/* Render a view: a table that fits width columns, or the documented JSON. */
enum view_sort { VIEW_SORT_RATE = 0, VIEW_SORT_ERRORS, VIEW_SORT_P50, VIEW_SORT_P99, VIEW_SORT_NAME };
/* Sort services and their routes. */
void view__sort(struct view *v, enum view_sort key);
/* Keep only the services whose name contains filter (all when NULL or empty). */
void view__filter(struct view *v, const char *filter);
void view__table(struct buf *b, const struct view *v, int width);
void view__json(struct buf *b, const struct view *v);

#endif /* REDSCOPE_VIEW_H */
