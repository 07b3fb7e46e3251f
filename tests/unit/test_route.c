// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Routes: identifier segments become {id}, user patterns win, output always fits. */
#include "route.h"
#include "unit.h"
#include "unit.h"

static const char *route_of(const char *path)
{
	static char out[ROUTE_MAX];
	struct guarded g = guard_copy(path, strlen(path));

	route_from_path(g.data, strlen(path), false, out);
	guard_free(&g);
	return out;
}

static void identifiers_become_placeholders(void)
{
	CHECK_STR(route_of("/polls/42/"), "/polls/{id}/");
	CHECK_STR(route_of("/users/550e8400-e29b-41d4-a716-446655440000/orders"), "/users/{id}/orders");
	CHECK_STR(route_of("/commits/5f3a9c2e1b"), "/commits/{id}");
	CHECK_STR(route_of("/o/507f1f77bcf86cd799439011"), "/o/{id}");
	CHECK_STR(route_of("/reports/2024-01-15"), "/reports/{id}");
	CHECK_STR(route_of("/reset/Xk3f9QmZ7pL2aB8cT1vY"), "/reset/{id}");
	CHECK_STR(route_of("/a/1/b/2/c/3"), "/a/{id}/b/{id}/c/{id}");
}

static void names_stay(void)
{
	CHECK_STR(route_of("/"), "/");
	CHECK_STR(route_of("/polls/2xx_success/"), "/polls/2xx_success/");
	CHECK_STR(route_of("/api/v2/users"), "/api/v2/users");
	CHECK_STR(route_of("/static/app.min.js"), "/static/app.min.js");
	CHECK_STR(route_of("/deadbeef"), "/deadbeef"); /* hex letters only: a word */
	CHECK_STR(route_of("/authentication-required"), "/authentication-required");
	CHECK_STR(route_of("/page2"), "/page2");
	CHECK_STR(route_of("//double//slash"), "//double//slash");
	CHECK_STR(route_of("*"), "*");
}

static void segment_rules(void)
{
	CHECK(route_segment_is_id("0", 1));
	CHECK(!route_segment_is_id("", 0));
	CHECK(!route_segment_is_id("v1", 2));
	CHECK(!route_segment_is_id("1a2b3c", 6)); /* short hex */
	CHECK(route_segment_is_id("1a2b3c4d", 8));
	CHECK(!route_segment_is_id("abcdefghijklmnopqrstuvwxyz", 26));
	CHECK(route_segment_is_id("abcdefghijklmnopqrstuvwxyz0", 27));
	CHECK(!route_segment_is_id("abcdefghij/klmnop1", 18)); /* not one segment */
}

static void patterns_win_and_match_whole_segments(void)
{
	CHECK_EQ(route__add_pattern("/users/{user}/orders"), 0);
	CHECK_EQ(route__add_pattern("/files/{name}"), 0);
	CHECK(route__add_pattern("no-slash") != 0);
	CHECK_STR(route_of("/users/alice/orders"), "/users/{user}/orders");
	CHECK_STR(route_of("/users/42/orders"), "/users/{user}/orders");
	CHECK_STR(route_of("/users/42/orders/7"), "/users/{id}/orders/{id}"); /* longer: no */
	CHECK_STR(route_of("/users//orders"), "/users//orders");	      /* empty segment */
	CHECK_STR(route_of("/files/report.pdf"), "/files/{name}");
	CHECK_STR(route_of("/files/"), "/files/");
	route__clear_patterns();
	CHECK_STR(route_of("/users/alice/orders"), "/users/alice/orders");
}

static void long_paths_fit(void)
{
	char path[2000], out[ROUTE_MAX];

	for (size_t i = 0; i < sizeof(path); i++)
		path[i] = i % 10 == 0 ? '/' : 'a' + i % 7;
	route_from_path(path, sizeof(path), false, out);
	CHECK_EQ(strlen(out), ROUTE_MAX - 1);
	for (size_t i = 0; i < sizeof(path); i++)
		path[i] = i % 3 == 0 ? '/' : '7';
	route_from_path(path, sizeof(path), true, out);
	CHECK(strlen(out) < ROUTE_MAX);
	CHECK(strstr(out, "{truncated}") != NULL);
}

int main(void)
{
	RUN(identifiers_become_placeholders);
	RUN(names_stay);
	RUN(segment_rules);
	RUN(patterns_win_and_match_whole_segments);
	RUN(long_paths_fit);
	return unit_report("route");
}
