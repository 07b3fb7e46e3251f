/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* quantile.c: quantiles over a sliding time window (Prometheus summaries). */
#ifndef REDSCOPE_QUANTILE_H
#define REDSCOPE_QUANTILE_H

#include <stddef.h>
#include <stdint.h>

#define QUANTILE_BUCKETS 5

struct quantile_bucket {
	uint64_t period; /* which width-long slice of time the samples are from */
	uint64_t seen;	 /* samples observed in that slice */
	uint32_t n;	 /* samples kept */
	uint32_t alloc;
	double *v;
};

struct quantiles {
	uint64_t width_ns; /* max age / QUANTILE_BUCKETS */
	uint32_t cap;	   /* samples kept per bucket; beyond, a uniform reservoir */
	uint32_t rng;
	struct quantile_bucket b[QUANTILE_BUCKETS];
};

void quantiles__init(struct quantiles *q, uint64_t max_age_ns, uint32_t cap);
void quantiles__free(struct quantiles *q);
void quantiles__observe(struct quantiles *q, uint64_t now_ns, double v);
/*
 * Quantiles at ranks (ascending, in [0, 1]) of what was observed in the window
 * ending at now_ns; NaN when nothing was. Returns the number of samples used.
 */
size_t quantiles__compute(const struct quantiles *q, uint64_t now_ns, const double *ranks,
			  size_t n_ranks, double *out);

#endif /* REDSCOPE_QUANTILE_H */
