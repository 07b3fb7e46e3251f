// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: the request line parser and the route derived from it, on any bytes.
 * The first input byte says how much longer than the capture the line was.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "http1.h"
#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http1_request r;
	char route[ROUTE_MAX];
	const char *line;
	size_t len;

	if (size < 1)
		return 0;
	line = (const char *)data + 1;
	len = size - 1 < RS_HEAD_MAX ? size - 1 : RS_HEAD_MAX;
	if (http1_parse_request_line(line, len, len + data[0], &r) != HTTP1_OK)
		return 0;
	assert((unsigned int)r.method < HTTP_METHOD__COUNT);
	/* the path is inside the line, or a constant "/" for a bare authority */
	assert(r.path_len <= 1 || (r.path >= line && r.path + r.path_len <= line + len));
	route_from_path(r.path, r.path_len, r.truncated, route);
	assert(strlen(route) < ROUTE_MAX);
	return 0;
}
