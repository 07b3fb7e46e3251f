// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Quantiles over a sliding time window, as a Prometheus summary reports them: the
 * window is split into age buckets that expire one at a time (10 minutes in 5
 * buckets, like client_golang and statsd_exporter). Each bucket keeps its samples,
 * up to a cap beyond which it keeps a uniform reservoir; quantiles are computed
 * exactly over what is kept, each sample weighted by how many it stands for.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quantile.h"

#define QB_INITIAL 16

void quantiles__init(struct quantiles *q, uint64_t max_age_ns, uint32_t cap)
{
	memset(q, 0, sizeof(*q));
	q->width_ns = max_age_ns / QUANTILE_BUCKETS;
	if (!q->width_ns)
		q->width_ns = 1;
	q->cap = cap ? cap : 1;
	q->rng = 0x9e3779b9u;
}

void quantiles__free(struct quantiles *q)
{
	for (int i = 0; i < QUANTILE_BUCKETS; i++)
		free(q->b[i].v);
	memset(q, 0, sizeof(*q));
}

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

void quantiles__observe(struct quantiles *q, uint64_t now_ns, double v)
{
	uint64_t period = now_ns / q->width_ns;
	struct quantile_bucket *b = &q->b[period % QUANTILE_BUCKETS];

	if (b->period != period || !b->seen) {
		b->period = period;
		b->seen = 0;
		b->n = 0;
	}
	b->seen++;
	if (b->n < q->cap) {
		if (b->n == b->alloc) {
			uint32_t alloc = b->alloc ? b->alloc * 2 : QB_INITIAL;
			double *nv;

			if (alloc > q->cap)
				alloc = q->cap;
			nv = realloc(b->v, alloc * sizeof(*nv));
			if (!nv)
				return; /* counted in seen: the sample's weight goes to the others */
			b->v = nv;
			b->alloc = alloc;
		}
		b->v[b->n++] = v;
		return;
	}
	/* reservoir: every sample seen so far is kept with equal probability */
	uint64_t j = xorshift(&q->rng) % b->seen;

	if (j < q->cap)
		b->v[j] = v;
}

struct weighted {
	double v;
	double w;
};

static int cmp_weighted(const void *a, const void *b)
{
	double x = ((const struct weighted *)a)->v, y = ((const struct weighted *)b)->v;

	return x < y ? -1 : x > y;
}

size_t quantiles__compute(const struct quantiles *q, uint64_t now_ns, const double *ranks,
			  size_t n_ranks, double *out)
{
	uint64_t period = now_ns / q->width_ns;
	struct weighted *all;
	size_t n = 0, r = 0;
	double total = 0, cum = 0;

	for (size_t i = 0; i < n_ranks; i++)
		out[i] = NAN;
	for (int i = 0; i < QUANTILE_BUCKETS; i++)
		if (q->b[i].n && q->b[i].period + QUANTILE_BUCKETS > period)
			n += q->b[i].n;
	if (!n)
		return 0;
	all = malloc(n * sizeof(*all));
	if (!all)
		return 0;
	n = 0;
	for (int i = 0; i < QUANTILE_BUCKETS; i++) {
		const struct quantile_bucket *b = &q->b[i];
		double w;

		if (!b->n || b->period + QUANTILE_BUCKETS <= period)
			continue;
		w = (double)b->seen / b->n;
		for (uint32_t k = 0; k < b->n; k++)
			all[n++] = (struct weighted){ b->v[k], w };
		total += (double)b->seen;
	}
	qsort(all, n, sizeof(*all), cmp_weighted);
	/* nearest rank: the smallest value with at least rank * total at or below it */
	for (size_t i = 0; i < n && r < n_ranks; i++) {
		cum += all[i].w;
		while (r < n_ranks && cum >= ranks[r] * total - 1e-9) {
			out[r++] = all[i].v;
		}
	}
	while (r < n_ranks)
		out[r++] = all[n - 1].v;
	free(all);
	return n;
}
