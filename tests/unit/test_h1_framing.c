// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The BPF framing parser, run as C: what requests and responses it finds in the
 * bytes a server reads and writes, however the bytes are split.
 */
#include "h1_sim.h"
#include "unit.h"

#define GET_OK "GET /ok HTTP/1.1\r\nHost: t\r\nUser-Agent: test/1.0\r\n\r\n"
#define RESP_OK                                                                       \
	"HTTP/1.1 200 OK\r\nServer: gunicorn\r\nDate: Tue, 24 Nov 2026 16:30:00 GMT\r\n" \
	"Connection: keep-alive\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"

static void io_str(__u32 dir, const char *s)
{
	sim_io(dir, s, strlen(s));
}

static const struct rs_event_http *event(size_t i)
{
	CHECK(i < sim_n_events);
	return i < sim_n_events ? &sim_events[i] : &sim_events[0];
}

static void check_head(const struct rs_event_http *e, const char *line)
{
	char got[RS_HEAD_MAX + 1];
	size_t n = e->head_len < RS_HEAD_MAX ? e->head_len : RS_HEAD_MAX;

	memcpy(got, e->head, n);
	got[n] = '\0';
	CHECK_STR(got, line);
}

static void a_request_and_its_response_make_one_record(void)
{
	const struct rs_event_http *e;

	sim_reset();
	io_str(RS_DIR_REQ, GET_OK);
	CHECK_EQ(sim_n_events, 0);
	CHECK_EQ(sim_target.active, 1);
	io_str(RS_DIR_RESP, RESP_OK);
	CHECK_EQ(sim_n_events, 1);
	CHECK_EQ(sim_target.active, 0);
	e = event(0);
	CHECK_EQ(e->type, RS_EV_HTTP);
	CHECK_EQ(e->tgid, SIM_TGID);
	CHECK_EQ(e->status, 200);
	CHECK_EQ(e->resp_body_bytes, 3);
	CHECK_EQ(e->req_body_bytes, 0);
	CHECK_EQ(e->end_reason, RS_END_LENGTH);
	CHECK_EQ(e->start_ns, 1001);
	CHECK_EQ(e->end_ns, 1002);
	CHECK_EQ(e->accept_ns, 1000);
	check_head(e, "GET /ok HTTP/1.1");
	/* nothing past the request line leaves the application */
	CHECK(!memmem(e->head, RS_HEAD_MAX, "User-Agent", 10));
	sim_close();
	CHECK_EQ(sim_n_events, 1);
	CHECK(!sim_out_of_step());
}

static void keepalive_requests_are_counted_one_by_one(void)
{
	sim_reset();
	for (int i = 0; i < 100; i++) {
		io_str(RS_DIR_REQ, GET_OK);
		io_str(RS_DIR_RESP, RESP_OK);
	}
	CHECK_EQ(sim_n_events, 100);
	CHECK(!sim_out_of_step());
}

static void request_bodies_by_length_and_chunks(void)
{
	sim_reset();
	io_str(RS_DIR_REQ, "POST /f HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world");
	io_str(RS_DIR_RESP, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
	io_str(RS_DIR_REQ, "PUT /g HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
			   "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: y\r\n\r\n");
	io_str(RS_DIR_RESP, "HTTP/1.1 204 No Content\r\n\r\n");
	CHECK_EQ(sim_n_events, 2);
	CHECK_EQ(event(0)->req_body_bytes, 11);
	CHECK_EQ(event(0)->status, 201);
	CHECK_EQ(event(1)->req_body_bytes, 11);
	CHECK_EQ(event(1)->status, 204);
	CHECK(!sim_out_of_step());
}

static void chunked_responses_end_at_the_last_chunk(void)
{
	sim_reset();
	io_str(RS_DIR_REQ, GET_OK);
	io_str(RS_DIR_RESP, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
	io_str(RS_DIR_RESP, "a\r\n0123456789\r\n");
	CHECK_EQ(sim_n_events, 0);
	io_str(RS_DIR_RESP, "10\r\n0123456789abcdef\r\n");
	io_str(RS_DIR_RESP, "0\r\n\r\n");
	CHECK_EQ(sim_n_events, 1);
	CHECK_EQ(event(0)->resp_body_bytes, 26);
	CHECK_EQ(event(0)->end_reason, RS_END_LENGTH);
}

static void chunked_only_counts_as_the_last_coding(void)
{
	sim_reset();
	io_str(RS_DIR_REQ, GET_OK);
	/* "chunked, gzip": not chunked framing, so the body runs to the close */
	io_str(RS_DIR_RESP, "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nabc");
	CHECK_EQ(sim_n_events, 0);
	sim_close();
	CHECK_EQ(sim_n_events, 1);
	CHECK_EQ(event(0)->end_reason, RS_END_CLOSE);
	CHECK_EQ(event(0)->resp_body_bytes, 3);
}

static void bodiless_responses_end_with_their_head(void)
{
	sim_reset();
	io_str(RS_DIR_REQ, "HEAD /x HTTP/1.1\r\n\r\n");
	io_str(RS_DIR_RESP, "HTTP/1.1 200 OK\r\nContent-Length: 12345\r\n\r\n");
	io_str(RS_DIR_REQ, "GET /y HTTP/1.1\r\n\r\n");
	io_str(RS_DIR_RESP, "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n");
	io_str(RS_DIR_REQ, "DELETE /z HTTP/1.1\r\n\r\n");
	io_str(RS_DIR_RESP, "HTTP/1.1 204 No Content\r\n\r\n");
	CHECK_EQ(sim_n_events, 3);
	CHECK_EQ(event(0)->status, 200);
	CHECK_EQ(event(0)->resp_body_bytes, 0);
	CHECK_EQ(event(1)->status, 304);
	CHECK_EQ(event(2)->status, 204);
	check_head(event(2), "DELETE /z HTTP/1.1");
	CHECK(!sim_out_of_step());
}

static void interim_responses_are_not_the_answer(void)
{
	sim_reset();
	io_str(RS_DIR_REQ, "POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
	io_str(RS_DIR_RESP, "HTTP/1.1 100 Continue\r\n\r\n");
	CHECK_EQ(sim_n_events, 0);
	io_str(RS_DIR_REQ, "data");
	io_str(RS_DIR_RESP, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
			    "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
	CHECK_EQ(sim_n_events, 1);
	CHECK_EQ(event(0)->status, 201);
	CHECK_EQ(event(0)->req_body_bytes, 4);
}

static void upgraded_connections_are_left_alone(void)
{
	sim_reset();
	io_str(RS_DIR_REQ, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
	io_str(RS_DIR_RESP, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
	__u64 switched = sim_clock;
	/* what the next bytes are decides: HTTP/2 would answer the request again */
	CHECK_EQ(sim_n_events, 0);
	io_str(RS_DIR_RESP, "\x81\x05hello");
	io_str(RS_DIR_REQ, "\x81\x85garbage frames");
	CHECK_EQ(sim_n_events, 1);
	CHECK_EQ(event(0)->status, 101);
	/* it ended with the 101, not with the tunnel's first bytes */
	CHECK_EQ(event(0)->end_ns, switched);
	CHECK_EQ(sim_stat(RS_STAT_CONNS_UPGRADED), 1);
	CHECK_EQ(sim_parse_errors(RS_R_NOT_HTTP), 0);
	CHECK(sim_ignored());
	sim_close();
	CHECK_EQ(sim_n_events, 1);

	/* closed right after the 101: the 101 was the answer, not a request unanswered */
	sim_reset();
	io_str(RS_DIR_REQ, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
	io_str(RS_DIR_RESP, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
	sim_close();
	CHECK_EQ(sim_n_events, 1);
	CHECK_EQ(event(0)->status, 101);
	CHECK_EQ(event(0)->end_reason, RS_END_LENGTH);
}

static void a_2xx_to_connect_opens_a_tunnel_and_a_refusal_does_not(void)
{
	static const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";

	sim_reset();
	io_str(RS_DIR_REQ, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
	/* the client may speak for the tunnel before the answer is read */
	sim_io(RS_DIR_REQ, hello, sizeof(hello) - 1);
	io_str(RS_DIR_RESP, "HTTP/1.1 200 Connection established\r\nContent-Length: 99\r\n\r\n");
	sim_io(RS_DIR_REQ, hello, sizeof(hello) - 1);
	io_str(RS_DIR_RESP, "HTTP/1.1 200 not really, tunnel bytes\r\n\r\n");
	io_str(RS_DIR_REQ, "GET /inner HTTP/1.1\r\n\r\n");
	CHECK_EQ(sim_n_events, 1);
	check_head(event(0), "CONNECT example.com:443 HTTP/1.1");
	CHECK_EQ(event(0)->status, 200);
	CHECK_EQ(event(0)->resp_body_bytes, 0);
	CHECK_EQ(sim_stat(RS_STAT_CONNS_TUNNELED), 1);
	CHECK_EQ(sim_parse_errors(RS_R_NOT_HTTP), 0);
	CHECK(sim_ignored());
	sim_close();
	CHECK_EQ(sim_n_events, 1);
	CHECK(sim_accounted());

	sim_reset();
	io_str(RS_DIR_REQ, "CONNECT example.com:443 HTTP/1.1\r\n\r\n");
	io_str(RS_DIR_RESP, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n");
	io_str(RS_DIR_REQ, GET_OK);
	io_str(RS_DIR_RESP, RESP_OK);
	CHECK_EQ(sim_n_events, 2);
	CHECK_EQ(event(0)->status, 407);
	check_head(event(1), "GET /ok HTTP/1.1");
	CHECK_EQ(sim_stat(RS_STAT_CONNS_TUNNELED), 0);
}

static void closes_end_what_is_open(void)
{
	/* close-delimited body */
	sim_reset();
	io_str(RS_DIR_REQ, "GET /old HTTP/1.0\r\n\r\n");
	io_str(RS_DIR_RESP, "HTTP/1.0 200 OK\r\n\r\nbody until close");
	CHECK_EQ(sim_n_events, 0);
	sim_close();
	CHECK_EQ(sim_n_events, 1);
	CHECK_EQ(event(0)->end_reason, RS_END_CLOSE);
	CHECK_EQ(event(0)->resp_body_bytes, 16);

	/* client went away mid-body */
	sim_reset();
	io_str(RS_DIR_REQ, GET_OK);
	io_str(RS_DIR_RESP, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial");
	sim_close();
	CHECK_EQ(sim_n_events, 1);
	CHECK_EQ(event(0)->end_reason, RS_END_TRUNCATED);
	CHECK_EQ(event(0)->status, 200);

	/* no response at all */
	sim_reset();
	io_str(RS_DIR_REQ, GET_OK);
	sim_close();
	CHECK_EQ(sim_n_events, 1);
	CHECK_EQ(event(0)->end_reason, RS_END_NO_RESPONSE);
	CHECK_EQ(event(0)->status, 0);
	CHECK_EQ(sim_target.active, 0);

	/* a status line cut short is no response */
	sim_reset();
	io_str(RS_DIR_REQ, GET_OK);
	io_str(RS_DIR_RESP, "HTTP/1.1 2");
	sim_close();
	CHECK_EQ(sim_n_events, 1);
	CHECK_EQ(event(0)->end_reason, RS_END_NO_RESPONSE);
}

static void pipelined_requests_are_answered_in_order(void)
{
	sim_reset();
	io_str(RS_DIR_REQ, "GET /a HTTP/1.1\r\n\r\nHEAD /b HTTP/1.1\r\n\r\n"
			   "POST /c HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz");
	CHECK_EQ(sim_target.active, 3);
	io_str(RS_DIR_RESP, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
			    "HTTP/1.1 404 Not Found\r\nContent-Length: 50\r\n\r\n"
			    "HTTP/1.1 500 Oops\r\nContent-Length: 2\r\n\r\nno");
	CHECK_EQ(sim_n_events, 3);
	check_head(event(0), "GET /a HTTP/1.1");
	CHECK_EQ(event(0)->status, 200);
	check_head(event(1), "HEAD /b HTTP/1.1");
	CHECK_EQ(event(1)->status, 404);
	CHECK_EQ(event(1)->resp_body_bytes, 0);
	check_head(event(2), "POST /c HTTP/1.1");
	CHECK_EQ(event(2)->status, 500);
	CHECK_EQ(event(2)->req_body_bytes, 3);
	CHECK_EQ(sim_target.active, 0);
	CHECK(!sim_out_of_step());
}

/* The process's busy time so far at now, read as the daemon and the exit record read it. */
static __u64 busy_at(__u64 now)
{
	return rs_busy_ns(&sim_target, targ_atomic_fetch, sim_busy_open ? sim_busy_since : 0, now);
}

/*
 * Busy time is the time with a request in flight, overlapping requests once, kept
 * with fetching atomics (the targets map alone) and without (the busy_open map).
 */
static void busy_time_is_the_time_requests_were_in_flight(void)
{
	for (int atomics = 0; atomics < 2; atomics++) {
		targ_atomic_fetch = atomics;
		sim_reset();
		io_str(RS_DIR_REQ, GET_OK);  /* t 1001 */
		CHECK_EQ(busy_at(1001), 0);
		io_str(RS_DIR_RESP, RESP_OK); /* t 1002 */
		CHECK_EQ(busy_at(1002), 1);
		CHECK_EQ(busy_at(5000), 1); /* idle time is not busy */
		/* two in flight from 1003 to 1006: three more, not five */
		io_str(RS_DIR_REQ, "GET /a HTTP/1.1\r\n\r\n");
		io_str(RS_DIR_REQ, "GET /b HTTP/1.1\r\n\r\n");
		CHECK_EQ(sim_target.active, 2);
		CHECK_EQ(busy_at(1004), 2); /* an open interval counts up to now */
		io_str(RS_DIR_RESP, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
		CHECK_EQ(busy_at(1005), 3);
		io_str(RS_DIR_RESP, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
		CHECK_EQ(sim_target.active, 0);
		CHECK_EQ(busy_at(1006), 4);
		CHECK_EQ(busy_at(9000), 4);
		/* unanswered at close: busy until the close */
		io_str(RS_DIR_REQ, GET_OK); /* t 1007 */
		sim_close();		    /* t 1008 */
		CHECK_EQ(sim_target.active, 0);
		CHECK_EQ(busy_at(9000), 5);
		CHECK(!atomics || !sim_busy_open); /* the map is not used with atomics */
	}
	targ_atomic_fetch = false;
}

/*
 * Field lines are told apart by their whole name whatever comes before them, in any
 * case: Content-Type is not Content-Length, X-Transfer-Encoding is not Transfer-Encoding.
 */
static void framing_fields_are_found_among_any_others(void)
{
	sim_reset();
	io_str(RS_DIR_REQ, GET_OK);
	io_str(RS_DIR_RESP, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Transfer-Encoding: chunked\r\n"
			    "Contentious: 12\r\nCONTENT-LENGTH: 4\r\nTransfer-Encodings: chunked\r\n"
			    "Date: Tue, 24 Nov 2026 16:30:00 GMT\r\n\r\nbody");
	CHECK_EQ(sim_n_events, 1);
	CHECK_EQ(event(0)->resp_body_bytes, 4);
	CHECK_EQ(sim_work.conn.resp.state, RS_H1_IDLE);
	io_str(RS_DIR_REQ, GET_OK);
	io_str(RS_DIR_RESP, "HTTP/1.1 200 OK\r\nServer: a\r\nContent-Type: text/plain\r\n"
			    "transfer-encoding: chunked\r\nVary: *\r\n\r\n2\r\nok\r\n0\r\n\r\n");
	CHECK_EQ(sim_n_events, 2);
	CHECK_EQ(event(1)->resp_body_bytes, 2);
	CHECK(sim_accounted());
	CHECK(!sim_out_of_step());
}

/* Chunks of every shape in one write: each body counted, each response ended where it ends. */
static void chunk_lines_of_every_shape(void)
{
	sim_reset();
	io_str(RS_DIR_REQ, "GET /c HTTP/1.1\r\n\r\nGET /d HTTP/1.1\r\n\r\nGET /e HTTP/1.1\r\n\r\n");
	io_str(RS_DIR_RESP, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n"
			    "000000000000000b;name=a-rather-long-extension-value\r\nhello world\r\n0\r\n\r\n"
			    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nA: 1\r\n"
			    "B: 2\r\n\r\nHTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
			    "1\r\nx\r\n0\r\n\r\n");
	CHECK_EQ(sim_n_events, 3);
	CHECK_EQ(event(0)->resp_body_bytes, 21);
	CHECK_EQ(event(1)->resp_body_bytes, 2);
	CHECK_EQ(event(2)->resp_body_bytes, 1);
	CHECK_EQ(event(2)->status, 404);
	/* a size line that is not hex loses framing, counted */
	io_str(RS_DIR_REQ, GET_OK);
	io_str(RS_DIR_RESP, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
	CHECK_EQ(sim_parse_errors(RS_R_BAD_CHUNK), 1);
	CHECK(sim_out_of_step());
}

static void blind_bytes_are_fine_in_bodies_only(void)
{
	sim_reset();
	io_str(RS_DIR_REQ, GET_OK);
	io_str(RS_DIR_RESP, "HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n");
	sim_blind(RS_DIR_RESP, 10485760);
	CHECK_EQ(sim_n_events, 1);
	CHECK_EQ(event(0)->resp_body_bytes, 10485760);
	/* a head that cannot be looked at: its request is in no series, and says why */
	io_str(RS_DIR_REQ, GET_OK);
	sim_blind(RS_DIR_RESP, 100);
	CHECK(sim_out_of_step());
	CHECK_EQ(sim_parse_errors(RS_R_UNSEEN_BYTES), 1);
	CHECK_EQ(sim_unframed(RS_R_UNSEEN_BYTES), 1);
	CHECK_EQ(sim_target.active, 0);
	/* the next request starts a read: in step again */
	io_str(RS_DIR_REQ, GET_OK);
	io_str(RS_DIR_RESP, RESP_OK);
	CHECK_EQ(sim_n_events, 2);
	CHECK(!sim_out_of_step());
	sim_close();
	CHECK(sim_accounted());
}

static void leading_empty_lines_before_a_request_are_ignored(void)
{
	sim_reset();
	io_str(RS_DIR_REQ, "\r\n\r\n" GET_OK);
	io_str(RS_DIR_RESP, RESP_OK);
	CHECK_EQ(sim_n_events, 1);
	check_head(event(0), "GET /ok HTTP/1.1");

	/* more of them than one call of the scanner takes steps (RS_SCAN_STEPS) */
	char buf[4 * RS_SCAN_STEPS + sizeof(GET_OK)];
	size_t n = 0;

	sim_reset();
	for (int i = 0; i < 2 * RS_SCAN_STEPS; i++) {
		buf[n++] = '\r';
		buf[n++] = '\n';
	}
	memcpy(buf + n, GET_OK, sizeof(GET_OK));
	io_str(RS_DIR_REQ, buf);
	io_str(RS_DIR_RESP, RESP_OK);
	CHECK_EQ(sim_n_events, 1);
	check_head(event(0), "GET /ok HTTP/1.1");
	CHECK(!sim_out_of_step());
}

static void what_is_not_http_is_counted_with_a_reason_and_framing_resumes(void)
{
	static const struct {
		const char *req, *resp;
		enum rs_reason reason; /* RS_R__COUNT: fine */
		bool unframed;	       /* the request is in no series: its response was lost */
	} cases[] = {
		{ "*1\r\n$4\r\nPING\r\n", NULL, RS_R_NOT_HTTP, false },
		{ GET_OK, "SSH-2.0-OpenSSH_9.2\r\n", RS_R_BAD_STATUS_LINE, true },
		{ GET_OK, "HTTP/1.1 20x OK\r\n\r\n", RS_R_BAD_STATUS_LINE, true },
		{ GET_OK, "HTTP/1.0 020 OK\r\n\r\n", RS_R_BAD_STATUS_LINE, true },
		{ GET_OK, "HTTP/1.1 600 Six\r\n\r\n", RS_R_BAD_STATUS_LINE, true },
		{ GET_OK, "HTTP/1.1 200\n", RS_R__COUNT, false }, /* fine: no reason phrase */
		{ GET_OK, "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", RS_R_BAD_LENGTH, true },
		{ GET_OK, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nq\r\n",
		  RS_R_BAD_CHUNK, true },
		{ "POST / HTTP/1.1\r\nContent-Length: 12a\r\n\r\n", NULL, RS_R_BAD_LENGTH, false },
		{ "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", NULL, RS_R_BAD_LENGTH, false },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", NULL,
		  RS_R_BAD_CHUNK, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sim_reset();
		io_str(RS_DIR_REQ, cases[i].req);
		if (cases[i].resp)
			io_str(RS_DIR_RESP, cases[i].resp);
		if (cases[i].reason == RS_R__COUNT) {
			CHECK(!sim_out_of_step());
			continue;
		}
		CHECK(sim_out_of_step());
		CHECK_EQ(sim_parse_errors(cases[i].reason), 1);
		CHECK_EQ(sim_unframed(cases[i].reason), cases[i].unframed);
		if (!cases[i].resp && sim_begun) {
			/* a request whose own framing broke still gets its answer counted */
			io_str(RS_DIR_RESP, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
			CHECK_EQ(sim_n_events, 1);
			CHECK_EQ(event(0)->status, 400);
		}
		/* whatever happened, the next request read in a call of its own is counted */
		io_str(RS_DIR_REQ, GET_OK);
		io_str(RS_DIR_RESP, RESP_OK);
		CHECK(!sim_out_of_step());
		CHECK_EQ(event(sim_n_events - 1)->status, 200);
		check_head(event(sim_n_events - 1), "GET /ok HTTP/1.1");
		sim_close();
		CHECK(sim_accounted());
	}

	/*
	 * HTTP/2 with prior knowledge: the HTTP/2 frame walker takes over at the preface
	 * (test_h2_walker follows it further). Here the client's first frame is no
	 * SETTINGS frame: not HTTP/2 either, counted so, and no HTTP/1.x request.
	 */
	sim_reset();
	io_str(RS_DIR_REQ, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04");
	CHECK(sim_work.conn.flags & RS_CONN_H2);
	CHECK_EQ(sim_stat(RS_STAT_CONNS_H2), 1);
	io_str(RS_DIR_REQ, GET_OK);
	CHECK_EQ(sim_parse_errors(RS_R_NOT_HTTP2), 1);
	CHECK_EQ(sim_work.conn.h2req.state, RS_H2_LOST);
	CHECK_EQ(sim_n_events, 0);
	CHECK_EQ(sim_n_h2_events, 1);
	CHECK_EQ(sim_h2_events[0].data[0], RS_H2_REC_LOST);

	/* a preface after a request still unanswered: that request ends as at a close */
	sim_reset();
	io_str(RS_DIR_REQ, GET_OK);
	io_str(RS_DIR_REQ, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
	CHECK(sim_work.conn.flags & RS_CONN_H2);
	CHECK_EQ(sim_n_events, 1);
	CHECK_EQ(event(0)->end_reason, RS_END_NO_RESPONSE);
	CHECK_EQ(sim_target.active, 0);
	sim_close();
	CHECK(sim_accounted());

	/* a response nobody asked for (a 408 on an idle connection): framed, not a series */
	sim_reset();
	io_str(RS_DIR_RESP, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 7\r\n\r\ntimeout");
	CHECK(!sim_out_of_step());
	CHECK_EQ(sim_parse_errors(RS_R_ORPHAN_RESPONSE), 1);
	CHECK_EQ(sim_unframed(RS_R_ORPHAN_RESPONSE), 1);
	io_str(RS_DIR_REQ, GET_OK);
	io_str(RS_DIR_RESP, RESP_OK);
	CHECK_EQ(sim_n_events, 1);
}

static void a_tls_handshake_marks_the_connection_for_its_plaintext(void)
{
	static const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";

	/* the first bytes of a connection open a TLS handshake: not an error, not parsed */
	sim_reset();
	sim_io(RS_DIR_REQ, hello, sizeof(hello) - 1);
	CHECK(!sim_out_of_step());
	CHECK(sim_work.conn.flags & RS_CONN_TLS);
	CHECK_EQ(sim_stat(RS_STAT_CONNS_TLS), 1);
	CHECK_EQ(sim_parse_errors(RS_R_NOT_HTTP), 0);
	/* its plaintext, as SSL_read and SSL_write hand it over, counts as https */
	sim_work.conn.flags |= RS_CONN_PLAINTEXT;
	io_str(RS_DIR_REQ, GET_OK);
	io_str(RS_DIR_RESP, RESP_OK);
	CHECK_EQ(sim_n_events, 1);
	CHECK_EQ(event(0)->tls, 1);
	CHECK_EQ(event(0)->status, 200);
	check_head(event(0), "GET /ok HTTP/1.1");

	/* plain HTTP is not https; a handshake after a request is garbage */
	sim_reset();
	io_str(RS_DIR_REQ, GET_OK);
	io_str(RS_DIR_RESP, RESP_OK);
	CHECK_EQ(event(0)->tls, 0);
	sim_io(RS_DIR_REQ, hello, sizeof(hello) - 1);
	CHECK(sim_out_of_step());
	CHECK_EQ(sim_parse_errors(RS_R_NOT_HTTP), 1);
	CHECK(!(sim_work.conn.flags & RS_CONN_TLS));
}

static void an_endless_head_is_given_up_and_its_answer_still_counts(void)
{
	char line[4096];
	int i;

	sim_reset();
	io_str(RS_DIR_REQ, "GET /big HTTP/1.1\r\n");
	memset(line, 'a', sizeof(line));
	for (i = 0; i < 20 && !sim_out_of_step(); i++)
		sim_io(RS_DIR_REQ, line, sizeof(line)); /* one header line of 64 KiB and more */
	CHECK_EQ(i, RS_HEAD_SCAN_MAX / (int)sizeof(line));
	CHECK_EQ(sim_parse_errors(RS_R_HEAD_TOO_LARGE), 1);
	/* the server answers it (431): counted with its request line */
	io_str(RS_DIR_RESP, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n");
	CHECK_EQ(sim_n_events, 1);
	check_head(event(0), "GET /big HTTP/1.1");
	CHECK_EQ(event(0)->status, 431);
	io_str(RS_DIR_REQ, GET_OK);
	io_str(RS_DIR_RESP, RESP_OK);
	CHECK_EQ(sim_n_events, 2);
	CHECK(!sim_out_of_step());
	sim_close();
	CHECK(sim_accounted());
}

static void a_nine_kilobyte_cookie_is_just_a_head(void)
{
	char req[16384];
	int n = snprintf(req, sizeof(req), "GET /c HTTP/1.1\r\nCookie: s=");

	memset(req + n, 'c', 9216);
	n += 9216;
	n += snprintf(req + n, sizeof(req) - n, "\r\nHost: x\r\n\r\n");
	sim_reset();
	sim_io(RS_DIR_REQ, req, n);
	io_str(RS_DIR_RESP, RESP_OK);
	io_str(RS_DIR_REQ, GET_OK GET_OK);
	io_str(RS_DIR_RESP, RESP_OK RESP_OK);
	CHECK_EQ(sim_n_events, 3);
	check_head(event(0), "GET /c HTTP/1.1");
	CHECK(!sim_out_of_step());
	CHECK_EQ(sim_parse_errors(RS_R_SCAN_LIMIT) + sim_parse_errors(RS_R_HEAD_TOO_LARGE), 0);
}

/* Node.js: the head and every chunk of res.write()s in one tick go out in one writev */
static void a_writev_of_hundreds_of_iovecs(void)
{
	static struct iovec iov[1024];
	static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	static char sizes[300][8];
	__u32 n = 0;
	size_t total = 0, body = 0;

	iov[n++] = (struct iovec){ (void *)head, strlen(head) };
	for (int c = 0; c < 300; c++) {
		snprintf(sizes[c], sizeof(sizes[c]), "%x\r\n", c % 7 + 1);
		iov[n++] = (struct iovec){ sizes[c], strlen(sizes[c]) };
		iov[n++] = (struct iovec){ (void *)"abcdefg", c % 7 + 1 };
		iov[n++] = (struct iovec){ (void *)"\r\n", 2 };
		body += c % 7 + 1;
	}
	iov[n++] = (struct iovec){ (void *)"0\r\n\r\n", 5 };
	for (__u32 i = 0; i < n; i++)
		total += iov[i].iov_len;
	CHECK(n > 900);
	sim_reset();
	io_str(RS_DIR_REQ, GET_OK);
	sim_iov(RS_DIR_RESP, iov, n, total);
	io_str(RS_DIR_REQ, GET_OK);
	io_str(RS_DIR_RESP, RESP_OK);
	CHECK_EQ(sim_n_events, 2);
	CHECK_EQ(event(0)->status, 200);
	CHECK_EQ(event(0)->end_reason, RS_END_LENGTH);
	CHECK_EQ(event(0)->resp_body_bytes, body);
	CHECK(!sim_out_of_step());

	/* the request side in as many iovecs: a byte each */
	sim_reset();
	for (size_t i = 0; i < strlen(GET_OK); i++)
		iov[i] = (struct iovec){ (char *)GET_OK + i, 1 };
	sim_iov(RS_DIR_REQ, iov, strlen(GET_OK), strlen(GET_OK));
	io_str(RS_DIR_RESP, RESP_OK);
	CHECK_EQ(sim_n_events, 1);
	check_head(event(0), "GET /ok HTTP/1.1");
}

/* gunicorn gthread: a chunked upload of 40 chunks of 5 bytes in one read, then more */
static void many_small_chunks_in_one_read(void)
{
	char req[4096];
	int n = snprintf(req, sizeof(req), "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");

	for (int c = 0; c < 40; c++)
		n += snprintf(req + n, sizeof(req) - n, "5\r\nhello\r\n");
	n += snprintf(req + n, sizeof(req) - n, "0\r\n\r\n" GET_OK);
	sim_reset();
	sim_io(RS_DIR_REQ, req, n);
	io_str(RS_DIR_RESP, RESP_OK RESP_OK);
	io_str(RS_DIR_REQ, GET_OK);
	io_str(RS_DIR_RESP, RESP_OK);
	CHECK_EQ(sim_n_events, 3);
	CHECK_EQ(event(0)->req_body_bytes, 200);
	check_head(event(1), "GET /ok HTTP/1.1");
	CHECK(!sim_out_of_step());
}

/* wrk and friends pipeline 16 to 128 deep; 9 small POSTs then a GET to Node */
static void deep_pipelines_in_one_read_and_one_write(void)
{
	static char req[65536], resp[131072];
	int nq, np;

	for (int depth = 1; depth <= 256; depth *= 2) {
		nq = np = 0;
		for (int i = 0; i < depth; i++) {
			if (i % 3 == 0)
				nq += snprintf(req + nq, sizeof(req) - nq,
					       "POST /p%d HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi", i);
			else
				nq += snprintf(req + nq, sizeof(req) - nq, "GET /g%d HTTP/1.1\r\n\r\n", i);
			np += snprintf(resp + np, sizeof(resp) - np, RESP_OK);
		}
		sim_reset();
		sim_io(RS_DIR_REQ, req, nq);
		CHECK_EQ(sim_target.active, depth);
		sim_io(RS_DIR_RESP, resp, np);
		CHECK_EQ(sim_n_events, (size_t)depth);
		for (int i = 0; i < depth && i < (int)sim_n_events; i++) {
			char want[32];

			snprintf(want, sizeof(want), "%s /%c%d HTTP/1.1", i % 3 ? "GET" : "POST",
				 i % 3 ? 'g' : 'p', i);
			check_head(event(i), want);
			CHECK_EQ(event(i)->req_body_bytes, i % 3 ? 0 : 2);
		}
		CHECK(!sim_out_of_step());
		CHECK_EQ(sim_target.active, 0);
	}
}

/* deeper than the queue holds: the rest are counted unframed as their answers come */
static void a_pipeline_deeper_than_the_queue_loses_no_count(void)
{
	static char req[65536], resp[131072];
	const int depth = RS_PIPELINE_MAX + 44;
	int nq = 0, np = 0;

	for (int i = 0; i < depth; i++) {
		nq += snprintf(req + nq, sizeof(req) - nq, "GET /g%d HTTP/1.1\r\n\r\n", i);
		np += snprintf(resp + np, sizeof(resp) - np, RESP_OK);
	}
	sim_reset();
	sim_io(RS_DIR_REQ, req, nq);
	sim_io(RS_DIR_RESP, resp, np);
	CHECK_EQ(sim_n_events, RS_PIPELINE_MAX + 1);
	CHECK_EQ(sim_parse_errors(RS_R_PIPELINE_FULL), 1);
	CHECK_EQ(sim_unframed(RS_R_ORPHAN_RESPONSE), depth - (RS_PIPELINE_MAX + 1));
	check_head(event(RS_PIPELINE_MAX), "GET /g256 HTTP/1.1");
	/* the client waits for the answers before it asks again: in step */
	io_str(RS_DIR_REQ, GET_OK);
	io_str(RS_DIR_RESP, RESP_OK);
	CHECK_EQ(sim_n_events, RS_PIPELINE_MAX + 2);
	CHECK(!sim_out_of_step());
	sim_close();
	CHECK(sim_accounted());
}

/* python -m http.server --cgi: the status line, then each field, then the script's */
static void a_head_written_in_pieces(void)
{
	static const char *const parts[] = {
		"HTTP/1.0 200 Script output follows\r\n", "Server: SimpleHTTP/0.6\r\n",
		"Date: Mon, 30 Nov 2026 12:00:00 GMT\r\n", "Content-Type: text/plain\r\n\r\n",
		"hello from the script\n",
	};

	sim_reset();
	io_str(RS_DIR_REQ, "GET /cgi-bin/hello.py HTTP/1.1\r\n\r\n");
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		io_str(RS_DIR_RESP, parts[i]);
	sim_close();
	CHECK_EQ(sim_n_events, 1);
	CHECK_EQ(event(0)->status, 200);
	CHECK_EQ(event(0)->end_reason, RS_END_CLOSE);
	CHECK_EQ(event(0)->resp_body_bytes, 22);
}

/* more heads in one call than one call may scan: the rest is counted, not lost */
static void too_many_heads_in_one_call_resynchronise(void)
{
	static char req[1 << 18], resp[1 << 17];
	int nq = 0, np = 0, depth = 0;

	/* every request 1 KiB of head: 200 KiB is more than a call may scan */
	while (depth < 200) {
		int start = nq;

		nq += snprintf(req + nq, sizeof(req) - nq, "GET /r%d HTTP/1.1\r\nX-Pad: ", depth);
		memset(req + nq, 'x', 1024 - (nq - start) - 4);
		nq = start + 1024 - 4;
		memcpy(req + nq, "\r\n\r\n", 4);
		nq += 4;
		depth++;
	}
	for (int i = 0; i < depth; i++)
		np += snprintf(resp + np, sizeof(resp) - np, RESP_OK);
	sim_reset();
	sim_io(RS_DIR_REQ, req, nq);
	CHECK_EQ(sim_parse_errors(RS_R_SCAN_LIMIT), 1);
	sim_io(RS_DIR_RESP, resp, np);
	CHECK_EQ(sim_n_events + sim_unframed(RS_R_ORPHAN_RESPONSE), (size_t)depth);
	CHECK(sim_n_events >= RS_FEED_BUDGET / 1024 - 1);
	io_str(RS_DIR_REQ, GET_OK);
	io_str(RS_DIR_RESP, RESP_OK);
	CHECK(!sim_out_of_step());
	sim_close();
	CHECK(sim_accounted());
}

static void long_request_lines_keep_their_start_and_length(void)
{
	char req[2048];
	int n = snprintf(req, sizeof(req), "GET /");

	while (n < 1000)
		req[n++] = 'p';
	n += snprintf(req + n, sizeof(req) - n, "?q=1 HTTP/1.1\r\nHost: x\r\n\r\n");
	sim_reset();
	sim_io(RS_DIR_REQ, req, n);
	io_str(RS_DIR_RESP, RESP_OK);
	CHECK_EQ(sim_n_events, 1);
	CHECK_EQ(event(0)->head_len, 1000 + strlen("?q=1 HTTP/1.1"));
	CHECK(!memcmp(event(0)->head, req, RS_HEAD_MAX));
}

/* ---- the same stream, split every way, must give the same records ---- */

struct stream {
	const char *req;
	const char *resp;
};

static const struct stream streams[] = {
	{ GET_OK GET_OK, RESP_OK RESP_OK },
	{ "POST /p HTTP/1.1\r\ncontent-length: 5\r\nX-A: b\r\n\r\nabcde",
	  "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n" },
	{ "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n",
	  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n"
	  "HTTP/1.1 503 Busy\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy" },
	/* chunk-size lines of every shape: upper case, leading zeros, a long extension */
	{ "GET /c HTTP/1.1\r\n\r\nGET /d HTTP/1.1\r\n\r\n",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n"
	  "000000000000000b;name=a-rather-long-extension-value\r\nhello world\r\n0\r\n\r\n"
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nA: 1\r\nB: 2\r\n\r\n" },
	{ "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nOPTIONS * HTTP/1.1\r\n\r\n",
	  "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n" },
	{ "PROPFIND /d HTTP/1.1\r\nDepth: 1\r\n\r\nCONNECT h:443 HTTP/1.1\r\n\r\n",
	  "HTTP/1.1 207 Multi-Status\r\nContent-Length: 3\r\n\r\n<a>"
	  "HTTP/1.1 200 OK\r\n\r\n" },
};

/* Split points of a string: every cut in the bitmask `cuts` (bit i: cut before byte i). */
static void feed_split(__u32 dir, const char *s, const unsigned char *cut, size_t n)
{
	size_t start = 0;

	for (size_t i = 1; i <= n; i++) {
		if (i == n || cut[i]) {
			sim_io(dir, s + start, i - start);
			start = i;
		}
	}
}

/*
 * Records without what a split legitimately changes: timestamps, and head bytes
 * past the request line (left over from earlier requests on the connection).
 */
static void strip_times(struct rs_event_http *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		e[i].start_ns = e[i].end_ns = e[i].accept_ns = 0;
		if (e[i].head_len < RS_HEAD_MAX)
			memset(e[i].head + e[i].head_len, 0, RS_HEAD_MAX - e[i].head_len);
	}
}

static size_t run_stream(const struct stream *st, const unsigned char *req_cut,
			 const unsigned char *resp_cut, struct rs_event_http *out)
{
	sim_reset();
	feed_split(RS_DIR_REQ, st->req, req_cut, strlen(st->req));
	feed_split(RS_DIR_RESP, st->resp, resp_cut, strlen(st->resp));
	sim_close();
	memcpy(out, sim_events, sim_n_events * sizeof(*out));
	strip_times(out, sim_n_events);
	return sim_n_events;
}

static void any_split_gives_the_same_records(void)
{
	static struct rs_event_http want[64], got[64];
	static unsigned char rq[4096], rp[4096];
	unsigned int seed = 7;

	for (size_t s = 0; s < sizeof(streams) / sizeof(streams[0]); s++) {
		const struct stream *st = &streams[s];
		size_t nq = strlen(st->req), np = strlen(st->resp), nwant;

		memset(rq, 0, sizeof(rq));
		memset(rp, 0, sizeof(rp));
		nwant = run_stream(st, rq, rp, want);
		CHECK(nwant > 0);
		CHECK(!sim_out_of_step());

		/* every single cut, in either direction */
		for (size_t c = 1; c < nq + np; c++) {
			memset(rq, 0, sizeof(rq));
			memset(rp, 0, sizeof(rp));
			if (c < nq)
				rq[c] = 1;
			else if (c > nq)
				rp[c - nq] = 1;
			CHECK_EQ(run_stream(st, rq, rp, got), nwant);
			CHECK(!memcmp(got, want, nwant * sizeof(*got)));
		}
		/* byte by byte */
		memset(rq, 1, sizeof(rq));
		memset(rp, 1, sizeof(rp));
		CHECK_EQ(run_stream(st, rq, rp, got), nwant);
		CHECK(!memcmp(got, want, nwant * sizeof(*got)));
		/* random cuts */
		for (int iter = 0; iter < 2000; iter++) {
			for (size_t i = 0; i < nq; i++)
				rq[i] = rand_r(&seed) % 5 == 0;
			for (size_t i = 0; i < np; i++)
				rp[i] = rand_r(&seed) % 5 == 0;
			CHECK_EQ(run_stream(st, rq, rp, got), nwant);
			CHECK(!memcmp(got, want, nwant * sizeof(*got)));
		}
	}
}

int main(void)
{
	RUN(a_request_and_its_response_make_one_record);
	RUN(keepalive_requests_are_counted_one_by_one);
	RUN(request_bodies_by_length_and_chunks);
	RUN(chunked_responses_end_at_the_last_chunk);
	RUN(chunked_only_counts_as_the_last_coding);
	RUN(bodiless_responses_end_with_their_head);
	RUN(interim_responses_are_not_the_answer);
	RUN(upgraded_connections_are_left_alone);
	RUN(a_2xx_to_connect_opens_a_tunnel_and_a_refusal_does_not);
	RUN(closes_end_what_is_open);
	RUN(pipelined_requests_are_answered_in_order);
	RUN(busy_time_is_the_time_requests_were_in_flight);
	RUN(framing_fields_are_found_among_any_others);
	RUN(chunk_lines_of_every_shape);
	RUN(blind_bytes_are_fine_in_bodies_only);
	RUN(leading_empty_lines_before_a_request_are_ignored);
	RUN(what_is_not_http_is_counted_with_a_reason_and_framing_resumes);
	RUN(a_tls_handshake_marks_the_connection_for_its_plaintext);
	RUN(an_endless_head_is_given_up_and_its_answer_still_counts);
	RUN(a_nine_kilobyte_cookie_is_just_a_head);
	RUN(a_writev_of_hundreds_of_iovecs);
	RUN(many_small_chunks_in_one_read);
	RUN(deep_pipelines_in_one_read_and_one_write);
	RUN(a_pipeline_deeper_than_the_queue_loses_no_count);
	RUN(a_head_written_in_pieces);
	RUN(too_many_heads_in_one_call_resynchronise);
	RUN(long_request_lines_keep_their_start_and_length);
	RUN(any_split_gives_the_same_records);
	return unit_report("h1_framing");
}
