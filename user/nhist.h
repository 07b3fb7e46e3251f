/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * nhist.c: the buckets of a native histogram (Prometheus' sparse, exponential
 * histograms): only the buckets that hold observations are kept, at a resolution that
 * drops when there are too many of them.
 */
#ifndef REDSCOPE_NHIST_H
#define REDSCOPE_NHIST_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Bucket i of schema s holds the observations in (2^((i-1)/2^s), 2^(i/2^s)]: at schema
 * 3, each bucket is 2^(1/8), about 9%, wider than the one before. Observations at or
 * below NHIST_ZERO_THRESHOLD (a body of 0 bytes) go in the zero bucket.
 */
#define NHIST_SCHEMA_START 3
#define NHIST_SCHEMA_MIN (-4)
#define NHIST_SCHEMA_MAX 8
#define NHIST_ZERO_THRESHOLD 0x1p-128
#define NHIST_DEFAULT_MAX_BUCKETS 160
#define NHIST_MAX_BUCKETS 1000 /* the most a cap can be */

struct nhist_bucket {
	int32_t index;
	uint64_t count;
};

struct nhist {
	struct nhist_bucket *b; /* the buckets with observations, by ascending index */
	uint16_t n, cap;	/* at most NHIST_MAX_BUCKETS */
	int8_t schema;
	uint64_t zero_count;
};

void nhist__init(struct nhist *h);
/* The index of the bucket of v (> 0) at schema. */
int32_t nhist__index(double v, int schema);
/*
 * Count one observation of v (>= 0). With more than max_buckets buckets, the schema
 * drops, each step merging pairs of buckets, until they fit or the schema is
 * NHIST_SCHEMA_MIN. -ENOMEM, and nothing counted, if a bucket cannot be added.
 */
int nhist__observe(struct nhist *h, double v, uint32_t max_buckets);
void nhist__free(struct nhist *h);

#endif /* REDSCOPE_NHIST_H */
