/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Interfaces between the modules of the redscope daemon. */
#ifndef REDSCOPE_INTERNAL_H
#define REDSCOPE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "redscope.h"

#ifndef REDSCOPE_VERSION
#define REDSCOPE_VERSION "dev"
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* log.c */
enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };
extern enum log_level log_level;
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define p_err(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define p_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define p_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define p_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
int log_level_parse(const char *s, enum log_level *out);

/* capture.c: how socket I/O is captured (--capture) */
enum capture {
	CAPTURE_AUTO = 0, /* the cheapest the kernel supports */
	CAPTURE_SOCKETS,  /* sock_recv_length/sock_send_length tracepoints (Linux 6.3) */
	CAPTURE_FENTRY,	  /* fexit on the socket receive and send functions (trampolines) */
	CAPTURE_SYSCALLS, /* syscall tracepoints: every process pays */
	CAPTURE__COUNT,
};
extern const char *const capture_names[CAPTURE__COUNT];
int capture_parse(const char *s, enum capture *out);

/* buf.c: growable byte buffer */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	bool oom; /* an append failed: contents are incomplete */
};
void buf__append(struct buf *b, const void *p, size_t n);
void buf__puts(struct buf *b, const char *s);
void buf__printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf__free(struct buf *b);

/* http1.c: what a captured request line says */
enum http_method {
	HTTP_GET = 0,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_DELETE,
	HTTP_CONNECT,
	HTTP_OPTIONS,
	HTTP_TRACE,
	HTTP_PATCH,
	HTTP_OTHER, /* a valid token that is no RFC 9110 method nor PATCH */
	HTTP_METHOD__COUNT,
};
const char *http_method_name(enum http_method m);

/* Why a captured request line was not counted (userspace parse errors). */
enum http1_error {
	HTTP1_OK = 0,
	HTTP1_BAD_METHOD,     /* method is not a token */
	HTTP1_BAD_TARGET,     /* request target missing or not a valid form */
	HTTP1_BAD_VERSION,    /* not HTTP/1.0 or HTTP/1.1 */
	HTTP1_HTTP2_PREFACE,  /* HTTP/2 connection preface (prior knowledge) */
	HTTP1_ERROR__COUNT,
};
const char *http1_error_name(enum http1_error e);

struct http1_request {
	enum http_method method;
	const char *path; /* request target's path, query and fragment cut; not NUL-terminated */
	size_t path_len;
	bool truncated; /* the request line was longer than the capture: path is a prefix */
};

/*
 * Parse a request line captured by the BPF side: line[0, len), no CR/LF. line_len is
 * the length of the full line as seen on the wire; when it exceeds len, only the
 * start was captured. Pure function: reads nothing outside line[0, len).
 */
enum http1_error http1_parse_request_line(const char *line, size_t len, size_t line_len,
					  struct http1_request *out);

/* route.c: path to low-cardinality route */
#define ROUTE_MAX 256
#define ROUTE_OVERFLOW "{overflow}" /* a service's routes beyond --max-routes */
/* --route: a pattern such as /users/{id}/orders; matching paths get it as their route. */
int route__add_pattern(const char *pattern);
void route__clear_patterns(void);
/* Does a path segment look like an identifier (number, UUID, hex, date, token)? */
bool route_segment_is_id(const char *s, size_t n);
/* Write the route for path[0, len) into out (NUL-terminated, at most ROUTE_MAX bytes). */
void route_from_path(const char *path, size_t len, bool truncated, char out[ROUTE_MAX]);

/* quantile.c: quantiles over a sliding time window (Prometheus summaries) */
#define QUANTILE_BUCKETS 5

struct quantile_bucket {
	uint64_t period; /* which width-long slice of time the samples are from */
	uint64_t seen;	 /* samples observed in that slice */
	uint32_t n;	 /* samples kept */
	uint32_t alloc;
	double *v;
};

struct quantiles {
	uint64_t width_ns; /* max age / QUANTILE_BUCKETS */
	uint32_t cap;	   /* samples kept per bucket; beyond, a uniform reservoir */
	uint32_t rng;
	struct quantile_bucket b[QUANTILE_BUCKETS];
};

void quantiles__init(struct quantiles *q, uint64_t max_age_ns, uint32_t cap);
void quantiles__free(struct quantiles *q);
void quantiles__observe(struct quantiles *q, uint64_t now_ns, double v);
/*
 * Quantiles at ranks (ascending, in [0, 1]) of what was observed in the window
 * ending at now_ns; NaN when nothing was. Returns the number of samples used.
 */
size_t quantiles__compute(const struct quantiles *q, uint64_t now_ns, const double *ranks,
			  size_t n_ranks, double *out);

/* metrics.c: the metric store */
struct histogram_spec {
	const double *bounds; /* upper bounds, ascending; +Inf implicit */
	size_t n;
	double scale; /* sum and observations are integers; value = raw * scale */
};

struct histogram {
	uint64_t *buckets; /* per bucket, not cumulative; n + 1 entries (+Inf last) */
	uint64_t count;
	uint64_t sum; /* raw units */
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
	char *route;
	struct summary latency; /* compat: django_request_latency_seconds */
};

struct request_series {
	struct request_series *next;  /* insertion order within the service */
	struct request_series *hnext; /* hash chain */
	uint64_t hash;
	enum http_method method;
	unsigned int status;
	bool tls;	   /* url_scheme https */
	const char *route; /* the route entry's */
	struct route_entry *route_entry;
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
	struct route_entry *routes, **routes_tail;
	struct route_entry **route_tab;
	size_t route_tab_size, n_routes;
	uint64_t route_overflow; /* requests folded into ROUTE_OVERFLOW: too many routes */
};

struct store_opts {
	struct histogram_spec duration;	 /* seconds, observed in nanoseconds */
	struct histogram_spec body_size; /* bytes */
	struct histogram_spec queue;	 /* seconds, observed in nanoseconds */
	size_t max_routes;		 /* distinct routes per service; then ROUTE_OVERFLOW */
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
/* Record a finished request; call with the store locked. Returns -ENOMEM on failure. */
int store__observe_request(struct store *s, const struct request_obs *obs);
/* The service of an identity, created if needed (for gauges before any request). */
struct service_series *store__service(struct store *s, const struct identity *id);
/* The request series of these labels if it exists, else NULL. */
struct request_series *store__find_request(const struct service_series *svc,
					   enum http_method method, const struct route_entry *re,
					   unsigned int status, bool tls);
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
	bool worker;	  /* its parent is watched and in the same service */
};
/*
 * Set every service's gauges (in flight, processes, workers, busy time) from its live
 * processes, g[0, n); a service with processes but no worker among them, a
 * single-process server, has one. Store lock held.
 */
void store__set_gauges(struct store *s, const struct process_gauges *g, size_t n);
/* A process of service id exited after busy_ns in requests: the counter keeps them. */
void store__retire_busy(struct store *s, const struct identity *id, uint64_t busy_ns);

/* The daemon's own process, from /proc/self (selfmetrics__sample). */
struct process_figures {
	double cpu_seconds;
	double resident_bytes;
	double virtual_bytes;
	double open_fds;
	double max_fds;
};

/* Self metrics: counters the daemon keeps about itself. */
struct self_stats {
	uint64_t events;		       /* ringbuf records consumed */
	uint64_t bpf[RS_STAT__COUNT];	       /* summed over CPUs at render time */
	uint64_t parse_errors[HTTP1_ERROR__COUNT]; /* request lines not counted */
	uint64_t unanswered;		       /* requests closed without a response */
	uint64_t truncated;		       /* responses cut short by a close */
	uint64_t tracked_processes;
	uint64_t tracked_connections;
	uint64_t tls_libraries;		       /* libssl files hooked */
	uint64_t tls_unsupported_processes;    /* speaking TLS through no libssl we hook */
	uint64_t kube_containers;	       /* pod containers whose metadata is cached */
	double start_time;		       /* unix seconds */
	enum capture capture;		       /* the backend in use */
	struct process_figures process;
};


/* targets.c: which processes are watched */
struct selectors {
	pid_t *pids; /* --pid: these and their descendants; none: auto mode */
	size_t n_pids;
	const char **comms; /* --comm: process names (as in /proc/PID/comm) */
	size_t n_comms;
	uint16_t *ports; /* --port: connections to these local ports */
	size_t n_ports;
	const char **cgroups; /* --cgroup: cgroup v2 paths, as given */
	size_t n_cgroups;
	/* resolved by selectors__resolve */
	char *cgroup_rel[RS_MAX_SEL_CGROUPS]; /* relative to the cgroup2 root: "/a/b" */
	int cgroup_fd[RS_MAX_SEL_CGROUPS];
};
/* Check and resolve the selectors; the error names the bad one. */
int selectors__resolve(struct selectors *sel);
/* Free what selectors__resolve made; the lists belong to the command line (cli__free). */
void selectors__free(struct selectors *sel);

int targets__init(const struct selectors *sel);
/* A process exited: what it left in the maps goes at the next sweep. */
void targets__on_exit(pid_t tgid);
/* Resolve the identity and parent of the live targets procs does not know yet. */
void targets__resolve(void);
/* Set the gauges of the services from the live targets: any thread, no /proc I/O. */
void targets__refresh(struct store *st);
/* Free what dead processes left in the maps; returns their requests left unanswered. */
uint64_t targets__sweep(void);
/* Counts for self metrics. */
void targets__stats(struct self_stats *st);
void targets__cleanup(void);

/* kube.c: Kubernetes pod metadata from cgroups and containerd bundles */
#define KUBE_ID_LEN 64	/* container ID: hex digits */
#define KUBE_UID_LEN 36 /* pod UID */
#define KUBE_NAME_MAX 254 /* a DNS subdomain name and its NUL */
struct kube_meta {
	char namespace[KUBE_NAME_MAX];
	char pod[KUBE_NAME_MAX];
	char container[KUBE_NAME_MAX];
};
enum kube_mode { KUBE_AUTO = 0, KUBE_ON, KUBE_OFF };
struct kube_opts {
	enum kube_mode mode; /* auto: on when the runtime's CRI state dir or the API env exists */
	const char *runtime_dir; /* containerd's io.containerd.runtime.v2.task state dir */
};
int kube__init(const struct kube_opts *opts);
bool kube__enabled(void);
/* The pod metadata of a process; false when it is not in a pod's container. */
bool kube__of(pid_t pid, struct kube_meta *out);
/* Forget the containers whose bundle is gone. */
void kube__sweep(void);
size_t kube__containers(void);
void kube__cleanup(void);
/* Pure parsers, for tests: the container ID and pod UID in /proc/PID/cgroup ... */
bool kube_parse_cgroup(const char *data, size_t len, char id[KUBE_ID_LEN + 1],
		       char uid[KUBE_UID_LEN + 1]);
/* ... and the string value of one key of a bundle's config.json. */
bool kube_parse_annotation(const char *json, size_t len, const char *key, char *out,
			   size_t out_len);

/* view.c: the figures of top and report, over a window of ticks */
#define VIEW_TICKS 11 /* snapshots kept: top's window is the last 10 ticks */
struct view_figures {
	uint64_t requests, errors, sum_ns; /* errors: status 5xx */
	double rate;			   /* requests per second */
	double error_ratio;
	double mean, p50, p90, p99; /* seconds; NAN without requests */
};
struct view_route {
	const char *route;
	enum http_method method;
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

/* top.c: the live terminal view of `redscope top` */
int top__start(enum view_sort sort, const char *filter);
void top__stop(void);
/* Handle the keys typed so far; true when the user asked to quit. */
bool top__keys(void);
void top__frame(struct view *v);

/* tls.c: uprobes on the libssl of watched processes */
/* Hook the libssl files the process maps now. */
void tls__scan(pid_t pid);
/* Check the process later, from the main loop; tls_seen: it spoke TLS. */
void tls__queue(pid_t pid, bool tls_seen);
void tls__memory_bio(pid_t pid);
void tls__drain(void);
void tls__stats(struct self_stats *st);
void tls__cleanup(void);

/* web.c: the HTTP endpoint */
/* webconfig.c: --web.config.file, the Prometheus exporters' web configuration */
enum web_client_auth {
	WEB_CLIENT_NONE = 0,
	WEB_CLIENT_REQUEST,
	WEB_CLIENT_REQUIRE_ANY,
	WEB_CLIENT_VERIFY_IF_GIVEN,
	WEB_CLIENT_REQUIRE_AND_VERIFY,
};
enum web_tls_version { WEB_TLS10 = 0, WEB_TLS11, WEB_TLS12, WEB_TLS13 };
struct web_user {
	char *name;
	char *hash; /* bcrypt */
};
struct web_config {
	bool tls;
	char *cert_pem, *key_pem, *client_ca_pem;
	enum web_client_auth client_auth;
	enum web_tls_version min_version, max_version;
	struct web_user *users; /* basic auth; none: no authentication */
	size_t n_users;
};
int web_config__load(const char *path, struct web_config *c);
void web_config__free(struct web_config *c);

struct web_opts {
	const char *listen_address; /* [host]:port */
	const char *telemetry_path;
	const struct web_config *config; /* TLS and basic auth; NULL: plain HTTP, open */
};
struct web;
/* Bind the listen address; fails early, with a clear message, when it is taken. */
int web__bind(const struct web_opts *opts, int *fd_out);
struct web *web__start(const struct web_opts *opts, int listen_fd,
		       void (*render)(struct buf *out, void *ctx), void *ctx);
/* Let go of a rendered page once it may no longer be reused (call now and then). */
void web__trim(struct web *w);
void web__stop(struct web *w);

#endif /* REDSCOPE_INTERNAL_H */
