// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Native histogram buckets: indexes exact at the bounds, counts kept when resolution drops. */
#include <math.h>
#include <stdint.h>

#include "nhist.h"
#include "unit.h"

/* Bucket i of schema s is (2^((i-1)/2^s), 2^(i/2^s)], checked in long double. */
static int holds(double v, int schema, int32_t i)
{
	long double per = ldexpl(1.0L, schema);

	return (long double)v > exp2l((long double)(i - 1) / per) &&
	       (long double)v <= exp2l((long double)i / per);
}

/* Powers of two are upper bounds: 2^k is the last value of its bucket at every schema. */
static void powers_of_two_close_their_bucket(void)
{
	for (int s = NHIST_SCHEMA_MIN; s <= NHIST_SCHEMA_MAX; s++) {
		for (int k = -40; k <= 40; k++) {
			double v = ldexp(1.0, k), above = nextafter(v, INFINITY);
			/* at schema s <= 0 a bucket spans 2^-s powers: 2^k closes one if it divides k */
			int32_t want = s > 0 ? k * (1 << s) : (int32_t)ceil((double)k / (1 << -s));

			CHECK_EQ(nhist__index(v, s), want);
			if (s > 0 || k % (1 << -s) == 0)
				CHECK_EQ(nhist__index(above, s), want + 1);
			else
				CHECK_EQ(nhist__index(above, s), want);
		}
	}
}

/* Any value falls in the bucket the definition gives, at every schema. */
static void values_land_where_the_definition_says(void)
{
	uint64_t x = 88172645463325252ULL;

	for (int n = 0; n < 200000; n++) {
		/* xorshift: durations from 1 ns to hours, sizes from 1 byte to GiB */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		double v = ldexp((double)(x >> 11) / 9007199254740992.0 + 0.5, (int)(x % 72) - 40);
		int s = (int)(x >> 59) % (NHIST_SCHEMA_MAX - NHIST_SCHEMA_MIN + 1) + NHIST_SCHEMA_MIN;
		int32_t i = nhist__index(v, s);

		if (!holds(v, s, i)) {
			fprintf(stderr, "v=%.17g schema %d: index %d\n", v, s, i);
			CHECK(holds(v, s, i));
			return;
		}
	}
}

/* Observations of 0 (a body of no bytes) are in the zero bucket. */
static void zero_goes_to_the_zero_bucket(void)
{
	struct nhist h;

	nhist__init(&h);
	CHECK_EQ(nhist__observe(&h, 0, 160), 0);
	CHECK_EQ(nhist__observe(&h, 0, 160), 0);
	CHECK_EQ(nhist__observe(&h, 1e-9, 160), 0);
	CHECK_EQ(h.zero_count, 2);
	CHECK_EQ(h.n, 1);
	CHECK_EQ(h.b[0].count, 1);
	CHECK_EQ(h.b[0].index, nhist__index(1e-9, NHIST_SCHEMA_START));
	nhist__free(&h);
}

/*
 * Past its cap the histogram drops resolution: no observation is lost, the buckets
 * stay sorted, and each holds exactly the values whose index at the final schema is its.
 */
static void too_many_buckets_halve_the_resolution(void)
{
	enum { N = 5000, CAP = 12 };
	static double values[N];
	struct nhist h;
	uint64_t total = 0;

	nhist__init(&h);
	for (int i = 0; i < N; i++) {
		values[i] = 1e-6 * pow(1.0037, i); /* 1 us to about 100 s */
		CHECK_EQ(nhist__observe(&h, values[i], CAP), 0);
	}
	CHECK(h.n <= CAP);
	CHECK(h.schema < NHIST_SCHEMA_START);
	for (uint32_t b = 0; b < h.n; b++) {
		uint64_t in = 0;

		if (b)
			CHECK(h.b[b].index > h.b[b - 1].index);
		for (int i = 0; i < N; i++)
			in += nhist__index(values[i], h.schema) == h.b[b].index;
		CHECK_EQ(h.b[b].count, in);
		total += h.b[b].count;
	}
	CHECK_EQ(total, N);
	nhist__free(&h);
}

/* At the lowest schema the cap cannot be kept: counts still are. */
static void the_lowest_schema_is_a_floor(void)
{
	struct nhist h;
	uint64_t total = 0;

	nhist__init(&h);
	for (int k = -100; k <= 100; k += 2)
		CHECK_EQ(nhist__observe(&h, ldexp(1.0, k), 2), 0);
	CHECK_EQ(h.schema, NHIST_SCHEMA_MIN);
	for (uint32_t b = 0; b < h.n; b++)
		total += h.b[b].count;
	CHECK_EQ(total, 101);
	nhist__free(&h);
}

int main(void)
{
	RUN(powers_of_two_close_their_bucket);
	RUN(values_land_where_the_definition_says);
	RUN(zero_goes_to_the_zero_bucket);
	RUN(too_many_buckets_halve_the_resolution);
	RUN(the_lowest_schema_is_a_floor);
	return unit_report("nhist");
}
