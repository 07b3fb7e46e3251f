// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Native histogram buckets: the bucket index of an observation, exact at the bounds
 * (2^(i/2^s) belongs to bucket i), and the sparse list of buckets that hold
 * observations, kept sorted, with the resolution halved whenever it grows past its cap.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nhist.h"

void nhist__init(struct nhist *h)
{
	memset(h, 0, sizeof(*h));
	h->schema = NHIST_SCHEMA_START;
}

int32_t nhist__index(double v, int schema)
{
	int exp;
	double frac = frexp(v, &exp); /* v = frac * 2^exp, frac in [0.5, 1) */

	if (schema <= 0) {
		/* ceil(log2 v), then ceil of that over 2^-schema */
		int key = frac == 0.5 ? exp - 1 : exp, shift = -schema;

		return (key + (1 << shift) - 1) >> shift;
	}
	/* the smallest j in [-2^s, 0] with frac <= 2^(j/2^s): ceil(2^s log2 frac) */
	int per = 1 << schema, j = (int)ceil(log2(frac) * per);

	if (j < -per)
		j = -per;
	if (j > 0)
		j = 0;
	while (j > -per && frac <= exp2((double)(j - 1) / per))
		j--;
	while (j < 0 && frac > exp2((double)j / per))
		j++;
	return exp * per + j;
}

/* ceil(i / 2): the index of bucket i at the schema below */
static int32_t halve(int32_t i)
{
	return (i >> 1) + (i & 1);
}

/* One schema down: pairs of buckets merge; the list stays sorted. */
static void coarsen(struct nhist *h)
{
	uint32_t out = 0;

	for (uint32_t i = 0; i < h->n; i++) {
		int32_t idx = halve(h->b[i].index);

		if (out && h->b[out - 1].index == idx) {
			h->b[out - 1].count += h->b[i].count;
		} else {
			h->b[out].index = idx;
			h->b[out].count = h->b[i].count;
			out++;
		}
	}
	h->n = out;
	h->schema--;
}

int nhist__observe(struct nhist *h, double v, uint32_t max_buckets)
{
	int32_t idx;
	uint32_t lo = 0, hi;

	if (!(v > NHIST_ZERO_THRESHOLD)) {
		h->zero_count++;
		return 0;
	}
	idx = nhist__index(v, h->schema);
	hi = h->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (h->b[mid].index < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < h->n && h->b[lo].index == idx) {
		h->b[lo].count++;
		return 0;
	}
	if (h->n == h->cap) {
		/* most histograms have a few buckets: 2 fill the smallest allocation there is */
		uint16_t cap = h->cap ? h->cap * 2 : 2;
		struct nhist_bucket *b = realloc(h->b, cap * sizeof(*b));

		if (!b)
			return -ENOMEM;
		h->b = b;
		h->cap = cap;
	}
	memmove(&h->b[lo + 1], &h->b[lo], (h->n - lo) * sizeof(*h->b));
	h->b[lo] = (struct nhist_bucket){ idx, 1 };
	h->n++;
	while (h->n > max_buckets && h->schema > NHIST_SCHEMA_MIN)
		coarsen(h);
	return 0;
}

void nhist__free(struct nhist *h)
{
	free(h->b);
	h->b = NULL;
	h->n = h->cap = 0;
}
