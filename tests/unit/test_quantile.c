// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Sliding-window quantiles: exact ranks, expiry, reservoir weighting. */
#include <math.h>

#include "quantile.h"
#include "unit.h"

#define SEC 1000000000ULL
static const double ranks[] = { 0.5, 0.9, 0.99 };

static void exact_nearest_rank_quantiles(void)
{
	struct quantiles q;
	double out[3];

	quantiles__init(&q, 600 * SEC, 1000);
	for (int i = 100; i >= 1; i--) /* order does not matter */
		quantiles__observe(&q, 10 * SEC, i);
	CHECK_EQ(quantiles__compute(&q, 10 * SEC, ranks, 3, out), 100);
	CHECK(out[0] == 50 && out[1] == 90 && out[2] == 99);
	quantiles__free(&q);
}

static void an_empty_window_gives_nan(void)
{
	struct quantiles q;
	double out[3];

	quantiles__init(&q, 600 * SEC, 1000);
	CHECK_EQ(quantiles__compute(&q, 1, ranks, 3, out), 0);
	CHECK(isnan(out[0]) && isnan(out[1]) && isnan(out[2]));
	quantiles__free(&q);
}

static void old_samples_leave_the_window(void)
{
	struct quantiles q;
	double out[3];

	/* 5 age buckets of 120 s */
	quantiles__init(&q, 600 * SEC, 1000);
	quantiles__observe(&q, 1000 * SEC, 7.0); /* period 8 */
	quantiles__observe(&q, 1130 * SEC, 3.0); /* period 9 */
	CHECK_EQ(quantiles__compute(&q, 1130 * SEC, ranks, 3, out), 2);
	CHECK(out[0] == 3.0 && out[2] == 7.0);
	/* period 12: the window still holds periods 8 to 12 */
	CHECK_EQ(quantiles__compute(&q, 12 * 120 * SEC + 5, ranks, 3, out), 2);
	/* period 13: period 8 is gone */
	CHECK_EQ(quantiles__compute(&q, 13 * 120 * SEC, ranks, 3, out), 1);
	CHECK(out[0] == 3.0);
	/* a new sample in a reused bucket replaces what it held */
	quantiles__observe(&q, 13 * 120 * SEC, 5.0); /* period 13 reuses period 8's bucket */
	CHECK_EQ(quantiles__compute(&q, 13 * 120 * SEC, ranks, 3, out), 2);
	CHECK(out[0] == 3.0 && out[2] == 5.0);
	CHECK_EQ(quantiles__compute(&q, 100 * 120 * SEC, ranks, 3, out), 0);
	quantiles__free(&q);
}

static void reservoirs_keep_quantiles_and_weights(void)
{
	struct quantiles q;
	double out[3], r95 = 0.95;

	/* uniform 0..1, far more than the cap: the reservoir stays representative */
	quantiles__init(&q, 600 * SEC, 1024);
	for (int i = 0; i < 200000; i++)
		quantiles__observe(&q, 1, (i * 7919 % 200000) / 200000.0);
	CHECK_EQ(quantiles__compute(&q, 1, ranks, 3, out), 1024);
	CHECK(fabs(out[0] - 0.5) < 0.05 && fabs(out[1] - 0.9) < 0.03 && out[2] > 0.95);
	quantiles__free(&q);

	/* one bucket thinned 10:1, one not: each sample counts for what it stands for */
	quantiles__init(&q, 600 * SEC, 100);
	for (int i = 0; i < 1000; i++)
		quantiles__observe(&q, 1, 1.0);
	for (int i = 0; i < 100; i++)
		quantiles__observe(&q, 121 * SEC, 2.0);
	quantiles__compute(&q, 121 * SEC, ranks, 1, out);
	CHECK(out[0] == 1.0);
	quantiles__compute(&q, 121 * SEC, &r95, 1, out); /* 1045th of 1100: a 2 */
	CHECK(out[0] == 2.0);
	quantiles__free(&q);
}

int main(void)
{
	RUN(exact_nearest_rank_quantiles);
	RUN(an_empty_window_gives_nan);
	RUN(old_samples_leave_the_window);
	RUN(reservoirs_keep_quantiles_and_weights);
	return unit_report("quantile");
}
