// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The command line: `redscope [serve|top|report] [OPTION]...` into one struct config,
 * defaults first. Every value is checked here, so a mistake is an exit status of 2
 * and one line that names the option, before anything is loaded.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "cli.h"
#include "common.h"
#include "kube.h"
#include "log.h"
#include "route.h"
#include "selectors.h"
#include "store.h"
#include "targets.h"
#include "view.h"

/* statsd_exporter's summaries: quantiles over the last 10 minutes */
#define SUMMARY_MAX_AGE_NS (600ULL * 1000000000ULL)
#define SUMMARY_CAP 1024
/* distinct routes per service: plenty for an application, bounded for a scanner */
#define DEFAULT_MAX_ROUTES 200
#define DEFAULT_MAX_ADDRESSES 100
#define DEFAULT_REPORT_NS (30ULL * 1000000000ULL)

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
		"  --client-metrics=on|off    http_client_* families: the HTTP/1.x requests watched\n"
		"                             processes send, by the server they call (default on)\n"
		"  --max-server-addresses=N   distinct servers each service's calls are labelled with;\n"
		"                             the rest under server_address {overflow} (default %d)\n"
		"  --duration-buckets=LIST    comma-separated upper bounds of the duration histogram,\n"
		"                             in seconds (default 0.005,0.01,...,10: OpenTelemetry's)\n"
		"  --body-size-buckets=LIST   upper bounds of the request and response body size\n"
		"                             histograms, in bytes (default 0,64,256,...,4194304), or\n"
		"                             none: no body size histograms, a third of the series\n"
		"  --native-histogram-max-buckets=N\n"
		"                             buckets each native histogram keeps, served to scrapers\n"
		"                             that ask for the protobuf format; beyond, resolution\n"
		"                             halves (default %d; 0: classic histograms only)\n"
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
		"  --max-processes=N          processes watched at once (default %u); requests of\n"
		"                             servers beyond are counted as unwatched\n"
		"  --log.level=LEVEL          error, warn, info or debug (default info)\n"
		"  -v, --verbose              same as --log.level=debug\n"
		"  -h, --help                 show this help and exit\n"
		"      --version              show the version and exit\n",
		DEFAULT_MAX_ROUTES, DEFAULT_MAX_ADDRESSES, NHIST_DEFAULT_MAX_BUCKETS, RS_MAX_CONNS,
		RS_MAX_TARGETS);
}

/* Ascending bucket bounds, positive (or from zero, allow_zero), at most CLI_MAX_BUCKETS. */
static int parse_buckets(const char *arg, double *out, size_t *n, bool allow_zero)
{
	char *copy = strdup(arg), *tok, *save = NULL, *end;
	int err = 0;

	*n = 0;
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		double v = strtod(tok, &end);

		if (end == tok || *end || !(allow_zero ? v >= 0 : v > 0) || (*n && v <= out[*n - 1]) ||
		    *n == CLI_MAX_BUCKETS) {
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

/*
 * --NAME=LIST of histogram bounds in unit into out, which spec then uses; -1 with a
 * message. allow_zero: bounds from 0 (byte counts), and none is the other choice.
 */
static int buckets_option(const char *name, const char *arg, const char *unit, double *out,
			  struct histogram_spec *spec, bool allow_zero)
{
	if (parse_buckets(arg, out, &spec->n, allow_zero)) {
		p_err("invalid --%s '%s': expected ascending %s%s separated by commas, at most %d%s",
		      name, arg, allow_zero ? "" : "positive ", unit, CLI_MAX_BUCKETS,
		      allow_zero ? ", or none" : "");
		return -1;
	}
	spec->bounds = out;
	return 0;
}

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

enum {
	OPT_LISTEN = 256,
	OPT_PATH,
	OPT_PID,
	OPT_SERVICE_NAME,
	OPT_BUCKETS,
	OPT_SIZE_BUCKETS,
	OPT_MAX_CONNS,
	OPT_MAX_PROCS,
	OPT_CAPTURE,
	OPT_LOG_LEVEL,
	OPT_VERSION,
	OPT_COMPAT,
	OPT_COMM,
	OPT_PORT,
	OPT_CGROUP,
	OPT_ROUTE,
	OPT_MAX_ROUTES,
	OPT_CLIENT_METRICS,
	OPT_MAX_ADDRESSES,
	OPT_NATIVE_BUCKETS,
	OPT_KUBERNETES,
	OPT_KUBE_RUNTIME_DIR,
	OPT_DURATION,
	OPT_FORMAT,
	OPT_SORT,
	OPT_SERVICE,
	OPT_WEB_CONFIG,
};


static const struct option long_opts[] = {
	{ "web.listen-address", required_argument, NULL, OPT_LISTEN },
	{ "web.telemetry-path", required_argument, NULL, OPT_PATH },
	{ "pid", required_argument, NULL, OPT_PID },
	{ "service-name", required_argument, NULL, OPT_SERVICE_NAME },
	{ "duration-buckets", required_argument, NULL, OPT_BUCKETS },
	{ "body-size-buckets", required_argument, NULL, OPT_SIZE_BUCKETS },
	{ "max-connections", required_argument, NULL, OPT_MAX_CONNS },
	{ "max-processes", required_argument, NULL, OPT_MAX_PROCS },
	{ "capture", required_argument, NULL, OPT_CAPTURE },
	{ "compat", required_argument, NULL, OPT_COMPAT },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "route", required_argument, NULL, OPT_ROUTE },
	{ "max-routes", required_argument, NULL, OPT_MAX_ROUTES },
	{ "client-metrics", required_argument, NULL, OPT_CLIENT_METRICS },
	{ "max-server-addresses", required_argument, NULL, OPT_MAX_ADDRESSES },
	{ "native-histogram-max-buckets", required_argument, NULL, OPT_NATIVE_BUCKETS },
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

/* Append the value at val (size bytes) to the growable array *arr of *n. */
static int push(void *arr, size_t *n, size_t size, const void *val)
{
	char *grown = realloc(*(void **)arr, (*n + 1) * size);

	if (!grown) {
		p_err("out of memory for the selectors");
		return -ENOMEM;
	}
	memcpy(grown + *n * size, val, size);
	*(void **)arr = grown;
	(*n)++;
	return 0;
}

/* arg as a whole number from min to max, in *out; false when it is not one. */
static bool number(const char *arg, long min, long max, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(arg, &end, 10);
	return !errno && end != arg && !*end && *out >= min && *out <= max;
}

/* --pid, --comm, --port, --cgroup: each repeatable. 0, or -1 once said why not. */
static int selector_option(struct config *c, int opt, char *arg)
{
	struct selectors *sel = &c->sel;
	long v;

	switch (opt) {
	case OPT_PID:
		if (!number(arg, 1, INT_MAX, &v)) {
			p_err("invalid --pid '%s': expected a process id", arg);
			return -1;
		}
		return push(&sel->pids, &sel->n_pids, sizeof(pid_t), &(pid_t){ (pid_t)v });
	case OPT_COMM:
		if (!arg[0] || strlen(arg) > 15) {
			p_err("invalid --comm '%s': a process name is 1 to 15 characters, as in "
			      "/proc/PID/comm", arg);
			return -1;
		}
		return push(&sel->comms, &sel->n_comms, sizeof(char *), &arg);
	case OPT_PORT:
		if (!number(arg, 1, 65535, &v)) {
			p_err("invalid --port '%s': expected a port number, 1 to 65535", arg);
			return -1;
		}
		return push(&sel->ports, &sel->n_ports, sizeof(uint16_t), &(uint16_t){ (uint16_t)v });
	default: /* OPT_CGROUP */
		return push(&sel->cgroups, &sel->n_cgroups, sizeof(char *), &arg);
	}
}

/* What --kubernetes[=MODE] says; -1 once said why not. */
static int kube_mode(const char *arg, enum kube_mode *out)
{
	if (!arg || !strcmp(arg, "on"))
		*out = KUBE_ON;
	else if (!strcmp(arg, "off"))
		*out = KUBE_OFF;
	else if (!strcmp(arg, "auto"))
		*out = KUBE_AUTO;
	else {
		p_err("invalid --kubernetes '%s': expected on, off or auto", arg);
		return -1;
	}
	return 0;
}

/* Options of the metrics, of top and report, and of the program. 0, or -1 once said. */
/* --client-metrics, --max-server-addresses: what the calls targets send become. */
static int client_option(struct config *c, int opt, char *arg)
{
	long v;

	if (opt == OPT_CLIENT_METRICS) {
		if (strcmp(arg, "on") && strcmp(arg, "off")) {
			p_err("invalid --client-metrics '%s': expected on or off", arg);
			return -1;
		}
		c->kernel.client = !strcmp(arg, "on");
		return 0;
	}
	if (!number(arg, 1, 100000, &v)) {
		p_err("invalid --max-server-addresses '%s': expected 1 to 100000", arg);
		return -1;
	}
	c->store.max_addresses = v;
	return 0;
}

static int value_option(struct config *c, int opt, char *arg)
{
	long v;

	switch (opt) {
	case OPT_LISTEN:
		c->web.listen_address = arg;
		return 0;
	case OPT_PATH:
		if (arg[0] != '/') {
			p_err("--web.telemetry-path must start with '/': got '%s'", arg);
			return -1;
		}
		c->web.telemetry_path = arg;
		return 0;
	case OPT_WEB_CONFIG:
		c->web_config_path = arg;
		return 0;
	case OPT_ROUTE:
		return route__add_pattern(arg) ? -1 : 0;
	case OPT_MAX_ROUTES:
		if (!number(arg, 1, 100000, &v)) {
			p_err("invalid --max-routes '%s': expected 1 to 100000", arg);
			return -1;
		}
		c->store.max_routes = v;
		return 0;
	case OPT_NATIVE_BUCKETS:
		if (!number(arg, 0, NHIST_MAX_BUCKETS, &v)) {
			p_err("invalid --native-histogram-max-buckets '%s': expected 0 to %d", arg,
			      NHIST_MAX_BUCKETS);
			return -1;
		}
		c->store.native_max_buckets = v;
		return 0;
	case OPT_SERVICE_NAME:
		c->procs.service_name = arg;
		return 0;
	case OPT_BUCKETS:
		return buckets_option("duration-buckets", arg, "seconds", c->duration_buckets,
				      &c->store.duration, false);
	case OPT_SIZE_BUCKETS:
		c->store.body_size_off = !strcmp(arg, "none");
		return c->store.body_size_off ? 0
					      : buckets_option("body-size-buckets", arg, "bytes",
							       c->size_buckets, &c->store.body_size,
							       true);
	case OPT_COMPAT:
		if (strcmp(arg, "statsd")) {
			p_err("invalid --compat '%s': the one compatibility mode is statsd", arg);
			return -1;
		}
		c->store.compat_statsd = true;
		return 0;
	case OPT_KUBERNETES:
		return kube_mode(arg, &c->kube.mode);
	case OPT_KUBE_RUNTIME_DIR:
		c->kube.runtime_dir = arg;
		return 0;
	case OPT_DURATION:
		if (parse_duration(arg, &c->report_ns)) {
			p_err("invalid --duration '%s': expected a time such as 30s, 500ms, 2m or 1h",
			      arg);
			return -1;
		}
		return 0;
	case OPT_FORMAT:
		if (strcmp(arg, "table") && strcmp(arg, "json")) {
			p_err("invalid --format '%s': expected table or json", arg);
			return -1;
		}
		c->json = !strcmp(arg, "json");
		return 0;
	case OPT_SORT:
		if (parse_sort(arg, &c->sort)) {
			p_err("invalid --sort '%s': expected rate, errors, p50, p99 or name", arg);
			return -1;
		}
		return 0;
	case OPT_SERVICE:
		c->filter = arg;
		return 0;
	case OPT_CAPTURE:
		if (capture_parse(arg, &c->kernel.capture)) {
			p_err("invalid --capture '%s': expected auto, sockets, fentry or syscalls", arg);
			return -1;
		}
		return 0;
	case OPT_MAX_CONNS:
		if (!number(arg, 64, 1 << 24, &v)) {
			p_err("invalid --max-connections '%s': expected 64 to %d", arg, 1 << 24);
			return -1;
		}
		c->kernel.max_connections = v;
		return 0;
	case OPT_MAX_PROCS:
		if (!number(arg, 1, 1 << 22, &v)) {
			p_err("invalid --max-processes '%s': expected 1 to %d", arg, 1 << 22);
			return -1;
		}
		c->kernel.max_processes = v;
		return 0;
	case OPT_LOG_LEVEL:
		if (log_level_parse(arg, &log_level)) {
			p_err("invalid --log.level '%s': expected error, warn, info or debug", arg);
			return -1;
		}
		return 0;
	case 'v':
		log_level = LOG_DEBUG;
		return 0;
	default: /* getopt said what it did not know */
		usage(stderr);
		return -1;
	}
}

/* The command before the options, if any: serve (the default), top or report. */
static enum command command_of(int *argc, char ***argv)
{
	static const char *const names[] = { [CMD_SERVE] = "serve", [CMD_TOP] = "top",
					     [CMD_REPORT] = "report" };

	if (*argc < 2)
		return CMD_SERVE;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcmp((*argv)[1], names[i])) {
			(*argv)[1] = (*argv)[0];
			(*argv)++;
			(*argc)--;
			return (enum command)i;
		}
	}
	return CMD_SERVE;
}

enum cli_result cli__parse(int argc, char **argv, struct config *c)
{
	int opt;

	*c = (struct config){
		.cmd = command_of(&argc, &argv),
		.web = { .listen_address = ":9435", .telemetry_path = "/metrics" },
		.store = {
			.duration = { default_duration_buckets, ARRAY_SIZE(default_duration_buckets), 1e-9 },
			.body_size = { body_size_buckets, ARRAY_SIZE(body_size_buckets), 1.0 },
			.queue = { queue_buckets, ARRAY_SIZE(queue_buckets), 1e-9 },
			.max_routes = DEFAULT_MAX_ROUTES,
			.max_addresses = DEFAULT_MAX_ADDRESSES,
			.native_max_buckets = NHIST_DEFAULT_MAX_BUCKETS,
			.summary_max_age_ns = SUMMARY_MAX_AGE_NS,
			.summary_cap = SUMMARY_CAP,
		},
		.kernel = { .client = true },
		.report_ns = DEFAULT_REPORT_NS,
		.sort = VIEW_SORT_RATE,
	};
	c->kernel.sel = &c->sel;
	/* top owns the terminal and report's output is for reading: only errors interrupt */
	if (c->cmd != CMD_SERVE)
		log_level = c->cmd == CMD_TOP ? LOG_ERROR : LOG_WARN;
	optind = 0; /* glibc: start over, for a second parse */
	while ((opt = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return CLI_DONE;
		}
		if (opt == OPT_VERSION) {
			printf("redscope %s\n", REDSCOPE_VERSION);
			return CLI_DONE;
		}
		if (opt == OPT_PID || opt == OPT_COMM || opt == OPT_PORT || opt == OPT_CGROUP
			    ? selector_option(c, opt, optarg)
		    : opt == OPT_CLIENT_METRICS || opt == OPT_MAX_ADDRESSES
			    ? client_option(c, opt, optarg)
			    : value_option(c, opt, optarg))
			return CLI_USAGE;
	}
	if (optind < argc) {
		p_err("unexpected argument '%s': see redscope --help", argv[optind]);
		return CLI_USAGE;
	}
	return CLI_RUN;
}

bool cli__selects(const struct config *c)
{
	return c->sel.n_pids || c->sel.n_comms || c->sel.n_ports || c->sel.n_cgroups;
}

void cli__free(struct config *c)
{
	free(c->sel.pids);
	free(c->sel.comms);
	free(c->sel.ports);
	free(c->sel.cgroups);
	c->sel.pids = NULL;
	c->sel.comms = NULL;
	c->sel.ports = NULL;
	c->sel.cgroups = NULL;
	c->sel.n_pids = c->sel.n_comms = c->sel.n_ports = c->sel.n_cgroups = 0;
}
