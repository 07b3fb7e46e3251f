// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * redscope: `redscope [serve|top|report] [OPTION]...`. cli.c reads the command line,
 * daemon.c runs it.
 */
#include <malloc.h>

#include "cli.h"
#include "daemon.h"

int main(int argc, char **argv)
{
	static struct config cfg;
	enum cli_result parsed;
	int status;

	/*
	 * Large buffers (a /metrics page of many series) come from mmap and go back to
	 * the system when freed: a fixed threshold, not glibc's sliding one, which after
	 * the first big free would keep every later page on the heap for good.
	 */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	parsed = cli__parse(argc, argv, &cfg);
	status = parsed == CLI_RUN ? daemon__run(&cfg) : parsed == CLI_DONE ? 0 : 2;
	cli__free(&cfg);
	return status;
}
