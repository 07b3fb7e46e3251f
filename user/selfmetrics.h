/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* selfmetrics.c: redscope's own families (redscope_*, process_*). */
#ifndef REDSCOPE_SELFMETRICS_H
#define REDSCOPE_SELFMETRICS_H

#include <stdint.h>

#include "prom.h"
#include "capture.h"
#include "common.h"
#include "http1.h"
#include "h2.h"
#include "store.h"

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
	struct h2_counts h2; /* what HTTP/2 traffic could not be followed, and why */
};

/* The daemon's own CPU, memory and descriptors, from /proc/self: the main thread's job. */
void selfmetrics__sample(struct process_figures *out);
/* The families, store lock held. */
void selfmetrics__render(const struct store *s, struct prom_out *o, const struct self_stats *self);

#endif /* REDSCOPE_SELFMETRICS_H */
