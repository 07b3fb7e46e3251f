/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP/1.x exchanges: what happens when the framing core (h1.bpf.h) says a request or
 * a response began or ended, or that framing was lost. It owns the queue of requests
 * awaiting responses, the records sent to the daemon, and getting back in step after
 * a loss; requests in flight and busy time it reports to the connection layer below
 * (conn.bpf.h), which knows no protocol.
 *
 * Every request read ends in exactly one of three places: a record (an HTTP series,
 * or unanswered when the connection closed first), or an unframed counter with a
 * reason. A request whose response cannot be framed is never put in a series.
 */
#ifndef REDSCOPE_H1_EXCHANGE_BPF_H
#define REDSCOPE_H1_EXCHANGE_BPF_H

#include "conn.bpf.h"

#define RS_STATUS_LINE_LEN 12 /* "HTTP/1.x NNN" */
/* Little-endian packing of bytes into words, for comparisons without string tables. */
#define M4(a, b, c, d) ((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24)
#define M8(a, b, c, d, e, f, g, h) (M4(a, b, c, d) | M4(e, f, g, h) << 32)

#define HEAD_NAME M8('H', 'E', 'A', 'D', ' ', 0, 0, 0)
#define HEAD_NAME_LEN 5
#define CONNECT_NAME M8('C', 'O', 'N', 'N', 'E', 'C', 'T', ' ')
#define RS_TLS_HANDSHAKE 0x16 /* content type of a TLS handshake record */
#define LOW_BYTES(n) ((n) >= 8 ? ~0ULL : (1ULL << (8 * (n))) - 1)

static __always_inline struct rs_h1 *h1_of(struct rs_work *w, __u32 dir)
{
	return dir == RS_DIR_REQ ? &w->conn.req : &w->conn.resp;
}

/*
 * Do the 8 bytes in w, of a read that returned len bytes, start a request: a method
 * of RFC 9110 or PATCH and a space? What a read must start with for redscope to
 * pick a connection up, or to find its footing again, mid-stream.
 */
static __always_inline bool looks_like_request(__u64 w, __u64 len)
{
	if (len < 4)
		return false;
	if ((w & 0xffffffff) == M4('G', 'E', 'T', ' ') || (w & 0xffffffff) == M4('P', 'U', 'T', ' '))
		return true;
	if (len < 5)
		return false;
	w &= len >= 8 ? ~0ULL : (1ULL << (8 * len)) - 1;
	if ((w & 0xffffffffff) == M8('P', 'O', 'S', 'T', ' ', 0, 0, 0) ||
	    (w & 0xffffffffff) == HEAD_NAME)
		return true;
	if ((w & 0xffffffffffff) == M8('P', 'A', 'T', 'C', 'H', ' ', 0, 0) ||
	    (w & 0xffffffffffff) == M8('T', 'R', 'A', 'C', 'E', ' ', 0, 0))
		return true;
	if ((w & 0xffffffffffffff) == M8('D', 'E', 'L', 'E', 'T', 'E', ' ', 0))
		return true;
	return w == M8('O', 'P', 'T', 'I', 'O', 'N', 'S', ' ') || w == CONNECT_NAME;
}

/* Has a response begun that a close would end (or find cut short)? */
static __always_inline bool resp_open(const struct rs_h1 *h)
{
	return h->state != RS_H1_IDLE && h->state != RS_H1_RESYNC && h->state != RS_H1_IGNORED;
}

/* Requests read on the connection and not answered yet. */
static __always_inline __u32 pending(struct rs_work *w)
{
	return (w->conn.flags & RS_CONN_IN_REQUEST) ? w->conn.queued + 1 : 0;
}

/* The oldest unanswered request: cur, or the head of the pipeline queue (key in pk). */
static __always_inline struct rs_request *oldest(struct rs_work *w, struct rs_pipe_key *pk)
{
	if (!w->conn.queued)
		return &w->conn.cur;
	pk->sk = w->sk;
	pk->seq = w->conn.seq;
	pk->pad = 0;
	return bpf_map_lookup_elem(&pipeline, pk);
}

/* The oldest unanswered request is done with: off the queue, no longer in flight. */
static __always_inline void pop_oldest(struct rs_work *w, struct rs_pipe_key *pk, __u32 tgid,
				       __u64 end_ns)
{
	if (w->conn.queued) {
		bpf_map_delete_elem(&pipeline, pk);
		w->conn.queued--;
		w->conn.seq++;
	} else {
		w->conn.flags &= ~RS_CONN_IN_REQUEST;
	}
	if (!(w->conn.flags & RS_CONN_CLIENT)) /* what a process calls is not what it serves */
		target_active_add(tgid, -1, end_ns);
}

/*
 * Send the record of the oldest unanswered request and drop it from the connection.
 * NO_RESPONSE records carry status 0 and no response figures.
 */
__noinline int rs_emit(__u32 reason)
{
	struct rs_work *w = work_get();
	struct rs_pipe_key pk = {};
	struct rs_request *src;
	struct rs_event_http *e;
	__u64 end_ns;
	__u32 tgid;

	if (!w || !(w->conn.flags & RS_CONN_IN_REQUEST))
		return 0;
	src = oldest(w, &pk);
	end_ns = reason == RS_END_NO_RESPONSE ? w->now : w->conn.end_ns;
	tgid = src ? src->tgid : w->conn.tgid;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(RS_STAT_LOST_EVENTS);
	} else if (!src) {
		bpf_ringbuf_discard(e, 0);
		stat_inc(RS_STAT_LOST_EVENTS); /* evicted from a full pipeline map */
	} else {
		e->type = RS_EV_HTTP;
		e->tgid = src->tgid;
		e->cgroup_id = src->cgroup_id;
		e->start_ns = src->start_ns;
		e->end_ns = end_ns;
		e->accept_ns = w->conn.accept_ns;
		/* the wait in the listen queue, once per connection: with its first request */
		e->established_ns = w->conn.established_ns;
		w->conn.established_ns = 0;
		e->req_body_bytes = w->conn.queued ? src->body_bytes : w->conn.req.body_bytes;
		e->end_reason = reason;
		e->tls = !!(w->conn.flags & RS_CONN_PLAINTEXT);
		e->client = !!(w->conn.flags & RS_CONN_CLIENT);
		e->pad = 0;
		e->peer = w->conn.peer;
		e->head_len = src->head_len;
		__builtin_memcpy(e->head, src->head, RS_HEAD_MAX);
		if (reason == RS_END_NO_RESPONSE) {
			e->status = 0;
			e->resp_body_bytes = 0;
		} else {
			e->status = w->conn.resp.status;
			e->resp_body_bytes = w->conn.resp.body_bytes;
		}
		bpf_ringbuf_submit(e, ringbuf_wakeup_flags());
	}
	pop_oldest(w, &pk, tgid, end_ns);
	return 0;
}

/*
 * The oldest unanswered request goes into no series: off the queue, no longer in
 * flight. Returns 0 when none was left. Global: the verifier checks it once, not once
 * per iteration of drop_pending's loop.
 */
__noinline int rs_drop_oldest(void)
{
	struct rs_work *w = work_get();
	struct rs_pipe_key pk = {};
	struct rs_request *r;

	if (!w || !pending(w))
		return 0;
	r = oldest(w, &pk);
	pop_oldest(w, &pk, r ? r->tgid : w->conn.tgid, w->now);
	return 1;
}

/*
 * Every unanswered request of the connection goes into no series: their responses
 * cannot be framed. Counted as unframed, for reason.
 */
static __always_inline void drop_pending(struct rs_work *w, __u32 reason)
{
	__u32 n = pending(w);

	if (!n)
		return;
	stat_add(RS_STAT_UNFRAMED + (reason < RS_R__COUNT ? reason : RS_R_RESYNC), n);
	for (__u32 i = 0; i < RS_PIPELINE_MAX + 1; i++)
		if (!rs_drop_oldest())
			break;
}

/*
 * Framing of one direction was lost, for reason (enum rs_reason). Requests: the
 * direction waits for a read that starts a request (rs_resync); the requests it
 * could not frame show up as responses to no request, counted then. Responses: which
 * request the next response answers is not known any more, so every unanswered
 * request is counted unframed, and both directions wait for a new request.
 */
__noinline int rs_lost(__u32 dir, __u32 reason)
{
	struct rs_work *w = work_get();

	if (!w)
		return 0;
	stat_inc(RS_STAT_PARSE_ERROR + (reason < RS_R__COUNT ? reason : RS_R_RESYNC));
	if (dir == RS_DIR_REQ) {
		w->conn.req.state = RS_H1_RESYNC;
		return 0;
	}
	drop_pending(w, reason);
	w->conn.resp.state = RS_H1_RESYNC;
	if (w->conn.req.state != RS_H1_IGNORED)
		w->conn.req.state = RS_H1_RESYNC;
	return 0;
}

/*
 * A read or write of len bytes at ptr, on a direction out of step: does it start a
 * message where framing can resume? Requests resume at a read that starts a request
 * line once nothing is left unanswered and no response is half written: a server
 * answers in order, so the next response is this request's. Responses resume with
 * them. A request line read that cannot resume yet while the responses are out of
 * step is a request that will be in no series: counted.
 */
__noinline int rs_resync(__u32 dir, __u64 ptr, __u64 len)
{
	struct rs_work *w = work_get();
	__u8 resp;

	if (!w || dir != RS_DIR_REQ || !looks_like_request(first_word(ptr, len), len))
		return 0;
	resp = w->conn.resp.state;
	if (!pending(w) && (resp == RS_H1_IDLE || resp == RS_H1_RESYNC)) {
		w->conn.req.state = RS_H1_IDLE;
		w->conn.resp.state = RS_H1_IDLE;
	} else if (resp == RS_H1_RESYNC) {
		stat_inc(RS_STAT_UNFRAMED + RS_R_RESYNC);
	}
	return 0;
}

/*
 * First byte of a message in this direction: set the connection up for it.
 * Returns 0 when the message is not followed.
 */
__noinline int rs_message_begin(__u32 dir, __u32 first)
{
	struct rs_work *w = work_get();
	struct rs_pipe_key pk = {};
	struct rs_request *r;
	struct rs_h1 *h;

	if (!w)
		return 0;
	h = h1_of(w, dir);
	if (dir == RS_DIR_REQ) {
		/*
		 * A connection whose first byte opens a TLS handshake record: what the
		 * syscalls carry is ciphertext. Its requests, if any, are seen as
		 * plaintext in SSL_read and SSL_write; the syscalls are not parsed.
		 */
		if (first == RS_TLS_HANDSHAKE && !w->conn.cur.start_ns &&
		    !(w->conn.flags & RS_CONN_PLAINTEXT)) {
			w->conn.flags |= RS_CONN_TLS;
			stat_inc(RS_STAT_CONNS_TLS);
			return 0;
		}
		/* a request line starts with a method token; methods are upper case */
		if (first < 'A' || first > 'Z') {
			rs_lost(dir, RS_R_NOT_HTTP);
			return 0;
		}
		if (w->conn.resp.state == RS_H1_UNTIL_CLOSE) {
			/* the close-delimited response of the request before ends here */
			if (w->conn.resp.flags & RS_H1F_ORPHAN)
				stat_inc(RS_STAT_UNFRAMED + RS_R_ORPHAN_RESPONSE);
			else
				rs_emit(RS_END_NEXT_REQUEST);
			w->conn.resp.state = RS_H1_IDLE;
		}
		if (w->conn.flags & RS_CONN_IN_REQUEST) {
			/* pipelined: the request before waits for its response in the queue */
			pk.sk = w->sk;
			pk.seq = (__u16)(w->conn.seq + w->conn.queued);
			w->conn.cur.body_bytes = w->conn.req.body_bytes;
			if (w->conn.queued >= RS_PIPELINE_MAX ||
			    bpf_map_update_elem(&pipeline, &pk, &w->conn.cur, BPF_ANY)) {
				rs_lost(dir, RS_R_PIPELINE_FULL);
				return 0;
			}
			w->conn.queued++;
		}
		w->conn.flags |= RS_CONN_IN_REQUEST;
		w->conn.cur.start_ns = w->now;
		w->conn.cur.body_bytes = 0;
		w->conn.cur.head_len = 0;
		w->conn.cur.method = RS_METHOD_OTHER;
		w->conn.cur.tgid = w->tgid;
		w->conn.cur.cgroup_id = bpf_get_current_cgroup_id();
		if (w->conn.flags & RS_CONN_CLIENT)
			w->conn.cur.head[RS_CLIENT_HOST_AT] = 0; /* no Host field seen yet */
		else
			target_active_add(w->tgid, 1, w->now);
		h->mode = RS_LINE_REQUEST;
		h->flags = 0;
	} else {
		h->mode = RS_LINE_STATUS;
		h->flags = 0;
		r = (w->conn.flags & RS_CONN_IN_REQUEST) ? oldest(w, &pk) : NULL;
		if (!(w->conn.flags & RS_CONN_IN_REQUEST)) {
			/*
			 * Answers no request framed here: framed to find its end, not counted.
			 * A loss of framing on the request side was counted already.
			 */
			if (w->conn.req.state != RS_H1_RESYNC)
				stat_inc(RS_STAT_PARSE_ERROR + RS_R_ORPHAN_RESPONSE);
			h->flags = RS_H1F_ORPHAN;
		} else if (r && r->method == RS_METHOD_HEAD) {
			h->flags = RS_H1F_HEAD_METHOD;
		} else if (r && r->method == RS_METHOD_CONNECT) {
			h->flags = RS_H1F_CONNECT;
		}
	}
	h->state = RS_H1_HEAD;
	h->status = 0;
	h->pos = 0;
	h->line_open = 0;
	h->head_bytes = 0;
	h->clen = 0;
	h->remaining = 0;
	h->body_bytes = 0;
	return 1;
}

/* Both directions carry another protocol from now on: not parsed until close. */
static __always_inline void tunnel(struct rs_work *w, __u32 stat)
{
	stat_inc(stat);
	w->conn.req.state = RS_H1_IGNORED;
	w->conn.resp.state = RS_H1_IGNORED;
}

/* A message in this direction is complete. */
__noinline int rs_message_end(__u32 dir)
{
	struct rs_work *w = work_get();
	__u16 status;
	__u8 flags;

	if (!w)
		return 0;
	if (dir == RS_DIR_REQ) {
		/* after CONNECT the client speaks for the tunnel, if the answer opens one */
		if (w->conn.cur.method == RS_METHOD_CONNECT)
			w->conn.req.state = RS_H1_IGNORED;
		return 0;
	}
	status = w->conn.resp.status;
	flags = w->conn.resp.flags;
	if (flags & RS_H1F_ORPHAN) {
		stat_inc(RS_STAT_UNFRAMED + RS_R_ORPHAN_RESPONSE);
		return 0;
	}
	if (status == 101) {
		/*
		 * Switching protocols: to what, the next bytes say (rs_frame). HTTP/2 (h2c)
		 * answers the request again on stream 1 (rs_h1_hand_over); a tunnel leaves
		 * the 101 its answer (rs_upgrade_tunnel), as does a close first (rs_h1_close).
		 */
		w->conn.flags |= RS_CONN_UPGRADE;
		return 0;
	}
	rs_emit(RS_END_LENGTH);
	if (flags & RS_H1F_CONNECT) {
		if (status >= 200 && status < 300)
			tunnel(w, RS_STAT_CONNS_TUNNELED);
		else if (w->conn.req.state == RS_H1_IGNORED)
			w->conn.req.state = RS_H1_IDLE; /* refused: requests go on */
	}
	return 0;
}

/*
 * After a 101, bytes of another protocol than HTTP/2: the request that asked is
 * answered by the 101 (sent at its end, rs_feed keeps end_ns from then), and the
 * connection is a tunnel from here, not parsed until close.
 */
__noinline int rs_upgrade_tunnel(void)
{
	struct rs_work *w = work_get();

	if (!w)
		return 0;
	rs_emit(RS_END_LENGTH);
	tunnel(w, RS_STAT_CONNS_UPGRADED);
	return 0;
}

/*
 * After a 101, HTTP/2 (h2c by Upgrade): the request that asked for it is HTTP/2's
 * stream 1 (RFC 9113 3.1, RFC 7540 3.2), answered in HTTP/2. It leaves HTTP/1.x here
 * with no record and stays in w->conn.cur, its body's size with it, for the HTTP/2
 * walker to hand to the daemon. Returns 1 when it did; 0 when there is none to hand
 * over (or requests were pipelined ahead of it: rs_h1_close answers it with the 101).
 */
__noinline int rs_h1_hand_over(void)
{
	struct rs_work *w = work_get();
	struct rs_pipe_key pk = {};

	if (!w || !(w->conn.flags & RS_CONN_UPGRADE) || !(w->conn.flags & RS_CONN_IN_REQUEST) ||
	    w->conn.queued)
		return 0;
	w->conn.cur.body_bytes = w->conn.req.body_bytes;
	pop_oldest(w, &pk, w->conn.cur.tgid, w->now);
	return 1;
}

/*
 * The connection is closed: a response still open ends here, requests that never
 * got one are reported as such.
 */
__noinline int rs_h1_close(void)
{
	struct rs_work *w = work_get();
	struct rs_h1 *h;
	__u32 i;

	if (!w)
		return 0;
	h = &w->conn.resp;
	/* answered 101, and nothing came after it: the 101 was its answer */
	if ((w->conn.flags & RS_CONN_UPGRADE) && h->state == RS_H1_IDLE)
		rs_emit(RS_END_LENGTH);
	if (resp_open(h) && !(h->state == RS_H1_HEAD && h->pos < RS_STATUS_LINE_LEN)) {
		if (h->flags & RS_H1F_ORPHAN)
			stat_inc(RS_STAT_UNFRAMED + RS_R_ORPHAN_RESPONSE);
		else
			rs_emit(h->state == RS_H1_UNTIL_CLOSE ? RS_END_CLOSE : RS_END_TRUNCATED);
	}
	for (i = 0; i <= RS_PIPELINE_MAX && (w->conn.flags & RS_CONN_IN_REQUEST); i++)
		rs_emit(RS_END_NO_RESPONSE);
	return 0;
}

#endif /* REDSCOPE_H1_EXCHANGE_BPF_H */
