/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* store.c: the metric store, the only writer of series: requests observed, gauges set. */
#ifndef REDSCOPE_STORE_H
#define REDSCOPE_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "http1.h"
#include "nhist.h"
#include "quantile.h"

struct histogram_spec {
	const double *bounds; /* upper bounds, ascending; +Inf implicit */
	size_t n;
	double scale; /* sum and observations are integers; value = raw * scale */
};

struct histogram {
	uint64_t *buckets; /* per bucket, not cumulative; n + 1 entries (+Inf last) */
	uint64_t count;
	uint64_t sum; /* raw units */
	struct nhist native; /* the same observations in native buckets (value = raw * scale) */
};

/* Who served a request: the identity labels of a service. */
#define IDENTITY_GUNICORN (1u << 0) /* run by gunicorn: gets the statsd compat series */

struct identity {
	const char *service_name;
	/* Kubernetes: the pod's namespace and name, the container's name; else NULL */
	const char *k8s_namespace;
	const char *k8s_pod;
	const char *k8s_container;
	unsigned int flags; /* IDENTITY_*, not part of what tells services apart */
};

/* A duration summary: sliding-window quantiles with all-time sum and count. */
struct summary {
	uint64_t count;
	uint64_t sum_ns;
	struct quantiles q;
};

/* One distinct route of a service: what the per-service route cap counts. */
struct route_entry {
	struct route_entry *next;  /* insertion order */
	struct route_entry *hnext; /* hash chain */
	uint64_t hash;
	/* compat: django_request_latency_seconds, from its first request (else NULL) */
	struct summary *latency;
	char route[];
};

/* Which family a request series is in. */
enum series_kind {
	SERIES_HTTP_SERVER = 0, /* http_server_*: requests the service answered */
	SERIES_RPC_SERVER,	/* rpc_server_*: gRPC calls it answered */
	SERIES_HTTP_CLIENT,	/* http_client_*: requests it sent */
};

/* Distinct names of a service (routes, or the servers it calls), capped. */
struct name_table {
	struct route_entry *head, **tail; /* insertion order */
	struct route_entry **tab;
	size_t tab_size, n;
	uint64_t overflow; /* observations folded into the overflow entry: too many names */
};

struct request_series {
	struct request_series *next;  /* insertion order within the service */
	struct request_series *hnext; /* hash chain */
	uint64_t hash;
	enum http_method method;
	unsigned int status;
	bool tls;	   /* url_scheme https */
	enum http_version version; /* network_protocol_version */
	enum series_kind kind; /* rpc: status is its gRPC status code, the route its method */
	/* its http_route (rpc: its rpc_method; client: its server_address) */
	struct route_entry *route_entry;
	uint16_t server_port;		/* client: the server's port */
	enum client_error client_error; /* client: why it got no response (status 0) */
	struct histogram duration;
	struct histogram req_body;
	struct histogram resp_body;
};

struct service_series {
	struct service_series *next;
	struct service_series *hnext;
	uint64_t hash;
	struct identity id;
	/* gauges, set by store__set_gauges from the live targets before each render */
	int64_t active;	   /* requests in flight */
	int64_t processes; /* live watched processes */
	int64_t workers;   /* of which workers: parent in the same service; else 1 */
	uint64_t busy_ns;  /* time workers spent in requests, as exported: never goes down */
	uint64_t busy_retired_ns; /* of processes that exited */
	uint64_t busy_live_ns;	  /* of the live processes, at the last refresh */
	struct histogram queue;	  /* wait in the listen queue, per connection */
	struct request_series *requests, **requests_tail;
	struct request_series **rtab;
	size_t rtab_size, n_requests;
	struct summary duration; /* compat: gunicorn_request_duration */
	struct name_table routes;    /* beyond max_routes: ROUTE_OVERFLOW */
	struct name_table addresses; /* servers it calls; beyond max_addresses: CLIENT_ADDRESS_OVERFLOW */
};

struct store_opts {
	struct histogram_spec duration;	 /* seconds, observed in nanoseconds */
	struct histogram_spec body_size; /* bytes */
	bool body_size_off;		 /* --body-size-buckets=none: no body size histograms */
	struct histogram_spec queue;	 /* seconds, observed in nanoseconds */
	uint32_t native_max_buckets;	 /* per native histogram; 0: none kept */
	size_t max_routes;		 /* distinct routes per service; then ROUTE_OVERFLOW */
	size_t max_addresses;		 /* distinct servers a service calls; then CLIENT_ADDRESS_OVERFLOW */
	bool compat_statsd;		 /* keep the summaries of the statsd compat series */
	uint64_t summary_max_age_ns;	 /* sliding window of the summaries' quantiles */
	uint32_t summary_cap;		 /* samples kept per summary age bucket */
};

struct request_obs {
	const struct identity *id;
	enum http_method method;
	const char *route;
	unsigned int status;
	uint64_t end_ns; /* CLOCK_MONOTONIC, for the summaries' sliding windows */
	uint64_t duration_ns;
	uint64_t req_body_bytes;
	uint64_t resp_body_bytes;
	bool queued;	  /* first request of a connection seen at accept: */
	uint64_t queue_ns; /* its wait in the listen queue */
	bool tls;	   /* seen as TLS plaintext: url_scheme https */
	enum http_version version;
	/* rpc: route is "package.Service/Method", status its gRPC code; client: route is the
	   server_address, status 0 with client_error when no response came */
	enum series_kind kind;
	uint16_t server_port;
	enum client_error client_error;
};

struct store {
	pthread_mutex_t lock;
	struct store_opts opts;
	struct raw_bounds {
		uint64_t *v;
		size_t n;
	} duration_raw, size_raw, queue_raw; /* bucket bounds in raw units (ns, bytes) */
	struct service_series *services, **services_tail; /* insertion order */
	struct service_series **stab;
	size_t stab_size, n_services, n_series;
};

struct store *store__new(const struct store_opts *opts);
void store__free(struct store *s);
void store__lock(struct store *s);
void store__unlock(struct store *s);
/*
 * Record a finished request; call with the store locked. -ENOMEM: out of memory, it is
 * not counted, or (a native bucket that could not be added) not in every native histogram.
 */
int store__observe_request(struct store *s, const struct request_obs *obs);
/* The service of an identity, created if needed (for gauges before any request). */
struct service_series *store__service(struct store *s, const struct identity *id);
/* What tells one request series of a service from another. */
struct request_key {
	enum http_method method;
	const struct route_entry *re;
	unsigned int status;
	bool tls;
	enum http_version version;
	enum series_kind kind;
	uint16_t server_port;
	enum client_error client_error;
};
/* The request series of these labels if it exists, else NULL. */
struct request_series *store__find_request(const struct service_series *svc,
					   const struct request_key *k);
/*
 * A series' requests that failed: 5xx, a gRPC code that is the server's error; a call
 * sent: 4xx and 5xx, or no response.
 */
bool store__request_failed(const struct request_series *r);
/*
 * Readers walk the store with these, the store lock held, in insertion order; the
 * lists are the store's, and what they hand out is read-only.
 */
const struct service_series *store__services(const struct store *s);
const struct service_series *store__next_service(const struct service_series *svc);
const struct request_series *store__requests(const struct service_series *svc);
const struct request_series *store__next_request(const struct request_series *r);
const struct route_entry *store__routes(const struct service_series *svc);
const struct route_entry *store__next_route(const struct route_entry *re);
#define store_for_each_service(svc, s)                                                    \
	for (const struct service_series *svc = store__services(s); svc;                 \
	     svc = store__next_service(svc))
#define store_for_each_request(r, svc)                                                    \
	for (const struct request_series *r = store__requests(svc); r; r = store__next_request(r))
#define store_for_each_route(re, svc)                                                     \
	for (const struct route_entry *re = store__routes(svc); re; re = store__next_route(re))
/* Deep copy of an identity's strings; identity__free frees them. */
int identity__copy(struct identity *dst, const struct identity *src);
void identity__free(struct identity *id);
/* Same service: same name and pod labels (flags aside). */
bool identity__equal(const struct identity *a, const struct identity *b);
/* The service of an identity if it has one already, else NULL. */
struct service_series *store__find_service(struct store *s, const struct identity *id);

/* What one live watched process adds to the gauges of its service. */
struct process_gauges {
	const struct identity *id;
	int64_t active;	  /* requests in flight */
	uint64_t busy_ns; /* time spent in requests so far, a running one included */
	bool worker;	  /* its parent, or a sibling, is watched and in the same service */
	pid_t unwatched_parent; /* its parent when that is not watched, else 0 */
};
/*
 * Set every service's gauges (in flight, processes, workers, busy time) from its live
 * processes, g[0, n); a service with processes but no worker among them, a
 * single-process server, has one. Store lock held.
 */
void store__set_gauges(struct store *s, const struct process_gauges *g, size_t n);
/* A process of service id exited after busy_ns in requests: the counter keeps them. */
void store__retire_busy(struct store *s, const struct identity *id, uint64_t busy_ns);

#endif /* REDSCOPE_STORE_H */
