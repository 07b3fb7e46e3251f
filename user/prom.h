/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * prom.c: a page of the Prometheus exposition, in the text format 0.0.4 or (through
 * prompb.c) the protobuf one, knowing nothing of redscope's series: families, their
 * series' labels and values, histograms and summaries, and label escaping.
 */
#ifndef REDSCOPE_PROM_H
#define REDSCOPE_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "prompb.h"
#include "store.h"

#define PROM_MAX_RANKS 8 /* quantiles of a summary */

enum prom_format { PROM_TEXT, PROM_PROTOBUF };

#define PROM_CONTENT_TYPE_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define PROM_CONTENT_TYPE_PROTOBUF                                                        \
	"application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "      \
	"encoding=delimited"

/*
 * The format a scraper's Accept header (NULL: none) asks for: protobuf when it lists
 * the delimited MetricFamily stream with a quality no lower than any text format's.
 */
enum prom_format prom__negotiate(const char *accept);

/* Where a page goes, and how. */
struct prom_out {
	struct buf *b; /* the page so far: the caller sets it */
	enum prom_format format;
	bool native;	   /* histograms carry their native buckets (protobuf) */
	bool labelled;	   /* text: the label set of the line is open */
	struct prompb *pb; /* protobuf: the family being built */
	struct buf value;  /* protobuf: a label value, made valid UTF-8 */
};

/* -ENOMEM, or 0 */
int prom__out_init(struct prom_out *o, enum prom_format format, bool native);
void prom__out_free(struct prom_out *o);
/* Bytes of the page so far, those built and not yet written out included. */
size_t prom__len(const struct prom_out *o);
/* Write out all that is built (the end of a piece of the page). */
void prom__flush(struct prom_out *o);

/* Writes the labels of a series, with prom__label. */
typedef void (*prom_labels_fn)(struct prom_out *o, const void *ctx);

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid. */
size_t utf8_seq_len(const unsigned char *p, size_t n);
/*
 * A label value, escaped for the text format: backslash, double quote and line feed.
 * Bytes that are not UTF-8 become U+FFFD, since Prometheus rejects a whole scrape over
 * one bad label.
 */
void prom__label_value(struct buf *b, const char *v);
/* A family: # HELP and # TYPE lines, or a new MetricFamily. */
void prom__family(struct prom_out *o, const char *name, enum prom_type type, const char *help);
/* A series of a counter or gauge family: its labels follow, then one value. */
void prom__sample(struct prom_out *o, const char *name);
void prom__label(struct prom_out *o, const char *name, const char *value);
void prom__value_u64(struct prom_out *o, uint64_t v);
void prom__value_i64(struct prom_out *o, int64_t v);
/* A raw integer times scale, exactly where scale is 1 or 1e-9. */
void prom__value_raw(struct prom_out *o, uint64_t raw, double scale);
/* A value printed with a printf format for one double (NaN as NaN). */
void prom__value_fmt(struct prom_out *o, const char *fmt, double v);
/* One histogram: _bucket, _sum and _count lines, or a histogram metric. */
void prom__histogram(struct prom_out *o, const char *name, const struct histogram *h,
		     const struct histogram_spec *spec, prom_labels_fn labels, const void *ctx);
/* One summary at time now (CLOCK_MONOTONIC ns): quantiles, _sum and _count. */
void prom__summary(struct prom_out *o, const char *name, const struct summary *sum,
		   const double *ranks, size_t n_ranks, prom_labels_fn labels, const void *ctx,
		   uint64_t now);
/* A family of one unlabelled series. */
void prom__counter(struct prom_out *o, const char *name, const char *help, uint64_t v);
void prom__gauge(struct prom_out *o, const char *name, const char *help, double v);

#endif /* REDSCOPE_PROM_H */
