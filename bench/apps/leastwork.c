// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Runs leastwork.bpf.o for the server on one local port: attaches its programs, says
 * "attached" on stdout, reads its ring buffer ten times a second, and when stopped
 * (SIGTERM, SIGINT) says how many records it read: "records N".
 * Usage: leastwork PORT [hash] (built with leastwork.bpf.o's skeleton)
 */
#include <bpf/libbpf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "leastwork.skel.h"

static volatile sig_atomic_t stopping;
static unsigned long long records;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static int on_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	records++;
	return 0;
}

int main(int argc, char **argv)
{
	struct leastwork_bpf *skel;
	struct ring_buffer *rb;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: leastwork PORT [hash]\n");
		return 2;
	}
	skel = leastwork_bpf__open();
	if (!skel)
		return 1;
	skel->rodata->port = atoi(argv[1]);
	skel->rodata->hash_state = argc == 3;
	if (leastwork_bpf__load(skel) || leastwork_bpf__attach(skel)) {
		fprintf(stderr, "leastwork: cannot load or attach its programs\n");
		return 1;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.records), on_record, NULL, NULL);
	if (!rb)
		return 1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("attached\n");
	fflush(stdout);
	while (!stopping) {
		ring_buffer__consume(rb);
		usleep(100000);
	}
	ring_buffer__consume(rb);
	printf("records %llu\n", records);
	fflush(stdout);
	ring_buffer__free(rb);
	leastwork_bpf__destroy(skel);
	return 0;
}
