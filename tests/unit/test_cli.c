// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The command line: defaults, subcommands, selectors, and every value refused with 2. */
#include <fcntl.h>

#include "capture.h"
#include "cli.h"
#include "kube.h"
#include "log.h"
#include "store.h"
#include "unit.h"
#include "view.h"

#define ARGV(...) ((char *[]){ "redscope", __VA_ARGS__, NULL })
#define ARGC(argv) ((int)(sizeof(argv) / sizeof(char *)) - 1)

static struct config cfg;

/* cli__parse with its error lines (and getopt's, and the usage text) muted. */
static enum cli_result parse(int argc, char **argv)
{
	int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);
	enum cli_result r;

	cli__free(&cfg);
	dup2(null, STDERR_FILENO);
	r = cli__parse(argc, argv, &cfg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(null);
	return r;
}

#define PARSE(...) parse(ARGC(ARGV(__VA_ARGS__)), ARGV(__VA_ARGS__))

static void defaults(void)
{
	CHECK_EQ(PARSE("--log.level=info"), CLI_RUN);
	CHECK_EQ(cfg.cmd, CMD_SERVE);
	CHECK_STR(cfg.web.listen_address, ":9435");
	CHECK_STR(cfg.web.telemetry_path, "/metrics");
	CHECK(!cli__selects(&cfg)); /* auto mode */
	CHECK(cfg.kernel.sel == &cfg.sel);
	CHECK_EQ(cfg.kernel.capture, CAPTURE_AUTO);
	CHECK_EQ(cfg.store.max_routes, 200);
	CHECK_EQ(cfg.store.duration.n, 14);
	CHECK(cfg.store.duration.bounds[0] == 0.005 && cfg.store.duration.bounds[13] == 10);
	CHECK_EQ(cfg.report_ns, 30000000000ULL);
	CHECK_EQ(cfg.sort, VIEW_SORT_RATE);
	CHECK(!cfg.json && !cfg.filter && !cfg.web_config_path && !cfg.store.compat_statsd);
}

static void subcommands(void)
{
	CHECK_EQ(PARSE("top", "--sort=p99", "--service=shop"), CLI_RUN);
	CHECK_EQ(cfg.cmd, CMD_TOP);
	CHECK_EQ(cfg.sort, VIEW_SORT_P99);
	CHECK_STR(cfg.filter, "shop");
	CHECK_EQ(PARSE("report", "--duration=2m", "--format=json"), CLI_RUN);
	CHECK_EQ(cfg.cmd, CMD_REPORT);
	CHECK_EQ(cfg.report_ns, 120000000000ULL);
	CHECK(cfg.json);
	CHECK_EQ(PARSE("report", "--duration", "500ms"), CLI_RUN);
	CHECK_EQ(cfg.report_ns, 500000000ULL);
	CHECK_EQ(PARSE("serve", "--web.listen-address=127.0.0.1:9999"), CLI_RUN);
	CHECK_EQ(cfg.cmd, CMD_SERVE);
	CHECK_STR(cfg.web.listen_address, "127.0.0.1:9999");
	log_level = LOG_INFO;
}

static void selectors_repeat_and_add_up(void)
{
	CHECK_EQ(PARSE("--pid=12", "--pid", "4000000", "--comm=gunicorn", "--comm", "uwsgi",
		       "--port=8000", "--port=65535", "--cgroup=/kubepods", "--cgroup", "system.slice"),
		 CLI_RUN);
	CHECK(cli__selects(&cfg));
	CHECK_EQ(cfg.sel.n_pids, 2);
	CHECK_EQ(cfg.sel.pids[0], 12);
	CHECK_EQ(cfg.sel.pids[1], 4000000);
	CHECK_EQ(cfg.sel.n_comms, 2);
	CHECK_STR(cfg.sel.comms[0], "gunicorn");
	CHECK_STR(cfg.sel.comms[1], "uwsgi");
	CHECK_EQ(cfg.sel.n_ports, 2);
	CHECK_EQ(cfg.sel.ports[0], 8000);
	CHECK_EQ(cfg.sel.ports[1], 65535);
	CHECK_EQ(cfg.sel.n_cgroups, 2);
	CHECK_STR(cfg.sel.cgroups[1], "system.slice");
	/* one kind alone selects too */
	CHECK_EQ(PARSE("--port=443"), CLI_RUN);
	CHECK(cli__selects(&cfg));
	CHECK_EQ(cfg.sel.n_pids + cfg.sel.n_comms + cfg.sel.n_cgroups, 0);
}

static void bad_selectors_are_refused(void)
{
	CHECK_EQ(PARSE("--pid=0"), CLI_USAGE);
	CHECK_EQ(PARSE("--pid=-3"), CLI_USAGE);
	CHECK_EQ(PARSE("--pid=12x"), CLI_USAGE);
	CHECK_EQ(PARSE("--pid=99999999999"), CLI_USAGE);
	CHECK_EQ(PARSE("--port=0"), CLI_USAGE);
	CHECK_EQ(PARSE("--port=65536"), CLI_USAGE);
	CHECK_EQ(PARSE("--port=http"), CLI_USAGE);
	CHECK_EQ(PARSE("--comm="), CLI_USAGE);
	CHECK_EQ(PARSE("--comm=a-name-of-16-chars"), CLI_USAGE);
	CHECK_EQ(PARSE("--comm=fifteen-chars-x"), CLI_RUN); /* the kernel's 15 */
}

static void values_are_checked(void)
{
	CHECK_EQ(PARSE("--duration-buckets=0.1,0.5,2"), CLI_RUN);
	CHECK_EQ(cfg.store.duration.n, 3);
	CHECK(cfg.store.duration.bounds[0] == 0.1 && cfg.store.duration.bounds[2] == 2);
	CHECK(cfg.store.duration.bounds == cfg.duration_buckets && cfg.duration_buckets[2] == 2);
	CHECK_EQ(PARSE("--duration-buckets=0.5,0.1"), CLI_USAGE); /* not ascending */
	CHECK_EQ(PARSE("--duration-buckets=0,1"), CLI_USAGE);
	CHECK_EQ(PARSE("--duration-buckets="), CLI_USAGE);
	CHECK_EQ(PARSE("--body-size-buckets=0,1024,65536"), CLI_RUN);
	CHECK_EQ(cfg.store.body_size.n, 3);
	CHECK(cfg.store.body_size.bounds[0] == 0 && cfg.store.body_size.bounds[2] == 65536);
	CHECK(!cfg.store.body_size_off);
	CHECK_EQ(PARSE("--body-size-buckets=none"), CLI_RUN);
	CHECK(cfg.store.body_size_off);
	CHECK_EQ(PARSE("--body-size-buckets=-1,10"), CLI_USAGE);
	CHECK_EQ(PARSE("--body-size-buckets=10,10"), CLI_USAGE);
	CHECK_EQ(PARSE("--capture=sockets"), CLI_RUN);
	CHECK_EQ(cfg.kernel.capture, CAPTURE_SOCKETS);
	CHECK_EQ(PARSE("--capture=kprobes"), CLI_USAGE);
	CHECK_EQ(PARSE("--max-connections=64"), CLI_RUN);
	CHECK_EQ(cfg.kernel.max_connections, 64);
	CHECK_EQ(PARSE("--max-connections=63"), CLI_USAGE);
	CHECK_EQ(PARSE("--max-processes=1"), CLI_RUN);
	CHECK_EQ(cfg.kernel.max_processes, 1);
	CHECK_EQ(PARSE("--max-processes=0"), CLI_USAGE);
	CHECK_EQ(PARSE("--max-routes=0"), CLI_USAGE);
	CHECK_EQ(PARSE("--web.telemetry-path=metrics"), CLI_USAGE);
	CHECK_EQ(PARSE("--kubernetes"), CLI_RUN);
	CHECK_EQ(cfg.kube.mode, KUBE_ON);
	CHECK_EQ(PARSE("--kubernetes=maybe"), CLI_USAGE);
	CHECK_EQ(PARSE("--compat=statsd"), CLI_RUN);
	CHECK(cfg.store.compat_statsd);
	CHECK_EQ(PARSE("--compat=graphite"), CLI_USAGE);
	CHECK_EQ(PARSE("report", "--duration=-1s"), CLI_USAGE);
	CHECK_EQ(PARSE("report", "--format=yaml"), CLI_USAGE);
	CHECK_EQ(PARSE("top", "--sort=latency"), CLI_USAGE);
	CHECK_EQ(PARSE("--route=no-slash"), CLI_USAGE);
	CHECK_EQ(PARSE("--log.level=loud"), CLI_USAGE);
	CHECK_EQ(PARSE("--no-such-option"), CLI_USAGE);
	CHECK_EQ(PARSE("--port=80", "stray"), CLI_USAGE);
	log_level = LOG_INFO;
}

int main(void)
{
	RUN(defaults);
	RUN(subcommands);
	RUN(selectors_repeat_and_add_up);
	RUN(bad_selectors_are_refused);
	RUN(values_are_checked);
	cli__free(&cfg);
	return unit_report("cli");
}
