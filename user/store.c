// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The metric store: label sets to counters and histograms, for the life of the
 * process (never reset, so counters only go up). Services in insertion order, each
 * with its request series in insertion order, so renders are stable.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "grpc.h"
#include "http1.h"
#include "quantile.h"
#include "route.h"
#include "store.h"

#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * FNV_PRIME;
	return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	/* the terminating NUL separates fields */
	return fnv_bytes(h, s ? s : "", (s ? strlen(s) : 0) + 1);
}

static bool str_eq(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

static uint64_t identity_hash(const struct identity *id)
{
	uint64_t h = fnv_str(FNV_OFFSET, id->service_name);

	h = fnv_str(h, id->k8s_namespace);
	h = fnv_str(h, id->k8s_pod);
	return fnv_str(h, id->k8s_container);
}

bool identity__equal(const struct identity *a, const struct identity *b)
{
	return str_eq(a->service_name, b->service_name) &&
	       str_eq(a->k8s_namespace, b->k8s_namespace) && str_eq(a->k8s_pod, b->k8s_pod) &&
	       str_eq(a->k8s_container, b->k8s_container);
}

static char *dup_or_null(const char *s, bool *failed)
{
	char *d = s ? strdup(s) : NULL;

	*failed |= s && !d;
	return d;
}

int identity__copy(struct identity *dst, const struct identity *src)
{
	bool failed = false;

	dst->service_name = dup_or_null(src->service_name ? src->service_name : "", &failed);
	dst->k8s_namespace = dup_or_null(src->k8s_namespace, &failed);
	dst->k8s_pod = dup_or_null(src->k8s_pod, &failed);
	dst->k8s_container = dup_or_null(src->k8s_container, &failed);
	dst->flags = src->flags;
	if (failed) {
		identity__free(dst);
		return -ENOMEM;
	}
	return 0;
}

void identity__free(struct identity *id)
{
	free((char *)id->service_name);
	free((char *)id->k8s_namespace);
	free((char *)id->k8s_pod);
	free((char *)id->k8s_container);
	memset(id, 0, sizeof(*id));
}

static int raw_bounds_init(struct raw_bounds *rb, const struct histogram_spec *spec)
{
	rb->v = calloc(spec->n ? spec->n : 1, sizeof(*rb->v));
	if (!rb->v)
		return -ENOMEM;
	rb->n = spec->n;
	for (size_t i = 0; i < spec->n; i++)
		rb->v[i] = (uint64_t)llround(spec->bounds[i] / spec->scale);
	return 0;
}

static int histogram_init(struct histogram *h, size_t n_bounds)
{
	h->buckets = calloc(n_bounds + 1, sizeof(*h->buckets));
	nhist__init(&h->native);
	return h->buckets ? 0 : -ENOMEM;
}

static void histogram_free(struct histogram *h)
{
	free(h->buckets);
	nhist__free(&h->native);
}

/* Count raw in h's buckets, and in its native ones (-ENOMEM if it cannot be there). */
static int histogram_observe(const struct store *s, struct histogram *h, const struct raw_bounds *rb,
			     double scale, uint64_t raw)
{
	size_t lo = 0, hi = rb->n;

	/* first bucket whose upper bound is >= raw; n is +Inf */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (raw <= rb->v[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	h->buckets[lo]++;
	h->count++;
	h->sum += raw;
	return s->opts.native_max_buckets
		       ? nhist__observe(&h->native, (double)raw * scale, s->opts.native_max_buckets)
		       : 0;
}

static double *copy_bounds(const struct histogram_spec *spec)
{
	double *v = calloc(spec->n ? spec->n : 1, sizeof(*v));

	if (v && spec->n)
		memcpy(v, spec->bounds, spec->n * sizeof(*v));
	return v;
}

struct store *store__new(const struct store_opts *opts)
{
	struct store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->opts = *opts;
	s->opts.duration.bounds = copy_bounds(&opts->duration);
	s->opts.body_size.bounds = copy_bounds(&opts->body_size);
	s->opts.queue.bounds = copy_bounds(&opts->queue);
	s->services_tail = &s->services;
	s->stab_size = 64;
	s->stab = calloc(s->stab_size, sizeof(*s->stab));
	if (!s->opts.duration.bounds || !s->opts.body_size.bounds || !s->opts.queue.bounds ||
	    !s->stab || raw_bounds_init(&s->duration_raw, &opts->duration) ||
	    raw_bounds_init(&s->size_raw, &opts->body_size) ||
	    raw_bounds_init(&s->queue_raw, &opts->queue)) {
		store__free(s);
		return NULL;
	}
	return s;
}

static int name_table_init(struct name_table *t)
{
	t->tail = &t->head;
	t->tab_size = 16;
	t->tab = calloc(t->tab_size, sizeof(*t->tab));
	return t->tab ? 0 : -ENOMEM;
}

static void name_table_free(struct name_table *t)
{
	struct route_entry *re, *nre;

	for (re = t->head; re; re = nre) {
		nre = re->next;
		if (re->latency)
			quantiles__free(&re->latency->q);
		free(re->latency);
		free(re);
	}
	free(t->tab);
}

static void request_series_free(struct request_series *r)
{
	histogram_free(&r->duration);
	histogram_free(&r->req_body);
	histogram_free(&r->resp_body);
	free(r);
}

void store__free(struct store *s)
{
	struct service_series *svc, *nsvc;
	struct request_series *r, *nr;

	if (!s)
		return;
	for (svc = s->services; svc; svc = nsvc) {
		nsvc = svc->next;
		for (r = svc->requests; r; r = nr) {
			nr = r->next;
			request_series_free(r);
		}
		name_table_free(&svc->routes);
		name_table_free(&svc->addresses);
		quantiles__free(&svc->duration.q);
		histogram_free(&svc->queue);
		identity__free(&svc->id);
		free(svc->rtab);
		free(svc);
	}
	free(s->stab);
	free((double *)s->opts.duration.bounds);
	free((double *)s->opts.body_size.bounds);
	free((double *)s->opts.queue.bounds);
	free(s->queue_raw.v);
	free(s->duration_raw.v);
	free(s->size_raw.v);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void store__lock(struct store *s)
{
	pthread_mutex_lock(&s->lock);
}

void store__unlock(struct store *s)
{
	pthread_mutex_unlock(&s->lock);
}

/* Double a chained hash table when it gets loaded; entries keep their hash. */
#define GROW_TABLE(type, tab, size, count)                                        \
	do {                                                                      \
		if ((count) < (size))                                             \
			break;                                                    \
		size_t nsize_ = (size) * 2;                                       \
		type **ntab_ = calloc(nsize_, sizeof(*ntab_));                    \
		if (!ntab_)                                                       \
			break; /* keep the old table: slower, still correct */    \
		for (size_t i_ = 0; i_ < (size); i_++) {                          \
			type *e_ = (tab)[i_], *n_;                                \
			for (; e_; e_ = n_) {                                     \
				n_ = e_->hnext;                                   \
				e_->hnext = ntab_[e_->hash & (nsize_ - 1)];       \
				ntab_[e_->hash & (nsize_ - 1)] = e_;              \
			}                                                         \
		}                                                                 \
		free(tab);                                                        \
		(tab) = ntab_;                                                    \
		(size) = nsize_;                                                  \
	} while (0)

static void summary_init(struct store *s, struct summary *sum)
{
	quantiles__init(&sum->q, s->opts.summary_max_age_ns, s->opts.summary_cap);
}

static void summary_observe(struct summary *sum, uint64_t now_ns, uint64_t duration_ns)
{
	sum->count++;
	sum->sum_ns += duration_ns;
	quantiles__observe(&sum->q, now_ns, duration_ns * 1e-9);
}

/*
 * The entry of a name in table t, created if there is room for one more: beyond max
 * (0: no cap), names fold into overflow (which does not count).
 */
static struct route_entry *name_get(struct name_table *t, const char *name, size_t max,
				    const char *overflow)
{
	uint64_t h = fnv_str(FNV_OFFSET, name);
	bool is_overflow = !strcmp(name, overflow);
	struct route_entry *re;

	for (re = t->tab[h & (t->tab_size - 1)]; re; re = re->hnext)
		if (re->hash == h && !strcmp(re->route, name))
			return re;
	if (!is_overflow && max && t->n >= max) {
		t->overflow++;
		return name_get(t, overflow, max, overflow);
	}
	re = calloc(1, sizeof(*re) + strlen(name) + 1);
	if (!re)
		return NULL;
	strcpy(re->route, name);
	re->hash = h;
	GROW_TABLE(struct route_entry, t->tab, t->tab_size, t->n);
	re->hnext = t->tab[h & (t->tab_size - 1)];
	t->tab[h & (t->tab_size - 1)] = re;
	*t->tail = re;
	t->tail = &re->next;
	if (!is_overflow)
		t->n++;
	return re;
}

/* The entry of what names a request: its route, or (a call sent) the server's address. */
static struct route_entry *route_get(struct store *s, struct service_series *svc,
				     const struct request_obs *obs)
{
	if (obs->kind == SERIES_HTTP_CLIENT)
		return name_get(&svc->addresses, obs->route, s->opts.max_addresses,
				CLIENT_ADDRESS_OVERFLOW);
	return name_get(&svc->routes, obs->route, s->opts.max_routes, ROUTE_OVERFLOW);
}

struct service_series *store__find_service(struct store *s, const struct identity *id)
{
	uint64_t h = identity_hash(id);
	struct service_series *svc;

	for (svc = s->stab[h & (s->stab_size - 1)]; svc; svc = svc->hnext) {
		if (svc->hash == h && identity__equal(&svc->id, id)) {
			svc->id.flags |= id->flags;
			return svc;
		}
	}
	return NULL;
}

struct service_series *store__service(struct store *s, const struct identity *id)
{
	uint64_t h = identity_hash(id);
	struct service_series *svc = store__find_service(s, id);

	if (svc)
		return svc;
	svc = calloc(1, sizeof(*svc));
	if (!svc)
		return NULL;
	if (identity__copy(&svc->id, id)) {
		free(svc);
		return NULL;
	}
	svc->rtab_size = 16;
	svc->rtab = calloc(svc->rtab_size, sizeof(*svc->rtab));
	if (!svc->rtab || name_table_init(&svc->routes) || name_table_init(&svc->addresses) ||
	    histogram_init(&svc->queue, s->queue_raw.n)) {
		identity__free(&svc->id);
		free(svc->rtab);
		free(svc->routes.tab);
		free(svc->addresses.tab);
		histogram_free(&svc->queue);
		free(svc);
		return NULL;
	}
	svc->hash = h;
	svc->requests_tail = &svc->requests;
	summary_init(s, &svc->duration);
	GROW_TABLE(struct service_series, s->stab, s->stab_size, s->n_services);
	svc->hnext = s->stab[h & (s->stab_size - 1)];
	s->stab[h & (s->stab_size - 1)] = svc;
	*s->services_tail = svc;
	s->services_tail = &svc->next;
	s->n_services++;
	return svc;
}

static uint64_t request_hash(const struct request_key *k)
{
	uint64_t h = k->re->hash;

	h = fnv_bytes(h, &k->method, sizeof(k->method));
	h = fnv_bytes(h, &k->status, sizeof(k->status));
	h = fnv_bytes(h, &k->version, sizeof(k->version));
	h = fnv_bytes(h, &k->kind, sizeof(k->kind));
	h = fnv_bytes(h, &k->server_port, sizeof(k->server_port));
	h = fnv_bytes(h, &k->client_error, sizeof(k->client_error));
	return fnv_bytes(h, &k->tls, sizeof(k->tls));
}

struct request_series *store__find_request(const struct service_series *svc,
					   const struct request_key *k)
{
	uint64_t h = request_hash(k);

	if (!svc->rtab_size)
		return NULL;
	for (struct request_series *r = svc->rtab[h & (svc->rtab_size - 1)]; r; r = r->hnext)
		if (r->hash == h && r->method == k->method && r->status == k->status &&
		    r->route_entry == k->re && r->tls == k->tls && r->version == k->version &&
		    r->kind == k->kind && r->server_port == k->server_port &&
		    r->client_error == k->client_error)
			return r;
	return NULL;
}

bool store__request_failed(const struct request_series *r)
{
	switch (r->kind) {
	case SERIES_RPC_SERVER:
		return grpc_server_error(r->status);
	case SERIES_HTTP_CLIENT:
		return r->status >= 400 || r->client_error;
	default:
		return r->status >= 500;
	}
}

static struct request_series *request_series_get(struct store *s, struct service_series *svc,
						 const struct request_obs *obs,
						 struct route_entry *re)
{
	struct request_key k = { obs->method, re,	    obs->status,      obs->tls,
				 obs->version, obs->kind, obs->server_port, obs->client_error };
	struct request_series *r = store__find_request(svc, &k);

	if (r)
		return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->hash = request_hash(&k);
	r->method = obs->method;
	r->status = obs->status;
	r->tls = obs->tls;
	r->version = obs->version;
	r->kind = obs->kind;
	r->server_port = obs->server_port;
	r->client_error = obs->client_error;
	r->route_entry = re;
	if (histogram_init(&r->duration, s->duration_raw.n) ||
	    (!s->opts.body_size_off && (histogram_init(&r->req_body, s->size_raw.n) ||
					histogram_init(&r->resp_body, s->size_raw.n)))) {
		request_series_free(r);
		return NULL;
	}
	GROW_TABLE(struct request_series, svc->rtab, svc->rtab_size, svc->n_requests);
	r->hnext = svc->rtab[r->hash & (svc->rtab_size - 1)];
	svc->rtab[r->hash & (svc->rtab_size - 1)] = r;
	*svc->requests_tail = r;
	svc->requests_tail = &r->next;
	svc->n_requests++;
	s->n_series++;
	return r;
}

int store__observe_request(struct store *s, const struct request_obs *obs)
{
	struct service_series *svc = store__service(s, obs->id);
	struct route_entry *re = svc ? route_get(s, svc, obs) : NULL;
	struct request_series *r = re ? request_series_get(s, svc, obs, re) : NULL;

	int err = 0;

	if (!r)
		return -ENOMEM;
	err |= histogram_observe(s, &r->duration, &s->duration_raw, s->opts.duration.scale,
				 obs->duration_ns);
	if (!s->opts.body_size_off) {
		err |= histogram_observe(s, &r->req_body, &s->size_raw, s->opts.body_size.scale,
					 obs->req_body_bytes);
		err |= histogram_observe(s, &r->resp_body, &s->size_raw, s->opts.body_size.scale,
					 obs->resp_body_bytes);
	}
	if (obs->queued)
		err |= histogram_observe(s, &svc->queue, &s->queue_raw, s->opts.queue.scale,
					 obs->queue_ns);
	/* (a call the service sent is none of gunicorn's requests) */
	if (s->opts.compat_statsd && (svc->id.flags & IDENTITY_GUNICORN) &&
	    obs->kind != SERIES_HTTP_CLIENT) {
		summary_observe(&svc->duration, obs->end_ns, obs->duration_ns);
		/* only the statsd compat series pay for a summary per route */
		if (!re->latency && (re->latency = calloc(1, sizeof(*re->latency))))
			summary_init(s, re->latency);
		if (re->latency)
			summary_observe(re->latency, obs->end_ns, obs->duration_ns);
		else
			err = -ENOMEM;
	}
	/* a native bucket that could not be added: the classic buckets have the request */
	return err ? -ENOMEM : 0;
}

void store__retire_busy(struct store *s, const struct identity *id, uint64_t busy_ns)
{
	struct service_series *svc = busy_ns ? store__find_service(s, id) : NULL;

	if (svc)
		svc->busy_retired_ns += busy_ns;
}

void store__set_gauges(struct store *s, const struct process_gauges *g, size_t n)
{
	struct service_series *svc;

	for (svc = s->services; svc; svc = svc->next) {
		svc->active = 0;
		svc->processes = 0;
		svc->workers = 0;
		svc->busy_live_ns = 0;
	}
	for (size_t i = 0; i < n; i++) {
		/* only gunicorn's services exist before a request: their worker gauge does */
		svc = (g[i].id->flags & IDENTITY_GUNICORN) || g[i].active > 0
			      ? store__service(s, g[i].id)
			      : store__find_service(s, g[i].id);
		if (!svc)
			continue;
		svc->active += g[i].active;
		svc->processes++;
		svc->busy_live_ns += g[i].busy_ns;
		if (g[i].worker)
			svc->workers++;
	}
	for (svc = s->services; svc; svc = svc->next) {
		uint64_t busy = svc->busy_retired_ns + svc->busy_live_ns;

		if (!svc->workers && svc->processes)
			svc->workers = 1; /* a single-process server is its own worker */
		/*
		 * A counter must not go down: a request running at one scrape may end, or
		 * its process exit, a moment before that scrape's clock.
		 */
		if (busy > svc->busy_ns)
			svc->busy_ns = busy;
	}
}

const struct service_series *store__services(const struct store *s)
{
	return s->services;
}

const struct service_series *store__next_service(const struct service_series *svc)
{
	return svc->next;
}

const struct request_series *store__requests(const struct service_series *svc)
{
	return svc->requests;
}

const struct request_series *store__next_request(const struct request_series *r)
{
	return r->next;
}

const struct route_entry *store__routes(const struct service_series *svc)
{
	return svc->routes.head;
}

const struct route_entry *store__next_route(const struct route_entry *re)
{
	return re->next;
}
