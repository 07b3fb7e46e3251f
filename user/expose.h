/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * expose.c: the page a scrape gets. The RED and saturation families of the store,
 * then compat_statsd.c's and selfmetrics.c's.
 */
#ifndef REDSCOPE_EXPOSE_H
#define REDSCOPE_EXPOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "prom.h"
#include "selfmetrics.h"
#include "store.h"

/*
 * Where a page being rendered stands, between pieces: the page is rendered piece by
 * piece, each with the store locked, so that neither the page nor the lock is held
 * whole. The store only ever appends series, so the cursor's stay valid.
 */
struct expose_cursor {
	size_t family; /* histogram family, then the rest */
	bool started;  /* the family's header is out */
	bool done;
	const struct service_series *svc;
	const struct request_series *r;
	struct prom_out out;
};
/* A page in format begins: -ENOMEM, or 0 and expose__end frees what it holds. */
int expose__begin(struct expose_cursor *c, enum prom_format format, const struct store *s);
void expose__end(struct expose_cursor *c);
/*
 * Append the next piece of the page to out: series until it grew by about budget
 * bytes (at least one), or the rest of the page. False once the page is complete
 * (nothing appended). Store lock held.
 */
bool expose__next(struct expose_cursor *c, const struct store *s, const struct self_stats *self,
		  struct buf *out, size_t budget);
/* The whole page at once, store lock held: -ENOMEM, or 0. */
int expose__render(const struct store *s, const struct self_stats *self, enum prom_format format,
		   struct buf *out);

#endif /* REDSCOPE_EXPOSE_H */
