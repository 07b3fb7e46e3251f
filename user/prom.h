/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * prom.c: the Prometheus text exposition format 0.0.4, knowing nothing of redscope's
 * series: label escaping, family headers, exact values, histogram and summary lines.
 */
#ifndef REDSCOPE_PROM_H
#define REDSCOPE_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "store.h"

#define PROM_MAX_RANKS 8 /* quantiles of a summary */

/* Writes the label set of a series, opened: "{a="x",b="y"" (no closing brace). */
typedef void (*prom_labels_fn)(struct buf *b, const void *ctx);

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid. */
size_t utf8_seq_len(const unsigned char *p, size_t n);
/*
 * A label value, escaped: backslash, double quote and line feed. Bytes that are not
 * UTF-8 become U+FFFD, since Prometheus rejects a whole scrape over one bad label.
 */
void prom__label_value(struct buf *b, const char *v);
/* One label of a set: opens the set when *first. */
void prom__label(struct buf *b, bool *first, const char *name, const char *value);
/* The # HELP and # TYPE lines of a family. */
void prom__family(struct buf *b, const char *name, const char *type, const char *help);
/* A raw integer times scale, exactly where scale is 1 or 1e-9. */
void prom__raw_value(struct buf *b, uint64_t raw, double scale);
/* The _bucket, _sum and _count lines of one histogram. */
void prom__histogram(struct buf *b, const char *name, const struct histogram *h,
		     const struct histogram_spec *spec, prom_labels_fn labels, const void *ctx);
/* The quantile, _sum and _count lines of a summary at time now (CLOCK_MONOTONIC ns). */
void prom__summary(struct buf *b, const char *name, const struct summary *sum,
		   const double *ranks, size_t n_ranks, prom_labels_fn labels, const void *ctx,
		   uint64_t now);
/* A family of one unlabelled series. */
void prom__counter(struct buf *b, const char *name, const char *help, uint64_t v);
void prom__gauge(struct buf *b, const char *name, const char *help, double v);

#endif /* REDSCOPE_PROM_H */
