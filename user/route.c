// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Turn a request path into the value of the http_route label. */
#include <string.h>

#include "internal.h"

#define TRUNCATED_SEGMENT "{truncated}"

void route_from_path(const char *path, size_t len, bool truncated, char out[ROUTE_MAX])
{
	size_t keep = len;

	if (truncated) {
		/* only whole segments are kept from a path the capture cut */
		while (keep > 0 && path[keep - 1] != '/')
			keep--;
	}
	if (keep > ROUTE_MAX - 1 - (truncated ? sizeof(TRUNCATED_SEGMENT) - 1 : 0))
		keep = ROUTE_MAX - 1 - (truncated ? sizeof(TRUNCATED_SEGMENT) - 1 : 0);
	memcpy(out, path, keep);
	out[keep] = '\0';
	if (truncated)
		strcat(out, TRUNCATED_SEGMENT);
}
