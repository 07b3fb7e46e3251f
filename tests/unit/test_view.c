// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The figures of top and report: windows, percentiles, errors, the table and the JSON. */
#include <math.h>

#include "buf.h"
#include "http1.h"
#include "store.h"
#include "unit.h"
#include "view.h"

static const double bounds[] = { 0.005, 0.01, 0.025 };
static const double size_bounds[] = { 100 };

static struct store *new_store(void)
{
	struct store_opts o = {
		.duration = { bounds, 3, 1e-9 },
		.body_size = { size_bounds, 1, 1.0 },
	};

	return store__new(&o);
}

static void observe(struct store *s, const struct identity *id, const char *route,
		    unsigned int status, uint64_t ns)
{
	struct request_obs o = { .id = id, .method = HTTP_GET, .route = route, .status = status,
				 .duration_ns = ns };

	store__observe_request(s, &o);
}

static void quantiles_interpolate_within_a_bucket(void)
{
	const uint64_t bound[] = { 5000000, 10000000, 25000000 };
	uint64_t b[4] = { 0, 10, 0, 0 };

	CHECK(fabs(view_quantile(b, bound, 3, 0.5) - 0.0075) < 1e-12);
	CHECK(fabs(view_quantile(b, bound, 3, 1.0) - 0.010) < 1e-12);
	b[3] = 90; /* most above the last bound: the last bound is all one can say */
	CHECK(fabs(view_quantile(b, bound, 3, 0.99) - 0.025) < 1e-12);
	b[0] = 100;
	CHECK(fabs(view_quantile(b, bound, 3, 0.25) - 0.0025) < 1e-12);
	memset(b, 0, sizeof(b));
	CHECK(isnan(view_quantile(b, bound, 3, 0.5)));
}

static void windows_and_routes(void)
{
	struct identity a = { .service_name = "a" };
	struct store *s = new_store();
	struct view_state *v = view__new(s);
	struct view out;

	/* before the window: 10 fast 200s */
	for (int i = 0; i < 10; i++)
		observe(s, &a, "/x", 200, 1000000);
	view__tick(v, s, 1000000000ULL);
	/* in it: 3 more 200s and 1 500 on /x, 2 404s on /y, slower */
	for (int i = 0; i < 3; i++)
		observe(s, &a, "/x", 200, 20000000);
	observe(s, &a, "/x", 500, 20000000);
	observe(s, &a, "/y", 404, 7000000);
	observe(s, &a, "/y", 404, 7000000);
	view__tick(v, s, 3000000000ULL);

	CHECK_EQ(view__compute(v, s, 1, 0, &out), 0);
	CHECK(fabs(out.seconds - 2.0) < 1e-9);
	CHECK_EQ(out.n_services, 1);
	view__sort(&out, VIEW_SORT_NAME);
	CHECK_EQ(out.services[0].n_routes, 2);
	CHECK_STR(out.services[0].routes[0].route, "/x");
	CHECK_EQ(out.services[0].routes[0].f.requests, 4); /* statuses are summed */
	CHECK_EQ(out.services[0].routes[0].f.errors, 1);   /* 5xx only */
	CHECK(fabs(out.services[0].routes[0].f.rate - 2.0) < 1e-9);
	CHECK(out.services[0].routes[0].f.p50 > 0.010 && out.services[0].routes[0].f.p50 <= 0.025);
	CHECK_EQ(out.services[0].routes[1].f.errors, 0); /* a 404 is the client's */
	CHECK_EQ(out.services[0].all.requests, 6);
	view__clear(&out);

	/* the whole run: from zero */
	CHECK_EQ(view__compute(v, s, 0, 0, &out), 0);
	CHECK(fabs(out.seconds - 3.0) < 1e-9);
	CHECK_EQ(out.services[0].all.requests, 16);
	view__sort(&out, VIEW_SORT_RATE);
	CHECK_STR(out.services[0].routes[0].route, "/x"); /* 14 requests before /y's 2 */
	view__clear(&out);
	view__free(v);
	store__free(s);
}

static void table_fits_and_json_is_json(void)
{
	struct identity a = { .service_name = "svc\"1" }, b = { .service_name = "other" };
	struct store *s = new_store();
	struct view_state *v = view__new(s);
	struct buf t = {}, j = {};
	struct view out;
	const char *line;

	observe(s, &a, "/a-very-long-route/that/does/not/fit/in/eighty/columns/at/all", 200, 1000);
	observe(s, &a, "/q\"uote\\back\x01\xff", 200, 1000);
	observe(s, &b, "/", 200, 1000);
	view__tick(v, s, 2000000000ULL);
	CHECK_EQ(view__compute(v, s, 0, 0, &out), 0);
	view__filter(&out, "svc");
	CHECK_EQ(out.n_services, 1);
	view__table(&t, &out, 80);
	for (line = t.data; line && *line;) {
		const char *eol = strchr(line, '\n');

		CHECK(eol && eol - line <= 80);
		line = eol ? eol + 1 : NULL;
	}
	CHECK(strstr(t.data, "  GET /a-very-long-rou~ ") != NULL);
	view__json(&j, &out);
	CHECK(strstr(j.data, "\"service_name\": \"svc\\\"1\"") != NULL);
	CHECK(strstr(j.data, "\"route\": \"/q\\\"uote\\\\back\\u0001\\ufffd\"") != NULL);
	CHECK(strstr(j.data, "\"requests\": 2, \"requests_per_second\": 1,") != NULL);
	CHECK(strstr(j.data, "\"queue_seconds_mean\": null") != NULL);
	CHECK(strstr(j.data, "other") == NULL);
	buf__free(&t);
	buf__free(&j);
	view__clear(&out);
	view__free(v);
	store__free(s);
}

int main(void)
{
	RUN(quantiles_interpolate_within_a_bucket);
	RUN(windows_and_routes);
	RUN(table_fits_and_json_is_json);
	return unit_report("view");
}
