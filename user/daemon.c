// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The daemon: the order things start in (what needs privileges first, then they are
 * dropped), the loop that drains the ring buffer into the store and sweeps what died,
 * and a shutdown that leaves nothing loaded. One struct daemon holds all it started.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "buf.h"
#include "capture.h"
#include "cli.h"
#include "client.h"
#include "common.h"
#include "daemon.h"
#include "expose.h"
#include "grpc.h"
#include "h2.h"
#include "http1.h"
#include "kernel.h"
#include "kube.h"
#include "log.h"
#include "procs.h"
#include "route.h"
#include "selectors.h"
#include "selfmetrics.h"
#include "store.h"
#include "targets.h"
#include "tls.h"
#include "top.h"
#include "view.h"
#include "web.h"
#include "webconfig.h"

/*
 * The kernel side wakes the daemon only when the ring buffer fills up; otherwise
 * records wait at most this long to be counted.
 */
#define POLL_TIMEOUT_MS 100
#define SWEEP_INTERVAL_NS 1000000000ULL
#define TOP_INTERVAL_NS 1000000000ULL
/* a /metrics page is rendered, and the store locked, this many bytes at a time */
#define PAGE_PIECE_BYTES (16 * 1024)

struct daemon {
	struct store *store;
	struct h2_conns *h2; /* HTTP/2 connections: the main thread's */
	struct self_stats self; /* guarded by the store lock; events is atomic */
	struct web_config web_config;
	struct ring_buffer *rb;
	struct web *web;
	int listen_fd; /* bound, until the web server takes it */
	struct view_state *view; /* top and report */
	uint64_t started_ns;	 /* top and report: when counting began */
	/*
	 * A scrape first has the main thread catch up with the kernel: drain the ring
	 * buffer and learn the targets it added, so that the page holds what happened
	 * before it was asked for. The scrape takes a ticket and wakes the loop; the loop
	 * says which tickets it served.
	 */
	int epoll_fd; /* the ring buffer and wake_fd */
	int wake_fd;  /* eventfd: a scrape waits */
	pthread_mutex_t sync_lock;
	pthread_cond_t synced;
	uint64_t sync_asked, sync_done;
	struct h2_counts h2_counts; /* the HTTP/2 tracker's, for scrapes: under sync_lock */
};

/* How long a scrape waits for the main thread (busy hooking a library, say). */
#define CATCH_UP_WAIT_NS 1000000000ULL

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

/*
 * A finished request in its series (answered), or counted as unanswered; truncated: its
 * response was cut short. One lock for all it changes: a scrape sees the request
 * counted, or not yet.
 */
static void count_request(struct daemon *d, bool answered, bool truncated,
			  const struct request_obs *obs)
{
	int stored = 0;

	store__lock(d->store);
	if (!answered) {
		d->self.unanswered++;
	} else {
		if (truncated)
			d->self.truncated++;
		stored = store__observe_request(d->store, obs);
	}
	store__unlock(d->store);
	if (stored)
		p_warn("out of memory: a request of %s is missing from its series",
		       obs->id->service_name);
}

/*
 * A request a watched process sent on a connection it opened: labelled by the server it
 * called; one that got no answer is in its series too, with why (error_type).
 */
static void on_client_call(struct daemon *d, const struct rs_event_http *e)
{
	size_t len = e->head_len < RS_CLIENT_LINE_MAX ? e->head_len : RS_CLIENT_LINE_MAX;
	uint8_t host_len = (uint8_t)e->head[RS_CLIENT_HOST_AT];
	bool answered = e->end_reason != RS_END_NO_RESPONSE && e->status;
	char address[CLIENT_ADDRESS_MAX];
	struct http1_request req;
	enum http1_error err;

	err = http1_parse_request_line(e->head, len, e->head_len, &req);
	if (err) {
		store__lock(d->store);
		d->self.parse_errors[err]++;
		store__unlock(d->store);
		return;
	}
	if (host_len > RS_CLIENT_HOST_MAX) /* cut: named by the peer */
		host_len = 0;
	client_server_address(e->head + RS_CLIENT_HOST_AT + 1, host_len, &e->peer, address);
	struct request_obs obs = {
		.id = procs__identity(e->tgid), /* before the store lock: procs comes first */
		.method = req.method,
		.route = address,
		.status = answered ? e->status : 0,
		.end_ns = e->end_ns,
		.duration_ns = e->end_ns > e->start_ns ? e->end_ns - e->start_ns : 0,
		.req_body_bytes = e->req_body_bytes,
		.resp_body_bytes = e->resp_body_bytes,
		.tls = e->tls,
		.version = req.version,
		.kind = SERIES_HTTP_CLIENT,
		.server_port = e->peer.port,
		.client_error = answered ? CLIENT_ANSWERED : client_error_of(e->peer.ended_by),
	};
	/* (the self metrics of unanswered and cut responses are the served requests') */
	count_request(d, true, false, &obs);
}

/* One finished request from the kernel: parse, label, count. */
static void on_http(struct daemon *d, const struct rs_event_http *e)
{
	size_t len = e->head_len < RS_HEAD_MAX ? e->head_len : RS_HEAD_MAX;
	bool answered = e->end_reason != RS_END_NO_RESPONSE && e->status;
	struct request_obs obs = {};
	struct http1_request req;
	char route[ROUTE_MAX];
	enum http1_error err;

	if (e->client) {
		on_client_call(d, e);
		return;
	}
	/* not HTTP/1.x (an HTTP/2 preface, junk): a parse error, answered or not */
	err = http1_parse_request_line(e->head, len, e->head_len, &req);
	if (err) {
		store__lock(d->store);
		d->self.parse_errors[err]++;
		store__unlock(d->store);
		if (log_level >= LOG_DEBUG)
			p_debug("process %u: a request line that is not HTTP/1.x (%s): %zu bytes, "
				"starting with byte 0x%02x", e->tgid, http1_error_name(err), len,
				len ? (unsigned char)e->head[0] : 0);
		return;
	}
	if (answered) {
		route_from_path(req.path, req.path_len, req.truncated, route);
		obs = (struct request_obs){
			.id = procs__identity(e->tgid), /* before the store lock: procs comes first */
			.method = req.method,
			.route = route,
			.status = e->status,
			.end_ns = e->end_ns,
			.duration_ns = e->end_ns > e->start_ns ? e->end_ns - e->start_ns : 0,
			.req_body_bytes = e->req_body_bytes,
			.resp_body_bytes = e->resp_body_bytes,
			.queued = e->established_ns && e->accept_ns >= e->established_ns,
			.queue_ns = e->accept_ns - e->established_ns,
			.tls = e->tls,
			.version = req.version,
		};
	}
	count_request(d, answered, e->end_reason == RS_END_TRUNCATED, &obs);
}

/* A gRPC call: its content type says so (application/grpc, +proto, +json, ...). */
static bool is_grpc(const struct h2_value *content_type)
{
	static const char prefix[] = "application/grpc";
	size_t n = sizeof(prefix) - 1;

	return content_type->known && content_type->len >= n &&
	       !memcmp(content_type->s, prefix, n) &&
	       (content_type->len == n || content_type->s[n] == '+' || content_type->s[n] == ';');
}

/*
 * The status of a gRPC call: its grpc-status, else what ended it without one (a reset,
 * the connection's close), else unknown (a header block redscope could not decode).
 */
static unsigned int grpc_status_of(const struct h2_stream_result *r)
{
	if (r->grpc_status >= 0)
		return r->grpc_status < GRPC_CODES ? (unsigned int)r->grpc_status : GRPC_CODE_OTHER;
	if (r->grpc_status == H2_GRPC_UNKNOWN || (r->end == H2_END_STREAM && !r->status_known))
		return GRPC_CODE_UNDECODED;
	/*
	 * A call still open at its deadline (grpc-timeout) that ends with no status ran
	 * out of time: the client gives up then (a reset, or it closes the connection),
	 * or the server's own deadline resets it. The client's deadline ran from before
	 * the request was sent (a connection's setup, first), so an end in its last tenth,
	 * or in its last 250 ms (at most half of it), is taken for it.
	 */
	if ((r->end == H2_END_RESET || r->end == H2_END_CLOSED) && r->grpc_timeout_ns) {
		uint64_t slack = r->grpc_timeout_ns / 10, floor = 250 * 1000 * 1000ULL;

		if (floor > r->grpc_timeout_ns / 2)
			floor = r->grpc_timeout_ns / 2;
		if (slack < floor)
			slack = floor;
		if (r->end_ns - r->start_ns >= r->grpc_timeout_ns - slack)
			return GRPC_DEADLINE_EXCEEDED;
	}
	if (r->end == H2_END_RESET)
		return grpc_code_of_reset(r->reset_code);
	/*
	 * The connection closed with the call open. The client went away (it closed or
	 * reset the connection, often right after cancelling, before its RST_STREAM
	 * left): a gRPC server reports that call cancelled. The server's own end closed
	 * it, or no one knows who: unavailable, what its client is told.
	 */
	if (r->end == H2_END_CLOSED)
		return r->closed_by_client ? GRPC_CANCELLED : GRPC_UNAVAILABLE;
	return GRPC_UNKNOWN; /* ended with no grpc-status: a broken server */
}

/* One finished HTTP/2 stream: a gRPC call or an HTTP request, counted once. */
static void on_h2_stream(void *ctx, const struct h2_stream_result *r)
{
	struct daemon *d = ctx;
	bool grpc = is_grpc(&r->content_type);
	bool answered = grpc || (r->status_known && r->status);
	char route[ROUTE_MAX];
	struct request_obs obs;

	if (!r->path_known) {
		snprintf(route, sizeof(route), "{unknown}"); /* not decodable: never a guess */
	} else if (grpc) {
		/* rpc_method: "package.Service/Method", the path without its slash */
		size_t n = r->path_len && r->path[0] == '/' ? r->path_len - 1 : r->path_len;
		if (n >= ROUTE_MAX)
			n = ROUTE_MAX - 1;
		memcpy(route, r->path + (r->path_len - n), n);
		route[n] = 0;
	} else {
		size_t n = 0;
		while (n < r->path_len && r->path[n] != '?' && r->path[n] != '#')
			n++;
		route_from_path(r->path, n, r->path_truncated && n == r->path_len, route);
	}
	obs = (struct request_obs){
		.method = r->method.known ? http_method_of(r->method.s, r->method.len) : HTTP_OTHER,
		.route = route,
		.status = grpc ? grpc_status_of(r) : r->status,
		.end_ns = r->end_ns,
		.duration_ns = r->end_ns > r->start_ns ? r->end_ns - r->start_ns : 0,
		.req_body_bytes = r->req_body_bytes,
		.resp_body_bytes = r->resp_body_bytes,
		.tls = r->tls,
		.version = HTTP_VERSION_2,
		.kind = grpc ? SERIES_RPC_SERVER : SERIES_HTTP_SERVER,
		.queued = r->queued,
		.queue_ns = r->queue_ns,
	};
	if (answered)
		obs.id = procs__identity(r->tgid); /* before the store lock: procs comes first */
	count_request(d, answered, !grpc && r->end != H2_END_STREAM, &obs);
}

/* A process the kernel side started watching: know its identity and parent now. */
static void on_target(pid_t tgid)
{
	procs__identity(tgid);
	procs__parent(tgid);
}

/* A watched process exited: its busy time stays in its service's counter. */
static void on_exit_event(struct daemon *d, pid_t tgid, uint64_t busy_ns)
{
	const struct identity *id = procs__known_identity(tgid);
	uint64_t h2_busy = h2_conns_process_exit(d->h2, tgid, mono_ns());

	/* (an entry the exit read mid-update: the counter keeps what it had) */
	if (id && kernel__busy_plausible(busy_ns)) {
		store__lock(d->store);
		store__retire_busy(d->store, id, busy_ns + h2_busy);
		store__unlock(d->store);
	}
	procs__exit(tgid);
	targets__on_exit(tgid);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct daemon *d = ctx;
	const struct rs_event_proc *p = data;
	__u32 type;

	if (size < sizeof(type))
		return 0;
	memcpy(&type, data, sizeof(type));
	__atomic_add_fetch(&d->self.events, 1, __ATOMIC_RELAXED); /* read by scrapes */
	if (type == RS_EV_HTTP) {
		if (size >= sizeof(struct rs_event_http))
			on_http(d, data);
	} else if (type == RS_EV_H2) {
		h2_conns_event(d->h2, data, size);
	} else if (size >= sizeof(*p)) {
		switch (type) {
		case RS_EV_FORK:
			procs__fork(p->parent_tgid, p->tgid);
			break;
		case RS_EV_EXEC:
			procs__exec(p->tgid);
			on_target(p->tgid);
			tls__queue(p->tgid, false);
			break;
		case RS_EV_TARGET:
		case RS_EV_LISTEN:
			on_target(p->tgid);
			tls__queue(p->tgid, false);
			break;
		case RS_EV_TLS:
			tls__queue(p->tgid, true);
			break;
		case RS_EV_TLS_MEMBIO:
			tls__memory_bio(p->tgid);
			break;
		case RS_EV_EXIT:
			on_exit_event(d, p->tgid, p->busy_ns);
			break;
		}
	}
	return 0;
}

/* A /metrics page being sent: the self metrics as they stood when it began, and where it is. */
struct page {
	struct daemon *d;
	struct self_stats self;
	struct expose_cursor at;
};

/* A scrape's ticket: wait until the main thread has caught up with the kernel, or a while. */
static void catch_up(struct daemon *d)
{
	struct timespec deadline;
	uint64_t ticket, one = 1;

	pthread_mutex_lock(&d->sync_lock);
	ticket = ++d->sync_asked;
	pthread_mutex_unlock(&d->sync_lock);
	if (write(d->wake_fd, &one, sizeof(one)) != sizeof(one))
		return;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += CATCH_UP_WAIT_NS / 1000000000ULL;
	pthread_mutex_lock(&d->sync_lock);
	while (d->sync_done < ticket &&
	       !pthread_cond_timedwait(&d->synced, &d->sync_lock, &deadline))
		;
	pthread_mutex_unlock(&d->sync_lock);
}

/* The main thread: the tickets taken so far, once it was woken for them (else 0). */
static uint64_t tickets_waiting(struct daemon *d)
{
	uint64_t n, asked;

	if (read(d->wake_fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	pthread_mutex_lock(&d->sync_lock);
	asked = d->sync_asked;
	pthread_mutex_unlock(&d->sync_lock);
	return asked;
}

/* What the HTTP/2 tracker counted, where a scrape reads it. */
static void h2_counts_publish(struct daemon *d)
{
	pthread_mutex_lock(&d->sync_lock);
	d->h2_counts = *h2_conns_counts(d->h2);
	pthread_mutex_unlock(&d->sync_lock);
}

/* The main thread caught up with the kernel for the tickets up to asked. */
static void tickets_served(struct daemon *d, uint64_t asked)
{
	pthread_mutex_lock(&d->sync_lock);
	if (asked > d->sync_done)
		d->sync_done = asked;
	pthread_cond_broadcast(&d->synced);
	pthread_mutex_unlock(&d->sync_lock);
}

static void *page_open(void *ctx, enum prom_format format)
{
	struct daemon *d = ctx;
	struct page *p = calloc(1, sizeof(*p));

	if (!p || expose__begin(&p->at, format, d->store)) {
		free(p);
		return NULL;
	}
	p->d = d;
	catch_up(d);
	targets__refresh(d->store, d->h2);
	store__lock(d->store);
	p->self = d->self;
	store__unlock(d->store);
	pthread_mutex_lock(&d->sync_lock);
	p->self.h2 = d->h2_counts; /* as the main thread left them when it caught up */
	pthread_mutex_unlock(&d->sync_lock);
	p->self.events = __atomic_load_n(&d->self.events, __ATOMIC_RELAXED);
	kernel__stats(p->self.bpf);
	targets__stats(&p->self);
	tls__stats(&p->self);
	p->self.kube_containers = kube__containers();
	p->self.capture = kernel__capture();
	return p;
}

/* One piece of the page, with the store locked for that piece only. */
static bool page_next(void *state, struct buf *out)
{
	struct page *p = state;
	bool more;

	store__lock(p->d->store);
	more = expose__next(&p->at, p->d->store, &p->self, out, PAGE_PIECE_BYTES);
	store__unlock(p->d->store);
	return more;
}

static void page_close(void *state)
{
	struct page *p = state;

	expose__end(&p->at);
	free(p);
}

/* The daemon's own process figures (/proc/self), for scrapes: the main thread's job. */
static void sample_process(struct daemon *d)
{
	struct process_figures f;

	selfmetrics__sample(&f);
	store__lock(d->store);
	d->self.process = f;
	store__unlock(d->store);
}

/*
 * Take a snapshot and show the figures over the window (top: a frame; report: the
 * table or JSON on stdout).
 */
static int show(struct daemon *d, struct view_state *view, size_t window, uint64_t started_ns,
		const struct config *c)
{
	struct view v;
	int err;

	targets__refresh(d->store, d->h2);
	store__lock(d->store);
	view__tick(view, d->store, mono_ns());
	err = view__compute(view, d->store, window, started_ns, &v);
	store__unlock(d->store);
	if (err) {
		p_err("cannot compute the figures: %s", strerror(-err));
		return err;
	}
	if (c->cmd == CMD_TOP) {
		top__frame(&v);
	} else {
		struct buf b = {};

		view__filter(&v, c->filter);
		view__sort(&v, c->json ? VIEW_SORT_NAME : c->sort);
		if (c->json)
			view__json(&b, &v);
		else
			view__table(&b, &v, 80);
		fwrite(b.data, 1, b.len, stdout);
		fflush(stdout);
		buf__free(&b);
	}
	view__clear(&v);
	return 0;
}

/* Watching what: for the log and report's first line. */
static const char *watching(const struct config *c)
{
	return cli__selects(c) ? "the selected processes" : "every HTTP server on this host";
}

/* The loop's wakers: the ring buffer filling up, and scrapes (wake_fd). */
static int wake_init(struct daemon *d)
{
	struct epoll_event ring = { .events = EPOLLIN }, wake = { .events = EPOLLIN };
	pthread_condattr_t attr;

	pthread_mutex_init(&d->sync_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&d->synced, &attr);
	pthread_condattr_destroy(&attr);
	d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	d->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->epoll_fd < 0 || d->wake_fd < 0 ||
	    epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(d->rb), &ring) ||
	    epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->wake_fd, &wake)) {
		p_err("cannot set up the main loop's wakeups: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Load, attach and start serving, in the order privileges allow: the web port is
 * bound and the programs attached before the capabilities are dropped.
 */
static int start(struct daemon *d, struct config *c)
{
	struct sigaction sa = { .sa_handler = on_signal };

	if (kernel__preflight())
		return -1;
	if (c->cmd == CMD_SERVE && web__bind(&c->web, &d->listen_fd))
		return -1;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	d->self.start_time = (double)time(NULL);
	procs__init(&c->procs);
	kube__init(&c->kube);
	d->store = store__new(&c->store);
	d->h2 = h2_conns_new(on_h2_stream, d);
	if (!d->store || !d->h2) {
		p_err("out of memory creating the metric store");
		return -1;
	}
	if (kernel__open_and_attach(&c->kernel) || targets__init(&c->sel))
		return -1;
	sample_process(d);
	d->rb = kernel__ring_buffer(on_event, d);
	if (!d->rb) {
		p_err("failed to open the ring buffer: %s", strerror(errno));
		return -1;
	}
	if (wake_init(d))
		return -1;
	/* all that needed privileges is done: /healthz answers with the fewest */
	kernel__drop_privileges();
	malloc_trim(0); /* what loading took (BTF, ELF, relocations) is given back */
	if (c->cmd == CMD_SERVE) {
		struct web_page page = { page_open, page_next, page_close, d };

		d->web = web__start(&c->web, d->listen_fd, &page);
		if (!d->web)
			return -1;
		d->listen_fd = -1; /* the web server owns it now */
		p_info("redscope %s serving %s on %s, watching %s", REDSCOPE_VERSION,
		       c->web.telemetry_path, c->web.listen_address, watching(c));
		return 0;
	}
	d->view = view__new(d->store);
	if (!d->view || (c->cmd == CMD_TOP && top__start(c->sort, c->filter)))
		return -1;
	d->started_ns = mono_ns();
	if (c->cmd == CMD_REPORT)
		fprintf(stderr, "redscope report: watching %s for %.1fs (Ctrl-C to stop early)\n",
			watching(c), (double)c->report_ns / 1e9);
	return 0;
}

/* Until a signal (or q in top, or the end of report's time): drain, sweep, draw. */
static int loop(struct daemon *d, const struct config *c)
{
	/* top draws its first frame at once: it says the programs are attached */
	uint64_t last_sweep = 0, last_tick = d->started_ns - TOP_INTERVAL_NS;

	while (!exiting) {
		struct epoll_event ev[2];
		uint64_t asked;
		int n;

		/* the kernel wakes the ring only when it fills up: mostly the timeout */
		epoll_wait(d->epoll_fd, ev, 2, POLL_TIMEOUT_MS);
		asked = tickets_waiting(d);
		n = ring_buffer__consume(d->rb);
		if (n < 0 && n != -EINTR) {
			p_err("reading the ring buffer failed: %s", strerror(-n));
			return -1;
		}
		if (asked) {
			targets__resolve();
			h2_counts_publish(d);
			tickets_served(d, asked);
		}
		tls__drain();
		if (mono_ns() - last_sweep >= SWEEP_INTERVAL_NS) {
			uint64_t abandoned = targets__sweep();

			kube__sweep();
			targets__resolve();
			sample_process(d);
			store__lock(d->store);
			d->self.unanswered += abandoned;
			store__unlock(d->store);
			h2_counts_publish(d);
			last_sweep = mono_ns();
		}
		if (c->cmd == CMD_TOP) {
			if (top__keys())
				break;
			if (mono_ns() - last_tick >= TOP_INTERVAL_NS) {
				last_tick = mono_ns();
				if (show(d, d->view, VIEW_TICKS - 1, d->started_ns, c))
					return -1;
			}
		} else if (c->cmd == CMD_REPORT && mono_ns() - d->started_ns >= c->report_ns) {
			break;
		}
	}
	/* what the kernel produced before the signal is still counted */
	ring_buffer__consume(d->rb);
	if (c->cmd == CMD_REPORT && show(d, d->view, 0, d->started_ns, c))
		return -1;
	p_info("shutting down");
	return 0;
}

/* Undo whatever start did, in reverse, however far it got. */
static void stop(struct daemon *d, struct config *c)
{
	top__stop();
	view__free(d->view);
	web__stop(d->web);
	if (d->wake_fd >= 0)
		close(d->wake_fd);
	if (d->epoll_fd >= 0)
		close(d->epoll_fd);
	ring_buffer__free(d->rb);
	tls__cleanup();
	kube__cleanup();
	kernel__destroy();
	targets__cleanup();
	h2_conns_free(d->h2);
	store__free(d->store);
	procs__cleanup();
	if (d->listen_fd >= 0)
		close(d->listen_fd);
	selectors__free(&c->sel);
	web_config__free(&d->web_config);
}

int daemon__run(struct config *c)
{
	static struct daemon d;
	int err;

	d.listen_fd = -1;
	d.epoll_fd = -1;
	d.wake_fd = -1;
	if (c->web_config_path) {
		if (web_config__load(c->web_config_path, &d.web_config))
			return 2;
		c->web.config = &d.web_config;
	}
	if (selectors__resolve(&c->sel)) {
		selectors__free(&c->sel);
		web_config__free(&d.web_config);
		return 2;
	}
	err = start(&d, c) || loop(&d, c) ? 1 : 0;
	stop(&d, c);
	return err;
}
