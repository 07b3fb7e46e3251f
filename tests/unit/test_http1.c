// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Request line parser and route: every input is placed right before a guard page. */
#include "buf.h"
#include "common.h"
#include "http1.h"
#include "route.h"
#include "unit.h"

/* Parse line as fully captured (line_len == len), behind a guard page. */
static enum http1_error parse_full(const char *line, struct http1_request *out, char route[ROUTE_MAX])
{
	size_t n = strlen(line);
	struct guarded g = guard_copy(line, n);
	enum http1_error err = http1_parse_request_line(g.data, n, n, out);

	if (!err)
		route_from_path(out->path, out->path_len, out->truncated, route);
	guard_free(&g);
	return err;
}

static void every_rfc9110_method_and_patch_is_recognised(void)
{
	static const struct {
		const char *name;
		enum http_method m;
	} cases[] = {
		{ "GET", HTTP_GET },	     { "HEAD", HTTP_HEAD },	{ "POST", HTTP_POST },
		{ "PUT", HTTP_PUT },	     { "DELETE", HTTP_DELETE }, { "CONNECT", HTTP_CONNECT },
		{ "OPTIONS", HTTP_OPTIONS }, { "TRACE", HTTP_TRACE },	{ "PATCH", HTTP_PATCH },
	};
	struct http1_request r;
	char route[ROUTE_MAX], line[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line), "%s /x HTTP/1.1", cases[i].name);
		CHECK_EQ(parse_full(line, &r, route), HTTP1_OK);
		CHECK_EQ(r.method, cases[i].m);
		CHECK_STR(http_method_name(r.method), cases[i].name);
	}
}

static void unknown_methods_are_other_and_case_matters(void)
{
	struct http1_request r;
	char route[ROUTE_MAX];

	CHECK_EQ(parse_full("PROPFIND /dav HTTP/1.1", &r, route), HTTP1_OK);
	CHECK_EQ(r.method, HTTP_OTHER);
	CHECK_STR(http_method_name(r.method), "_OTHER");
	CHECK_EQ(parse_full("get / HTTP/1.1", &r, route), HTTP1_OK);
	CHECK_EQ(r.method, HTTP_OTHER);
	CHECK_EQ(parse_full("GETX / HTTP/1.1", &r, route), HTTP1_OK);
	CHECK_EQ(r.method, HTTP_OTHER);
}

static void query_string_and_fragment_are_cut(void)
{
	struct http1_request r;
	char route[ROUTE_MAX];

	CHECK_EQ(parse_full("GET /search?q=secret&token=abc HTTP/1.1", &r, route), HTTP1_OK);
	CHECK_STR(route, "/search");
	CHECK_EQ(parse_full("GET /a/b#frag HTTP/1.0", &r, route), HTTP1_OK);
	CHECK_STR(route, "/a/b");
	CHECK_EQ(parse_full("GET /? HTTP/1.1", &r, route), HTTP1_OK);
	CHECK_STR(route, "/");
	CHECK_EQ(parse_full("GET / HTTP/1.1", &r, route), HTTP1_OK);
	CHECK_STR(route, "/");
}

static void absolute_asterisk_and_authority_forms(void)
{
	struct http1_request r;
	char route[ROUTE_MAX];

	CHECK_EQ(parse_full("GET http://example.com/polls/?x=1 HTTP/1.1", &r, route), HTTP1_OK);
	CHECK_STR(route, "/polls/");
	CHECK_EQ(parse_full("GET http://example.com HTTP/1.1", &r, route), HTTP1_OK);
	CHECK_STR(route, "/");
	CHECK_EQ(parse_full("GET https://example.com?q HTTP/1.1", &r, route), HTTP1_OK);
	CHECK_STR(route, "/");
	CHECK_EQ(parse_full("OPTIONS * HTTP/1.1", &r, route), HTTP1_OK);
	CHECK_STR(route, "*");
	CHECK_EQ(parse_full("CONNECT example.com:443 HTTP/1.1", &r, route), HTTP1_OK);
	CHECK_EQ(r.method, HTTP_CONNECT);
	CHECK_STR(route, "");
}

static void bad_lines_are_rejected_with_a_reason(void)
{
	struct http1_request r;
	char route[ROUTE_MAX];

	CHECK_EQ(parse_full("", &r, route), HTTP1_BAD_METHOD);
	CHECK_EQ(parse_full(" / HTTP/1.1", &r, route), HTTP1_BAD_METHOD);
	CHECK_EQ(parse_full("G\x01T / HTTP/1.1", &r, route), HTTP1_BAD_METHOD);
	CHECK_EQ(parse_full("\x16\x03\x01\x02\x00", &r, route), HTTP1_BAD_METHOD);
	CHECK_EQ(parse_full("GET", &r, route), HTTP1_BAD_TARGET);
	CHECK_EQ(parse_full("GET  HTTP/1.1", &r, route), HTTP1_BAD_TARGET);
	CHECK_EQ(parse_full("GET /a\x7f HTTP/1.1", &r, route), HTTP1_BAD_TARGET);
	CHECK_EQ(parse_full("GET /a\tb HTTP/1.1", &r, route), HTTP1_BAD_TARGET);
	CHECK_EQ(parse_full("GET /", &r, route), HTTP1_BAD_VERSION);
	CHECK_EQ(parse_full("GET / HTTP/1.2", &r, route), HTTP1_BAD_VERSION);
	CHECK_EQ(parse_full("GET / HTTP/1.1 ", &r, route), HTTP1_BAD_VERSION);
	CHECK_EQ(parse_full("GET / http/1.1", &r, route), HTTP1_BAD_VERSION);
	CHECK_EQ(parse_full("GET / HTTP/2.0", &r, route), HTTP1_BAD_VERSION);
	CHECK_EQ(parse_full("PRI * HTTP/2.0", &r, route), HTTP1_HTTP2_PREFACE);
}

static void a_cut_capture_keeps_whole_segments(void)
{
	char line[RS_HEAD_MAX + 64], route[ROUTE_MAX];
	struct http1_request r;
	struct guarded g;
	size_t n;

	/* path longer than the capture: only complete segments count */
	n = (size_t)snprintf(line, sizeof(line), "GET /users/42/");
	while (n < sizeof(line) - 1)
		line[n++] = 'x';
	line[n] = '\0';
	g = guard_copy(line, RS_HEAD_MAX);
	CHECK_EQ(http1_parse_request_line(g.data, RS_HEAD_MAX, n + 9, &r), HTTP1_OK);
	CHECK(r.truncated);
	route_from_path(r.path, r.path_len, r.truncated, route);
	CHECK_STR(route, "/users/{id}/{truncated}");
	guard_free(&g);

	/* query string cut short by the capture: the path itself is complete */
	snprintf(line, sizeof(line), "GET /search?q=");
	n = strlen(line);
	g = guard_copy(line, n);
	CHECK_EQ(http1_parse_request_line(g.data, n, 4000, &r), HTTP1_OK);
	CHECK(!r.truncated);
	route_from_path(r.path, r.path_len, r.truncated, route);
	CHECK_STR(route, "/search");
	guard_free(&g);

	/* version cut by the capture */
	g = guard_copy("GET /a HTTP/1.", 14);
	CHECK_EQ(http1_parse_request_line(g.data, 14, 15, &r), HTTP1_OK);
	CHECK(!r.truncated);
	guard_free(&g);
}

static void every_prefix_of_valid_lines_is_safe(void)
{
	static const char *const lines[] = {
		"GET /polls/2xx_success/ HTTP/1.1",
		"POST http://h:80/a/b?c=d#e HTTP/1.0",
		"OPTIONS * HTTP/1.1",
		"CONNECT host:443 HTTP/1.1",
		"PRI * HTTP/2.0",
	};
	struct http1_request r;
	char route[ROUTE_MAX];

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		size_t full = strlen(lines[i]);

		for (size_t n = 0; n <= full; n++) {
			struct guarded g = guard_copy(lines[i], n);

			/* as a complete line and as the start of a longer one */
			if (!http1_parse_request_line(g.data, n, n, &r))
				route_from_path(r.path, r.path_len, r.truncated, route);
			if (!http1_parse_request_line(g.data, n, full + 100, &r)) {
				route_from_path(r.path, r.path_len, r.truncated, route);
				CHECK(strlen(route) < ROUTE_MAX);
			}
			guard_free(&g);
		}
	}
}

static void random_bytes_never_crash(void)
{
	unsigned int seed = 12345;
	unsigned char buf[RS_HEAD_MAX];
	struct http1_request r;
	char route[ROUTE_MAX];
	int ok = 0;

	for (int iter = 0; iter < 20000; iter++) {
		size_t n = rand_r(&seed) % (RS_HEAD_MAX + 1);
		struct guarded g;

		for (size_t i = 0; i < n; i++) {
			/* bias toward the bytes the grammar cares about */
			static const char interesting[] = " /?#:*HTTP1.0GETPRI";
			int k = rand_r(&seed) % 4;

			buf[i] = k ? (unsigned char)interesting[rand_r(&seed) % (sizeof(interesting) - 1)]
				   : (unsigned char)rand_r(&seed);
		}
		g = guard_copy(buf, n);
		if (!http1_parse_request_line(g.data, n, n + (size_t)(rand_r(&seed) % 2) * 50, &r)) {
			CHECK(r.path_len <= n);
			route_from_path(r.path, r.path_len, r.truncated, route);
			CHECK(strlen(route) < ROUTE_MAX);
			ok++;
		}
		guard_free(&g);
	}
	CHECK(ok > 0);
}

static void long_paths_fit_the_route_buffer(void)
{
	char path[1000], route[ROUTE_MAX];

	memset(path, 'a', sizeof(path));
	path[0] = '/';
	route_from_path(path, sizeof(path), false, route);
	CHECK_EQ(strlen(route), ROUTE_MAX - 1);
	route_from_path(path, sizeof(path), true, route);
	CHECK_STR(route, "/{truncated}");
}

int main(void)
{
	RUN(every_rfc9110_method_and_patch_is_recognised);
	RUN(unknown_methods_are_other_and_case_matters);
	RUN(query_string_and_fragment_are_cut);
	RUN(absolute_asterisk_and_authority_forms);
	RUN(bad_lines_are_rejected_with_a_reason);
	RUN(a_cut_capture_keeps_whole_segments);
	RUN(every_prefix_of_valid_lines_is_safe);
	RUN(random_bytes_never_crash);
	RUN(long_paths_fit_the_route_buffer);
	return unit_report("http1");
}
