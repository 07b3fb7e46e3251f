/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hpack.c: HPACK (RFC 7541) header block decoding for one direction of an HTTP/2
 * connection, able to join a connection late.
 *
 * A connection redscope saw from its first byte is decoded exactly: every dynamic
 * table entry is known, and a reference to one that does not exist is an error. A
 * connection joined late (open before redscope started, or one whose header block it
 * could not see whole) is decoded as far as it can be: the dynamic table's index 62 is
 * always the newest entry, so every entry inserted since joining resolves, and a
 * reference beyond them yields a header whose name or value is unknown, never a guess.
 *
 * Huffman-coded strings are decoded by libnghttp2's inflater; the table, the
 * representations and the bounds are here.
 */
#ifndef REDSCOPE_HPACK_H
#define REDSCOPE_HPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define HPACK_DEFAULT_TABLE_SIZE 4096 /* SETTINGS_HEADER_TABLE_SIZE's initial value */
#define HPACK_TABLE_LIMIT 65536	      /* the largest table size an encoder may set here */
#define HPACK_DECODED_MAX 65536	      /* decoded bytes of one header block at most */
#define HPACK_STATIC_ENTRIES 61

enum hpack_error {
	HPACK_OK = 0,
	HPACK_TRUNCATED,	/* the block ends inside a representation */
	HPACK_BAD_INTEGER,	/* an integer longer than 32 bits */
	HPACK_BAD_INDEX,	/* index 0, or past the table of a connection seen whole */
	HPACK_BAD_HUFFMAN,	/* a Huffman string that does not decode */
	HPACK_BAD_SIZE_UPDATE,	/* a table size update above the limit, or after a field */
	HPACK_TOO_LARGE,	/* more than HPACK_DECODED_MAX decoded bytes (an HPACK bomb) */
	HPACK_NO_MEMORY,
	HPACK_ERROR__COUNT,
};
const char *hpack_error_name(enum hpack_error e);

/* A string of a decoded header: known false when a late join cannot tell it. */
struct hpack_str {
	const char *p; /* not NUL-terminated */
	uint32_t len;
	bool known;
};

struct hpack_header {
	struct hpack_str name, value;
};

struct hpack_entry;

struct hpack_decoder {
	struct hpack_entry **ring; /* the dynamic table, ring[(newest + k) % slots] is 62 + k */
	uint32_t slots;		   /* the ring's capacity */
	uint32_t count;		   /* entries kept */
	uint32_t newest;	   /* ring index of entry 62 */
	uint32_t size;		   /* their size as RFC 7541 4.1 counts it (unknown parts as 0) */
	uint32_t max_size;	   /* the table size the encoder set last */
	uint32_t emitted;	   /* decoded bytes of the block at hand */
	bool late;		   /* entries older than those kept may exist and are unknown */
	void *huffman;		   /* libnghttp2's inflater, for Huffman strings */
	struct buf out;		   /* Huffman-decoded strings of the field at hand */
};

/*
 * A decoder for a direction followed from its first header block (late false) or joined
 * mid-connection (late true). Returns HPACK_OK or HPACK_NO_MEMORY.
 */
enum hpack_error hpack_decoder_init(struct hpack_decoder *d, bool late);
void hpack_decoder_free(struct hpack_decoder *d);

/*
 * A header block of this direction went unseen (lost, cut short, or not decodable): what
 * it may have inserted is unknown, so from now on the decoder is one joined late.
 */
void hpack_decoder_lost(struct hpack_decoder *d);

/*
 * Decode one whole header block (HEADERS and its CONTINUATION fragments, padding and
 * priority removed), calling on_header for each field in order; a non-zero return from
 * it stops the decoding (HPACK_OK is returned, the rest of the block unread, so the
 * caller treats the direction as lost too). A header's strings live during the call of
 * on_header that gets them: the caller copies what it keeps.
 * On an error the table may be half updated: the caller treats the direction as lost
 * (hpack_decoder_lost) or gives the connection up.
 */
typedef int (*hpack_on_header)(void *ctx, const struct hpack_header *h);
enum hpack_error hpack_decode(struct hpack_decoder *d, const uint8_t *p, size_t len,
			      hpack_on_header on_header, void *ctx);

#endif /* REDSCOPE_HPACK_H */
