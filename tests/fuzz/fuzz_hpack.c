// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: the HPACK decoder on any bytes, beside libnghttp2's inflater.
 *
 * The input is a run of header blocks, each two length bytes (big-endian) and that
 * many bytes, fed to a decoder that follows the connection from the start, to
 * libnghttp2's inflater (the reference), and to a decoder joined late. Whatever the
 * bytes: no crash, no read out of bounds, strings within the decoded bound. And where
 * the reference decodes a block, the decoder from the start decodes it too, to the same
 * fields (short of the bomb bound, which the reference does not have); after a block
 * either rejects, the comparison stops, since what a failed block left in each table
 * differs.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "hpack.h"

#define MAX_FIELDS 65536 /* a field takes a byte of input at least */

struct field {
	const char *name, *value;
	uint32_t name_len, value_len;
	bool known;
};

struct fields {
	struct field f[MAX_FIELDS];
	int n;
	char arena[HPACK_DECODED_MAX];
	size_t used;
};

static int collect(void *ctx, const struct hpack_header *h)
{
	struct fields *fs = ctx;
	assert(h->name.len <= HPACK_DECODED_MAX && h->value.len <= HPACK_DECODED_MAX);
	assert(h->name.known || h->name.len == 0);
	assert(h->value.known || h->value.len == 0);
	assert(fs->n < MAX_FIELDS && fs->used + h->name.len + h->value.len <= sizeof(fs->arena));
	struct field *f = &fs->f[fs->n++];
	f->name = memcpy(fs->arena + fs->used, h->name.p, h->name.len);
	f->name_len = h->name.len;
	fs->used += h->name.len;
	f->value = memcpy(fs->arena + fs->used, h->value.p, h->value.len);
	f->value_len = h->value.len;
	fs->used += h->value.len;
	f->known = h->name.known && h->value.known;
	return 0;
}

static int ignore(void *ctx, const struct hpack_header *h)
{
	(void)ctx;
	(void)h;
	return 0;
}

static struct fields mine;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hpack_decoder whole, late;
	nghttp2_hd_inflater *ref;
	if (hpack_decoder_init(&whole, false) || hpack_decoder_init(&late, true))
		return 0;
	if (nghttp2_hd_inflate_new(&ref) != 0)
		return 0;
	/* the reference takes table sizes up to the same limit */
	nghttp2_hd_inflate_change_table_size(ref, HPACK_TABLE_LIMIT);
	bool compare = true;
	while (size > 0) {
		if (size < 2)
			break;
		size_t len = (size_t)data[0] << 8 | data[1];
		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		const uint8_t *block = data;
		data += len;
		size -= len;

		hpack_decode(&late, block, len, ignore, NULL);
		mine.n = 0;
		mine.used = 0;
		enum hpack_error err = hpack_decode(&whole, block, len, collect, &mine);
		if (!compare)
			continue;
		bool ref_ok = true;
		int i = 0;
		const uint8_t *in = block;
		size_t left = len;
		for (;;) {
			nghttp2_nv nv;
			int flags = 0;
			ssize_t r = nghttp2_hd_inflate_hd2(ref, &nv, &flags, in, left, 1);
			if (r < 0) {
				ref_ok = false;
				break;
			}
			in += r;
			left -= (size_t)r;
			if (flags & NGHTTP2_HD_INFLATE_EMIT) {
				if (err == HPACK_OK && i < mine.n) {
					const struct field *f = &mine.f[i];
					assert(f->known);
					assert(f->name_len == nv.namelen &&
					       !memcmp(f->name, nv.name, nv.namelen));
					assert(f->value_len == nv.valuelen &&
					       !memcmp(f->value, nv.value, nv.valuelen));
				}
				i++;
			}
			if (flags & NGHTTP2_HD_INFLATE_FINAL)
				break;
			if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && r == 0)
				break;
		}
		nghttp2_hd_inflate_end_headers(ref);
		if (ref_ok && err != HPACK_TOO_LARGE) {
			assert(err == HPACK_OK);
			assert(mine.n == i);
		}
		if (!ref_ok || err != HPACK_OK)
			compare = false;
	}
	nghttp2_hd_inflate_del(ref);
	hpack_decoder_free(&whole);
	hpack_decoder_free(&late);
	return 0;
}
