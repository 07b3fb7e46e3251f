// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Prometheus text exposition format 0.0.4: label escaping, family headers, exact
 * values, and the lines of a histogram or a summary. Knows nothing of redscope's series.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "prom.h"
#include "quantile.h"
#include "store.h"

size_t utf8_seq_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates and values beyond Unicode are not UTF-8 */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

void prom__label_value(struct buf *b, const char *v)
{
	const unsigned char *p = (const unsigned char *)(v ? v : "");
	size_t n = strlen((const char *)p);

	while (n) {
		size_t k = utf8_seq_len(p, n);

		if (!k) {
			buf__puts(b, "\xef\xbf\xbd");
			k = 1;
		} else if (*p == '\\') {
			buf__puts(b, "\\\\");
		} else if (*p == '"') {
			buf__puts(b, "\\\"");
		} else if (*p == '\n') {
			buf__puts(b, "\\n");
		} else {
			buf__append(b, p, k);
		}
		p += k;
		n -= k;
	}
}

void prom__family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf__printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prom__label(struct buf *b, bool *first, const char *name, const char *value)
{
	buf__puts(b, *first ? "{" : ",");
	*first = false;
	buf__puts(b, name);
	buf__puts(b, "=\"");
	prom__label_value(b, value);
	buf__puts(b, "\"");
}

void prom__raw_value(struct buf *b, uint64_t raw, double scale)
{
	if (scale == 1.0)
		buf__printf(b, "%" PRIu64, raw);
	else if (scale == 1e-9)
		buf__printf(b, "%" PRIu64 ".%09" PRIu64, raw / 1000000000, raw % 1000000000);
	else
		buf__printf(b, "%.17g", (double)raw * scale);
}

void prom__histogram(struct buf *b, const char *name, const struct histogram *h,
		     const struct histogram_spec *spec, prom_labels_fn labels, const void *ctx)
{
	uint64_t cum = 0;

	for (size_t i = 0; i <= spec->n; i++) {
		cum += h->buckets[i];
		buf__printf(b, "%s_bucket", name);
		labels(b, ctx);
		if (i < spec->n)
			buf__printf(b, ",le=\"%.15g\"} %" PRIu64 "\n", spec->bounds[i], cum);
		else
			buf__printf(b, ",le=\"+Inf\"} %" PRIu64 "\n", cum);
	}
	buf__printf(b, "%s_sum", name);
	labels(b, ctx);
	buf__puts(b, "} ");
	prom__raw_value(b, h->sum, spec->scale);
	buf__printf(b, "\n%s_count", name);
	labels(b, ctx);
	buf__printf(b, "} %" PRIu64 "\n", h->count);
}

void prom__summary(struct buf *b, const char *name, const struct summary *sum,
		   const double *ranks, size_t n_ranks, prom_labels_fn labels, const void *ctx,
		   uint64_t now)
{
	double q[PROM_MAX_RANKS];

	if (n_ranks > PROM_MAX_RANKS)
		n_ranks = PROM_MAX_RANKS;
	quantiles__compute(&sum->q, now, ranks, n_ranks, q);
	for (size_t i = 0; i < n_ranks; i++) {
		buf__puts(b, name);
		labels(b, ctx);
		buf__printf(b, ",quantile=\"%g\"} ", ranks[i]);
		if (q[i] != q[i])
			buf__puts(b, "NaN\n");
		else
			buf__printf(b, "%.9g\n", q[i]);
	}
	buf__printf(b, "%s_sum", name);
	labels(b, ctx);
	buf__puts(b, "} ");
	prom__raw_value(b, sum->sum_ns, 1e-9);
	buf__printf(b, "\n%s_count", name);
	labels(b, ctx);
	buf__printf(b, "} %" PRIu64 "\n", sum->count);
}

void prom__counter(struct buf *b, const char *name, const char *help, uint64_t v)
{
	prom__family(b, name, "counter", help);
	buf__printf(b, "%s %" PRIu64 "\n", name, v);
}

void prom__gauge(struct buf *b, const char *name, const char *help, double v)
{
	prom__family(b, name, "gauge", help);
	buf__printf(b, "%s %.17g\n", name, v);
}
