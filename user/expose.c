// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Render the store and the self metrics in the Prometheus text exposition format 0.0.4. */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid. */
size_t utf8_seq_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates and values beyond Unicode are not UTF-8 */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/*
 * A label value, escaped: backslash, double quote and line feed. Bytes that are not
 * UTF-8 become U+FFFD, since Prometheus rejects a whole scrape over one bad label.
 */
void expose__label_value(struct buf *b, const char *v)
{
	const unsigned char *p = (const unsigned char *)(v ? v : "");
	size_t n = strlen((const char *)p);

	while (n) {
		size_t k = utf8_seq_len(p, n);

		if (!k) {
			buf__puts(b, "\xef\xbf\xbd");
			k = 1;
		} else if (*p == '\\') {
			buf__puts(b, "\\\\");
		} else if (*p == '"') {
			buf__puts(b, "\\\"");
		} else if (*p == '\n') {
			buf__puts(b, "\\n");
		} else {
			buf__append(b, p, k);
		}
		p += k;
		n -= k;
	}
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf__printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void label(struct buf *b, bool *first, const char *name, const char *value)
{
	buf__puts(b, *first ? "{" : ",");
	*first = false;
	buf__puts(b, name);
	buf__puts(b, "=\"");
	expose__label_value(b, value);
	buf__puts(b, "\"");
}

/* Labels every series of a service carries. */
static void identity_labels(struct buf *b, bool *first, const struct identity *id)
{
	label(b, first, "service_name", id->service_name);
	if (id->k8s_namespace) {
		label(b, first, "k8s_namespace_name", id->k8s_namespace);
		label(b, first, "k8s_pod_name", id->k8s_pod);
		label(b, first, "k8s_container_name", id->k8s_container);
	}
}

static void request_labels(struct buf *b, const struct identity *id, const struct request_series *r)
{
	char status[12];
	bool first = true;

	snprintf(status, sizeof(status), "%u", r->status);
	identity_labels(b, &first, id);
	label(b, &first, "http_request_method", http_method_name(r->method));
	label(b, &first, "http_route", r->route);
	label(b, &first, "http_response_status_code", status);
	label(b, &first, "url_scheme", r->tls ? "https" : "http");
}

/* A raw integer times scale, exactly where scale is 1 or 1e-9. */
static void raw_value(struct buf *b, uint64_t raw, double scale)
{
	if (scale == 1.0)
		buf__printf(b, "%" PRIu64, raw);
	else if (scale == 1e-9)
		buf__printf(b, "%" PRIu64 ".%09" PRIu64, raw / 1000000000, raw % 1000000000);
	else
		buf__printf(b, "%.17g", (double)raw * scale);
}

enum which_histogram { H_DURATION, H_REQ_BODY, H_RESP_BODY };

static const struct histogram *pick(const struct request_series *r, enum which_histogram w)
{
	return w == H_DURATION ? &r->duration : w == H_REQ_BODY ? &r->req_body : &r->resp_body;
}

/* The _bucket, _sum and _count lines of one histogram; labels opens the label set. */
static void histogram_lines(struct buf *b, const char *name, const struct histogram *h,
			    const struct histogram_spec *spec,
			    void (*labels)(struct buf *, const void *), const void *ctx)
{
	uint64_t cum = 0;

	for (size_t i = 0; i <= spec->n; i++) {
		cum += h->buckets[i];
		buf__printf(b, "%s_bucket", name);
		labels(b, ctx);
		if (i < spec->n)
			buf__printf(b, ",le=\"%.15g\"} %" PRIu64 "\n", spec->bounds[i], cum);
		else
			buf__printf(b, ",le=\"+Inf\"} %" PRIu64 "\n", cum);
	}
	buf__printf(b, "%s_sum", name);
	labels(b, ctx);
	buf__puts(b, "} ");
	raw_value(b, h->sum, spec->scale);
	buf__printf(b, "\n%s_count", name);
	labels(b, ctx);
	buf__printf(b, "} %" PRIu64 "\n", h->count);
}

struct series_ctx {
	const struct service_series *svc;
	const struct request_series *r;
};

static void series_labels(struct buf *b, const void *ctx)
{
	const struct series_ctx *c = ctx;

	request_labels(b, &c->svc->id, c->r);
}

static void service_labels(struct buf *b, const void *ctx)
{
	bool first = true;

	identity_labels(b, &first, &((const struct service_series *)ctx)->id);
}

static void render_histograms(struct store *s, struct buf *b, const char *name,
			      enum which_histogram which, const struct histogram_spec *spec)
{
	for (struct service_series *svc = s->services; svc; svc = svc->next) {
		for (struct request_series *r = svc->requests; r; r = r->next) {
			struct series_ctx c = { svc, r };

			histogram_lines(b, name, pick(r, which), spec, series_labels, &c);
		}
	}
}

/* A gauge with one value per service (of those with all of only_flags). */
static void service_gauge(struct store *s, struct buf *b, const char *name, const char *help,
			  int64_t (*value)(const struct service_series *svc), unsigned int only_flags)
{
	family(b, name, "gauge", help);
	for (struct service_series *svc = s->services; svc; svc = svc->next) {
		bool first = true;

		if ((svc->id.flags & only_flags) != only_flags)
			continue;
		buf__puts(b, name);
		identity_labels(b, &first, &svc->id);
		buf__printf(b, "} %" PRId64 "\n", value(svc));
	}
}

static int64_t active_of(const struct service_series *svc)
{
	return svc->active;
}

static int64_t workers_of(const struct service_series *svc)
{
	return svc->workers;
}

/* Saturation of the services: queue time, busy time, workers. */
static void render_saturation(struct store *s, struct buf *b)
{
	family(b, "http_server_request_queue_duration_seconds", "histogram",
	       "Time connections waited in the listen queue before a worker accepted them.");
	for (struct service_series *svc = s->services; svc; svc = svc->next)
		histogram_lines(b, "http_server_request_queue_duration_seconds", &svc->queue,
				&s->opts.queue, service_labels, svc);
	family(b, "http_server_worker_busy_seconds_total", "counter",
	       "Time worker processes spent with at least one request in flight.");
	for (struct service_series *svc = s->services; svc; svc = svc->next) {
		buf__puts(b, "http_server_worker_busy_seconds_total");
		service_labels(b, svc);
		buf__puts(b, "} ");
		raw_value(b, svc->busy_ns, 1e-9);
		buf__puts(b, "\n");
	}
	service_gauge(s, b, "http_server_workers", "Live worker processes.", workers_of, 0);
}

static void counter(struct buf *b, const char *name, const char *help, uint64_t v)
{
	family(b, name, "counter", help);
	buf__printf(b, "%s %" PRIu64 "\n", name, v);
}

static void gauge(struct buf *b, const char *name, const char *help, double v)
{
	family(b, name, "gauge", help);
	buf__printf(b, "%s %.17g\n", name, v);
}

/* Label values of the kernel side's reasons (enum rs_reason). */
static const char *const bpf_reasons[RS_R__COUNT] = {
	[RS_R_NOT_HTTP] = "not_http",
	[RS_R_BAD_STATUS_LINE] = "bad_status_line",
	[RS_R_HEAD_TOO_LARGE] = "head_too_large",
	[RS_R_BAD_CHUNK] = "bad_chunk",
	[RS_R_BAD_LENGTH] = "bad_content_length",
	[RS_R_SCAN_LIMIT] = "scan_limit",
	[RS_R_UNSEEN_BYTES] = "unseen_bytes",
	[RS_R_ORPHAN_RESPONSE] = "orphan_response",
	[RS_R_PIPELINE_FULL] = "pipeline_full",
	[RS_R_READ_FAULT] = "read_fault",
	[RS_R_HTTP2_PREFACE] = "http2_preface",
	[RS_R_TLS_NO_PLAINTEXT] = "tls_no_plaintext",
	[RS_R_RESYNC] = "resync",
};

/*
 * One counter family by reason: the kernel's counters from base (indexed by enum
 * rs_reason, those in kernel_reasons) and the request line parser's (user), merged
 * where both find a reason.
 */
static void render_reasons(struct buf *b, const char *name, const uint64_t *kernel,
			   uint32_t kernel_reasons, const uint64_t *user)
{
	for (size_t r = 0; r < RS_R__COUNT; r++) {
		uint64_t v = kernel[r];

		if (!(kernel_reasons & (1u << r)))
			continue;
		for (size_t k = 1; k < HTTP1_ERROR__COUNT; k++)
			if (!strcmp(http1_error_name((enum http1_error)k), bpf_reasons[r]))
				v += user[k];
		buf__printf(b, "%s{reason=\"%s\"} %" PRIu64 "\n", name, bpf_reasons[r], v);
	}
	for (size_t k = 1; k < HTTP1_ERROR__COUNT; k++) {
		bool seen = false;

		for (size_t r = 0; r < RS_R__COUNT; r++)
			seen |= (kernel_reasons & (1u << r)) &&
				!strcmp(http1_error_name((enum http1_error)k), bpf_reasons[r]);
		if (!seen)
			buf__printf(b, "%s{reason=\"%s\"} %" PRIu64 "\n", name,
				    http1_error_name((enum http1_error)k), user[k]);
	}
}

/* Reasons framing can be lost for, and those that leave requests in no series. */
#define PARSE_ERROR_REASONS (((1u << RS_R__COUNT) - 1) & ~(1u << RS_R_RESYNC))
#define UNFRAMED_REASONS                                                                  \
	((1u << RS_R_BAD_STATUS_LINE) | (1u << RS_R_HEAD_TOO_LARGE) | (1u << RS_R_BAD_CHUNK) | \
	 (1u << RS_R_BAD_LENGTH) | (1u << RS_R_SCAN_LIMIT) | (1u << RS_R_UNSEEN_BYTES) |       \
	 (1u << RS_R_ORPHAN_RESPONSE) | (1u << RS_R_READ_FAULT) | (1u << RS_R_RESYNC))

static void render_process(struct buf *b, const struct self_stats *self)
{
	long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	unsigned long utime = 0, stime = 0, vsize = 0;
	long rss = 0;
	char line[1024], *p;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t fds = 0;
	struct dirent *de;
	DIR *dir;
	FILE *lim;
	unsigned long long max_fds = 0;

	if (f) {
		/* fields after the parenthesised comm: state is field 3, utime 14, rss 24 */
		if (fgets(line, sizeof(line), f) && (p = strrchr(line, ')')))
			sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %*u %lu %ld",
			       &utime, &stime, &vsize, &rss);
		fclose(f);
	}
	dir = opendir("/proc/self/fd");
	if (dir) {
		while ((de = readdir(dir)))
			if (de->d_name[0] != '.')
				fds++;
		closedir(dir);
		fds--; /* the descriptor of the listing itself */
	}
	lim = fopen("/proc/self/limits", "r");
	if (lim) {
		while (fgets(line, sizeof(line), lim))
			if (!strncmp(line, "Max open files", 14))
				sscanf(line + 14, "%llu", &max_fds);
		fclose(lim);
	}
	family(b, "process_cpu_seconds_total", "counter",
	       "Total user and system CPU time spent in seconds.");
	buf__printf(b, "process_cpu_seconds_total %.2f\n",
		    (double)(utime + stime) / (double)(ticks > 0 ? ticks : 100));
	gauge(b, "process_resident_memory_bytes", "Resident memory size in bytes.",
	      (double)rss * (double)page);
	gauge(b, "process_virtual_memory_bytes", "Virtual memory size in bytes.", (double)vsize);
	gauge(b, "process_open_fds", "Number of open file descriptors.", (double)fds);
	gauge(b, "process_max_fds", "Maximum number of open file descriptors.", (double)max_fds);
	gauge(b, "process_start_time_seconds",
	      "Start time of the process since unix epoch in seconds.", self->start_time);
}

static void render_self(struct store *s, struct buf *b, const struct self_stats *self)
{
	struct utsname uts;

	if (uname(&uts))
		strcpy(uts.release, "unknown");
	family(b, "redscope_build_info", "gauge",
	       "A metric with a constant '1' value labeled by the redscope version and the kernel it runs on.");
	buf__puts(b, "redscope_build_info{version=\"");
	expose__label_value(b, REDSCOPE_VERSION);
	buf__puts(b, "\",kernel=\"");
	expose__label_value(b, uts.release);
	buf__puts(b, "\"} 1\n");

	family(b, "redscope_capture_info", "gauge",
	       "How redscope sees socket I/O: sockets (socket tracepoints), fentry (BPF "
	       "trampolines) or syscalls (syscall tracepoints, paid by every process).");
	buf__printf(b, "redscope_capture_info{backend=\"%s\"} 1\n",
		    capture_names[self->capture < CAPTURE__COUNT ? self->capture : CAPTURE_AUTO]);

	counter(b, "redscope_events_total", "Records received from the kernel.", self->events);
	counter(b, "redscope_lost_events_total",
		"Records the kernel dropped because the ring buffer was full.",
		self->bpf[RS_STAT_LOST_EVENTS]);
	counter(b, "redscope_connections_total", "Server connections redscope started to follow.",
		self->bpf[RS_STAT_CONNS_OPENED]);
	counter(b, "redscope_connections_upgraded_total",
		"Connections that switched protocols (101) and are no longer followed.",
		self->bpf[RS_STAT_CONNS_UPGRADED]);
	counter(b, "redscope_connections_tunneled_total",
		"Connections that a 2xx answer to CONNECT made a tunnel: no longer followed.",
		self->bpf[RS_STAT_CONNS_TUNNELED]);
	counter(b, "redscope_syscalls_dropped_total",
		"Socket syscalls of watched processes not followed: too many in flight at once.",
		self->bpf[RS_STAT_INFLIGHT_FULL]);
	counter(b, "redscope_tls_connections_total",
		"Connections that started with a TLS handshake (their HTTP is seen as plaintext "
		"in libssl, or not at all).",
		self->bpf[RS_STAT_CONNS_TLS]);
	counter(b, "redscope_tls_unattributed_calls_total",
		"SSL_read/SSL_write calls not followed: their socket is unknown (a memory BIO).",
		self->bpf[RS_STAT_TLS_NO_SOCKET]);
	counter(b, "redscope_tls_unsupported_processes_total",
		"Processes speaking TLS redscope cannot read: no libssl it can hook (statically "
		"linked OpenSSL, another TLS library) or OpenSSL on memory BIOs; each is "
		"logged once.",
		self->tls_unsupported_processes);
	gauge(b, "redscope_tls_libraries", "libssl files whose SSL_read and SSL_write are hooked.",
	      (double)self->tls_libraries);
	counter(b, "redscope_requests_unanswered_total",
		"Requests whose connection closed before any response was written.",
		self->unanswered);
	counter(b, "redscope_responses_truncated_total",
		"Responses cut short by a connection close (counted with their status).",
		self->truncated);

	family(b, "redscope_parse_errors_total", "counter",
	       "Traffic on watched connections that is not HTTP/1.x redscope can follow, by reason.");
	render_reasons(b, "redscope_parse_errors_total", &self->bpf[RS_STAT_PARSE_ERROR],
		       PARSE_ERROR_REASONS, self->parse_errors);
	family(b, "redscope_requests_unframed_total", "counter",
	       "Requests read that are in no HTTP series because their response, or they, could "
	       "not be framed, by reason.");
	render_reasons(b, "redscope_requests_unframed_total", &self->bpf[RS_STAT_UNFRAMED],
		       UNFRAMED_REASONS, self->parse_errors);

	family(b, "redscope_route_overflow_total", "counter",
	       "Requests counted under the route {overflow}: their service had --max-routes routes.");
	for (struct service_series *svc = s->services; svc; svc = svc->next) {
		buf__puts(b, "redscope_route_overflow_total");
		service_labels(b, svc);
		buf__printf(b, "} %" PRIu64 "\n", svc->route_overflow);
	}
	gauge(b, "redscope_tracked_processes", "Processes watched right now.",
	      (double)self->tracked_processes);
	gauge(b, "redscope_tracked_connections", "Connections followed right now.",
	      (double)self->tracked_connections);
	gauge(b, "redscope_series", "HTTP request series in the store.", (double)s->n_series);
	gauge(b, "redscope_kubernetes_containers",
	      "Pod containers whose metadata redscope holds (Kubernetes mode).",
	      (double)self->kube_containers);
}

/* ---- --compat=statsd: the series of gunicorn --statsd-host + statsd_exporter ---- */

/* statsd_exporter's default summary quantiles */
static const double summary_ranks[] = { 0.5, 0.9, 0.99 };

static void summary_lines(struct buf *b, const char *name, const struct summary *sum,
			  void (*labels)(struct buf *, const void *), const void *ctx, uint64_t now)
{
	double q[ARRAY_SIZE(summary_ranks)];

	quantiles__compute(&sum->q, now, summary_ranks, ARRAY_SIZE(summary_ranks), q);
	for (size_t i = 0; i < ARRAY_SIZE(summary_ranks); i++) {
		buf__puts(b, name);
		labels(b, ctx);
		buf__printf(b, ",quantile=\"%g\"} ", summary_ranks[i]);
		if (q[i] != q[i])
			buf__puts(b, "NaN\n");
		else
			buf__printf(b, "%.9g\n", q[i]);
	}
	buf__printf(b, "%s_sum", name);
	labels(b, ctx);
	buf__puts(b, "} ");
	raw_value(b, sum->sum_ns, 1e-9);
	buf__printf(b, "\n%s_count", name);
	labels(b, ctx);
	buf__printf(b, "} %" PRIu64 "\n", sum->count);
}

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

	label(b, &first, "service", c->svc->id.service_name);
	label(b, &first, "endpoint", c->route);
	if (c->r) {
		char status[12];

		snprintf(status, sizeof(status), "%u", c->r->status);
		label(b, &first, "method", http_method_name(c->r->method));
		label(b, &first, "status", status);
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

	for (const struct request_series *r = svc->requests; r; r = r->next)
		if (!status || r->status == status)
			n += r->duration.count;
	return n;
}

static void render_compat_statsd(struct store *s, struct buf *b)
{
	bool done[1000] = {}; /* status codes whose family is out */
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;

	family(b, "gunicorn_requests", "counter", "Requests served (gunicorn statsd compatible).");
	for (struct service_series *svc = s->services; svc; svc = svc->next) {
		if (!is_compat(svc))
			continue;
		buf__puts(b, "gunicorn_requests");
		service_labels(b, svc);
		buf__printf(b, "} %" PRIu64 "\n", requests_with_status(svc, 0));
	}
	/* gunicorn_request_status_<code>: one family per status code seen */
	for (struct service_series *svc = s->services; svc; svc = svc->next) {
		if (!is_compat(svc))
			continue;
		for (struct request_series *r = svc->requests; r; r = r->next) {
			char name[64];

			if (r->status >= ARRAY_SIZE(done) || done[r->status])
				continue;
			done[r->status] = true;
			snprintf(name, sizeof(name), "gunicorn_request_status_%u", r->status);
			buf__printf(b, "# HELP %s Responses with status %u (gunicorn statsd compatible).\n"
				       "# TYPE %s counter\n",
				    name, r->status, name);
			for (struct service_series *o = s->services; o; o = o->next) {
				uint64_t n = is_compat(o) ? requests_with_status(o, r->status) : 0;

				if (!n)
					continue;
				buf__puts(b, name);
				service_labels(b, o);
				buf__printf(b, "} %" PRIu64 "\n", n);
			}
		}
	}
	family(b, "gunicorn_request_duration", "summary",
	       "Request duration in seconds (gunicorn statsd compatible).");
	for (struct service_series *svc = s->services; svc; svc = svc->next)
		if (is_compat(svc))
			summary_lines(b, "gunicorn_request_duration", &svc->duration, service_labels,
				      svc, now);
	service_gauge(s, b, "gunicorn_workers", "Worker processes (gunicorn statsd compatible).",
		      workers_of, IDENTITY_GUNICORN);

	family(b, "django_request_count", "counter",
	       "Requests by endpoint, method and status (Django statsd middleware compatible).");
	for (struct service_series *svc = s->services; svc; svc = svc->next) {
		if (!is_compat(svc))
			continue;
		for (struct request_series *r = svc->requests; r; r = r->next) {
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
	family(b, "django_request_latency_seconds", "summary",
	       "Request latency by endpoint (Django statsd middleware compatible).");
	for (struct service_series *svc = s->services; svc; svc = svc->next) {
		if (!is_compat(svc))
			continue;
		for (struct route_entry *re = svc->routes; re; re = re->next) {
			struct route_ctx c = { svc, re->route, NULL };

			if (re->latency.count)
				summary_lines(b, "django_request_latency_seconds", &re->latency,
					      django_labels, &c, now);
		}
	}
}

void expose__render(struct store *s, const struct self_stats *self, struct buf *out)
{
	const struct store_opts *o = &s->opts;

	family(out, "http_server_request_duration_seconds", "histogram",
	       "Duration of HTTP server requests.");
	render_histograms(s, out, "http_server_request_duration_seconds", H_DURATION, &o->duration);
	family(out, "http_server_request_body_size_bytes", "histogram",
	       "Size of HTTP server request bodies.");
	render_histograms(s, out, "http_server_request_body_size_bytes", H_REQ_BODY, &o->body_size);
	family(out, "http_server_response_body_size_bytes", "histogram",
	       "Size of HTTP server response bodies.");
	render_histograms(s, out, "http_server_response_body_size_bytes", H_RESP_BODY,
			  &o->body_size);
	service_gauge(s, out, "http_server_active_requests", "Number of HTTP server requests in flight.",
		      active_of, 0);
	render_saturation(s, out);
	if (o->compat_statsd)
		render_compat_statsd(s, out);
	render_self(s, out, self);
	render_process(out, self);
}
