// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The HPACK decoder (user/hpack.c) against a real encoder, libnghttp2's deflater
 * (Huffman on, tables small enough to evict), followed from the start and joined late;
 * the RFC 7541 Appendix C examples byte for byte; and the bounds on hostile blocks.
 */
#include <nghttp2/nghttp2.h>

#include "hpack.h"
#include "unit.h"

#define MAX_FIELDS 64

struct got {
	int n;
	char name[MAX_FIELDS][256], value[MAX_FIELDS][4096];
	int name_known[MAX_FIELDS], value_known[MAX_FIELDS];
	int stop_after; /* stop after this many fields, 0: never */
};

static int on_header(void *ctx, const struct hpack_header *h)
{
	struct got *g = ctx;
	if (g->n < MAX_FIELDS) {
		snprintf(g->name[g->n], sizeof(g->name[0]), "%.*s", (int)h->name.len, h->name.p);
		snprintf(g->value[g->n], sizeof(g->value[0]), "%.*s", (int)h->value.len, h->value.p);
		g->name_known[g->n] = h->name.known;
		g->value_known[g->n] = h->value.known;
	}
	g->n++;
	return g->stop_after && g->n >= g->stop_after;
}

static enum hpack_error decode(struct hpack_decoder *d, const uint8_t *p, size_t len, struct got *g)
{
	memset(g, 0, sizeof(*g));
	return hpack_decode(d, p, len, on_header, g);
}

#define NV(n, v)                                                                              \
	{                                                                                     \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE \
	}

static size_t deflate(nghttp2_hd_deflater *def, const nghttp2_nv *nv, size_t n, uint8_t *out,
		      size_t cap)
{
	ssize_t r = nghttp2_hd_deflate_hd(def, out, cap, nv, n);
	CHECK(r > 0);
	return r > 0 ? (size_t)r : 0;
}

static void check_fields(const struct got *g, const nghttp2_nv *nv, size_t n)
{
	CHECK_EQ(g->n, n);
	for (size_t i = 0; i < n && i < MAX_FIELDS; i++) {
		char name[256], value[4096];
		snprintf(name, sizeof(name), "%.*s", (int)nv[i].namelen, nv[i].name);
		snprintf(value, sizeof(value), "%.*s", (int)nv[i].valuelen, nv[i].value);
		CHECK_STR(g->name[i], name);
		CHECK_STR(g->value[i], value);
		CHECK(g->name_known[i] && g->value_known[i]);
	}
}

/* Requests of a gRPC client through nghttp2's encoder, decoded from the first one. */
static void test_real_encoder_whole(void)
{
	nghttp2_hd_deflater *def;
	CHECK_EQ(nghttp2_hd_deflate_new(&def, 4096), 0);
	struct hpack_decoder d;
	CHECK_EQ(hpack_decoder_init(&d, false), HPACK_OK);
	char path[64], id[64];
	for (int i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "/shop.Cart/Add%d", i % 7);
		snprintf(id, sizeof(id), "req-%d-%0*d", i, i % 50, 0);
		nghttp2_nv nv[] = {
			NV(":method", "POST"),
			NV(":scheme", "http"),
			{ (uint8_t *)":path", (uint8_t *)path, 5, strlen(path), NGHTTP2_NV_FLAG_NONE },
			NV(":authority", "cart.default.svc.cluster.local:50051"),
			NV("content-type", "application/grpc"),
			NV("te", "trailers"),
			NV("user-agent", "grpc-python/1.51.1 grpc-c/29.0.0 (linux; chttp2)"),
			{ (uint8_t *)"x-request-id", (uint8_t *)id, 12, strlen(id), NGHTTP2_NV_FLAG_NONE },
			{ (uint8_t *)"authorization", (uint8_t *)"Bearer secret", 13, 13,
			  NGHTTP2_NV_FLAG_NO_INDEX },
		};
		uint8_t buf[2048];
		size_t len = deflate(def, nv, 9, buf, sizeof(buf));
		struct got g;
		CHECK_EQ(decode(&d, buf, len, &g), HPACK_OK);
		check_fields(&g, nv, 9);
	}
	CHECK(d.size <= 4096);
	hpack_decoder_free(&d);
	nghttp2_hd_deflate_del(def);
}

/* A small table the encoder shrinks and grows: eviction and size updates. */
static void test_real_encoder_eviction(void)
{
	nghttp2_hd_deflater *def;
	CHECK_EQ(nghttp2_hd_deflate_new(&def, 4096), 0);
	struct hpack_decoder d;
	CHECK_EQ(hpack_decoder_init(&d, false), HPACK_OK);
	const size_t sizes[] = { 4096, 256, 0, 100, 4096, 1024 };
	for (int round = 0; round < 6; round++) {
		/* the decoder's side settles a table size: the encoder signals it */
		CHECK_EQ(nghttp2_hd_deflate_change_table_size(def, sizes[round]), 0);
		for (int i = 0; i < 40; i++) {
			char v1[32], v2[80];
			snprintf(v1, sizeof(v1), "/v%d", (i * 7 + round) % 23);
			snprintf(v2, sizeof(v2), "value-%d-%s", i % 5, i % 2 ? "aaaaaaaaaaaaaaaaaaaa" : "b");
			nghttp2_nv nv[] = {
				NV(":status", "200"),
				{ (uint8_t *)":path", (uint8_t *)v1, 5, strlen(v1), NGHTTP2_NV_FLAG_NONE },
				{ (uint8_t *)"x-thing", (uint8_t *)v2, 7, strlen(v2), NGHTTP2_NV_FLAG_NONE },
				NV("grpc-status", "0"),
			};
			uint8_t buf[512];
			size_t len = deflate(def, nv, 4, buf, sizeof(buf));
			struct got g;
			CHECK_EQ(decode(&d, buf, len, &g), HPACK_OK);
			check_fields(&g, nv, 4);
			CHECK(d.size <= sizes[round]);
		}
	}
	hpack_decoder_free(&d);
	nghttp2_hd_deflate_del(def);
}

/*
 * Joined late: the encoder's table holds entries from before. Indexed references to
 * them come out unknown, never as another entry; entries inserted since resolve.
 */
static void test_late_join(void)
{
	nghttp2_hd_deflater *def;
	CHECK_EQ(nghttp2_hd_deflate_new(&def, 4096), 0);
	uint8_t buf[1024];
	nghttp2_nv before[] = {
		NV(":method", "POST"),
		NV(":path", "/shop.Cart/Checkout"),
		NV("content-type", "application/grpc"),
		NV("x-tenant", "acme"),
	};
	/* twice: the second block is all indexed references to the dynamic table */
	deflate(def, before, 4, buf, sizeof(buf));
	size_t len = deflate(def, before, 4, buf, sizeof(buf));
	struct hpack_decoder d;
	CHECK_EQ(hpack_decoder_init(&d, true), HPACK_OK);
	struct got g;
	CHECK_EQ(decode(&d, buf, len, &g), HPACK_OK);
	CHECK_EQ(g.n, 4);
	CHECK_STR(g.name[0], ":method"); /* static */
	CHECK_STR(g.value[0], "POST");
	CHECK(g.name_known[0] && g.value_known[0]);
	/* nghttp2 never indexes :path: a literal each time, so known even joined late */
	CHECK_STR(g.name[1], ":path");
	CHECK_STR(g.value[1], "/shop.Cart/Checkout");
	CHECK(g.name_known[1] && g.value_known[1]);
	for (int i = 2; i < 4; i++) /* references to entries from before joining */
		CHECK(!g.name_known[i] && !g.value_known[i]);

	/* new entries after joining: known, and the old ones still unknown */
	nghttp2_nv after[] = {
		NV(":method", "POST"),
		NV(":path", "/shop.Cart/Remove"),
		NV("content-type", "application/grpc"),
		NV("x-tenant", "globex"),
	};
	len = deflate(def, after, 4, buf, sizeof(buf));
	CHECK_EQ(decode(&d, buf, len, &g), HPACK_OK);
	CHECK_EQ(g.n, 4);
	CHECK_STR(g.value[1], "/shop.Cart/Remove");
	CHECK(!g.name_known[2] && !g.value_known[2]);
	/* x-tenant: globex, a literal whose name is the old entry's: the value is known */
	CHECK(!g.name_known[3] && g.value_known[3]);
	CHECK_STR(g.value[3], "globex");
	len = deflate(def, after, 4, buf, sizeof(buf));
	CHECK_EQ(decode(&d, buf, len, &g), HPACK_OK);
	/* now an indexed reference to the entry it inserted, newest first */
	CHECK(!g.name_known[3] && g.value_known[3]);
	CHECK_STR(g.value[3], "globex");
	CHECK(!g.name_known[2] && !g.value_known[2]);
	hpack_decoder_free(&d);

	/* by hand: a literal naming entry 62 of a table joined late, then entry 62 itself */
	CHECK_EQ(hpack_decoder_init(&d, true), HPACK_OK);
	const uint8_t hand[] = { 0x7e, 0x01, 'v', 0xbe, 0xbf };
	CHECK_EQ(decode(&d, hand, sizeof(hand), &g), HPACK_OK);
	CHECK_EQ(g.n, 3);
	CHECK(!g.name_known[0] && g.value_known[0] && !strcmp(g.value[0], "v"));
	CHECK(!g.name_known[1] && g.value_known[1] && !strcmp(g.value[1], "v"));
	CHECK(!g.name_known[2] && !g.value_known[2]); /* 63: from before */
	CHECK_EQ(d.size, 33);
	hpack_decoder_free(&d);

	/* a block lost mid-connection: what is kept no longer has a known index */
	CHECK_EQ(hpack_decoder_init(&d, false), HPACK_OK);
	nghttp2_hd_deflater *def2;
	CHECK_EQ(nghttp2_hd_deflate_new(&def2, 4096), 0);
	len = deflate(def2, after, 4, buf, sizeof(buf));
	CHECK_EQ(decode(&d, buf, len, &g), HPACK_OK);
	check_fields(&g, after, 4);
	deflate(def2, before, 4, buf, sizeof(buf)); /* not seen */
	hpack_decoder_lost(&d);
	len = deflate(def2, after, 4, buf, sizeof(buf));
	CHECK_EQ(decode(&d, buf, len, &g), HPACK_OK);
	CHECK_STR(g.value[0], "POST");
	CHECK_STR(g.value[1], "/shop.Cart/Remove");
	for (int i = 2; i < 4; i++)
		CHECK(!g.value_known[i]);
	hpack_decoder_free(&d);
	nghttp2_hd_deflate_del(def2);
	nghttp2_hd_deflate_del(def);
}

/* RFC 7541 C.4 (requests with Huffman coding) and C.6 (responses, a 256-byte table). */
static void test_rfc_examples(void)
{
	struct hpack_decoder d;
	struct got g;
	CHECK_EQ(hpack_decoder_init(&d, false), HPACK_OK);
	const uint8_t c41[] = { 0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a,
				0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff };
	CHECK_EQ(decode(&d, c41, sizeof(c41), &g), HPACK_OK);
	CHECK_EQ(g.n, 4);
	CHECK_STR(g.name[3], ":authority");
	CHECK_STR(g.value[3], "www.example.com");
	CHECK_EQ(d.size, 57);
	const uint8_t c42[] = { 0x82, 0x86, 0x84, 0xbe, 0x58, 0x86, 0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf };
	CHECK_EQ(decode(&d, c42, sizeof(c42), &g), HPACK_OK);
	CHECK_EQ(g.n, 5);
	CHECK_STR(g.value[3], "www.example.com");
	CHECK_STR(g.name[4], "cache-control");
	CHECK_STR(g.value[4], "no-cache");
	CHECK_EQ(d.size, 110);
	const uint8_t c43[] = { 0x82, 0x87, 0x85, 0xbf, 0x40, 0x88, 0x25, 0xa8, 0x49, 0xe9, 0x5b,
				0xa9, 0x7d, 0x7f, 0x89, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xb8, 0xe8,
				0xb4, 0xbf };
	CHECK_EQ(decode(&d, c43, sizeof(c43), &g), HPACK_OK);
	CHECK_EQ(g.n, 5);
	CHECK_STR(g.value[2], "/index.html");
	CHECK_STR(g.name[4], "custom-key");
	CHECK_STR(g.value[4], "custom-value");
	CHECK_EQ(d.size, 164);
	CHECK_EQ(d.count, 3);
	hpack_decoder_free(&d);

	/* C.6.1, after a size update to 256 bytes (0x3f 0xe1 0x01, put first here) */
	CHECK_EQ(hpack_decoder_init(&d, false), HPACK_OK);
	const uint8_t c61[] = { 0x3f, 0xe1, 0x01, 0x48, 0x82, 0x64, 0x02, 0x58, 0x85, 0xae, 0xc3,
				0x77, 0x1a, 0x4b, 0x61, 0x96, 0xd0, 0x7a, 0xbe, 0x94, 0x10, 0x54,
				0xd4, 0x44, 0xa8, 0x20, 0x05, 0x95, 0x04, 0x0b, 0x81, 0x66, 0xe0,
				0x82, 0xa6, 0x2d, 0x1b, 0xff, 0x6e, 0x91, 0x9d, 0x29, 0xad, 0x17,
				0x18, 0x63, 0xc7, 0x8f, 0x0b, 0x97, 0xc8, 0xe9, 0xae, 0x82, 0xae,
				0x43, 0xd3 };
	CHECK_EQ(decode(&d, c61, sizeof(c61), &g), HPACK_OK);
	CHECK_EQ(g.n, 4);
	CHECK_STR(g.value[0], "302");
	CHECK_STR(g.value[1], "private");
	CHECK_STR(g.value[2], "Mon, 21 Oct 2013 20:13:21 GMT");
	CHECK_STR(g.value[3], "https://www.example.com");
	CHECK_EQ(d.size, 222);
	const uint8_t c62[] = { 0x48, 0x83, 0x64, 0x0e, 0xff, 0xc1, 0xc0, 0xbf };
	CHECK_EQ(decode(&d, c62, sizeof(c62), &g), HPACK_OK);
	CHECK_STR(g.value[0], "307");
	CHECK_STR(g.value[3], "https://www.example.com");
	CHECK_EQ(d.size, 222); /* "302" evicted for "307" */
	hpack_decoder_free(&d);
}

/* Hostile blocks: each is an error, bounded, and the decoder stays usable. */
static void test_bad_blocks(void)
{
	struct hpack_decoder d;
	struct got g;
	CHECK_EQ(hpack_decoder_init(&d, false), HPACK_OK);
	const uint8_t idx0[] = { 0x80 };
	CHECK_EQ(decode(&d, idx0, 1, &g), HPACK_BAD_INDEX);
	const uint8_t past[] = { 0xbe }; /* 62, an empty table */
	CHECK_EQ(decode(&d, past, 1, &g), HPACK_BAD_INDEX);
	const uint8_t name_past[] = { 0x7e, 0x01, 'x' }; /* incremental, name index 62 */
	CHECK_EQ(decode(&d, name_past, sizeof(name_past), &g), HPACK_BAD_INDEX);
	const uint8_t big_int[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f };
	CHECK_EQ(decode(&d, big_int, sizeof(big_int), &g), HPACK_BAD_INTEGER);
	const uint8_t long_int[] = { 0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
	CHECK_EQ(decode(&d, long_int, sizeof(long_int), &g), HPACK_BAD_INTEGER);
	const uint8_t cut_int[] = { 0xff, 0x80 };
	CHECK_EQ(decode(&d, cut_int, sizeof(cut_int), &g), HPACK_TRUNCATED);
	const uint8_t cut_str[] = { 0x40, 0x05, 'a', 'b' };
	CHECK_EQ(decode(&d, cut_str, sizeof(cut_str), &g), HPACK_TRUNCATED);
	const uint8_t cut_value[] = { 0x40, 0x01, 'a' };
	CHECK_EQ(decode(&d, cut_value, sizeof(cut_value), &g), HPACK_TRUNCATED);
	/* a size update above the limit, and one after a field */
	const uint8_t huge_update[] = { 0x3f, 0xe1, 0xff, 0x07 }; /* 131072 */
	CHECK_EQ(decode(&d, huge_update, sizeof(huge_update), &g), HPACK_BAD_SIZE_UPDATE);
	const uint8_t late_update[] = { 0x82, 0x20 };
	CHECK_EQ(decode(&d, late_update, sizeof(late_update), &g), HPACK_BAD_SIZE_UPDATE);
	/* Huffman: padding that is not the EOS prefix, and an EOS inside */
	const uint8_t bad_pad[] = { 0x00, 0x81, 0x00, 0x00 };
	CHECK_EQ(decode(&d, bad_pad, sizeof(bad_pad), &g), HPACK_BAD_HUFFMAN);
	const uint8_t eos[] = { 0x00, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00 };
	CHECK_EQ(decode(&d, eos, sizeof(eos), &g), HPACK_BAD_HUFFMAN);
	/* after all that, still decoding */
	const uint8_t ok[] = { 0x82, 0x00, 0x81, 0x1f, 0x81, 0x1f };
	CHECK_EQ(decode(&d, ok, sizeof(ok), &g), HPACK_OK);
	CHECK_EQ(g.n, 2);
	CHECK_STR(g.value[0], "GET");
	CHECK_STR(g.name[1], "a");
	CHECK_STR(g.value[1], "a");
	hpack_decoder_free(&d);
}

/* An HPACK bomb: a 4 KiB entry referenced over and over. */
static void test_bomb(void)
{
	struct hpack_decoder d;
	struct got g;
	CHECK_EQ(hpack_decoder_init(&d, false), HPACK_OK);
	uint8_t block[4200];
	size_t n = 0;
	block[n++] = 0x40;
	block[n++] = 0x01;
	block[n++] = 'x';
	block[n++] = 0x7f; /* value length 127 + 3873 = 4000 */
	block[n++] = 0xa1;
	block[n++] = 0x1e;
	memset(block + n, 'v', 4000);
	n += 4000;
	for (int i = 0; i < 20; i++)
		block[n++] = 0xbe;
	CHECK_EQ(decode(&d, block, n, &g), HPACK_TOO_LARGE);
	CHECK(g.n < 17);
	/* up to the bound is fine: the entry, then 15 references */
	hpack_decoder_free(&d);
	CHECK_EQ(hpack_decoder_init(&d, false), HPACK_OK);
	CHECK_EQ(decode(&d, block, n - 5, &g), HPACK_OK);
	CHECK_EQ(g.n, 16);
	CHECK_EQ(strlen(g.value[15]), 4000);
	hpack_decoder_free(&d);
}

/* The callback stops the decoding when it has what it needs. */
static void test_stop(void)
{
	struct hpack_decoder d;
	struct got g;
	CHECK_EQ(hpack_decoder_init(&d, false), HPACK_OK);
	const uint8_t block[] = { 0x82, 0x86, 0x84, 0x87 };
	memset(&g, 0, sizeof(g));
	g.stop_after = 2;
	CHECK_EQ(hpack_decode(&d, block, sizeof(block), on_header, &g), HPACK_OK);
	CHECK_EQ(g.n, 2);
	CHECK_STR(hpack_error_name(HPACK_TOO_LARGE), "too_large");
	CHECK_STR(hpack_error_name((enum hpack_error)99), "unknown");
	hpack_decoder_free(&d);
}

int main(void)
{
	RUN(test_real_encoder_whole);
	RUN(test_real_encoder_eviction);
	RUN(test_late_join);
	RUN(test_rfc_examples);
	RUN(test_bad_blocks);
	RUN(test_bomb);
	RUN(test_stop);
	return unit_report("test_hpack");
}
