/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * prompb.c: the Prometheus protobuf exposition, length-delimited
 * io.prometheus.client.MetricFamily messages (proto/metrics.proto, with protobuf-c),
 * built a metric at a time and written out a piece at a time.
 */
#ifndef REDSCOPE_PROMPB_H
#define REDSCOPE_PROMPB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "store.h"

enum prom_type { PROM_COUNTER, PROM_GAUGE, PROM_SUMMARY, PROM_HISTOGRAM };

struct prompb;

struct prompb *prompb__new(void);
void prompb__free(struct prompb *p);
/*
 * A new family: what the one before holds is written to out first. A family whose
 * metrics are written in several pieces is several MetricFamily messages of the same
 * name, type and help, each with the metrics of its piece: a reader takes them as one.
 */
void prompb__family(struct prompb *p, struct buf *out, const char *name, enum prom_type type,
		    const char *help);
/* A new metric of the family; its labels (valid UTF-8) follow, then its value. */
void prompb__metric(struct prompb *p);
void prompb__label(struct prompb *p, const char *name, const char *value);
/* The value of a counter or gauge metric: it is complete. */
void prompb__value(struct prompb *p, double v);
/*
 * A histogram metric: its classic buckets, and its native ones if native (the zero
 * bucket's threshold then marks it native even before its first observation).
 */
void prompb__histogram(struct prompb *p, const struct histogram *h,
		       const struct histogram_spec *spec, bool native);
/* A summary metric: count, sum and the value of each of n quantiles. */
void prompb__summary(struct prompb *p, uint64_t count, double sum, const double *ranks,
		     const double *values, size_t n);
/* Bytes of metrics built and not yet written out, about. */
size_t prompb__pending(const struct prompb *p);
/* Write out the metrics built so far (a MetricFamily message), if any. */
void prompb__flush(struct prompb *p, struct buf *out);

#endif /* REDSCOPE_PROMPB_H */
