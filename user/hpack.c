// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HPACK header block decoding (RFC 7541) that can join a connection late; see hpack.h.
 *
 * Every byte comes from a peer redscope does not trust: each representation is bounds
 * checked before it is read, integers stop at 32 bits, the table at HPACK_TABLE_LIMIT
 * and a block's decoded bytes at HPACK_DECODED_MAX.
 */
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "hpack.h"

/* An entry of the dynamic table; an unknown part (late join) has no bytes. */
struct hpack_entry {
	uint32_t name_len, value_len;
	bool name_known, value_known;
	char data[]; /* the name, then the value */
};

#define HPACK_ENTRY_OVERHEAD 32 /* RFC 7541 4.1 */

/* RFC 7541 Appendix A */
static const struct {
	const char *name, *value;
} static_table[HPACK_STATIC_ENTRIES] = {
	{ ":authority", "" },
	{ ":method", "GET" },
	{ ":method", "POST" },
	{ ":path", "/" },
	{ ":path", "/index.html" },
	{ ":scheme", "http" },
	{ ":scheme", "https" },
	{ ":status", "200" },
	{ ":status", "204" },
	{ ":status", "206" },
	{ ":status", "304" },
	{ ":status", "400" },
	{ ":status", "404" },
	{ ":status", "500" },
	{ "accept-charset", "" },
	{ "accept-encoding", "gzip, deflate" },
	{ "accept-language", "" },
	{ "accept-ranges", "" },
	{ "accept", "" },
	{ "access-control-allow-origin", "" },
	{ "age", "" },
	{ "allow", "" },
	{ "authorization", "" },
	{ "cache-control", "" },
	{ "content-disposition", "" },
	{ "content-encoding", "" },
	{ "content-language", "" },
	{ "content-length", "" },
	{ "content-location", "" },
	{ "content-range", "" },
	{ "content-type", "" },
	{ "cookie", "" },
	{ "date", "" },
	{ "etag", "" },
	{ "expect", "" },
	{ "expires", "" },
	{ "from", "" },
	{ "host", "" },
	{ "if-match", "" },
	{ "if-modified-since", "" },
	{ "if-none-match", "" },
	{ "if-range", "" },
	{ "if-unmodified-since", "" },
	{ "last-modified", "" },
	{ "link", "" },
	{ "location", "" },
	{ "max-forwards", "" },
	{ "proxy-authenticate", "" },
	{ "proxy-authorization", "" },
	{ "range", "" },
	{ "referer", "" },
	{ "refresh", "" },
	{ "retry-after", "" },
	{ "server", "" },
	{ "set-cookie", "" },
	{ "strict-transport-security", "" },
	{ "transfer-encoding", "" },
	{ "user-agent", "" },
	{ "vary", "" },
	{ "via", "" },
	{ "www-authenticate", "" },
};

static const char *const error_names[HPACK_ERROR__COUNT] = {
	[HPACK_OK] = "ok",
	[HPACK_TRUNCATED] = "truncated",
	[HPACK_BAD_INTEGER] = "bad_integer",
	[HPACK_BAD_INDEX] = "bad_index",
	[HPACK_BAD_HUFFMAN] = "bad_huffman",
	[HPACK_BAD_SIZE_UPDATE] = "bad_size_update",
	[HPACK_TOO_LARGE] = "too_large",
	[HPACK_NO_MEMORY] = "no_memory",
};

const char *hpack_error_name(enum hpack_error e)
{
	return (unsigned)e < HPACK_ERROR__COUNT ? error_names[e] : "unknown";
}

#define RING_FIRST_SLOTS 16

enum hpack_error hpack_decoder_init(struct hpack_decoder *d, bool late)
{
	memset(d, 0, sizeof(*d));
	d->max_size = HPACK_DEFAULT_TABLE_SIZE;
	d->late = late;
	nghttp2_hd_inflater *inflater;
	if (nghttp2_hd_inflate_new(&inflater) != 0)
		return HPACK_NO_MEMORY;
	d->huffman = inflater;
	return HPACK_OK;
}

static struct hpack_entry *entry_at(const struct hpack_decoder *d, uint32_t k)
{
	return d->ring[(d->newest + k) % d->slots];
}

static uint32_t entry_size(const struct hpack_entry *e)
{
	return e->name_len + e->value_len + HPACK_ENTRY_OVERHEAD;
}

static void evict_oldest(struct hpack_decoder *d)
{
	struct hpack_entry *e = entry_at(d, d->count - 1);
	d->size -= entry_size(e);
	d->count--;
	free(e);
}

static void evict_to(struct hpack_decoder *d, uint32_t size)
{
	while (d->count && d->size > size)
		evict_oldest(d);
}

void hpack_decoder_free(struct hpack_decoder *d)
{
	evict_to(d, 0);
	free(d->ring);
	buf__free(&d->out);
	if (d->huffman)
		nghttp2_hd_inflate_del(d->huffman);
	memset(d, 0, sizeof(*d));
}

void hpack_decoder_lost(struct hpack_decoder *d)
{
	/* entries the lost block inserted went in ahead of the kept ones, by a number not
	 * known: no kept entry's index is known any more */
	evict_to(d, 0);
	d->late = true;
}

/* RFC 7541 5.1: an integer with an n-bit prefix, at most 32 bits. */
static enum hpack_error read_int(const uint8_t **pp, const uint8_t *end, unsigned n,
				 uint32_t *out)
{
	const uint8_t *p = *pp;
	if (p >= end)
		return HPACK_TRUNCATED;
	uint32_t max = (1u << n) - 1;
	uint32_t v = *p++ & max;
	if (v == max) {
		uint64_t acc = v;
		unsigned shift = 0;
		for (;;) {
			if (p >= end)
				return HPACK_TRUNCATED;
			uint8_t b = *p++;
			if (shift > 28)
				return HPACK_BAD_INTEGER;
			acc += (uint64_t)(b & 0x7f) << shift;
			if (acc > UINT32_MAX)
				return HPACK_BAD_INTEGER;
			shift += 7;
			if (!(b & 0x80))
				break;
		}
		v = (uint32_t)acc;
	}
	*pp = p;
	*out = v;
	return HPACK_OK;
}

/*
 * A Huffman string through libnghttp2's inflater: wrapped as the name of a literal
 * field without indexing (which leaves its table alone) and an empty value.
 */
static enum hpack_error huffman_decode(struct hpack_decoder *d, const uint8_t *s, uint32_t len,
				       uint32_t at, uint32_t *out_len)
{
	uint8_t head[8];
	size_t hl = 0;
	head[hl++] = 0x00;
	if (len < 127) {
		head[hl++] = 0x80 | len;
	} else {
		head[hl++] = 0xff;
		uint32_t rest = len - 127;
		while (rest >= 128) {
			head[hl++] = 0x80 | (rest & 0x7f);
			rest >>= 7;
		}
		head[hl++] = rest;
	}
	/* the string is fed as a second piece: nghttp2 keeps its state between calls */
	const uint8_t tail[1] = { 0x00 };
	const struct {
		const uint8_t *p;
		size_t len;
	} pieces[] = { { head, hl }, { s, len }, { tail, 1 } };
	nghttp2_hd_inflater *inf = d->huffman;
	enum hpack_error err = HPACK_BAD_HUFFMAN;
	bool got = false;
	for (size_t i = 0; i < 3; i++) {
		const uint8_t *in = pieces[i].p;
		size_t left = pieces[i].len;
		int final = i == 2;
		for (;;) {
			nghttp2_nv nv;
			int flags = 0;
			ssize_t r = nghttp2_hd_inflate_hd2(inf, &nv, &flags, in, left, final);
			if (r < 0) {
				err = r == NGHTTP2_ERR_NOMEM ? HPACK_NO_MEMORY : HPACK_BAD_HUFFMAN;
				goto fail;
			}
			in += r;
			left -= (size_t)r;
			if (flags & NGHTTP2_HD_INFLATE_EMIT) {
				if (got)
					goto fail;
				d->out.len = at;
				buf__append(&d->out, nv.name, nv.namelen);
				if (d->out.oom) {
					d->out.oom = false;
					err = HPACK_NO_MEMORY;
					goto fail;
				}
				*out_len = (uint32_t)nv.namelen;
				got = true;
			}
			if (flags & NGHTTP2_HD_INFLATE_FINAL)
				break;
			if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && (!left || r == 0))
				break;
		}
	}
	nghttp2_hd_inflate_end_headers(inf);
	return got ? HPACK_OK : HPACK_BAD_HUFFMAN;
fail:
	/* an inflater that failed stays failed: start a fresh one */
	nghttp2_hd_inflate_del(inf);
	d->huffman = NULL;
	if (nghttp2_hd_inflate_new(&inf) == 0)
		d->huffman = inf;
	else if (err == HPACK_BAD_HUFFMAN)
		err = HPACK_NO_MEMORY;
	return err;
}

/* RFC 7541 5.2: a string literal, decoded into d->out from `at` when Huffman-coded. */
static enum hpack_error read_str(struct hpack_decoder *d, const uint8_t **pp, const uint8_t *end,
				 uint32_t at, struct hpack_str *out)
{
	const uint8_t *p = *pp;
	if (p >= end)
		return HPACK_TRUNCATED;
	bool huffman = *p & 0x80;
	uint32_t len;
	enum hpack_error err = read_int(&p, end, 7, &len);
	if (err)
		return err;
	if (len > (size_t)(end - p))
		return HPACK_TRUNCATED;
	if (len > HPACK_DECODED_MAX)
		return HPACK_TOO_LARGE;
	out->known = true;
	if (!huffman) {
		out->p = (const char *)p;
		out->len = len;
	} else {
		if (!d->huffman)
			return HPACK_NO_MEMORY;
		uint32_t n = 0;
		err = len ? huffman_decode(d, p, len, at, &n) : HPACK_OK;
		if (err)
			return err;
		out->p = n ? d->out.data + at : "";
		out->len = n;
	}
	*pp = p + len;
	return HPACK_OK;
}

/* Index 1..61 the static table, 62.. the dynamic one, newest first. */
static enum hpack_error lookup(const struct hpack_decoder *d, uint32_t index,
			       struct hpack_header *h)
{
	if (index == 0)
		return HPACK_BAD_INDEX;
	if (index <= HPACK_STATIC_ENTRIES) {
		const char *n = static_table[index - 1].name, *v = static_table[index - 1].value;
		h->name = (struct hpack_str){ n, (uint32_t)strlen(n), true };
		h->value = (struct hpack_str){ v, (uint32_t)strlen(v), true };
		return HPACK_OK;
	}
	uint32_t k = index - HPACK_STATIC_ENTRIES - 1;
	if (k >= d->count) {
		if (!d->late)
			return HPACK_BAD_INDEX;
		h->name = h->value = (struct hpack_str){ "", 0, false };
		return HPACK_OK;
	}
	const struct hpack_entry *e = entry_at(d, k);
	h->name = (struct hpack_str){ e->data, e->name_len, e->name_known };
	h->value = (struct hpack_str){ e->data + e->name_len, e->value_len, e->value_known };
	return HPACK_OK;
}

static enum hpack_error grow_ring(struct hpack_decoder *d)
{
	uint32_t slots = d->slots ? d->slots * 2 : RING_FIRST_SLOTS;
	struct hpack_entry **ring = malloc(sizeof(*ring) * slots);
	if (!ring)
		return HPACK_NO_MEMORY;
	for (uint32_t k = 0; k < d->count; k++)
		ring[k] = entry_at(d, k);
	free(d->ring);
	d->ring = ring;
	d->slots = slots;
	d->newest = 0;
	return HPACK_OK;
}

/*
 * RFC 7541 4.4: evict until the entry fits, then insert it (or empty the table). The
 * entry is copied first: its name may be that of an entry the insertion evicts.
 */
static enum hpack_error insert(struct hpack_decoder *d, const struct hpack_header *h)
{
	uint32_t size = h->name.len + h->value.len + HPACK_ENTRY_OVERHEAD;
	if (size > d->max_size) {
		evict_to(d, 0);
		return HPACK_OK;
	}
	struct hpack_entry *e = malloc(sizeof(*e) + h->name.len + h->value.len);
	if (!e)
		return HPACK_NO_MEMORY;
	e->name_len = h->name.len;
	e->value_len = h->value.len;
	e->name_known = h->name.known;
	e->value_known = h->value.known;
	if (h->name.len)
		memcpy(e->data, h->name.p, h->name.len);
	if (h->value.len)
		memcpy(e->data + h->name.len, h->value.p, h->value.len);
	evict_to(d, d->max_size - size);
	if (d->count == d->slots) {
		enum hpack_error err = grow_ring(d);
		if (err) {
			free(e);
			return err;
		}
	}
	d->newest = (d->newest + d->slots - 1) % d->slots;
	d->ring[d->newest] = e;
	d->count++;
	d->size += size;
	return HPACK_OK;
}

static enum hpack_error emit(struct hpack_decoder *d, const struct hpack_header *h,
			     hpack_on_header on_header, void *ctx, bool *stop)
{
	uint64_t total = (uint64_t)d->emitted + h->name.len + h->value.len;
	if (total > HPACK_DECODED_MAX)
		return HPACK_TOO_LARGE;
	d->emitted = (uint32_t)total;
	*stop = on_header(ctx, h) != 0;
	return HPACK_OK;
}

enum hpack_error hpack_decode(struct hpack_decoder *d, const uint8_t *p, size_t len,
			      hpack_on_header on_header, void *ctx)
{
	const uint8_t *end = p + len;
	bool fields = false, stop = false;
	enum hpack_error err = HPACK_OK;
	d->emitted = 0;
	while (p < end && !stop) {
		uint8_t b = *p;
		struct hpack_header h;
		if (b & 0x80) { /* 6.1 indexed field */
			uint32_t index;
			if ((err = read_int(&p, end, 7, &index)) || (err = lookup(d, index, &h)) ||
			    (err = emit(d, &h, on_header, ctx, &stop)))
				return err;
			fields = true;
			continue;
		}
		if ((b & 0xe0) == 0x20) { /* 6.3 dynamic table size update */
			uint32_t size;
			if ((err = read_int(&p, end, 5, &size)))
				return err;
			if (fields || size > HPACK_TABLE_LIMIT)
				return HPACK_BAD_SIZE_UPDATE;
			d->max_size = size;
			evict_to(d, size);
			continue;
		}
		/* 6.2 literals: with incremental indexing (01), without (0000), never (0001) */
		bool indexing = (b & 0xc0) == 0x40;
		uint32_t index;
		if ((err = read_int(&p, end, indexing ? 6 : 4, &index)))
			return err;
		bool name_in_out = false;
		if (index) {
			struct hpack_header named;
			if ((err = lookup(d, index, &named)))
				return err;
			h.name = named.name;
		} else {
			if ((err = read_str(d, &p, end, 0, &h.name)))
				return err;
			name_in_out = h.name.len && h.name.p == d->out.data;
		}
		if ((err = read_str(d, &p, end, name_in_out ? h.name.len : 0, &h.value)))
			return err;
		if (name_in_out) /* the value's decoding may have moved the buffer */
			h.name.p = d->out.data;
		if ((err = emit(d, &h, on_header, ctx, &stop)))
			return err;
		if (indexing && (err = insert(d, &h)))
			return err;
		fields = true;
	}
	return HPACK_OK;
}
