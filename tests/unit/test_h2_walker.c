// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The HTTP/2 frame walker (bpf/h2.bpf.h), the very code the kernel runs, compiled as C
 * through the simulation, on real HTTP/2 conversations between libnghttp2's client and
 * server (tests/unit/h2_traffic.h): fed as written, all at once, a byte at a time, and
 * in random pieces, its records must tell every frame the daemon follows, with the
 * header blocks byte for byte; and what it cannot see is said, never guessed.
 */
#include "h1_sim.h"
#include "h2_traffic.h"
#include "unit.h"

/* A frame the walker should report, from a plain walk of the whole byte stream. */
struct want_frame {
	uint8_t type, flags;
	uint32_t stream, length;
	const uint8_t *payload;
	uint32_t copy;
};

/*
 * What the daemon needs, said here again rather than taken from the walker: the frames
 * that open, carry or end streams, the whole header block frames, RST_STREAM's error
 * code, and GOAWAY's last stream and error code.
 */
static bool want_followed(uint8_t type)
{
	return type == 0 || type == 1 || type == 3 || type == 5 || type == 7 || type == 9;
}

static uint32_t want_copy(uint8_t type, uint32_t length)
{
	uint32_t max = type == 1 || type == 5 || type == 9 ? length : type == 3 ? 4 : type == 7 ? 8 : 0;
	return length < max ? length : max;
}

static int reference_frames(const uint8_t *p, size_t len, int dir, struct want_frame *out, int max)
{
	size_t off = dir == RS_DIR_REQ ? RS_H2_PREFACE_LEN : 0;
	int n = 0;

	while (off + RS_H2_FRAME_HEADER <= len) {
		uint32_t length = (uint32_t)p[off] << 16 | (uint32_t)p[off + 1] << 8 | p[off + 2];
		uint8_t type = p[off + 3];
		if (want_followed(type) && n < max) {
			out[n] = (struct want_frame){
				.type = type,
				.flags = p[off + 4],
				.stream = ((uint32_t)p[off + 5] << 24 | (uint32_t)p[off + 6] << 16 |
					   (uint32_t)p[off + 7] << 8 | p[off + 8]) & 0x7fffffff,
				.length = length,
				.payload = p + off + RS_H2_FRAME_HEADER,
				.copy = want_copy(type, length),
			};
			n++;
		}
		off += RS_H2_FRAME_HEADER + length;
	}
	CHECK_EQ(off, len);
	return n;
}

/* The records of every event of one direction, in order, checked against the frames. */
struct got {
	int frames, gaps, lost, dropped_flags;
	uint8_t *frag; /* the current frame's forwarded bytes */
	uint32_t frag_len;
	const struct want_frame *want;
	int n_want;
	bool mismatch;
};

static void got_frame_done(struct got *g)
{
	if (g->frames == 0 || g->frames > g->n_want)
		return;
	const struct want_frame *w = &g->want[g->frames - 1];
	if (g->frag_len != w->copy || memcmp(g->frag, w->payload, w->copy)) {
		fprintf(stderr, "frame %d (type %u stream %u): %u bytes forwarded, want %u\n",
			g->frames - 1, w->type, w->stream, g->frag_len, w->copy);
		g->mismatch = true;
	}
}

static void collect(struct got *g, int dir, const struct want_frame *want, int n_want)
{
	memset(g, 0, sizeof(*g));
	g->want = want;
	g->n_want = n_want;
	g->frag = malloc(RS_H2_FRAG_MAX + 1);
	for (size_t e = 0; e < sim_n_h2_events; e++) {
		const struct rs_event_h2 *ev = &sim_h2_events[e];
		if (ev->dir != dir)
			continue;
		CHECK_EQ(ev->type, RS_EV_H2);
		CHECK_EQ(ev->sk, SIM_SK);
		CHECK(ev->used <= RS_H2_EV_DATA && ev->used % 4 == 0);
		if (ev->flags & RS_H2_EVF_DROPPED)
			g->dropped_flags++;
		for (uint32_t at = 0; at + 4 <= ev->used;) {
			uint8_t rec = ev->data[at];
			if (rec == RS_H2_REC_FRAME) {
				struct rs_h2_frame f;
				memcpy(&f, ev->data + at, sizeof(f));
				got_frame_done(g);
				if (g->frames < n_want) {
					const struct want_frame *w = &want[g->frames];
					if (f.type != w->type || f.flags != w->flags || f.stream != w->stream ||
					    f.length != w->length) {
						fprintf(stderr, "frame %d: type %u flags %#x stream %u length %u, "
								"want %u %#x %u %u\n",
							g->frames, f.type, f.flags, f.stream, f.length, w->type,
							w->flags, w->stream, w->length);
						g->mismatch = true;
					}
				}
				g->frames++;
				g->frag_len = 0;
				at += sizeof(f);
				continue;
			}
			struct rs_h2_frag fr;
			memcpy(&fr, ev->data + at, sizeof(fr));
			at += sizeof(fr);
			if (rec == RS_H2_REC_FRAG) {
				CHECK(at + fr.len <= ev->used);
				if (g->frag_len + fr.len <= RS_H2_FRAG_MAX)
					memcpy(g->frag + g->frag_len, ev->data + at, fr.len);
				g->frag_len += fr.len;
				at += (fr.len + 3) & ~3u;
			} else if (rec == RS_H2_REC_GAP) {
				g->gaps++;
			} else if (rec == RS_H2_REC_LOST) {
				g->lost++;
			} else {
				CHECK(!"a record of no known kind");
				break;
			}
		}
	}
	got_frame_done(g);
	free(g->frag);
}

/* Feed the conversation's calls to the walker; split: 0 as written, 1 all at once per
 * direction, 2 a byte at a time, 3 random pieces (seeded). */
static void feed(const struct tr_conv *c, int split)
{
	sim_reset();
	h2_begin(&sim_work, false);
	if (split == 1) {
		for (int dir = 0; dir < 2; dir++) {
			sim_io(dir, c->bytes[dir], c->len[dir]);
		}
		return;
	}
	unsigned seed = 12345;
	for (int i = 0; i < c->n_calls; i++) {
		const struct tr_call *call = &c->calls[i];
		size_t done = 0;
		while (done < call->len) {
			size_t n = call->len - done;
			if (split == 2)
				n = 1;
			else if (split == 3) {
				seed = seed * 1103515245 + 12345;
				size_t k = 1 + (seed >> 8) % 40;
				n = k < n ? k : n;
			}
			sim_io(call->dir, c->bytes[call->dir] + call->off + done, n);
			done += n;
		}
	}
}

static void check_conversation(struct tr_conv *c, const char *what)
{
	static struct want_frame want[2][8192];
	int n_want[2];

	for (int dir = 0; dir < 2; dir++)
		n_want[dir] = reference_frames(c->bytes[dir], c->len[dir], dir, want[dir], 8192);
	for (int split = 0; split < 4; split++) {
		feed(c, split);
		for (int dir = 0; dir < 2; dir++) {
			struct got g;
			collect(&g, dir, want[dir], n_want[dir]);
			if (g.frames != n_want[dir] || g.mismatch || g.gaps || g.lost || g.dropped_flags) {
				fprintf(stderr, "%s, split %d, dir %d: %d frames of %d, gaps %d, lost %d\n",
					what, split, dir, g.frames, n_want[dir], g.gaps, g.lost);
				unit_failures++;
			}
		}
		CHECK_EQ(sim_lost, 0);
		CHECK_EQ(sim_stats[RS_STAT_PARSE_ERROR + RS_R_SCAN_LIMIT], 0);
	}
}

static const struct tr_stream_script grpc_calls[] = {
	{ "POST", "/shop.Cart/Add", "application/grpc", 40, NULL, NULL, 200, 25, "0", NULL, false, false },
	{ "POST", "/shop.Cart/Add", "application/grpc", 5, NULL, NULL, 200, 0, "5", "no such cart", true, false },
	{ "POST", "/shop.Cart/List", "application/grpc", 20, NULL, NULL, 200, 70000, "0", NULL, false, false },
	{ "POST", "/shop.Cart/Checkout", "application/grpc", 100000, NULL, NULL, 200, 10, "4",
	  "deadline exceeded", false, false },
};

static void test_grpc(void)
{
	struct tr_conv c = { .script = grpc_calls, .n_script = 4 };
	tr_run(&c);
	check_conversation(&c, "gRPC calls");
	tr_free(&c);
}

static void test_padded_and_small_writes(void)
{
	struct tr_conv c = { .script = grpc_calls, .n_script = 4, .pad_to = 64, .max_write = 7 };
	tr_run(&c);
	check_conversation(&c, "padded, 7-byte writes");
	tr_free(&c);
}

/* A header block larger than a frame: HEADERS and CONTINUATION frames. */
static void test_continuation(void)
{
	static char big[60000];
	memset(big, 'c', sizeof(big) - 1);
	const struct tr_stream_script s[] = {
		{ "GET", "/big", NULL, 0, "x-big", big, 200, 100, NULL, NULL, false, false },
		{ "GET", "/after", NULL, 0, NULL, NULL, 404, 0, NULL, NULL, false, false },
	};
	struct tr_conv c = { .script = s, .n_script = 2 };
	tr_run(&c);
	int continuations = 0;
	struct want_frame want[64];
	int n = reference_frames(c.bytes[0], c.len[0], 0, want, 64);
	for (int i = 0; i < n; i++)
		continuations += want[i].type == RS_H2_CONTINUATION;
	CHECK(continuations >= 2);
	check_conversation(&c, "CONTINUATION");
	tr_free(&c);
}

/* Resets both ways, and a GOAWAY. */
static void test_resets(void)
{
	const struct tr_stream_script s[] = {
		{ "GET", "/a", NULL, 0, NULL, NULL, 0, 0, NULL, NULL, false, false },
		{ "POST", "/b", "application/json", 10, NULL, NULL, 200, 5, NULL, NULL, false, true },
		{ "GET", "/c", NULL, 0, NULL, NULL, 204, 0, NULL, NULL, false, false },
	};
	struct tr_conv c = { .script = s, .n_script = 3, .goaway = true };
	tr_run(&c);
	struct want_frame want[2][64];
	int rst = 0, goaway = 0;
	for (int dir = 0; dir < 2; dir++) {
		int n = reference_frames(c.bytes[dir], c.len[dir], dir, want[dir], 64);
		for (int i = 0; i < n; i++) {
			rst += want[dir][i].type == RS_H2_RST_STREAM;
			goaway += want[dir][i].type == RS_H2_GOAWAY;
		}
	}
	CHECK_EQ(rst, 2);
	CHECK_EQ(goaway, 1);
	check_conversation(&c, "resets");
	tr_free(&c);
}

/* 100 streams at once: more frames in one write than one event holds. */
static void test_many_streams(void)
{
	static struct tr_stream_script s[100];
	static char paths[100][32];
	for (int i = 0; i < 100; i++) {
		snprintf(paths[i], sizeof(paths[i]), "/item/%d", i);
		s[i] = (struct tr_stream_script){ "GET", paths[i], NULL, 0, NULL, NULL, 200, 10 + i,
						  NULL, NULL, false, false };
	}
	struct tr_conv c = { .script = s, .n_script = 100 };
	tr_run(&c);
	check_conversation(&c, "100 streams");
	/* written all at once, the responses need more than one event */
	feed(&c, 1);
	int resp_events = 0;
	for (size_t e = 0; e < sim_n_h2_events; e++)
		resp_events += sim_h2_events[e].dir == RS_DIR_RESP;
	CHECK(resp_events > 1);
	tr_free(&c);
}

/* What cannot be seen is said: blind payload is fine, blind headers lose the framing. */
static void test_blind_and_dropped(void)
{
	const struct tr_stream_script s[] = {
		{ "GET", "/file", NULL, 0, NULL, NULL, 200, 50000, NULL, NULL, false, false },
	};
	struct tr_conv c = { .script = s, .n_script = 1 };
	tr_run(&c);
	struct want_frame want[64];
	int n = reference_frames(c.bytes[1], c.len[1], 1, want, 64);

	/* the response's DATA payloads sent by sendfile: nothing lost */
	sim_reset();
	h2_begin(&sim_work, false);
	const uint8_t *p = c.bytes[1];
	for (int i = 0; i < n; i++) {
		size_t hdr = (size_t)(want[i].payload - p) - RS_H2_FRAME_HEADER;
		/* any frames before this one, then its header */
		size_t start = i ? (size_t)(want[i - 1].payload - p) + want[i - 1].length : 0;
		sim_io(RS_DIR_RESP, p + start, hdr + RS_H2_FRAME_HEADER - start);
		if (want[i].type == RS_H2_DATA)
			sim_blind(RS_DIR_RESP, want[i].length);
		else
			sim_io(RS_DIR_RESP, want[i].payload, want[i].length);
	}
	struct got g;
	collect(&g, RS_DIR_RESP, want, n);
	CHECK_EQ(g.frames, n);
	CHECK(!g.mismatch && !g.gaps && !g.lost);

	/* a frame header that cannot be read: framing lost, said once, nothing after */
	sim_reset();
	h2_begin(&sim_work, false);
	sim_blind(RS_DIR_RESP, 20);
	sim_io(RS_DIR_RESP, p, c.len[1]);
	collect(&g, RS_DIR_RESP, want, n);
	CHECK_EQ(g.lost, 1);
	CHECK_EQ(g.frames, 0);
	CHECK_EQ(sim_stats[RS_STAT_PARSE_ERROR + RS_R_UNSEEN_BYTES], 1);

	/* the ring buffer refuses an event: the next one says a loss came before it */
	sim_reset();
	h2_begin(&sim_work, false);
	sim_h2_full = true;
	sim_io(RS_DIR_RESP, p, want[1].payload - p);
	CHECK_EQ(sim_stats[RS_STAT_LOST_EVENTS], 1);
	sim_h2_full = false;
	sim_io(RS_DIR_RESP, want[1].payload, c.len[1] - (want[1].payload - p));
	CHECK_EQ(sim_n_h2_events, 1);
	CHECK(sim_h2_events[0].flags & RS_H2_EVF_DROPPED);
	tr_free(&c);
}

/* A header block over RS_H2_FRAG_MAX in one frame is not forwarded: a gap says so. */
static void test_oversized_block(void)
{
	uint8_t frame[RS_H2_FRAME_HEADER + 20000] = { 0 };
	uint32_t len = 20000;
	frame[0] = len >> 16;
	frame[1] = len >> 8;
	frame[2] = len;
	frame[3] = RS_H2_HEADERS;
	frame[4] = RS_H2_END_HEADERS;
	frame[8] = 1;
	sim_reset();
	h2_begin(&sim_work, true);
	sim_io(RS_DIR_REQ, frame, sizeof(frame));
	CHECK_EQ(sim_n_h2_events, 1);
	CHECK(sim_h2_events[0].flags & RS_H2_EVF_LATE);
	CHECK_EQ(sim_h2_events[0].used, sizeof(struct rs_h2_frame) + sizeof(struct rs_h2_frag));
	CHECK_EQ(sim_h2_events[0].data[sizeof(struct rs_h2_frame)], RS_H2_REC_GAP);
	CHECK_EQ(sim_work.conn.h2req.state, RS_H2_HEADER);
}

int main(void)
{
	RUN(test_grpc);
	RUN(test_padded_and_small_writes);
	RUN(test_continuation);
	RUN(test_resets);
	RUN(test_many_streams);
	RUN(test_blind_and_dropped);
	RUN(test_oversized_block);
	return unit_report("test_h2_walker");
}
