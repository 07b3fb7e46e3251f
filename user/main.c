// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* redscope: command line, start-up order, the ring buffer loop and clean shutdown. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "redscope.skel.h"

/*
 * The kernel side wakes the daemon only when the ring buffer fills up; otherwise
 * records wait at most this long to be counted.
 */
#define POLL_TIMEOUT_MS 100
#define SWEEP_INTERVAL_NS 1000000000ULL
#define MAX_BUCKETS 64
/* statsd_exporter's summaries: quantiles over the last 10 minutes */
#define SUMMARY_MAX_AGE_NS (600ULL * 1000000000ULL)
#define SUMMARY_CAP 1024
/* distinct routes per service: plenty for an application, bounded for a scanner */
#define DEFAULT_MAX_ROUTES 200
#define DEFAULT_REPORT_NS (30ULL * 1000000000ULL)
#define TOP_INTERVAL_NS 1000000000ULL

/* OpenTelemetry's advised boundaries for http.server.request.duration. */
static const double default_duration_buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
						   0.5,	  0.75, 1,	2.5,   5,     7.5,  10 };
/* Listen queue waits: from 100 us (a worker free at once) to 10 s (saturated). */
static const double queue_buckets[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
					0.025,	0.05,	 0.1,	 0.25,	0.5,	1,     2.5,
					5,	10 };
/* Body sizes in bytes: empty, then powers of four from 64 B to 16 MiB. */
static const double body_size_buckets[] = { 0,	   64,	    256,     1024,    4096,    16384,
					    65536, 262144, 1048576, 4194304, 16777216 };

struct daemon {
	struct redscope_bpf *skel;
	struct store *store;
	struct self_stats self; /* guarded by the store lock */
	double duration_buckets[MAX_BUCKETS];
};

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: redscope [serve] [OPTION]...\n"
		"       redscope top [OPTION]...\n"
		"       redscope report [--duration=30s] [--format=table|json] [OPTION]...\n"
		"Serve Prometheus RED metrics (rate, errors, duration) of the HTTP/1.x servers on\n"
		"this host, seen from the kernel: no change to the applications. top shows them\n"
		"live in the terminal; report watches for a while, prints them once and exits.\n"
		"\n"
		"Selecting processes (without a selector, every process that serves HTTP is watched,\n"
		"including ones that start later). Each option is repeatable: a process must match\n"
		"one value of every option given.\n"
		"  --pid=PID                  PID and all its descendants (only these: no new ones)\n"
		"  --comm=NAME                processes named NAME (as in /proc/PID/comm, ps -o comm)\n"
		"  --port=PORT                connections to local port PORT (and their processes)\n"
		"  --cgroup=PATH              processes in the cgroup v2 PATH or below it; PATH is\n"
		"                             absolute or relative to the cgroup2 mount\n"
		"\n"
		"Metrics:\n"
		"  --service-name=NAME        service_name label of everything watched (default: the\n"
		"                             process's OTEL_SERVICE_NAME, in Kubernetes its container's\n"
		"                             name, the gunicorn WSGI module, or the program it runs)\n"
		"  --route=PATTERN            route label of the paths PATTERN matches, such as\n"
		"                             /users/{id}/orders ({x} is one path segment); first\n"
		"                             match wins; without one, numbers, UUIDs, hex strings,\n"
		"                             dates and long tokens in a path become {id}\n"
		"  --max-routes=N             distinct routes per service; the rest are counted\n"
		"                             under the route {overflow} (default %d)\n"
		"  --duration-buckets=LIST    comma-separated upper bounds of the duration histogram,\n"
		"                             in seconds (default 0.005,0.01,...,10: OpenTelemetry's)\n"
		"  --compat=statsd            also serve, for gunicorn services, the series of gunicorn\n"
		"                             --statsd-host and a Django statsd middleware behind\n"
		"                             statsd_exporter: gunicorn_requests,\n"
		"                             gunicorn_request_status_<code>, gunicorn_request_duration,\n"
		"                             gunicorn_workers, django_request_count,\n"
		"                             django_request_latency_seconds\n"
		"\n"
		"Kubernetes:\n"
		"  --kubernetes[=MODE]        label series with k8s_namespace_name, k8s_pod_name and\n"
		"                             k8s_container_name, read from each process's cgroup and\n"
		"                             its containerd bundle: on, off or auto (default auto: on\n"
		"                             when the runtime dir below has CRI containers, or in a pod)\n"
		"  --kubernetes.runtime-dir=DIR\n"
		"                             containerd's task state directory (default\n"
		"                             /run/containerd/io.containerd.runtime.v2.task)\n"
		"\n"
		"top and report:\n"
		"  --duration=TIME            report: how long to watch (default 30s; 500ms, 2m, 1h)\n"
		"  --format=FORMAT            report: table (default) or json\n"
		"  --sort=KEY                 rate (default), errors, p50, p99 or name; in top also\n"
		"                             the keys r, e, 5, 9, n; f filters by service, q quits\n"
		"  --service=TEXT             only services whose name contains TEXT\n"
		"\n"
		"Web (serve):\n"
		"  --web.listen-address=ADDR  address to serve metrics on (default :9435)\n"
		"  --web.telemetry-path=PATH  path of the metrics (default /metrics)\n"
		"  --web.config.file=FILE     TLS and basic auth, in the Prometheus exporters'\n"
		"                             web configuration format\n"
		"\n"
		"Other:\n"
		"  --capture=BACKEND          how socket I/O is seen: sockets (socket tracepoints,\n"
		"                             Linux 6.3), fentry (BPF trampolines), syscalls (syscall\n"
		"                             tracepoints, paid by every process) or auto, the cheapest\n"
		"                             the kernel has (default)\n"
		"  --max-connections=N        connections followed at once (default %u)\n"
		"  --log.level=LEVEL          error, warn, info or debug (default info)\n"
		"  -v, --verbose              same as --log.level=debug\n"
		"  -h, --help                 show this help and exit\n"
		"      --version              show the version and exit\n",
		DEFAULT_MAX_ROUTES, RS_MAX_CONNS);
}

static int parse_buckets(const char *arg, double *out, size_t *n)
{
	char *copy = strdup(arg), *tok, *save = NULL, *end;
	int err = 0;

	*n = 0;
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		double v = strtod(tok, &end);

		if (end == tok || *end || !(v > 0) || (*n && v <= out[*n - 1]) || *n == MAX_BUCKETS) {
			err = -EINVAL;
			break;
		}
		out[(*n)++] = v;
	}
	if (!*n)
		err = -EINVAL;
	free(copy);
	return err;
}

/* One finished request from the kernel: parse, label, count. Store lock held. */
static void on_http(struct daemon *d, const struct rs_event_http *e)
{
	struct http1_request req;
	struct request_obs obs;
	enum http1_error err;
	char route[ROUTE_MAX];
	size_t len = e->head_len < RS_HEAD_MAX ? e->head_len : RS_HEAD_MAX;

	/* not HTTP/1.x (an HTTP/2 preface, junk): a parse error, answered or not */
	err = http1_parse_request_line(e->head, len, e->head_len, &req);
	if (err) {
		d->self.parse_errors[err]++;
		if (log_level >= LOG_DEBUG)
			p_debug("process %u: a request line that is not HTTP/1.x (%s): %zu bytes, "
				"starting with byte 0x%02x", e->tgid, http1_error_name(err), len,
				len ? (unsigned char)e->head[0] : 0);
		return;
	}
	if (e->end_reason == RS_END_NO_RESPONSE || !e->status) {
		d->self.unanswered++;
		return;
	}
	if (e->end_reason == RS_END_TRUNCATED)
		d->self.truncated++;
	route_from_path(req.path, req.path_len, req.truncated, route);
	obs = (struct request_obs){
		.id = service__of(e->tgid),
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
	};
	if (store__observe_request(d->store, &obs))
		p_warn("out of memory: a request of %s was not counted", obs.id->service_name);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct daemon *d = ctx;
	const struct rs_event_proc *p = data;
	__u32 type;

	if (size < sizeof(type))
		return 0;
	memcpy(&type, data, sizeof(type));
	store__lock(d->store);
	d->self.events++;
	if (type == RS_EV_HTTP) {
		if (size >= sizeof(struct rs_event_http))
			on_http(d, data);
	} else if (size >= sizeof(*p)) {
		switch (type) {
		case RS_EV_FORK:
			targets__on_fork(p->parent_tgid, p->tgid);
			break;
		case RS_EV_EXEC:
			service__forget(p->tgid);
			tls__queue(p->tgid, false);
			break;
		case RS_EV_TARGET:
		case RS_EV_LISTEN:
			tls__queue(p->tgid, false);
			break;
		case RS_EV_TLS:
			tls__queue(p->tgid, true);
			break;
		case RS_EV_TLS_MEMBIO:
			tls__memory_bio(p->tgid);
			break;
		case RS_EV_EXIT:
			targets__on_exit(d->store, p->tgid, p->busy_ns);
			break;
		}
	}
	store__unlock(d->store);
	return 0;
}

static void read_bpf_stats(struct daemon *d, struct self_stats *st)
{
	int fd = bpf_map__fd(d->skel->maps.stats);
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;

	if (ncpu <= 0)
		return;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return;
	for (__u32 i = 0; i < RS_STAT__COUNT; i++) {
		st->bpf[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			st->bpf[i] += vals[c];
	}
	free(vals);
}

static void render(struct buf *out, void *ctx)
{
	struct daemon *d = ctx;
	struct self_stats st = {};

	read_bpf_stats(d, &st);
	targets__stats(&st);
	tls__stats(&st);
	store__lock(d->store);
	targets__refresh(d->store);
	st.kube_containers = kube__containers();
	st.events = d->self.events;
	st.unanswered = d->self.unanswered;
	st.truncated = d->self.truncated;
	st.start_time = d->self.start_time;
	st.capture = loader__capture();
	memcpy(st.parse_errors, d->self.parse_errors, sizeof(st.parse_errors));
	expose__render(d->store, &st, out);
	store__unlock(d->store);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

enum command { CMD_SERVE, CMD_TOP, CMD_REPORT };

/* "30s", "500ms", "2m", "1h", or plain seconds. */
static int parse_duration(const char *s, uint64_t *ns)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = { { "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 }, { "", 1e9 } };
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !(v > 0))
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (!strcmp(end, units[i].unit)) {
			if (v * units[i].ns > 1e9 * 86400 * 365)
				return -ERANGE;
			*ns = (uint64_t)(v * units[i].ns);
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_sort(const char *s, enum view_sort *out)
{
	static const char *const names[] = { [VIEW_SORT_RATE] = "rate", [VIEW_SORT_ERRORS] = "errors",
					     [VIEW_SORT_P50] = "p50", [VIEW_SORT_P99] = "p99",
					     [VIEW_SORT_NAME] = "name" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum view_sort)i;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * Take a snapshot and show the figures over the window (top: a frame; report: the
 * table or JSON on stdout).
 */
static int show(struct daemon *d, struct view_state *view, size_t window, uint64_t started_ns,
		enum command cmd, enum view_sort sort, const char *filter, bool json)
{
	struct view v;
	int err;

	store__lock(d->store);
	targets__refresh(d->store);
	view__tick(view, d->store, now_ns());
	err = view__compute(view, d->store, window, started_ns, &v);
	store__unlock(d->store);
	if (err) {
		p_err("cannot compute the figures: %s", strerror(-err));
		return err;
	}
	if (cmd == CMD_TOP) {
		top__frame(&v);
	} else {
		struct buf b = {};

		view__filter(&v, filter);
		view__sort(&v, json ? VIEW_SORT_NAME : sort);
		if (json)
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

enum {
	OPT_LISTEN = 256,
	OPT_PATH,
	OPT_PID,
	OPT_SERVICE_NAME,
	OPT_BUCKETS,
	OPT_MAX_CONNS,
	OPT_CAPTURE,
	OPT_LOG_LEVEL,
	OPT_VERSION,
	OPT_COMPAT,
	OPT_COMM,
	OPT_PORT,
	OPT_CGROUP,
	OPT_ROUTE,
	OPT_MAX_ROUTES,
	OPT_KUBERNETES,
	OPT_KUBE_RUNTIME_DIR,
	OPT_DURATION,
	OPT_FORMAT,
	OPT_SORT,
	OPT_SERVICE,
	OPT_WEB_CONFIG,
};

/* Append one value to a growable selector array. */
#define SEL_PUSH(arr, n, val)                                                  \
	do {                                                                   \
		__typeof__(arr) grown_ = realloc((arr), ((n) + 1) * sizeof(*(arr))); \
		if (!grown_)                                                   \
			return 1;                                              \
		(arr) = grown_;                                                \
		(arr)[(n)++] = (val);                                          \
	} while (0)

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "web.listen-address", required_argument, NULL, OPT_LISTEN },
		{ "web.telemetry-path", required_argument, NULL, OPT_PATH },
		{ "pid", required_argument, NULL, OPT_PID },
		{ "service-name", required_argument, NULL, OPT_SERVICE_NAME },
		{ "duration-buckets", required_argument, NULL, OPT_BUCKETS },
		{ "max-connections", required_argument, NULL, OPT_MAX_CONNS },
		{ "capture", required_argument, NULL, OPT_CAPTURE },
		{ "compat", required_argument, NULL, OPT_COMPAT },
		{ "comm", required_argument, NULL, OPT_COMM },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "route", required_argument, NULL, OPT_ROUTE },
		{ "max-routes", required_argument, NULL, OPT_MAX_ROUTES },
		{ "kubernetes", optional_argument, NULL, OPT_KUBERNETES },
		{ "kubernetes.runtime-dir", required_argument, NULL, OPT_KUBE_RUNTIME_DIR },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "sort", required_argument, NULL, OPT_SORT },
		{ "service", required_argument, NULL, OPT_SERVICE },
		{ "web.config.file", required_argument, NULL, OPT_WEB_CONFIG },
		{ "log.level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{},
	};
	static struct daemon d;
	struct web_opts web_opts = { .listen_address = ":9435", .telemetry_path = "/metrics" };
	struct service_opts svc_opts = {};
	struct kube_opts kube_opts = {};
	struct selectors sel = {};
	struct loader_opts ld_opts = { .sel = &sel };
	struct store_opts st_opts = {
		.duration = { default_duration_buckets, ARRAY_SIZE(default_duration_buckets), 1e-9 },
		.body_size = { body_size_buckets, ARRAY_SIZE(body_size_buckets), 1.0 },
		.queue = { queue_buckets, ARRAY_SIZE(queue_buckets), 1e-9 },
		.max_routes = DEFAULT_MAX_ROUTES,
		.summary_max_age_ns = SUMMARY_MAX_AGE_NS,
		.summary_cap = SUMMARY_CAP,
	};
	struct ring_buffer *rb = NULL;
	struct web *web = NULL;
	struct view_state *view = NULL;
	enum command cmd = CMD_SERVE;
	enum view_sort sort = VIEW_SORT_RATE;
	uint64_t report_ns = DEFAULT_REPORT_NS, started_ns = 0, last_tick = 0;
	const char *filter = NULL, *web_config_path = NULL;
	static struct web_config web_config;
	bool json = false;
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t last_sweep = 0;
	int listen_fd = -1, opt, err = 1;
	char *end;
	long v;

	/*
	 * Large buffers (a /metrics page of many series) come from mmap and go back to
	 * the system when freed: a fixed threshold, not glibc's sliding one, which after
	 * the first big free would keep every later page on the heap for good.
	 */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	if (argc > 1 && (!strcmp(argv[1], "serve") || !strcmp(argv[1], "top") ||
			 !strcmp(argv[1], "report"))) {
		cmd = !strcmp(argv[1], "top") ? CMD_TOP : !strcmp(argv[1], "report") ? CMD_REPORT
										: CMD_SERVE;
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	/* top owns the terminal and report's output is for reading: only errors interrupt */
	if (cmd != CMD_SERVE)
		log_level = cmd == CMD_TOP ? LOG_ERROR : LOG_WARN;
	while ((opt = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_LISTEN:
			web_opts.listen_address = optarg;
			break;
		case OPT_PATH:
			if (optarg[0] != '/') {
				p_err("--web.telemetry-path must start with '/': got '%s'", optarg);
				return 2;
			}
			web_opts.telemetry_path = optarg;
			break;
		case OPT_PID:
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v <= 0 || v > INT_MAX) {
				p_err("invalid --pid '%s': expected a process id", optarg);
				return 2;
			}
			SEL_PUSH(sel.pids, sel.n_pids, (pid_t)v);
			break;
		case OPT_COMM:
			SEL_PUSH(sel.comms, sel.n_comms, optarg);
			break;
		case OPT_PORT:
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v <= 0 || v > 65535) {
				p_err("invalid --port '%s': expected a port number, 1 to 65535", optarg);
				return 2;
			}
			SEL_PUSH(sel.ports, sel.n_ports, (uint16_t)v);
			break;
		case OPT_CGROUP:
			SEL_PUSH(sel.cgroups, sel.n_cgroups, optarg);
			break;
		case OPT_ROUTE:
			if (route__add_pattern(optarg))
				return 2;
			break;
		case OPT_MAX_ROUTES:
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v < 1 || v > 100000) {
				p_err("invalid --max-routes '%s': expected 1 to 100000", optarg);
				return 2;
			}
			st_opts.max_routes = v;
			break;
		case OPT_SERVICE_NAME:
			svc_opts.service_name = optarg;
			break;
		case OPT_KUBERNETES:
			if (!optarg || !strcmp(optarg, "on")) {
				kube_opts.mode = KUBE_ON;
			} else if (!strcmp(optarg, "off")) {
				kube_opts.mode = KUBE_OFF;
			} else if (!strcmp(optarg, "auto")) {
				kube_opts.mode = KUBE_AUTO;
			} else {
				p_err("invalid --kubernetes '%s': expected on, off or auto", optarg);
				return 2;
			}
			break;
		case OPT_KUBE_RUNTIME_DIR:
			kube_opts.runtime_dir = optarg;
			break;
		case OPT_DURATION:
			if (parse_duration(optarg, &report_ns)) {
				p_err("invalid --duration '%s': expected a time such as 30s, 500ms, 2m or 1h",
				      optarg);
				return 2;
			}
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "table") && strcmp(optarg, "json")) {
				p_err("invalid --format '%s': expected table or json", optarg);
				return 2;
			}
			json = !strcmp(optarg, "json");
			break;
		case OPT_SORT:
			if (parse_sort(optarg, &sort)) {
				p_err("invalid --sort '%s': expected rate, errors, p50, p99 or name", optarg);
				return 2;
			}
			break;
		case OPT_SERVICE:
			filter = optarg;
			break;
		case OPT_WEB_CONFIG:
			web_config_path = optarg;
			break;
		case OPT_BUCKETS:
			if (parse_buckets(optarg, d.duration_buckets, &st_opts.duration.n)) {
				p_err("invalid --duration-buckets '%s': expected ascending positive "
				      "seconds separated by commas, at most %d",
				      optarg, MAX_BUCKETS);
				return 2;
			}
			st_opts.duration.bounds = d.duration_buckets;
			break;
		case OPT_CAPTURE:
			if (capture_parse(optarg, &ld_opts.capture)) {
				p_err("invalid --capture '%s': expected auto, sockets, fentry or syscalls",
				      optarg);
				return 2;
			}
			break;
		case OPT_MAX_CONNS:
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v < 64 || v > (1 << 24)) {
				p_err("invalid --max-connections '%s': expected 64 to %d", optarg, 1 << 24);
				return 2;
			}
			ld_opts.max_connections = v;
			break;
		case OPT_COMPAT:
			if (strcmp(optarg, "statsd")) {
				p_err("invalid --compat '%s': the one compatibility mode is statsd", optarg);
				return 2;
			}
			st_opts.compat_statsd = true;
			break;
		case OPT_LOG_LEVEL:
			if (log_level_parse(optarg, &log_level)) {
				p_err("invalid --log.level '%s': expected error, warn, info or debug", optarg);
				return 2;
			}
			break;
		case 'v':
			log_level = LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case OPT_VERSION:
			printf("redscope %s\n", REDSCOPE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		p_err("unexpected argument '%s': see redscope --help", argv[optind]);
		return 2;
	}

	if (web_config_path) {
		if (web_config__load(web_config_path, &web_config))
			return 2;
		web_opts.config = &web_config;
	}
	if (selectors__resolve(&sel)) {
		selectors__free(&sel);
		web_config__free(&web_config);
		return 2;
	}
	if (loader__preflight())
		goto cleanup;
	if (cmd == CMD_SERVE && web__bind(&web_opts, &listen_fd))
		goto cleanup;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	d.self.start_time = (double)time(NULL);
	service__init(&svc_opts);
	kube__init(&kube_opts);
	d.store = store__new(&st_opts);
	if (!d.store) {
		p_err("out of memory creating the metric store");
		goto cleanup;
	}
	if (loader__open_and_attach(&d.skel, &ld_opts))
		goto cleanup;
	tls__init(d.skel);
	if (targets__init(d.skel, &sel))
		goto cleanup;
	rb = ring_buffer__new(bpf_map__fd(d.skel->maps.events), on_event, &d, NULL);
	if (!rb) {
		p_err("failed to open the ring buffer: %s", strerror(errno));
		goto cleanup;
	}
	/* all that needed privileges is done: /healthz answers with the fewest */
	loader__drop_privileges();
	malloc_trim(0); /* what loading took (BTF, ELF, relocations) is given back */
	if (cmd == CMD_SERVE) {
		web = web__start(&web_opts, listen_fd, render, &d);
		if (!web)
			goto cleanup;
		listen_fd = -1; /* the web server owns it now */
		p_info("redscope %s serving %s on %s, watching %s", REDSCOPE_VERSION,
		       web_opts.telemetry_path, web_opts.listen_address,
		       sel.n_pids || sel.n_comms || sel.n_ports || sel.n_cgroups
			       ? "the selected processes"
			       : "every HTTP server on this host");
	} else {
		view = view__new(d.store);
		if (!view || (cmd == CMD_TOP && top__start(sort, filter)))
			goto cleanup;
		started_ns = last_tick = now_ns();
		/* top draws its first frame at once: it says the programs are attached */
		if (cmd == CMD_TOP)
			last_tick -= TOP_INTERVAL_NS;
		if (cmd == CMD_REPORT)
			fprintf(stderr, "redscope report: watching %s for %.1fs (Ctrl-C to stop early)\n",
				sel.n_pids || sel.n_comms || sel.n_ports || sel.n_cgroups
					? "the selected processes"
					: "every HTTP server on this host",
				(double)report_ns / 1e9);
	}

	while (!exiting) {
		int n = ring_buffer__poll(rb, POLL_TIMEOUT_MS);

		if (n >= 0)
			n = ring_buffer__consume(rb);
		if (n < 0 && n != -EINTR) {
			p_err("reading the ring buffer failed: %s", strerror(-n));
			goto cleanup;
		}
		tls__drain();
		web__trim(web);
		if (now_ns() - last_sweep >= SWEEP_INTERVAL_NS) {
			uint64_t abandoned = targets__sweep();

			store__lock(d.store);
			d.self.unanswered += abandoned;
			kube__sweep();
			store__unlock(d.store);
			last_sweep = now_ns();
		}
		if (cmd == CMD_TOP) {
			if (top__keys())
				break;
			if (now_ns() - last_tick >= TOP_INTERVAL_NS) {
				last_tick = now_ns();
				if (show(&d, view, VIEW_TICKS - 1, started_ns, cmd, sort, filter, json))
					goto cleanup;
			}
		} else if (cmd == CMD_REPORT && now_ns() - started_ns >= report_ns) {
			break;
		}
	}
	/* what the kernel produced before the signal is still counted */
	ring_buffer__consume(rb);
	if (cmd == CMD_REPORT && show(&d, view, 0, started_ns, cmd, sort, filter, json))
		goto cleanup;
	p_info("shutting down");
	err = 0;
cleanup:
	top__stop();
	view__free(view);
	web__stop(web);
	ring_buffer__free(rb);
	tls__cleanup();
	kube__cleanup();
	if (d.skel)
		loader__destroy(d.skel);
	targets__cleanup();
	store__free(d.store);
	service__cleanup();
	if (listen_fd >= 0)
		close(listen_fd);
	selectors__free(&sel);
	web_config__free(&web_config);
	return err;
}
