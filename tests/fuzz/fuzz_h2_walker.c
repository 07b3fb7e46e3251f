// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: the HTTP/2 frame walker (bpf/h2.bpf.h, run as C) on any bytes. The first
 * input byte seeds how the rest is split into writes; the rest is what a server writes
 * on an HTTP/2 connection. Whatever the bytes: nothing is read outside them, every
 * event is well formed, and the walk does not depend on the split: fed in pieces or
 * whole, the records say the same frames and carry the same bytes (unless the walk of
 * the whole ran out of steps, which it must then say).
 */
#include <assert.h>
#include <stdint.h>

#include "h1_sim.h"

/* The events' records as one stream: frame headers, forwarded bytes, marks. */
static size_t flatten(uint8_t *out, size_t cap, bool *lost)
{
	size_t n = 0;

	*lost = false;
	for (size_t e = 0; e < sim_n_h2_events; e++) {
		const struct rs_event_h2 *ev = &sim_h2_events[e];
		assert(ev->type == RS_EV_H2 && ev->sk == SIM_SK && ev->dir == RS_DIR_RESP);
		assert(ev->used <= RS_H2_EV_DATA && ev->used % 4 == 0 && ev->used > 0);
		for (uint32_t at = 0; at < ev->used;) {
			uint8_t rec = ev->data[at];
			size_t take;
			if (rec == RS_H2_REC_FRAME) {
				struct rs_h2_frame f;
				assert(at + sizeof(f) <= ev->used);
				memcpy(&f, ev->data + at, sizeof(f));
				assert(f.length < (1u << 24) && !(f.stream >> 31) && f.type <= RS_H2_CONTINUATION);
				take = sizeof(f);
				if (n + take <= cap)
					memcpy(out + n, &f, take);
				n += take;
				at += take;
				continue;
			}
			struct rs_h2_frag fr;
			assert(at + sizeof(fr) <= ev->used);
			memcpy(&fr, ev->data + at, sizeof(fr));
			at += sizeof(fr);
			if (rec == RS_H2_REC_FRAG) {
				assert(fr.len > 0 && at + fr.len <= ev->used);
				if (n + fr.len <= cap)
					memcpy(out + n, ev->data + at, fr.len);
				n += fr.len;
				at += (fr.len + 3) & ~3u;
			} else if (rec == RS_H2_REC_LOST) {
				*lost = true;
			} else {
				assert(rec == RS_H2_REC_GAP);
				if (n < cap)
					out[n] = 0xee;
				n++;
			}
		}
	}
	return n;
}

static uint8_t pieces_out[1 << 20], whole_out[1 << 20];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool lost_pieces, lost_whole;
	size_t n_pieces, n_whole;
	unsigned seed;

	if (size < 2)
		return 0;
	seed = data[0];
	data++;
	size--;

	sim_reset();
	h2_begin(&sim_work, true); /* no SETTINGS first: any frames */
	for (size_t off = 0; off < size;) {
		seed = seed * 1103515245 + 12345;
		size_t n = 1 + (seed >> 16) % 64;
		if (n > size - off)
			n = size - off;
		/* a copy of exactly the bytes of this write: a read past them is caught */
		uint8_t *piece = malloc(n);
		memcpy(piece, data + off, n);
		sim_io(RS_DIR_RESP, piece, n);
		free(piece);
		off += n;
	}
	n_pieces = flatten(pieces_out, sizeof(pieces_out), &lost_pieces);

	sim_reset();
	h2_begin(&sim_work, true); /* no SETTINGS first: any frames */
	uint8_t *whole = malloc(size);
	memcpy(whole, data, size);
	sim_io(RS_DIR_RESP, whole, size);
	free(whole);
	n_whole = flatten(whole_out, sizeof(whole_out), &lost_whole);

	/* pieces of at most 64 bytes never run out of steps: no frame is lost there */
	assert(!lost_pieces);
	if (!lost_whole) {
		assert(n_pieces == n_whole);
		assert(!memcmp(pieces_out, whole_out, n_whole < sizeof(whole_out) ? n_whole : sizeof(whole_out)));
	} else {
		assert(sim_stats[RS_STAT_PARSE_ERROR + RS_R_SCAN_LIMIT] == 1);
	}
	return 0;
}
