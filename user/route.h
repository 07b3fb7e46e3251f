/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* route.c: a path to a low-cardinality route. */
#ifndef REDSCOPE_ROUTE_H
#define REDSCOPE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#define ROUTE_MAX 256
#define ROUTE_OVERFLOW "{overflow}" /* a service's routes beyond --max-routes */
/* --route: a pattern such as /users/{id}/orders; matching paths get it as their route. */
int route__add_pattern(const char *pattern);
void route__clear_patterns(void);
/* Does a path segment look like an identifier (number, UUID, hex, date, token)? */
bool route_segment_is_id(const char *s, size_t n);
/* What a segment that may carry personal data becomes ({email}, {text}), or NULL. */
const char *route_segment_personal(const char *s, size_t n);
/* Write the route for path[0, len) into out (NUL-terminated, at most ROUTE_MAX bytes). */
void route_from_path(const char *path, size_t len, bool truncated, char out[ROUTE_MAX]);

#endif /* REDSCOPE_ROUTE_H */
