// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP/2 from the wire to finished streams: real conversations between libnghttp2's
 * client and server (tests/unit/h2_traffic.h) through the kernel's frame walker
 * (bpf/h2.bpf.h, run as C) and the daemon's connection tracker (user/h2.c). Every
 * stream the script made comes out once, with its method, path, status, gRPC status,
 * body sizes and how it ended; a connection joined late gives what it can and says
 * what it cannot; hostile header blocks are counted and leave other connections exact.
 */
#include "h1_sim.h"
#include "h2.h"
#include "h2_traffic.h"
#include "unit.h"

#define MAX_RESULTS 512

static struct h2_stream_result results[MAX_RESULTS];
static int n_results;

static void on_stream(void *ctx, const struct h2_stream_result *r)
{
	(void)ctx;
	if (n_results < MAX_RESULTS)
		results[n_results] = *r;
	n_results++;
}

static const struct h2_stream_result *result_of(uint32_t stream_id)
{
	for (int i = 0; i < n_results && i < MAX_RESULTS; i++)
		if (results[i].stream_id == stream_id)
			return &results[i];
	return NULL;
}

/* The walker's events so far, handed to the tracker, and forgotten. */
static void deliver(struct h2_conns *cs)
{
	for (size_t e = 0; e < sim_n_h2_events; e++)
		h2_conns_event(cs, &sim_h2_events[e], sizeof(sim_h2_events[e]));
	sim_n_h2_events = 0;
}

/* The connection's close, by: who closed it first (enum rs_ended_by). */
static void close_conn(struct h2_conns *cs, uint8_t by)
{
	struct rs_event_h2 ev = { .type = RS_EV_H2, .sk = SIM_SK, .ts = ++sim_clock,
				  .flags = RS_H2_EVF_CLOSE, .ended_by = by };
	h2_conns_event(cs, &ev, sizeof(ev));
}

/* The calls of a conversation from call `from` on, as the kernel sees them. */
static void play(struct h2_conns *cs, const struct tr_conv *c, int from)
{
	for (int i = from; i < c->n_calls; i++) {
		const struct tr_call *call = &c->calls[i];
		sim_io(call->dir, c->bytes[call->dir] + call->off, call->len);
		deliver(cs);
	}
}

static void start(struct h2_conns **cs, bool late)
{
	sim_reset();
	h2_begin(&sim_work, late);
	n_results = 0;
	*cs = h2_conns_new(on_stream, NULL);
}

/* Each scripted stream came out once, as scripted. */
static void check_script(const struct tr_conv *c)
{
	for (int i = 0; i < c->n_script; i++) {
		const struct tr_stream_script *t = &c->script[i];
		const struct h2_stream_result *r = result_of(c->stream_ids[i]);
		CHECK(r != NULL);
		if (!r)
			continue;
		CHECK_STR(r->method.s, t->method);
		CHECK(r->path_known && r->path_len == strlen(t->path) && !memcmp(r->path, t->path, r->path_len));
		CHECK_STR(r->authority.s, "svc.test:8080");
		CHECK(r->end_ns >= r->start_ns && r->start_ns > 0);
		if (t->client_reset) {
			CHECK_EQ(r->end, H2_END_RESET);
			CHECK(r->reset_by_client);
			CHECK_EQ(r->reset_code, NGHTTP2_CANCEL);
			CHECK_EQ(r->status, 0);
			continue;
		}
		if (!t->status) {
			CHECK_EQ(r->end, H2_END_RESET);
			CHECK(!r->reset_by_client);
			CHECK_EQ(r->reset_code, NGHTTP2_INTERNAL_ERROR);
			continue;
		}
		CHECK_EQ(r->end, H2_END_STREAM);
		CHECK(r->request_ended);
		CHECK(r->status_known);
		CHECK_EQ(r->status, t->status);
		CHECK_EQ(r->req_body_bytes >= t->req_body, 1); /* padding counts, if any */
		if (!c->pad_to) {
			CHECK_EQ(r->req_body_bytes, t->req_body);
			CHECK_EQ(r->resp_body_bytes, t->resp_body);
		}
		CHECK_EQ(r->grpc_status, t->grpc_status ? atoi(t->grpc_status) : H2_GRPC_NONE);
		if (t->content_type)
			CHECK_STR(r->content_type.s, t->content_type);
	}
	int finished = 0;
	for (int i = 0; i < c->n_script; i++)
		finished += result_of(c->stream_ids[i]) != NULL;
	CHECK_EQ(n_results, finished);
}

static const struct tr_stream_script calls[] = {
	{ "POST", "/shop.Cart/Add", "application/grpc", 40, NULL, NULL, 200, 25, "0", NULL, false, false },
	{ "POST", "/shop.Cart/Add", "application/grpc", 5, NULL, NULL, 200, 0, "5", "no such cart", true, false },
	{ "POST", "/shop.Cart/List", "application/grpc", 20, NULL, NULL, 200, 70000, "0", NULL, false, false },
	{ "POST", "/shop.Cart/Checkout", "application/grpc", 100000, NULL, NULL, 200, 10, "4",
	  "deadline exceeded", false, false },
	{ "GET", "/healthz", NULL, 0, NULL, NULL, 204, 0, NULL, NULL, false, false },
	{ "GET", "/missing", NULL, 0, NULL, NULL, 404, 9, NULL, NULL, false, false },
	{ "GET", "/boom", NULL, 0, NULL, NULL, 0, 0, NULL, NULL, false, false },
	{ "PUT", "/upload", "application/octet-stream", 30000, NULL, NULL, 200, 0, NULL, NULL, false, true },
};

static void test_conversation(void)
{
	const struct { size_t pad_to, max_write; } shapes[] = { { 0, 0 }, { 32, 0 }, { 0, 5 }, { 48, 1000 } };
	for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		struct tr_conv c = { .script = calls, .n_script = 8, .pad_to = shapes[k].pad_to,
				     .max_write = shapes[k].max_write, .goaway = true };
		struct h2_conns *cs;
		tr_run(&c);
		start(&cs, false);
		play(cs, &c, 0);
		check_script(&c);
		CHECK_EQ(n_results, 8);
		close_conn(cs, RS_BY_PEER);
		CHECK_EQ(n_results, 8);
		CHECK_EQ(h2_conns_open(cs), 0);
		const struct h2_counts *k2 = h2_conns_counts(cs);
		CHECK_EQ(k2->hpack_errors + k2->blocks_lost + k2->frame_errors + k2->framing_lost +
				 k2->streams_dropped,
			 0);
		h2_conns_free(cs);
		tr_free(&c);
	}
}

/* 100 concurrent streams on one connection, and CONTINUATION frames. */
static void test_many_and_continuation(void)
{
	static struct tr_stream_script s[101];
	static char paths[100][32], big[50000];
	for (int i = 0; i < 100; i++) {
		snprintf(paths[i], sizeof(paths[i]), "/item/%d", i);
		s[i] = (struct tr_stream_script){ "GET", paths[i], NULL, 0, NULL, NULL, 200 + (i % 3),
						  i, NULL, NULL, false, false };
	}
	memset(big, 'q', sizeof(big) - 1);
	s[100] = (struct tr_stream_script){ "GET", "/big", NULL, 0, "x-big", big, 200, 1, NULL, NULL,
					    false, false };
	struct tr_conv c = { .script = s, .n_script = 101 };
	struct h2_conns *cs;
	tr_run(&c);
	start(&cs, false);
	play(cs, &c, 0);
	check_script(&c);
	CHECK_EQ(n_results, 101);
	h2_conns_free(cs);
	tr_free(&c);
}

/*
 * Joined late: redscope starts between two batches of calls on one connection. The
 * streams of the second batch all come out, with their statuses; a path the encoder
 * put in its table before the join is unknown, not guessed.
 */
static void test_late_join(void)
{
	static const struct tr_stream_script s[] = {
		{ "POST", "/shop.Cart/Add", "application/grpc", 4, "x-user", "alice", 200, 4, "0", NULL, false, false },
	};
	struct tr_conv c = { .script = s, .n_script = 1 };
	tr_run(&c);
	/* the same request again on the same connection, after the join */
	int first_calls = c.n_calls;
	nghttp2_nv nv[] = {
		{ (uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0 },
		{ (uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0 },
		{ (uint8_t *)":path", (uint8_t *)"/shop.Cart/Add", 5, 14, 0 },
		{ (uint8_t *)":authority", (uint8_t *)"svc.test:8080", 10, 13, 0 },
		{ (uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, 0 },
		{ (uint8_t *)"x-user", (uint8_t *)"alice", 6, 5, 0 },
	};
	static struct tr_stream_script again[2];
	again[0] = s[0];
	again[1] = s[0];
	c.script = again;
	c.n_script = 2;
	c.stream_ids[1] = nghttp2_submit_request(c.client, NULL, nv, 6, NULL, NULL);
	c.stream_ids[0] = -1;
	tr_pump(&c);

	struct h2_conns *cs;
	start(&cs, true);
	sim_work.conn.h2req.state = RS_H2_HEADER;
	play(cs, &c, first_calls);
	CHECK_EQ(n_results, 1);
	const struct h2_stream_result *r = result_of(c.stream_ids[1]);
	CHECK(r != NULL);
	if (r) {
		CHECK_STR(r->method.s, "POST"); /* the static table */
		CHECK(r->method.known);
		/* nghttp2 never indexes :path: a literal, known even now */
		CHECK(r->path_known);
		CHECK(!r->authority.known); /* indexed before the join */
		CHECK(r->status_known);
		CHECK_EQ(r->status, 200);
		/* grpc-status and content-type were in the tables before the join: unknown */
		CHECK_EQ(r->grpc_status, H2_GRPC_UNKNOWN);
		CHECK(!r->content_type.known);
		CHECK_EQ(r->end, H2_END_STREAM);
	}
	CHECK_EQ(h2_conns_counts(cs)->late_conns, 1);
	h2_conns_free(cs);
	tr_free(&c);
}

/*
 * A connection closed with streams open: they end as closed, once, and say whether
 * the client went away (by: who closed it).
 */
static void close_open_streams(uint8_t by, bool by_client)
{
	static const struct tr_stream_script s[] = {
		{ "GET", "/slow", NULL, 0, NULL, NULL, 200, 10, NULL, NULL, false, false },
	};
	struct tr_conv c = { .script = s, .n_script = 1 };
	tr_run(&c);
	struct h2_conns *cs;
	start(&cs, false);
	/* only what the client sent: the request is open when the connection closes */
	for (int i = 0; i < c.n_calls; i++) {
		if (c.calls[i].dir != RS_DIR_REQ)
			continue;
		sim_io(RS_DIR_REQ, c.bytes[0] + c.calls[i].off, c.calls[i].len);
	}
	deliver(cs);
	CHECK_EQ(n_results, 0);
	/* the process's saturation gauges: one stream in flight, busy since it opened */
	int64_t active;
	uint64_t busy, opened = sim_clock;
	h2_conns_process(cs, SIM_TGID, opened + 100, &active, &busy);
	CHECK_EQ(active, 1);
	CHECK(busy >= 100 && busy < 100 + 2 * (uint64_t)c.n_calls);
	close_conn(cs, by);
	CHECK_EQ(n_results, 1);
	CHECK_EQ(results[0].end, H2_END_CLOSED);
	CHECK_EQ(results[0].closed_by_client, by_client);
	CHECK_EQ(results[0].status, 0);
	h2_conns_process(cs, SIM_TGID, sim_clock + 1000, &active, &busy);
	CHECK_EQ(active, 0);
	CHECK_EQ(busy, results[0].end_ns - results[0].start_ns);
	CHECK_EQ(h2_conns_process_exit(cs, SIM_TGID, sim_clock + 1000), busy);
	h2_conns_process(cs, SIM_TGID, sim_clock + 1000, &active, &busy);
	CHECK_EQ(busy, 0);
	close_conn(cs, by); /* a second close: nothing */
	CHECK_EQ(n_results, 1);
	h2_conns_free(cs);
	tr_free(&c);
}

static void test_close_open_streams(void)
{
	close_open_streams(RS_BY_PEER, true);
	close_open_streams(RS_BY_RESET, true);
	close_open_streams(RS_BY_SELF, false);
	close_open_streams(RS_BY_UNKNOWN, false);
}

/* A frame of the request direction, built by hand. */
static size_t frame(uint8_t *out, uint8_t type, uint8_t flags, uint32_t stream, const uint8_t *p,
		    uint32_t len)
{
	out[0] = len >> 16;
	out[1] = len >> 8;
	out[2] = len;
	out[3] = type;
	out[4] = flags;
	out[5] = stream >> 24;
	out[6] = stream >> 16;
	out[7] = stream >> 8;
	out[8] = stream;
	memcpy(out + 9, p, len);
	return 9 + len;
}

static void feed_req(struct h2_conns *cs, const uint8_t *p, size_t n)
{
	sim_io(RS_DIR_REQ, p, n);
	deliver(cs);
}

/*
 * Hostile header blocks: a CONTINUATION flood past the block bound, an HPACK bomb, a
 * table size update out of range, a CONTINUATION out of place. Each is counted, the
 * streams still end once, and a second connection beside them stays exact.
 */
static void test_hostile_blocks(void)
{
	struct h2_conns *cs;
	static uint8_t buf[300000];
	size_t n = 0;
	start(&cs, true);
	sim_work.conn.h2req.state = RS_H2_HEADER;

	/* stream 1: HEADERS without END_HEADERS, then 20 CONTINUATIONs of 4000 bytes */
	static uint8_t junk[4000];
	memset(junk, 0x40, sizeof(junk)); /* literal with indexing, new name: never ends well */
	const uint8_t get[] = { 0x82, 0x84, 0x86 };
	n = frame(buf, RS_H2_HEADERS, RS_H2_END_STREAM, 1, get, 3);
	for (int i = 0; i < 20; i++)
		n += frame(buf + n, RS_H2_CONTINUATION, i == 19 ? RS_H2_END_HEADERS : 0, 1, junk, 4000);
	feed_req(cs, buf, n);
	CHECK_EQ(h2_conns_counts(cs)->blocks_lost, 1);

	/* stream 3: a table size update above the limit */
	const uint8_t update[] = { 0x3f, 0xe1, 0xff, 0x07, 0x82 };
	n = frame(buf, RS_H2_HEADERS, RS_H2_END_STREAM | RS_H2_END_HEADERS, 3, update, sizeof(update));
	/* stream 5: an HPACK bomb, a 4000-byte entry referenced 20 times */
	uint8_t bomb[4100];
	size_t b = 0;
	bomb[b++] = 0x40;
	bomb[b++] = 0x01;
	bomb[b++] = 'x';
	bomb[b++] = 0x7f;
	bomb[b++] = 0xa1;
	bomb[b++] = 0x1e;
	memset(bomb + b, 'v', 4000);
	b += 4000;
	for (int i = 0; i < 20; i++)
		bomb[b++] = 0xbe;
	n += frame(buf + n, RS_H2_HEADERS, RS_H2_END_STREAM | RS_H2_END_HEADERS, 5, bomb, b);
	/* a CONTINUATION on no block */
	n += frame(buf + n, RS_H2_CONTINUATION, RS_H2_END_HEADERS, 7, get, 3);
	feed_req(cs, buf, n);
	CHECK_EQ(h2_conns_counts(cs)->hpack_errors, 2);
	CHECK_EQ(h2_conns_counts(cs)->frame_errors, 1);

	/* the server answers streams 1, 3 and 5: each ends once, with its status */
	const uint8_t ok[] = { 0x88 };
	n = 0;
	for (uint32_t id = 1; id <= 5; id += 2)
		n += frame(buf + n, RS_H2_HEADERS, RS_H2_END_STREAM | RS_H2_END_HEADERS, id, ok, 1);
	sim_io(RS_DIR_RESP, buf, n);
	deliver(cs);
	CHECK_EQ(n_results, 3);
	for (int i = 0; i < 3 && i < n_results; i++) {
		CHECK_EQ(results[i].status, 200);
		CHECK(!results[i].path_known); /* their blocks could not be decoded */
	}

	/* another connection, beside it, exact */
	static const struct tr_stream_script s[] = {
		{ "GET", "/fine", NULL, 0, NULL, NULL, 200, 3, NULL, NULL, false, false },
	};
	struct tr_conv c = { .script = s, .n_script = 1 };
	tr_run(&c);
	struct rs_work saved = sim_work;
	memset(&sim_work, 0, sizeof(sim_work));
	sim_work.sk = SIM_SK + 64;
	sim_work.tgid = SIM_TGID;
	h2_begin(&sim_work, false);
	n_results = 0;
	play(cs, &c, 0);
	CHECK_EQ(n_results, 1);
	CHECK_EQ(results[0].sk, SIM_SK + 64);
	CHECK_EQ(results[0].status, 200);
	CHECK(results[0].path_known && !memcmp(results[0].path, "/fine", 5));
	CHECK_EQ(h2_conns_open(cs), 2);
	sim_work = saved;
	h2_conns_free(cs);
	tr_free(&c);
}

/* A lost event: what was open is dropped and counted, what follows is exact again. */
static void test_dropped_event(void)
{
	static const struct tr_stream_script s[] = {
		{ "GET", "/one", NULL, 0, NULL, NULL, 200, 3, NULL, NULL, false, false },
	};
	struct tr_conv c = { .script = s, .n_script = 1 };
	tr_run(&c);
	struct h2_conns *cs;
	start(&cs, false);
	/* the request direction's events arrive; the first response event is lost */
	bool lost_one = false;
	for (int i = 0; i < c.n_calls; i++) {
		const struct tr_call *call = &c.calls[i];
		sim_work.now = ++sim_clock;
		sim_h2_full = call->dir == RS_DIR_RESP && !lost_one;
		sim_io(call->dir, c.bytes[call->dir] + call->off, call->len);
		if (sim_h2_full)
			lost_one = true;
		sim_h2_full = false;
		deliver(cs);
	}
	CHECK(lost_one);
	/* the response's frames were in the lost event or after it: nothing guessed */
	CHECK_EQ(n_results + (int)h2_conns_counts(cs)->streams_dropped, 1);
	h2_conns_free(cs);
	tr_free(&c);
}

/*
 * h2c by Upgrade: an HTTP/1.1 request with Upgrade: h2c, its 101, then HTTP/2 from
 * both sides (libnghttp2's sessions upgraded as RFC 7540 3.2 says: the server answers
 * the request on stream 1). The request is counted once, as stream 1 with HTTP/2's
 * answer, from its HTTP/1.1 start; no HTTP/1.1 record; the streams after it as
 * scripted; the connection is no tunnel.
 */
static void test_h2c_upgrade(void)
{
	static const struct tr_stream_script s[] = {
		{ "GET", "/up", NULL, 0, NULL, NULL, 200, 7, NULL, NULL, false, false },
		{ "GET", "/after-upgrade", NULL, 0, NULL, NULL, 200, 5, NULL, NULL, false, false },
		{ "POST", "/form", "application/x-www-form-urlencoded", 9, NULL, NULL, 201, 0, NULL, NULL,
		  false, false },
	};
	static const char upgrade[] = "GET /up?x=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
				      "Upgrade: h2c\r\nHTTP2-Settings: AAQBAAAA\r\n\r\n";
	static const char switching[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
					"Upgrade: h2c\r\n\r\n";
	struct tr_conv c = { .script = s, .n_script = 3, .upgrade = true };
	struct h2_conns *cs;

	tr_run(&c);
	CHECK_EQ(c.stream_ids[0], 1);
	sim_reset();
	n_results = 0;
	cs = h2_conns_new(on_stream, NULL);
	sim_io(RS_DIR_REQ, upgrade, sizeof(upgrade) - 1);
	__u64 asked = sim_clock;
	sim_io(RS_DIR_RESP, switching, sizeof(switching) - 1);
	CHECK_EQ(sim_n_events, 0);
	CHECK(!(sim_work.conn.flags & RS_CONN_H2));
	play(cs, &c, 0);
	CHECK(sim_work.conn.flags & RS_CONN_H2);
	CHECK_EQ(sim_n_events, 0); /* no HTTP/1.1 record: the 101 was not the answer */
	CHECK_EQ(sim_stat(RS_STAT_CONNS_UPGRADED), 0);
	CHECK_EQ(sim_stat(RS_STAT_CONNS_H2), 1);
	CHECK_EQ(sim_target.active, 0);
	const struct h2_stream_result *r = result_of(1);
	CHECK(r != NULL);
	if (r) {
		CHECK_STR(r->method.s, "GET");
		CHECK(r->path_known && r->path_len == 3 && !memcmp(r->path, "/up", 3));
		CHECK_EQ(r->status, 200);
		CHECK_EQ(r->resp_body_bytes, 7);
		CHECK_EQ(r->start_ns, asked);
		CHECK(r->end_ns > asked);
		CHECK_EQ(r->end, H2_END_STREAM);
	}
	for (int i = 1; i < 3; i++) {
		r = result_of(c.stream_ids[i]);
		CHECK(r != NULL && r->status == (unsigned)s[i].status && r->path_len == strlen(s[i].path));
	}
	CHECK_EQ(n_results, 3);
	CHECK_EQ(h2_conns_counts(cs)->frame_errors, 0);
	CHECK_EQ(h2_conns_counts(cs)->streams_unseen, 0);
	h2_conns_free(cs);
	tr_free(&c);
}

int main(void)
{
	RUN(test_conversation);
	RUN(test_many_and_continuation);
	RUN(test_late_join);
	RUN(test_close_open_streams);
	RUN(test_hostile_blocks);
	RUN(test_dropped_event);
	RUN(test_h2c_upgrade);
	return unit_report("test_h2_conns");
}
