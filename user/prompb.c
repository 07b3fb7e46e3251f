// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Prometheus protobuf exposition: each family's metrics are built as protobuf-c
 * messages in an arena, and written out as a varint-length-delimited MetricFamily
 * when the family ends or the page's piece does; then the arena starts over. What a
 * page holds at once is one piece's metrics, however many series there are.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "metrics.pb-c.h"
#include "prompb.h"
#include "store.h"

typedef Io__Prometheus__Client__MetricFamily Family;
typedef Io__Prometheus__Client__Metric Metric;
typedef Io__Prometheus__Client__LabelPair LabelPair;
typedef Io__Prometheus__Client__Counter Counter;
typedef Io__Prometheus__Client__Gauge Gauge;
typedef Io__Prometheus__Client__Histogram Histogram;
typedef Io__Prometheus__Client__Bucket Bucket;
typedef Io__Prometheus__Client__BucketSpan BucketSpan;
typedef Io__Prometheus__Client__Summary Summary;
typedef Io__Prometheus__Client__Quantile Quantile;

#define MAX_LABELS 16	       /* of a metric: redscope's have at most 8 */
#define ARENA_BLOCK (64 * 1024) /* the arena grows by blocks of at least this */

struct block {
	struct block *next;
	size_t used, size;
	max_align_t data[];
};

struct prompb {
	char *name, *help; /* the family's */
	enum prom_type type;
	Metric **metrics; /* built, not yet written out */
	size_t n, cap;
	Metric *m; /* the metric being built */
	size_t pending;
	struct block *arena;
	bool oom;
};

static const Io__Prometheus__Client__MetricType pb_type[] = {
	[PROM_COUNTER] = IO__PROMETHEUS__CLIENT__METRIC_TYPE__COUNTER,
	[PROM_GAUGE] = IO__PROMETHEUS__CLIENT__METRIC_TYPE__GAUGE,
	[PROM_SUMMARY] = IO__PROMETHEUS__CLIENT__METRIC_TYPE__SUMMARY,
	[PROM_HISTOGRAM] = IO__PROMETHEUS__CLIENT__METRIC_TYPE__HISTOGRAM,
};

/* n bytes from the arena, zeroed; NULL (and p->oom) when out of memory */
static void *alloc(struct prompb *p, size_t n)
{
	struct block *b = p->arena;

	n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	if (!b || b->size - b->used < n) {
		size_t size = n > ARENA_BLOCK ? n : ARENA_BLOCK;

		b = malloc(sizeof(*b) + size);
		if (!b) {
			p->oom = true;
			return NULL;
		}
		b->used = 0;
		b->size = size;
		b->next = p->arena;
		p->arena = b;
	}
	b->used += n;
	return memset((char *)b->data + b->used - n, 0, n);
}

static char *copy(struct prompb *p, const char *s)
{
	size_t n = strlen(s) + 1;
	char *c = alloc(p, n);

	return c ? memcpy(c, s, n) : NULL;
}

/* Empty the arena, keeping one block for the next piece. */
static void arena_reset(struct prompb *p)
{
	struct block *b = p->arena;

	if (!b)
		return;
	while (b->next) {
		struct block *next = b->next;

		free(b);
		b = next;
	}
	b->used = 0;
	p->arena = b;
}

struct prompb *prompb__new(void)
{
	return calloc(1, sizeof(struct prompb));
}

void prompb__free(struct prompb *p)
{
	if (!p)
		return;
	arena_reset(p);
	free(p->arena);
	free(p->metrics);
	free(p->name);
	free(p->help);
	free(p);
}

/* protobuf-c's output, appended to a struct buf */
struct buf_out {
	ProtobufCBuffer base;
	struct buf *b;
};

static void buf_out_append(ProtobufCBuffer *self, size_t len, const uint8_t *data)
{
	buf__append(((struct buf_out *)self)->b, data, len);
}

void prompb__flush(struct prompb *p, struct buf *out)
{
	Family f = IO__PROMETHEUS__CLIENT__METRIC_FAMILY__INIT;
	struct buf_out bo = { { buf_out_append }, out };
	uint8_t len[10];
	size_t size, k = 0;

	if (p->oom)
		out->oom = true;
	if (!p->n)
		return;
	f.name = p->name;
	f.help = p->help;
	f.has_type = true;
	f.type = pb_type[p->type];
	f.n_metric = p->n;
	f.metric = p->metrics;
	size = io__prometheus__client__metric_family__get_packed_size(&f);
	do {
		len[k++] = (uint8_t)(size & 0x7f) | (size > 0x7f ? 0x80 : 0);
		size >>= 7;
	} while (size);
	buf__append(out, len, k);
	io__prometheus__client__metric_family__pack_to_buffer(&f, &bo.base);
	p->n = 0;
	p->m = NULL;
	p->pending = 0;
	arena_reset(p);
}

void prompb__family(struct prompb *p, struct buf *out, const char *name, enum prom_type type,
		    const char *help)
{
	char *n = strdup(name), *h = strdup(help);

	prompb__flush(p, out);
	if (!n || !h) {
		free(n);
		free(h);
		out->oom = true;
		return;
	}
	free(p->name);
	free(p->help);
	p->name = n;
	p->help = h;
	p->type = type;
}

void prompb__metric(struct prompb *p)
{
	Metric *m = alloc(p, sizeof(*m));
	LabelPair **labels = alloc(p, MAX_LABELS * sizeof(*labels));

	p->m = NULL;
	if (!m || !labels)
		return;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		Metric **v = realloc(p->metrics, cap * sizeof(*v));

		if (!v) {
			p->oom = true;
			return;
		}
		p->metrics = v;
		p->cap = cap;
	}
	io__prometheus__client__metric__init(m);
	m->label = labels;
	p->m = m;
}

void prompb__label(struct prompb *p, const char *name, const char *value)
{
	LabelPair *lp;

	if (!p->m)
		return;
	if (p->m->n_label == MAX_LABELS) {
		p->oom = true; /* not memory, but as wrong: the page fails rather than lie */
		return;
	}
	lp = alloc(p, sizeof(*lp));
	if (!lp)
		return;
	io__prometheus__client__label_pair__init(lp);
	lp->name = copy(p, name);
	lp->value = copy(p, value);
	if (!lp->name || !lp->value)
		return;
	p->m->label[p->m->n_label++] = lp;
}

/* The metric being built is complete: it joins the family's. */
static void metric_done(struct prompb *p)
{
	if (!p->m)
		return;
	p->metrics[p->n++] = p->m;
	p->pending += io__prometheus__client__metric__get_packed_size(p->m) + 4;
	p->m = NULL;
}

void prompb__value(struct prompb *p, double v)
{
	if (!p->m)
		return;
	if (p->type == PROM_COUNTER) {
		Counter *c = alloc(p, sizeof(*c));

		if (!c)
			return;
		io__prometheus__client__counter__init(c);
		c->has_value = true;
		c->value = v;
		p->m->counter = c;
	} else {
		Gauge *g = alloc(p, sizeof(*g));

		if (!g)
			return;
		io__prometheus__client__gauge__init(g);
		g->has_value = true;
		g->value = v;
		p->m->gauge = g;
	}
	metric_done(p);
}

/* The classic buckets of h, cumulative, without +Inf (the count is its value). */
static bool classic_buckets(struct prompb *p, Histogram *out, const struct histogram *h,
			    const struct histogram_spec *spec)
{
	Bucket *b = alloc(p, spec->n * sizeof(*b) + 1);
	Bucket **v = alloc(p, spec->n * sizeof(*v) + 1);
	uint64_t cum = 0;

	if (!b || !v)
		return false;
	for (size_t i = 0; i < spec->n; i++) {
		io__prometheus__client__bucket__init(&b[i]);
		cum += h->buckets[i];
		b[i].has_cumulative_count = b[i].has_upper_bound = true;
		b[i].cumulative_count = cum;
		b[i].upper_bound = spec->bounds[i];
		v[i] = &b[i];
	}
	out->bucket = v;
	out->n_bucket = spec->n;
	return true;
}

/*
 * The native buckets of h: runs of consecutive indexes become spans (offset from the
 * end of the run before), and the counts deltas from the bucket before.
 */
static bool native_buckets(struct prompb *p, Histogram *out, const struct nhist *nh)
{
	BucketSpan *spans = alloc(p, nh->n * sizeof(*spans) + 1);
	BucketSpan **sv = alloc(p, nh->n * sizeof(*sv) + 1);
	int64_t *delta = alloc(p, nh->n * sizeof(*delta) + 1);
	size_t n_spans = 0;
	int64_t prev_count = 0;
	int32_t next_index = 0;

	if (!spans || !sv || !delta)
		return false;
	out->has_schema = out->has_zero_threshold = out->has_zero_count = true;
	out->schema = nh->schema;
	out->zero_threshold = NHIST_ZERO_THRESHOLD;
	out->zero_count = nh->zero_count;
	for (uint32_t i = 0; i < nh->n; i++) {
		const struct nhist_bucket *b = &nh->b[i];

		if (!n_spans || b->index != next_index) {
			BucketSpan *s = &spans[n_spans];

			io__prometheus__client__bucket_span__init(s);
			s->has_offset = s->has_length = true;
			s->offset = n_spans ? b->index - next_index : b->index;
			sv[n_spans++] = s;
		}
		sv[n_spans - 1]->length++;
		next_index = b->index + 1;
		delta[i] = (int64_t)b->count - prev_count;
		prev_count = (int64_t)b->count;
	}
	out->positive_span = sv;
	out->n_positive_span = n_spans;
	out->positive_delta = delta;
	out->n_positive_delta = nh->n;
	return true;
}

void prompb__histogram(struct prompb *p, const struct histogram *h,
		       const struct histogram_spec *spec, bool native)
{
	Histogram *out;

	if (!p->m || !(out = alloc(p, sizeof(*out))))
		return;
	io__prometheus__client__histogram__init(out);
	out->has_sample_count = out->has_sample_sum = true;
	out->sample_count = h->count;
	out->sample_sum = (double)h->sum * spec->scale;
	if (!classic_buckets(p, out, h, spec) || (native && !native_buckets(p, out, &h->native)))
		return;
	p->m->histogram = out;
	metric_done(p);
}

void prompb__summary(struct prompb *p, uint64_t count, double sum, const double *ranks,
		     const double *values, size_t n)
{
	Summary *s;
	Quantile *q;
	Quantile **qv;

	if (!p->m || !(s = alloc(p, sizeof(*s))) || !(q = alloc(p, n * sizeof(*q) + 1)) ||
	    !(qv = alloc(p, n * sizeof(*qv) + 1)))
		return;
	io__prometheus__client__summary__init(s);
	s->has_sample_count = s->has_sample_sum = true;
	s->sample_count = count;
	s->sample_sum = sum;
	for (size_t i = 0; i < n; i++) {
		io__prometheus__client__quantile__init(&q[i]);
		q[i].has_quantile = q[i].has_value = true;
		q[i].quantile = ranks[i];
		q[i].value = values[i];
		qv[i] = &q[i];
	}
	s->quantile = qv;
	s->n_quantile = n;
	p->m->summary = s;
	metric_done(p);
}

size_t prompb__pending(const struct prompb *p)
{
	return p->pending;
}
