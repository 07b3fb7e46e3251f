/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The connection layer: what happens when the framing core says a request or a
 * response began or ended, or that framing was lost. It owns the queue of requests
 * awaiting responses, the records sent to the daemon, the requests in flight and
 * busy time of each process, and getting back in step after a loss.
 *
 * Every request read ends in exactly one of three places: a record (an HTTP series,
 * or unanswered when the connection closed first), or an unframed counter with a
 * reason. A request whose response cannot be framed is never put in a series.
 */
#ifndef REDSCOPE_CONN_BPF_H
#define REDSCOPE_CONN_BPF_H

#include "h1.bpf.h"

/*
 * Requests in flight in a process go up or down by delta at time now. The process is
 * busy while any is.
 *
 * With fetching atomics (Linux 5.12): the add that takes the count from 0 to 1 opens
 * the busy interval and the one that takes it from 1 to 0 closes it, and busy_ns
 * holds the closes' times minus the opens' (wrapping): the busy time so far is
 * busy_ns while none is in flight, busy_ns + now while some are (busy_time). Opens
 * and closes alternate whatever the order of the adds, so no map entry is needed.
 *
 * Without: a request that begins opens the busy interval unless one is open (insert
 * with BPF_NOEXIST); one that leaves none in flight closes it: whoever deletes the
 * entry adds the interval to busy_ns, so two threads finishing at once add it once.
 * A request that began while the interval was being closed found it still open: the
 * closer opens a new one for it. Plain atomic adds only, which every kernel has.
 */
static __always_inline void target_active_add(__u32 tgid, __s32 delta, __u64 now)
{
	struct rs_target *t = bpf_map_lookup_elem(&targets, &tgid);
	__u64 *open, since;
	__s32 was;

	if (!t)
		return;
	if (targ_atomic_fetch) {
		was = __sync_fetch_and_add(&t->active, delta);
		if (delta > 0 && was == 0)
			__sync_fetch_and_add(&t->busy_ns, -now);
		else if (delta < 0 && was == 1)
			__sync_fetch_and_add(&t->busy_ns, now);
		return;
	}
	__sync_fetch_and_add(&t->active, delta);
	if (delta > 0) {
		bpf_map_update_elem(&busy_open, &tgid, &now, BPF_NOEXIST);
		return;
	}
	if (*(volatile __s32 *)&t->active > 0)
		return;
	open = bpf_map_lookup_elem(&busy_open, &tgid);
	if (!open)
		return;
	since = *open;
	if (bpf_map_delete_elem(&busy_open, &tgid))
		return; /* another thread closed it */
	if (now > since)
		__sync_fetch_and_add(&t->busy_ns, now - since);
	if (*(volatile __s32 *)&t->active > 0)
		bpf_map_update_elem(&busy_open, &tgid, &now, BPF_NOEXIST);
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
		e->pad[0] = 0;
		e->pad[1] = 0;
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
	rs_emit(RS_END_LENGTH);
	if (status == 101) {
		w->conn.flags |= RS_CONN_UPGRADE; /* to what, the next bytes say (rs_frame) */
	} else if (flags & RS_H1F_CONNECT) {
		if (status >= 200 && status < 300)
			tunnel(w, RS_STAT_CONNS_TUNNELED);
		else if (w->conn.req.state == RS_H1_IGNORED)
			w->conn.req.state = RS_H1_IDLE; /* refused: requests go on */
	}
	return 0;
}

/*
 * The connection is closed: a response still open ends here, requests that never
 * got one are reported as such.
 */
__noinline int rs_close(void)
{
	struct rs_work *w = work_get();
	struct rs_h1 *h;
	__u32 i;

	if (!w)
		return 0;
	h = &w->conn.resp;
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

#endif /* REDSCOPE_CONN_BPF_H */
