// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: what a scraper or a watched application controls in the exposition, on any
 * bytes: the Accept header a scrape sends, and a label value (a route, a service name)
 * in a protobuf page, which must decode, with the value valid UTF-8 and, when it was
 * valid UTF-8 already, unchanged.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "metrics.pb-c.h"
#include "prom.h"

static int valid_utf8(const char *s)
{
	size_t n = strlen(s);

	while (n) {
		size_t k = utf8_seq_len((const unsigned char *)s, n);

		if (!k)
			return 0;
		s += k;
		n -= k;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = strndup((const char *)data, size);
	struct prom_out o;
	struct buf b = {};
	Io__Prometheus__Client__MetricFamily *f;
	size_t len = 0, pos = 0;
	int shift = 0;

	if (!s)
		return 0;
	enum prom_format fmt = prom__negotiate(s);
	assert(fmt == PROM_TEXT || fmt == PROM_PROTOBUF);

	assert(!prom__out_init(&o, PROM_PROTOBUF, true));
	o.b = &b;
	prom__family(&o, "redscope_fuzz", PROM_GAUGE, "A label value from the fuzzer.");
	prom__sample(&o, "redscope_fuzz");
	prom__label(&o, "value", s);
	prom__value_u64(&o, 1);
	prom__flush(&o);
	prom__out_free(&o);
	assert(!b.oom && b.len > 0);
	do {
		assert(pos < b.len);
		len |= (size_t)(b.data[pos] & 0x7f) << shift;
		shift += 7;
	} while (b.data[pos++] & 0x80);
	assert(pos + len == b.len);
	f = io__prometheus__client__metric_family__unpack(NULL, len, (const uint8_t *)b.data + pos);
	assert(f && f->n_metric == 1 && f->metric[0]->n_label == 1);
	assert(valid_utf8(f->metric[0]->label[0]->value));
	if (valid_utf8(s))
		assert(!strcmp(f->metric[0]->label[0]->value, s));
	io__prometheus__client__metric_family__free_unpacked(f, NULL);
	buf__free(&b);
	free(s);
	return 0;
}
