// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A page of the Prometheus exposition: the text format 0.0.4 written here, line by
 * line (label escaping, family headers, exact values, the lines of a histogram or a
 * summary), or the same calls handed to prompb.c for the protobuf format. Knows
 * nothing of redscope's series.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "prom.h"
#include "prompb.h"
#include "quantile.h"
#include "store.h"

static const char *const type_names[] = {
	[PROM_COUNTER] = "counter",
	[PROM_GAUGE] = "gauge",
	[PROM_SUMMARY] = "summary",
	[PROM_HISTOGRAM] = "histogram",
};

int prom__out_init(struct prom_out *o, enum prom_format format, bool native)
{
	*o = (struct prom_out){ .format = format, .native = native };
	if (format == PROM_PROTOBUF && !(o->pb = prompb__new()))
		return -ENOMEM;
	return 0;
}

void prom__out_free(struct prom_out *o)
{
	prompb__free(o->pb);
	buf__free(&o->value);
	o->pb = NULL;
}

/* One media range of an Accept header, [p, end): what it names, and its quality. */
struct media_range {
	char type[128];
	bool proto_family, delimited; /* protobuf parameters: the MetricFamily stream */
	double q;
};

static void media_range(const char *p, const char *end, struct media_range *m)
{
	*m = (struct media_range){ .q = 1.0 };
	for (int i = 0; p < end; i++) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *stop = semi ? semi : end;
		char item[sizeof(m->type)];
		size_t n = 0;

		for (; p < stop; p++)
			if (*p != ' ' && *p != '\t' && n < sizeof(item) - 1)
				item[n++] = *p;
		item[n] = 0;
		p = stop + (stop < end);
		if (!i)
			memcpy(m->type, item, n + 1);
		else if (!strncasecmp(item, "q=", 2))
			m->q = strtod(item + 2, NULL);
		else if (!strcasecmp(item, "proto=io.prometheus.client.MetricFamily"))
			m->proto_family = true;
		else if (!strcasecmp(item, "encoding=delimited"))
			m->delimited = true;
	}
}

enum prom_format prom__negotiate(const char *accept)
{
	double q_protobuf = 0, q_text = 0;

	for (const char *p = accept; p && *p;) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		struct media_range m;

		media_range(p, end, &m);
		if (!strcasecmp(m.type, "application/vnd.google.protobuf")) {
			if (m.proto_family && m.delimited && m.q > q_protobuf)
				q_protobuf = m.q;
		} else if ((!strcasecmp(m.type, "text/plain") || !strcasecmp(m.type, "text/*") ||
			    !strcasecmp(m.type, "*/*") ||
			    !strcasecmp(m.type, "application/openmetrics-text")) &&
			   m.q > q_text) {
			q_text = m.q;
		}
		p = comma ? comma + 1 : end;
	}
	return q_protobuf > 0 && q_protobuf >= q_text ? PROM_PROTOBUF : PROM_TEXT;
}

size_t prom__len(const struct prom_out *o)
{
	return o->b->len + (o->pb ? prompb__pending(o->pb) : 0);
}

void prom__flush(struct prom_out *o)
{
	if (o->pb)
		prompb__flush(o->pb, o->b);
}

static bool protobuf(const struct prom_out *o)
{
	return o->format == PROM_PROTOBUF;
}

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

/* v as valid UTF-8 (U+FFFD for each byte that is not), escaped for the text format or not */
static void label_value(struct buf *b, const char *v, bool escape)
{
	const unsigned char *p = (const unsigned char *)(v ? v : "");
	size_t n = strlen((const char *)p);

	while (n) {
		size_t k = utf8_seq_len(p, n);

		if (!k) {
			buf__puts(b, "\xef\xbf\xbd");
			k = 1;
		} else if (escape && *p == '\\') {
			buf__puts(b, "\\\\");
		} else if (escape && *p == '"') {
			buf__puts(b, "\\\"");
		} else if (escape && *p == '\n') {
			buf__puts(b, "\\n");
		} else {
			buf__append(b, p, k);
		}
		p += k;
		n -= k;
	}
}

void prom__label_value(struct buf *b, const char *v)
{
	label_value(b, v, true);
}

/* A label value for protobuf: valid UTF-8, unescaped, in b (NUL-terminated). */
static const char *utf8_value(struct buf *b, const char *v)
{
	b->len = 0;
	label_value(b, v, false);
	buf__append(b, "", 1);
	return b->oom ? "" : b->data;
}

void prom__family(struct prom_out *o, const char *name, enum prom_type type, const char *help)
{
	if (protobuf(o))
		prompb__family(o->pb, o->b, name, type, help);
	else
		buf__printf(o->b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type_names[type]);
}

void prom__sample(struct prom_out *o, const char *name)
{
	if (protobuf(o)) {
		prompb__metric(o->pb);
	} else {
		buf__puts(o->b, name);
		o->labelled = false;
	}
}

void prom__label(struct prom_out *o, const char *name, const char *value)
{
	if (protobuf(o)) {
		prompb__label(o->pb, name, utf8_value(&o->value, value));
		return;
	}
	buf__puts(o->b, o->labelled ? "," : "{");
	o->labelled = true;
	buf__puts(o->b, name);
	buf__puts(o->b, "=\"");
	prom__label_value(o->b, value);
	buf__puts(o->b, "\"");
}

/* text: what separates the series from its value */
static void value_start(struct prom_out *o)
{
	buf__puts(o->b, o->labelled ? "} " : " ");
}

void prom__value_u64(struct prom_out *o, uint64_t v)
{
	if (protobuf(o)) {
		prompb__value(o->pb, (double)v);
	} else {
		value_start(o);
		buf__printf(o->b, "%" PRIu64 "\n", v);
	}
}

void prom__value_i64(struct prom_out *o, int64_t v)
{
	if (protobuf(o)) {
		prompb__value(o->pb, (double)v);
	} else {
		value_start(o);
		buf__printf(o->b, "%" PRId64 "\n", v);
	}
}

static void raw_text(struct buf *b, uint64_t raw, double scale)
{
	if (scale == 1.0)
		buf__printf(b, "%" PRIu64, raw);
	else if (scale == 1e-9)
		buf__printf(b, "%" PRIu64 ".%09" PRIu64, raw / 1000000000, raw % 1000000000);
	else
		buf__printf(b, "%.17g", (double)raw * scale);
}

void prom__value_raw(struct prom_out *o, uint64_t raw, double scale)
{
	if (protobuf(o)) {
		prompb__value(o->pb, (double)raw * scale);
	} else {
		value_start(o);
		raw_text(o->b, raw, scale);
		buf__puts(o->b, "\n");
	}
}

void prom__value_fmt(struct prom_out *o, const char *fmt, double v)
{
	if (protobuf(o)) {
		prompb__value(o->pb, v);
		return;
	}
	value_start(o);
	if (v != v) {
		buf__puts(o->b, "NaN\n");
		return;
	}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	buf__printf(o->b, fmt, v);
#pragma GCC diagnostic pop
	buf__puts(o->b, "\n");
}

/* text: the line of a histogram's or summary's field: name, suffix, the series' labels */
static void field_line(struct prom_out *o, const char *name, const char *suffix,
		       prom_labels_fn labels, const void *ctx)
{
	prom__sample(o, name);
	buf__puts(o->b, suffix);
	labels(o, ctx);
}

void prom__histogram(struct prom_out *o, const char *name, const struct histogram *h,
		     const struct histogram_spec *spec, prom_labels_fn labels, const void *ctx)
{
	uint64_t cum = 0;
	char le[32];

	if (protobuf(o)) {
		prompb__metric(o->pb);
		labels(o, ctx);
		prompb__histogram(o->pb, h, spec, o->native);
		return;
	}
	for (size_t i = 0; i <= spec->n; i++) {
		cum += h->buckets[i];
		field_line(o, name, "_bucket", labels, ctx);
		if (i < spec->n)
			snprintf(le, sizeof(le), "%.15g", spec->bounds[i]);
		prom__label(o, "le", i < spec->n ? le : "+Inf");
		prom__value_u64(o, cum);
	}
	field_line(o, name, "_sum", labels, ctx);
	prom__value_raw(o, h->sum, spec->scale);
	field_line(o, name, "_count", labels, ctx);
	prom__value_u64(o, h->count);
}

void prom__summary(struct prom_out *o, const char *name, const struct summary *sum,
		   const double *ranks, size_t n_ranks, prom_labels_fn labels, const void *ctx,
		   uint64_t now)
{
	double q[PROM_MAX_RANKS];
	char rank[32];

	if (n_ranks > PROM_MAX_RANKS)
		n_ranks = PROM_MAX_RANKS;
	quantiles__compute(&sum->q, now, ranks, n_ranks, q);
	if (protobuf(o)) {
		prompb__metric(o->pb);
		labels(o, ctx);
		prompb__summary(o->pb, sum->count, (double)sum->sum_ns * 1e-9, ranks, q, n_ranks);
		return;
	}
	for (size_t i = 0; i < n_ranks; i++) {
		field_line(o, name, "", labels, ctx);
		snprintf(rank, sizeof(rank), "%g", ranks[i]);
		prom__label(o, "quantile", rank);
		prom__value_fmt(o, "%.9g", q[i]);
	}
	field_line(o, name, "_sum", labels, ctx);
	prom__value_raw(o, sum->sum_ns, 1e-9);
	field_line(o, name, "_count", labels, ctx);
	prom__value_u64(o, sum->count);
}

void prom__counter(struct prom_out *o, const char *name, const char *help, uint64_t v)
{
	prom__family(o, name, PROM_COUNTER, help);
	prom__sample(o, name);
	prom__value_u64(o, v);
}

void prom__gauge(struct prom_out *o, const char *name, const char *help, double v)
{
	prom__family(o, name, PROM_GAUGE, help);
	prom__sample(o, name);
	prom__value_fmt(o, "%.17g", v);
}
