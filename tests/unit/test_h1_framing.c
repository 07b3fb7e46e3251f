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
	CHECK(!sim_broken());
}

static void keepalive_requests_are_counted_one_by_one(void)
{
	sim_reset();
	for (int i = 0; i < 100; i++) {
		io_str(RS_DIR_REQ, GET_OK);
		io_str(RS_DIR_RESP, RESP_OK);
	}
	CHECK_EQ(sim_n_events, 100);
	CHECK(!sim_broken());
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
	CHECK(!sim_broken());
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
	CHECK(!sim_broken());
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
	io_str(RS_DIR_REQ, "\x81\x85garbage frames");
	io_str(RS_DIR_RESP, "\x81\x05hello");
	CHECK_EQ(sim_n_events, 1);
	CHECK_EQ(event(0)->status, 101);
	CHECK_EQ(sim_stat(RS_STAT_CONNS_UPGRADED), 1);
	CHECK_EQ(sim_stat(RS_STAT_PE_NOT_HTTP), 0);
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
	CHECK(!sim_broken());
}

static void blind_bytes_are_fine_in_bodies_only(void)
{
	sim_reset();
	io_str(RS_DIR_REQ, GET_OK);
	io_str(RS_DIR_RESP, "HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n");
	sim_blind(RS_DIR_RESP, 10485760);
	CHECK_EQ(sim_n_events, 1);
	CHECK_EQ(event(0)->resp_body_bytes, 10485760);
	io_str(RS_DIR_REQ, GET_OK);
	sim_blind(RS_DIR_RESP, 100);
	CHECK(sim_broken());
	CHECK_EQ(sim_stat(RS_STAT_PE_UNSEEN_BYTES), 1);
	CHECK_EQ(sim_target.active, 0);
}

static void leading_empty_lines_before_a_request_are_ignored(void)
{
	sim_reset();
	io_str(RS_DIR_REQ, "\r\n\r\n" GET_OK);
	io_str(RS_DIR_RESP, RESP_OK);
	CHECK_EQ(sim_n_events, 1);
	check_head(event(0), "GET /ok HTTP/1.1");
}

static void what_is_not_http_breaks_the_connection_with_a_reason(void)
{
	static const struct {
		const char *req, *resp;
		enum rs_stat reason;
	} cases[] = {
		{ "*1\r\n$4\r\nPING\r\n", NULL, RS_STAT_PE_NOT_HTTP },
		{ "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04", NULL, RS_STAT_PE_HTTP2_PREFACE },
		{ GET_OK, "SSH-2.0-OpenSSH_9.2\r\n", RS_STAT_PE_BAD_STATUS_LINE },
		{ GET_OK, "HTTP/1.1 20x OK\r\n\r\n", RS_STAT_PE_BAD_STATUS_LINE },
		{ GET_OK, "HTTP/1.0 020 OK\r\n\r\n", RS_STAT_PE_BAD_STATUS_LINE },
		{ GET_OK, "HTTP/1.1 600 Six\r\n\r\n", RS_STAT_PE_BAD_STATUS_LINE },
		{ GET_OK, "HTTP/1.1 200\n", RS_STAT__COUNT }, /* fine: no reason phrase */
		{ "POST / HTTP/1.1\r\nContent-Length: 12a\r\n\r\n", NULL, RS_STAT_PE_BAD_LENGTH },
		{ "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", NULL, RS_STAT_PE_BAD_LENGTH },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", NULL,
		  RS_STAT_PE_BAD_CHUNK },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sim_reset();
		io_str(RS_DIR_REQ, cases[i].req);
		if (cases[i].resp)
			io_str(RS_DIR_RESP, cases[i].resp);
		if (cases[i].reason == RS_STAT__COUNT) {
			CHECK(!sim_broken());
			continue;
		}
		CHECK(sim_broken());
		CHECK_EQ(sim_stat(cases[i].reason), 1);
		CHECK_EQ(sim_target.active, 0);
		sim_close();
		CHECK_EQ(sim_n_events, 0);
	}

	/* a response nobody asked for */
	sim_reset();
	io_str(RS_DIR_RESP, "HTTP/1.1 408 Request Timeout\r\n\r\n");
	CHECK(sim_broken());
	CHECK_EQ(sim_stat(RS_STAT_PE_ORPHAN_RESPONSE), 1);
}

static void a_tls_handshake_marks_the_connection_for_its_plaintext(void)
{
	static const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";

	/* the first bytes of a connection open a TLS handshake: not an error, not parsed */
	sim_reset();
	sim_io(RS_DIR_REQ, hello, sizeof(hello) - 1);
	CHECK(!sim_broken());
	CHECK(sim_work.conn.flags & RS_CONN_TLS);
	CHECK_EQ(sim_stat(RS_STAT_CONNS_TLS), 1);
	CHECK_EQ(sim_stat(RS_STAT_PE_NOT_HTTP), 0);
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
	CHECK(sim_broken());
	CHECK_EQ(sim_stat(RS_STAT_PE_NOT_HTTP), 1);
	CHECK(!(sim_work.conn.flags & RS_CONN_TLS));
}

static void an_endless_head_is_given_up(void)
{
	char line[4096];

	sim_reset();
	io_str(RS_DIR_REQ, "GET / HTTP/1.1\r\n");
	memset(line, 'a', sizeof(line));
	for (int i = 0; i < 16 && !sim_broken(); i++)
		sim_io(RS_DIR_REQ, line, sizeof(line)); /* one 64 KiB header line */
	CHECK(sim_broken());
	CHECK_EQ(sim_stat(RS_STAT_PE_HEAD_TOO_LARGE), 1);
	CHECK_EQ(sim_target.active, 0);
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
	{ "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nOPTIONS * HTTP/1.1\r\n\r\n",
	  "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n" },
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
		CHECK(!sim_broken() || s == 2);

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
	RUN(closes_end_what_is_open);
	RUN(pipelined_requests_are_answered_in_order);
	RUN(blind_bytes_are_fine_in_bodies_only);
	RUN(leading_empty_lines_before_a_request_are_ignored);
	RUN(what_is_not_http_breaks_the_connection_with_a_reason);
	RUN(a_tls_handshake_marks_the_connection_for_its_plaintext);
	RUN(an_endless_head_is_given_up);
	RUN(long_request_lines_keep_their_start_and_length);
	RUN(any_split_gives_the_same_records);
	return unit_report("h1_framing");
}
