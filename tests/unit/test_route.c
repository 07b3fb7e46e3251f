// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Routes: identifier segments become {id}, user patterns win, output always fits. */
#include "common.h"
#include "route.h"
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

/*
 * Paths as real clients send them: personal data and free text never reach a label,
 * ordinary API paths stay as they are.
 */
static void personal_data_becomes_placeholders(void)
{
	static const char *const cases[][2] = {
		/* e-mail addresses, raw and percent-encoded */
		{ "/users/john.doe@example.com/profile", "/users/{email}/profile" },
		{ "/users/john.doe%40example.com", "/users/{email}" },
		{ "/unsubscribe/JANE_ROE%40EXAMPLE.ORG", "/unsubscribe/{email}" },
		{ "/invite/a@b", "/invite/{email}" },
		/* search phrases and free text */
		{ "/search/how+to+reset+password", "/search/{text}" },
		{ "/search/how%20to%20reset%20my%20password", "/search/{text}" },
		{ "/q/caf%C3%A9+au+lait/page/2", "/q/{text}/page/{id}" },
		{ "/wiki/Jane+Roe", "/wiki/{text}" },
		/* file names with spaces */
		{ "/files/Annual%20Report%202024.pdf", "/files/{text}" },
		{ "/download/my%20scan%20(1).png", "/download/{text}" },
		/* tokens: a JWT, a session id, a reset token */
		{ "/auth/callback/eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0"
		  ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
		  "/auth/callback/{id}" },
		{ "/session/3f2a9c8b7e6d5f4a3b2c1d0e9f8a7b6c/refresh", "/session/{id}/refresh" },
		{ "/reset/Xk3f9QmZ7pL2aB8cT1vY", "/reset/{id}" },
		/* ordinary API paths stay */
		{ "/api/v2/users/me", "/api/v2/users/me" },
		{ "/tags/c++", "/tags/c++" },
		{ "/static/css/app.min.css", "/static/css/app.min.css" },
		{ "/.well-known/openid-configuration", "/.well-known/openid-configuration" },
		{ "/files/report_2024.pdf", "/files/report_2024.pdf" },
		{ "/healthz", "/healthz" },
		{ "/polls/2xx_success/", "/polls/2xx_success/" },
		/* a username is a word: only a --route pattern hides it (see the README) */
		{ "/u/alice", "/u/alice" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *got = route_of(cases[i][0]);

		if (strcmp(got, cases[i][1]))
			fprintf(stderr, "%s -> %s, expected %s\n", cases[i][0], got, cases[i][1]);
		CHECK_STR(got, cases[i][1]);
	}
	CHECK(route_segment_personal("+a", 2) == NULL); /* joins no two words */
	CHECK(route_segment_personal("a%2", 3) == NULL); /* a cut escape */
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
	RUN(personal_data_becomes_placeholders);
	RUN(segment_rules);
	RUN(patterns_win_and_match_whole_segments);
	RUN(long_paths_fit);
	return unit_report("route");
}
