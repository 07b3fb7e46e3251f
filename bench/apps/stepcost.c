// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Runs stepcost.bpf.o for one step: attaches its program, does ROUND_TRIPS one-byte
 * writes and reads on a socketpair (each write runs the program once), and prints the
 * program's run count and run time (kernel.bpf_stats_enabled must be 1).
 * Usage: stepcost STEP ROUND_TRIPS (built with stepcost.bpf.o's skeleton)
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stepcost.skel.h"

static char user_buf[4096] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

int main(int argc, char **argv)
{
	struct stepcost_bpf *skel;
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int sv[2];
	long n;
	char b;

	if (argc != 3) {
		fprintf(stderr, "usage: stepcost STEP ROUND_TRIPS\n");
		return 2;
	}
	n = atol(argv[2]);
	skel = stepcost_bpf__open();
	if (!skel)
		return 1;
	skel->rodata->step = atoi(argv[1]);
	skel->rodata->user_buf = (unsigned long)user_buf;
	skel->rodata->loader_tgid = getpid();
	if (stepcost_bpf__load(skel) || stepcost_bpf__attach(skel) ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return 1;
	for (long i = 0; i < n; i++)
		if (write(sv[0], "x", 1) != 1 || read(sv[1], &b, 1) != 1)
			return 1;
	if (bpf_obj_get_info_by_fd(bpf_program__fd(skel->progs.stepcost), &info, &len))
		return 1;
	printf("%llu %llu\n", (unsigned long long)info.run_cnt, (unsigned long long)info.run_time_ns);
	stepcost_bpf__destroy(skel);
	return 0;
}
