// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The figures of `redscope top` and `redscope report`, from the metric store: per
 * service and route, requests per second, errors, latency percentiles; per service,
 * requests in flight, listen queue wait and worker busy share. Over a window: the
 * last seconds (top, from snapshots taken every tick) or the whole run (report).
 * Percentiles come from the duration histogram, interpolated within a bucket as
 * PromQL's histogram_quantile does. Callers hold the store lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "common.h"
#include "http1.h"
#include "prom.h"
#include "store.h"
#include "view.h"

/* Cumulative figures of one series (or service) at each of the last ticks. */
struct hist {
	struct hist *next;
	const void *key; /* a request_series or a service_series */
	uint64_t *v;	 /* VIEW_TICKS rows of width values */
};

struct view_state {
	struct hist *tab[1024];
	size_t width;			 /* values per row: count, sum, buckets... */
	uint64_t tick_ns[VIEW_TICKS];	 /* when each tick was taken */
	uint64_t ticks;			 /* taken so far */
};

/* Row layout of a request series: count, sum, then the duration buckets. */
#define R_COUNT 0
#define R_SUM 1
#define R_BUCKETS 2
/* Row layout of a service: busy time, queue count and sum. */
#define S_BUSY 0
#define S_QCOUNT 1
#define S_QSUM 2

struct view_state *view__new(const struct store *s)
{
	struct view_state *v = calloc(1, sizeof(*v));

	if (v)
		v->width = R_BUCKETS + s->duration_raw.n + 1;
	return v;
}

void view__free(struct view_state *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(v->tab); i++) {
		while (v->tab[i]) {
			struct hist *h = v->tab[i];

			v->tab[i] = h->next;
			free(h->v);
			free(h);
		}
	}
	free(v);
}

static struct hist *hist_of(struct view_state *v, const void *key, bool create)
{
	size_t i = ((uintptr_t)key >> 4) % ARRAY_SIZE(v->tab);
	struct hist *h;

	for (h = v->tab[i]; h; h = h->next)
		if (h->key == key)
			return h;
	if (!create)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->v = calloc(VIEW_TICKS * v->width, sizeof(*h->v));
	if (!h->v) {
		free(h);
		return NULL;
	}
	h->key = key;
	h->next = v->tab[i];
	v->tab[i] = h;
	return h;
}

void view__tick(struct view_state *v, const struct store *s, uint64_t now_ns)
{
	size_t row = v->ticks % VIEW_TICKS;

	store_for_each_service(svc, s) {
		struct hist *h = hist_of(v, svc, true);

		if (h) {
			uint64_t *r = h->v + row * v->width;

			r[S_BUSY] = svc->busy_ns;
			r[S_QCOUNT] = svc->queue.count;
			r[S_QSUM] = svc->queue.sum;
		}
		store_for_each_request(rs, svc) {
			uint64_t *r;

			h = hist_of(v, rs, true);
			if (!h)
				continue;
			r = h->v + row * v->width;
			r[R_COUNT] = rs->duration.count;
			r[R_SUM] = rs->duration.sum;
			memcpy(r + R_BUCKETS, rs->duration.buckets,
			       (s->duration_raw.n + 1) * sizeof(uint64_t));
		}
	}
	v->tick_ns[row] = now_ns;
	v->ticks++;
}

/*
 * The q-quantile of per-bucket counts b[0..n] (b[n]: +Inf) with upper bounds
 * bound[0..n-1] in ns, in seconds: linear within the bucket that holds it; the
 * highest finite bound when that is the +Inf bucket. NAN without observations.
 */
double view_quantile(const uint64_t *b, const uint64_t *bound, size_t n, double q)
{
	uint64_t total = 0, below = 0;
	double rank;

	for (size_t i = 0; i <= n; i++)
		total += b[i];
	if (!total)
		return NAN;
	rank = q * (double)total;
	for (size_t i = 0; i <= n; i++) {
		double lo, hi;

		if ((double)(below + b[i]) < rank || !b[i]) {
			below += b[i];
			continue;
		}
		if (i == n)
			return n ? (double)bound[n - 1] / 1e9 : NAN;
		lo = i ? (double)bound[i - 1] : 0;
		hi = (double)bound[i];
		return (lo + (hi - lo) * (rank - (double)below) / (double)b[i]) / 1e9;
	}
	return n ? (double)bound[n - 1] / 1e9 : NAN;
}

/* Deltas of one row between the window's start and now (whole rows of width). */
static void delta(const struct view_state *v, const struct hist *h, size_t window, uint64_t *out)
{
	size_t now = (v->ticks - 1) % VIEW_TICKS;
	const uint64_t *cur = h->v + now * v->width;

	if (!window || v->ticks <= window) {
		memcpy(out, cur, v->width * sizeof(*out)); /* since the start: from zero */
		return;
	}
	const uint64_t *old = h->v + ((v->ticks - 1 - window) % VIEW_TICKS) * v->width;

	for (size_t i = 0; i < v->width; i++)
		out[i] = cur[i] - old[i];
}

/* Seconds the window covers; since_ns: when counting started (for a whole run). */
static double window_seconds(const struct view_state *v, size_t window, uint64_t since_ns)
{
	uint64_t now = v->tick_ns[(v->ticks - 1) % VIEW_TICKS];
	uint64_t from = !window || v->ticks <= window
				? since_ns
				: v->tick_ns[(v->ticks - 1 - window) % VIEW_TICKS];

	return now > from ? (double)(now - from) / 1e9 : 0;
}

static void figures_finish(struct view_figures *f, const uint64_t *buckets, const struct store *s,
			   double seconds)
{
	f->rate = seconds > 0 ? (double)f->requests / seconds : 0;
	f->error_ratio = f->requests ? (double)f->errors / (double)f->requests : 0;
	f->mean = f->requests ? (double)f->sum_ns / (double)f->requests / 1e9 : NAN;
	f->p50 = view_quantile(buckets, s->duration_raw.v, s->duration_raw.n, 0.50);
	f->p90 = view_quantile(buckets, s->duration_raw.v, s->duration_raw.n, 0.90);
	f->p99 = view_quantile(buckets, s->duration_raw.v, s->duration_raw.n, 0.99);
}

/* The row of a series: its method and route, or (a call) the server it called. */
static struct view_route *route_row(struct view_service *vs, const struct request_series *rs)
{
	bool call = rs->kind == SERIES_HTTP_CLIENT;
	struct view_route *r;

	for (size_t i = 0; i < vs->n_routes; i++)
		if (vs->routes[i].call == call && (call || vs->routes[i].method == rs->method) &&
		    !strcmp(vs->routes[i].route, rs->route_entry->route))
			return &vs->routes[i];
	r = realloc(vs->routes, (vs->n_routes + 1) * sizeof(*r));
	if (!r)
		return NULL;
	vs->routes = r;
	r = &vs->routes[vs->n_routes++];
	memset(r, 0, sizeof(*r));
	r->route = rs->route_entry->route;
	r->method = call ? HTTP_OTHER : rs->method;
	r->call = call;
	return r;
}

int view__compute(struct view_state *v, const struct store *s, size_t window, uint64_t since_ns,
		  struct view *out)
{
	size_t nb = s->duration_raw.n + 1;
	uint64_t *d = calloc(v->width, sizeof(*d));
	/* a service's buckets, summed over its routes and statuses */
	uint64_t *sb = calloc(nb, sizeof(*sb));
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (!d || !sb || !v->ticks) {
		err = v->ticks ? -ENOMEM : -EAGAIN;
		goto done;
	}
	out->seconds = window_seconds(v, window, since_ns);
	out->services = calloc(s->n_services ? s->n_services : 1, sizeof(*out->services));
	if (!out->services) {
		err = -ENOMEM;
		goto done;
	}
	store_for_each_service(svc, s) {
		struct view_service *vs = &out->services[out->n_services];
		const struct hist *h = hist_of(v, svc, false);
		uint64_t **route_buckets = NULL;
		size_t n_route_buckets = 0;

		memset(vs, 0, sizeof(*vs));
		memset(sb, 0, nb * sizeof(*sb));
		vs->id = &svc->id;
		vs->active = svc->active;
		vs->workers = svc->workers;
		if (h) {
			delta(v, h, window, d);
			vs->busy_ratio = out->seconds > 0 && svc->workers > 0
						 ? (double)d[S_BUSY] / 1e9 / out->seconds /
							   (double)svc->workers
						 : 0;
			vs->queue_mean = d[S_QCOUNT] ? (double)d[S_QSUM] / (double)d[S_QCOUNT] / 1e9
						     : NAN;
		}
		store_for_each_request(rs, svc) {
			bool served = rs->kind != SERIES_HTTP_CLIENT; /* else a call it sent */
			struct view_route *r;
			size_t idx;

			h = hist_of(v, rs, false);
			if (!h)
				continue;
			delta(v, h, window, d);
			if (!d[R_COUNT])
				continue;
			r = route_row(vs, rs);
			if (!r) {
				err = -ENOMEM;
				break;
			}
			idx = r - vs->routes;
			if (idx == n_route_buckets) { /* a new row */
				uint64_t **grown = realloc(route_buckets, (idx + 1) * sizeof(*grown));

				if (!grown || !(grown[idx] = calloc(nb, sizeof(uint64_t)))) {
					route_buckets = grown ? grown : route_buckets;
					err = -ENOMEM;
					break;
				}
				route_buckets = grown;
				n_route_buckets++;
			}
			r->f.requests += d[R_COUNT];
			r->f.sum_ns += d[R_SUM];
			vs->all.requests += served ? d[R_COUNT] : 0;
			vs->all.sum_ns += served ? d[R_SUM] : 0;
			if (store__request_failed(rs)) {
				r->f.errors += d[R_COUNT];
				vs->all.errors += served ? d[R_COUNT] : 0;
			}
			for (size_t i = 0; i < nb; i++) {
				route_buckets[idx][i] += d[R_BUCKETS + i];
				sb[i] += served ? d[R_BUCKETS + i] : 0;
			}
		}
		for (size_t i = 0; i < n_route_buckets; i++) {
			if (!err)
				figures_finish(&vs->routes[i].f, route_buckets[i], s, out->seconds);
			free(route_buckets[i]);
		}
		free(route_buckets);
		figures_finish(&vs->all, sb, s, out->seconds);
		out->n_services++;
		if (err)
			break;
	}
done:
	free(d);
	free(sb);
	if (err)
		view__clear(out);
	return err;
}

void view__clear(struct view *out)
{
	for (size_t i = 0; i < out->n_services; i++)
		free(out->services[i].routes);
	free(out->services);
	memset(out, 0, sizeof(*out));
}

/* ---- sorting ---- */

static enum view_sort sort_key;

static double sort_value(const struct view_figures *f)
{
	double x;

	switch (sort_key) {
	case VIEW_SORT_ERRORS:
		return f->error_ratio;
	case VIEW_SORT_P50:
		x = f->p50;
		break;
	case VIEW_SORT_P99:
		x = f->p99;
		break;
	default:
		return f->rate;
	}
	return isnan(x) ? -1 : x;
}

/* Descending by the key (ascending by name), then by name: a stable, total order. */
static int cmp_figures(const struct view_figures *fa, const char *na, const struct view_figures *fb,
		       const char *nb)
{
	if (sort_key != VIEW_SORT_NAME) {
		double a = sort_value(fa), b = sort_value(fb);

		if (a != b)
			return a < b ? 1 : -1;
	}
	return strcmp(na, nb);
}

static int cmp_route(const void *a, const void *b)
{
	const struct view_route *x = a, *y = b;
	int c = cmp_figures(&x->f, x->route, &y->f, y->route);

	return c ? c : (int)x->method - (int)y->method;
}

static int cmp_service(const void *a, const void *b)
{
	const struct view_service *x = a, *y = b;

	return cmp_figures(&x->all, x->id->service_name, &y->all, y->id->service_name);
}

void view__sort(struct view *v, enum view_sort key)
{
	sort_key = key;
	for (size_t i = 0; i < v->n_services; i++)
		qsort(v->services[i].routes, v->services[i].n_routes, sizeof(struct view_route),
		      cmp_route);
	qsort(v->services, v->n_services, sizeof(*v->services), cmp_service);
}

/* ---- table ---- */

/* A duration in at most 7 characters: 0.42ms, 12.3ms, 250ms, 1.25s; "-" for none. */
static void fmt_duration(char *out, size_t len, double s)
{
	if (isnan(s))
		snprintf(out, len, "-");
	else if (s < 0.01)
		snprintf(out, len, "%.2fms", s * 1e3);
	else if (s < 0.1)
		snprintf(out, len, "%.1fms", s * 1e3);
	else if (s < 1)
		snprintf(out, len, "%.0fms", s * 1e3);
	else
		snprintf(out, len, "%.2fs", s);
}

/* The figures columns: 7 + 6 + 3 * 8 characters. */
static void figure_columns(struct buf *b, const struct view_figures *f)
{
	char p50[16], p90[16], p99[16];

	fmt_duration(p50, sizeof(p50), f->p50);
	fmt_duration(p90, sizeof(p90), f->p90);
	fmt_duration(p99, sizeof(p99), f->p99);
	buf__printf(b, "%7.1f%6.1f%8s%8s%8s", f->rate, 100 * f->error_ratio, p50, p90, p99);
}

/* name, cut to width with a '~' (counting bytes: routes are mostly ASCII) */
static void name_column(struct buf *b, const char *indent, const char *a, const char *c, int width)
{
	char name[512];
	int n = snprintf(name, sizeof(name), "%s%s%s%s", indent, a, c[0] ? " " : "", c);

	if (n > width) {
		name[width - 1] = '~';
		name[width] = '\0';
	}
	buf__printf(b, "%-*s", width, name);
}

#define FIGURES_WIDTH (7 + 6 + 3 * 8)
#define SERVICE_WIDTH (6 + 8 + 6)

void view__filter(struct view *v, const char *filter)
{
	size_t kept = 0;

	for (size_t i = 0; i < v->n_services; i++) {
		if (!filter || !filter[0] || strstr(v->services[i].id->service_name, filter))
			v->services[kept++] = v->services[i];
		else
			free(v->services[i].routes);
	}
	v->n_services = kept;
}

void view__table(struct buf *b, const struct view *v, int width)
{
	int name_w = width - FIGURES_WIDTH - SERVICE_WIDTH;

	if (name_w < 12)
		name_w = 12;
	name_column(b, "", "SERVICE", "ROUTE", name_w);
	buf__printf(b, "%7s%6s%8s%8s%8s%6s%8s%6s\n", "REQ/S", "ERR%", "P50", "P90", "P99", "ACT",
		    "QUEUE", "BUSY");
	for (size_t i = 0; i < v->n_services; i++) {
		const struct view_service *s = &v->services[i];
		char queue[16];

		name_column(b, "", s->id->service_name, s->id->k8s_pod ? s->id->k8s_pod : "", name_w);
		figure_columns(b, &s->all);
		fmt_duration(queue, sizeof(queue), s->queue_mean);
		buf__printf(b, "%6" PRId64 "%8s%5.0f%%\n", s->active, queue, 100 * s->busy_ratio);
		/* the routes it served, then the servers it called */
		for (int calls = 0; calls < 2; calls++) {
			for (size_t k = 0; k < s->n_routes; k++) {
				if (s->routes[k].call != calls)
					continue;
				name_column(b, "  ", calls ? "calls" : http_method_name(s->routes[k].method),
					    s->routes[k].route, name_w);
				figure_columns(b, &s->routes[k].f);
				buf__puts(b, "\n");
			}
		}
	}
}

/* ---- JSON ---- */

static void json_string(struct buf *b, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t n = strlen(v);

	buf__puts(b, "\"");
	while (n) {
		size_t k = utf8_seq_len(p, n);

		if (!k) {
			buf__puts(b, "\\ufffd");
			k = 1;
		} else if (*p == '"' || *p == '\\') {
			buf__printf(b, "\\%c", *p);
		} else if (*p < 0x20 || *p == 0x7f) {
			buf__printf(b, "\\u%04x", *p);
		} else {
			buf__append(b, p, k);
		}
		p += k;
		n -= k;
	}
	buf__puts(b, "\"");
}

static void json_number(struct buf *b, double x)
{
	if (isnan(x) || isinf(x))
		buf__puts(b, "null");
	else
		buf__printf(b, "%.9g", x);
}

static void json_figures(struct buf *b, const struct view_figures *f)
{
	buf__printf(b, "\"requests\": %" PRIu64 ", \"requests_per_second\": ", f->requests);
	json_number(b, f->rate);
	buf__printf(b, ", \"errors\": %" PRIu64 ", \"error_ratio\": ", f->errors);
	json_number(b, f->error_ratio);
	buf__puts(b, ", \"duration_seconds\": {\"mean\": ");
	json_number(b, f->mean);
	buf__puts(b, ", \"p50\": ");
	json_number(b, f->p50);
	buf__puts(b, ", \"p90\": ");
	json_number(b, f->p90);
	buf__puts(b, ", \"p99\": ");
	json_number(b, f->p99);
	buf__puts(b, "}");
}

/* "routes": what a service served, or "calls": the servers it called. */
static void json_rows(struct buf *b, const struct view_service *s, bool calls)
{
	const char *first = calls ? "\n    {\"server_address\": " : "\n    {\"method\": ";
	size_t n = 0;

	buf__puts(b, calls ? ",\n   \"calls\": [" : ",\n   \"routes\": [");
	for (size_t k = 0; k < s->n_routes; k++) {
		if (s->routes[k].call != calls)
			continue;
		buf__puts(b, n++ ? "," : "");
		buf__puts(b, first);
		if (!calls) {
			json_string(b, http_method_name(s->routes[k].method));
			buf__puts(b, ", \"route\": ");
		}
		json_string(b, s->routes[k].route);
		buf__puts(b, ", ");
		json_figures(b, &s->routes[k].f);
		buf__puts(b, "}");
	}
	buf__puts(b, "]");
}

void view__json(struct buf *b, const struct view *v)
{
	buf__printf(b, "{\"format\": \"redscope-report/1\", \"window_seconds\": ");
	json_number(b, v->seconds);
	buf__puts(b, ", \"services\": [");
	for (size_t i = 0; i < v->n_services; i++) {
		const struct view_service *s = &v->services[i];

		buf__puts(b, i ? ",\n  {\"service_name\": " : "\n  {\"service_name\": ");
		json_string(b, s->id->service_name);
		if (s->id->k8s_namespace) {
			buf__puts(b, ", \"k8s_namespace_name\": ");
			json_string(b, s->id->k8s_namespace);
			buf__puts(b, ", \"k8s_pod_name\": ");
			json_string(b, s->id->k8s_pod);
			buf__puts(b, ", \"k8s_container_name\": ");
			json_string(b, s->id->k8s_container);
		}
		buf__puts(b, ", ");
		json_figures(b, &s->all);
		buf__printf(b, ", \"active_requests\": %" PRId64 ", \"workers\": %" PRId64
			       ", \"worker_busy_ratio\": ",
			    s->active, s->workers);
		json_number(b, s->busy_ratio);
		buf__puts(b, ", \"queue_seconds_mean\": ");
		json_number(b, s->queue_mean);
		json_rows(b, s, false);
		json_rows(b, s, true);
		buf__puts(b, "}");
	}
	buf__puts(b, "\n]}\n");
}
