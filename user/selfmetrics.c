// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * redscope's own metrics: build and capture info, what the kernel side counted
 * (records, drops, connections, reasons traffic was not counted), what the daemon
 * holds, and the process_* family of its own process.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "buf.h"
#include "capture.h"
#include "common.h"
#include "http1.h"
#include "prom.h"
#include "selfmetrics.h"
#include "series.h"
#include "store.h"

/*
 * Why traffic was not counted: one row per reason label, with the kernel side's
 * counter (enum rs_reason) and the request line parser's (enum http1_error) that
 * count it, matched by enum. Kernel reasons in their order, then the parser's own.
 */
#define NO_KERNEL_REASON RS_R__COUNT
static const struct reason {
	const char *label;
	enum rs_reason kernel;	/* NO_KERNEL_REASON: the parser's alone */
	enum http1_error user;	/* HTTP1_OK: the kernel's alone */
} reasons[] = {
	{ "not_http", RS_R_NOT_HTTP, HTTP1_OK },
	{ "bad_status_line", RS_R_BAD_STATUS_LINE, HTTP1_OK },
	{ "head_too_large", RS_R_HEAD_TOO_LARGE, HTTP1_OK },
	{ "bad_chunk", RS_R_BAD_CHUNK, HTTP1_OK },
	{ "bad_content_length", RS_R_BAD_LENGTH, HTTP1_OK },
	{ "scan_limit", RS_R_SCAN_LIMIT, HTTP1_OK },
	{ "unseen_bytes", RS_R_UNSEEN_BYTES, HTTP1_OK },
	{ "orphan_response", RS_R_ORPHAN_RESPONSE, HTTP1_OK },
	{ "pipeline_full", RS_R_PIPELINE_FULL, HTTP1_OK },
	{ "read_fault", RS_R_READ_FAULT, HTTP1_OK },
	{ "not_http2", RS_R_NOT_HTTP2, HTTP1_OK },
	{ "tls_no_plaintext", RS_R_TLS_NO_PLAINTEXT, HTTP1_OK },
	{ "resync", RS_R_RESYNC, HTTP1_OK },
	{ "bad_method", NO_KERNEL_REASON, HTTP1_BAD_METHOD },
	{ "bad_target", NO_KERNEL_REASON, HTTP1_BAD_TARGET },
	{ "bad_version", NO_KERNEL_REASON, HTTP1_BAD_VERSION },
	{ "http2_preface", NO_KERNEL_REASON, HTTP1_HTTP2_PREFACE },
};
/* every reason of either side has its row */
_Static_assert(ARRAY_SIZE(reasons) == RS_R__COUNT + HTTP1_ERROR__COUNT - 1,
	       "a reason without a label");

/* What the HTTP/2 tracker could not follow, by kind. */
static void render_h2(struct prom_out *o, const struct h2_counts *c)
{
	const struct {
		const char *kind;
		uint64_t n;
	} rows[] = {
		{ "joined_late", c->late_conns },	 { "hpack_error", c->hpack_errors },
		{ "header_block_lost", c->blocks_lost }, { "frame_error", c->frame_errors },
		{ "framing_lost", c->framing_lost },	 { "stream_dropped", c->streams_dropped },
		{ "stream_begun_unseen", c->streams_unseen },
		{ "stream_refused", c->streams_refused }, { "connection_dropped", c->conns_dropped },
	};

	prom__family(o, "redscope_http2_problems_total", PROM_COUNTER,
		     "HTTP/2 connections and streams redscope could follow only in part, by kind: "
		     "joined_late (labels from before may be {unknown}), hpack_error, "
		     "header_block_lost, frame_error, framing_lost, stream_dropped (in no series), "
		     "stream_begun_unseen (begun before redscope saw it), stream_refused (a GOAWAY "
		     "said it was never processed), connection_dropped (too many at once).");
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		prom__sample(o, "redscope_http2_problems_total");
		prom__label(o, "kind", rows[i].kind);
		prom__value_u64(o, rows[i].n);
	}
}

/*
 * One counter family by reason: the kernel's counters from kernel (indexed by enum
 * rs_reason; those in kernel_reasons) and the request line parser's (user), summed
 * where both count a reason. The parser's reasons are in every such family.
 */
static void render_reasons(struct prom_out *o, const char *name, const uint64_t *kernel,
			   uint32_t kernel_reasons, const uint64_t *user)
{
	for (size_t i = 0; i < ARRAY_SIZE(reasons); i++) {
		const struct reason *r = &reasons[i];
		bool in_kernel = r->kernel != NO_KERNEL_REASON && (kernel_reasons & (1u << r->kernel));
		uint64_t v = r->user != HTTP1_OK ? user[r->user] : 0;

		if (!in_kernel && r->user == HTTP1_OK)
			continue;
		if (in_kernel)
			v += kernel[r->kernel];
		prom__sample(o, name);
		prom__label(o, "reason", r->label);
		prom__value_u64(o, v);
	}
}

/* Reasons framing can be lost for, and those that leave requests in no series. */
#define PARSE_ERROR_REASONS (((1u << RS_R__COUNT) - 1) & ~(1u << RS_R_RESYNC))
#define UNFRAMED_REASONS                                                                  \
	((1u << RS_R_BAD_STATUS_LINE) | (1u << RS_R_HEAD_TOO_LARGE) | (1u << RS_R_BAD_CHUNK) | \
	 (1u << RS_R_BAD_LENGTH) | (1u << RS_R_SCAN_LIMIT) | (1u << RS_R_UNSEEN_BYTES) |       \
	 (1u << RS_R_ORPHAN_RESPONSE) | (1u << RS_R_READ_FAULT) | (1u << RS_R_RESYNC))

void selfmetrics__sample(struct process_figures *out)
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
	out->cpu_seconds = (double)(utime + stime) / (double)(ticks > 0 ? ticks : 100);
	out->resident_bytes = (double)rss * (double)page;
	out->virtual_bytes = (double)vsize;
	out->open_fds = (double)fds;
	out->max_fds = (double)max_fds;
}

static void render_process(struct prom_out *o, const struct self_stats *self)
{
	const struct process_figures *p = &self->process;

	prom__family(o, "process_cpu_seconds_total", PROM_COUNTER,
		     "Total user and system CPU time spent in seconds.");
	prom__sample(o, "process_cpu_seconds_total");
	prom__value_fmt(o, "%.2f", p->cpu_seconds);
	prom__gauge(o, "process_resident_memory_bytes", "Resident memory size in bytes.",
		    p->resident_bytes);
	prom__gauge(o, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
		    p->virtual_bytes);
	prom__gauge(o, "process_open_fds", "Number of open file descriptors.", p->open_fds);
	prom__gauge(o, "process_max_fds", "Maximum number of open file descriptors.", p->max_fds);
	prom__gauge(o, "process_start_time_seconds",
		    "Start time of the process since unix epoch in seconds.", self->start_time);
}

void selfmetrics__render(const struct store *s, struct prom_out *o, const struct self_stats *self)
{
	struct utsname uts;

	if (uname(&uts))
		strcpy(uts.release, "unknown");
	prom__family(o, "redscope_build_info", PROM_GAUGE,
		     "A metric with a constant '1' value labeled by the redscope version and the kernel it runs on.");
	prom__sample(o, "redscope_build_info");
	prom__label(o, "version", REDSCOPE_VERSION);
	prom__label(o, "kernel", uts.release);
	prom__value_u64(o, 1);

	prom__family(o, "redscope_capture_info", PROM_GAUGE,
		     "How redscope sees socket I/O: sockets (socket tracepoints), fentry (BPF "
		     "trampolines) or syscalls (syscall tracepoints, paid by every process).");
	prom__sample(o, "redscope_capture_info");
	prom__label(o, "backend",
		    capture_names[self->capture < CAPTURE__COUNT ? self->capture : CAPTURE_AUTO]);
	prom__value_u64(o, 1);

	prom__counter(o, "redscope_events_total", "Records received from the kernel.", self->events);
	prom__counter(o, "redscope_lost_events_total",
		      "Records the kernel dropped because the ring buffer was full.",
		      self->bpf[RS_STAT_LOST_EVENTS]);
	prom__counter(o, "redscope_connections_total", "Server connections redscope started to follow.",
		      self->bpf[RS_STAT_CONNS_OPENED]);
	prom__counter(o, "redscope_client_connections_total",
		      "Connections watched processes opened and sent a request on: their calls are "
		      "in http_client_*.",
		      self->bpf[RS_STAT_CONNS_CLIENT]);
	prom__counter(o, "redscope_connections_upgraded_total",
		      "Connections that switched protocols (101) and are no longer followed.",
		      self->bpf[RS_STAT_CONNS_UPGRADED]);
	prom__counter(o, "redscope_http2_connections_total",
		      "Connections followed as HTTP/2: from their preface, or picked up mid-connection.",
		      self->bpf[RS_STAT_CONNS_H2]);
	render_h2(o, &self->h2);
	prom__counter(o, "redscope_connections_tunneled_total",
		      "Connections that a 2xx answer to CONNECT made a tunnel: no longer followed.",
		      self->bpf[RS_STAT_CONNS_TUNNELED]);
	prom__counter(o, "redscope_syscalls_dropped_total",
		      "Socket syscalls of watched processes not followed: too many in flight at once.",
		      self->bpf[RS_STAT_INFLIGHT_FULL]);
	prom__counter(o, "redscope_tls_connections_total",
		      "Connections that started with a TLS handshake (their HTTP is seen as plaintext "
		      "in libssl, or not at all).",
		      self->bpf[RS_STAT_CONNS_TLS]);
	prom__counter(o, "redscope_tls_unattributed_calls_total",
		      "SSL_read/SSL_write calls not followed: their socket is unknown (a memory BIO).",
		      self->bpf[RS_STAT_TLS_NO_SOCKET]);
	prom__counter(o, "redscope_tls_unsupported_processes_total",
		      "Processes speaking TLS redscope cannot read: no libssl it can hook (statically "
		      "linked OpenSSL, another TLS library) or OpenSSL on memory BIOs; each is "
		      "logged once.",
		      self->tls_unsupported_processes);
	prom__counter(o, "redscope_requests_unwatched_total",
		      "Requests read by server processes redscope could not start to watch (too many "
		      "processes watched): in no HTTP series.",
		      self->bpf[RS_STAT_REQS_UNWATCHED]);
	prom__gauge(o, "redscope_tls_libraries", "libssl files whose SSL_read and SSL_write are hooked.",
		    (double)self->tls_libraries);
	prom__counter(o, "redscope_requests_unanswered_total",
		      "Requests whose connection closed before any response was written.",
		      self->unanswered);
	prom__counter(o, "redscope_responses_truncated_total",
		      "Responses cut short by a connection close (counted with their status).",
		      self->truncated);

	prom__family(o, "redscope_parse_errors_total", PROM_COUNTER,
		     "Traffic on watched connections that is not HTTP/1.x redscope can follow, by reason.");
	render_reasons(o, "redscope_parse_errors_total", &self->bpf[RS_STAT_PARSE_ERROR],
		       PARSE_ERROR_REASONS, self->parse_errors);
	prom__family(o, "redscope_requests_unframed_total", PROM_COUNTER,
		     "Requests read that are in no HTTP series because their response, or they, could "
		     "not be framed, by reason.");
	render_reasons(o, "redscope_requests_unframed_total", &self->bpf[RS_STAT_UNFRAMED],
		       UNFRAMED_REASONS, self->parse_errors);

	prom__family(o, "redscope_route_overflow_total", PROM_COUNTER,
		     "Requests counted under the route {overflow}: their service had --max-routes routes.");
	store_for_each_service(svc, s) {
		prom__sample(o, "redscope_route_overflow_total");
		series__service_labels(o, svc);
		prom__value_u64(o, svc->routes.overflow);
	}
	prom__family(o, "redscope_client_address_overflow_total", PROM_COUNTER,
		     "Calls counted under server_address {overflow}: their service had called "
		     "--max-server-addresses servers.");
	store_for_each_service(svc, s) {
		prom__sample(o, "redscope_client_address_overflow_total");
		series__service_labels(o, svc);
		prom__value_u64(o, svc->addresses.overflow);
	}
	prom__gauge(o, "redscope_tracked_processes", "Processes watched right now.",
		    (double)self->tracked_processes);
	prom__gauge(o, "redscope_tracked_connections", "Connections followed right now.",
		    (double)self->tracked_connections);
	prom__gauge(o, "redscope_series", "HTTP request series in the store.", (double)s->n_series);
	prom__gauge(o, "redscope_kubernetes_containers",
		    "Pod containers whose metadata redscope holds (Kubernetes mode).",
		    (double)self->kube_containers);
	render_process(o, self);
}
