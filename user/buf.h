/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* buf.c: a growable byte buffer. */
#ifndef REDSCOPE_BUF_H
#define REDSCOPE_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	bool oom; /* an append failed: contents are incomplete */
};
/* Room for extra more bytes (and a NUL); false, and oom set, when there is none. */
bool buf__reserve(struct buf *b, size_t extra);
void buf__append(struct buf *b, const void *p, size_t n);
void buf__puts(struct buf *b, const char *s);
void buf__printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf__free(struct buf *b);

#endif /* REDSCOPE_BUF_H */
