/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * expose.c: the page a scrape gets. The RED and saturation families of the store,
 * then compat_statsd.c's and selfmetrics.c's.
 */
#ifndef REDSCOPE_EXPOSE_H
#define REDSCOPE_EXPOSE_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "selfmetrics.h"
#include "store.h"

/* The whole page, store lock held. */
void expose__render(const struct store *s, const struct self_stats *self, struct buf *out);

#endif /* REDSCOPE_EXPOSE_H */
