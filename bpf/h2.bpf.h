/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The HTTP/2 frame walker: each direction of an HTTP/2 connection is fed the bytes of
 * every read or write, however they are split, and follows its frames (RFC 9113
 * section 4). A frame header is read from the application, nine bytes, collected across
 * calls when a call ends inside one; payloads are skipped by arithmetic, so a 10 MB DATA
 * frame costs what an empty one does. What the daemon needs to follow the streams goes
 * into one event per call and direction (struct rs_event_h2): the headers of the
 * frames that start, carry or end a stream, the header block fragments (HEADERS,
 * CONTINUATION, PUSH_PROMISE: the daemon keeps the HPACK tables), and the error codes
 * of RST_STREAM and GOAWAY.
 *
 * Like the HTTP/1.x framing core (h1.bpf.h) it touches the walker state and the event
 * only, and finds both in the per-CPU work area.
 */
#ifndef REDSCOPE_H2_BPF_H
#define REDSCOPE_H2_BPF_H

#include "maps.bpf.h"

#define RS_H2_EV_MASK (RS_H2_EV_DATA - 1)
_Static_assert((RS_H2_EV_DATA & RS_H2_EV_MASK) == 0, "RS_H2_EV_DATA a power of two");

static __always_inline struct rs_h2 *h2_of(struct rs_work *w, __u32 dir)
{
	return dir == RS_DIR_REQ ? &w->conn.h2req : &w->conn.h2resp;
}

/* Frames whose header the daemon gets: those that open, carry, or end a stream. */
static __always_inline bool h2_followed(__u8 type)
{
	return type == RS_H2_DATA || type == RS_H2_HEADERS || type == RS_H2_CONTINUATION ||
	       type == RS_H2_PUSH_PROMISE || type == RS_H2_RST_STREAM || type == RS_H2_GOAWAY;
}

/*
 * Send the event of direction dir, if it holds anything, and start an empty one. A
 * record lost to a full ring buffer leaves the daemon's view of the direction
 * unknown: the next event says so.
 */
__noinline int rs_h2_flush(__u32 dir)
{
	struct rs_work *w = work_get();
	struct rs_h2 *h;
	__u32 used;

	if (!w)
		return 0;
	used = w->h2ev.used;
	if (!used && !(w->h2ev.flags & RS_H2_EVF_CLOSE))
		return 0;
	h = h2_of(w, dir);
	if (used > RS_H2_EV_DATA)
		used = RS_H2_EV_DATA;
	RS_BOUND(used, 2 * RS_H2_EV_DATA - 1);
	if (bpf_ringbuf_output(&events, &w->h2ev, __builtin_offsetof(struct rs_event_h2, data) + used,
			       ringbuf_wakeup_flags())) {
		stat_inc(RS_STAT_LOST_EVENTS);
		h->dropped = 1;
	} else {
		h->dropped = 0;
	}
	w->h2ev.used = 0;
	w->h2ev.flags = 0;
	return 0;
}

/* Make room for need bytes of records in the event, sending it when full. */
static __always_inline void h2_room(struct rs_work *w, __u32 dir, __u32 need)
{
	struct rs_h2 *h = h2_of(w, dir);

	if (w->h2ev.used + need > RS_H2_EV_DATA)
		rs_h2_flush(dir);
	if (!w->h2ev.used) {
		w->h2ev.type = RS_EV_H2;
		w->h2ev.tgid = w->tgid;
		w->h2ev.sk = w->sk;
		w->h2ev.ts = w->now;
		w->h2ev.dir = dir;
		w->h2ev.flags |= (w->conn.flags & RS_CONN_PLAINTEXT ? RS_H2_EVF_TLS : 0) |
				 (w->conn.flags & RS_CONN_UPGRADE ? RS_H2_EVF_UPGRADE : 0) |
				 (h->dropped ? RS_H2_EVF_DROPPED : 0) | (h->late ? RS_H2_EVF_LATE : 0);
		/* queue time, per connection: with its first event, as HTTP/1.x's first request */
		if (w->conn.established_ns && w->conn.accept_ns >= w->conn.established_ns) {
			w->h2ev.queue_ns = w->conn.accept_ns - w->conn.established_ns;
			w->h2ev.flags |= RS_H2_EVF_QUEUED;
		}
		w->conn.established_ns = 0;
	}
}

/* Room for a record of size bytes at the end of the event: where to write it. */
static __always_inline void *h2_record(struct rs_work *w, __u32 dir, __u32 size)
{
	__u32 used;

	h2_room(w, dir, size);
	used = w->h2ev.used & RS_H2_EV_MASK;
	w->h2ev.used = used + size;
	return w->h2ev.data + used;
}

/* A fragment-shaped record (RS_H2_REC_GAP, RS_H2_REC_LOST) with no bytes after it. */
static __always_inline void h2_mark(struct rs_work *w, __u32 dir, __u8 rec, __u32 len)
{
	struct rs_h2_frag *f = h2_record(w, dir, sizeof(*f));

	f->rec = rec;
	f->pad = 0;
	f->len = len > 0xffff ? 0xffff : len;
}

/* Framing lost: counted, the daemon told, nothing more followed on this direction. */
static __always_inline int h2_lost(struct rs_work *w, __u32 dir, __u32 reason, __u64 len)
{
	stat_inc(RS_STAT_PARSE_ERROR + reason);
	h2_mark(w, dir, RS_H2_REC_LOST, reason);
	h2_of(w, dir)->state = RS_H2_LOST;
	w->off = len;
	return 0;
}

/*
 * A frame header, whole in h->hdr: record it and set up its payload. False when it
 * cannot be HTTP/2: each side's first frame is a SETTINGS frame (RFC 9113 3.4), or a
 * GOAWAY (a server that refuses what the client's first bytes were).
 */
static __always_inline bool h2_frame(struct rs_work *w, struct rs_h2 *h, __u32 dir)
{
	__u32 length = (__u32)h->hdr[0] << 16 | (__u32)h->hdr[1] << 8 | h->hdr[2];
	__u8 type = h->hdr[3];
	struct rs_h2_frame *f;

	if (h->first) {
		if (h->hdr[5] | h->hdr[6] | h->hdr[7] | h->hdr[8])
			return false;
		if (!(type == RS_H2_SETTINGS && !(length % 6)) && !(type == RS_H2_GOAWAY && length >= 8))
			return false;
		h->first = 0;
	}

	h->left = length;
	h->copy = rs_h2_copy_len(type, length);
	h->have = 0;
	h->state = length ? RS_H2_PAYLOAD : RS_H2_HEADER;
	if (!h2_followed(type))
		return true;
	f = h2_record(w, dir, sizeof(*f));
	f->rec = RS_H2_REC_FRAME;
	f->type = type;
	f->flags = h->hdr[4];
	f->pad = 0;
	f->stream = ((__u32)h->hdr[5] << 24 | (__u32)h->hdr[6] << 16 | (__u32)h->hdr[7] << 8 |
		     h->hdr[8]) & 0x7fffffff;
	f->length = length;
	if (h->copy > RS_H2_FRAG_MAX) {
		/* a header block this large is not forwarded: the daemon's table is lost */
		h2_mark(w, dir, RS_H2_REC_GAP, h->copy);
		h->copy = 0;
	}
	return true;
}

/* Bytes of a frame header at ptr (avail of them in this buffer). */
static __always_inline int h2_header(struct rs_work *w, struct rs_h2 *h, __u32 dir, __u64 ptr,
				     __u64 avail, __u64 len)
{
	__u32 have = h->have, n;

	if (!ptr)
		return h2_lost(w, dir, RS_R_UNSEEN_BYTES, len);
	if (have >= RS_H2_FRAME_HEADER)
		return h2_lost(w, dir, RS_R_NOT_HTTP, len);
	n = RS_H2_FRAME_HEADER - have;
	if (n > avail)
		n = avail;
	RS_BOUND(n, 15); /* n <= 9: a bound older verifiers lose through the min() */
	if (bpf_probe_read_user(h->hdr + have, n, (void *)(ptr + w->off)))
		return h2_lost(w, dir, RS_R_READ_FAULT, len);
	h->have = have + n;
	w->off += n;
	if (h->have == RS_H2_FRAME_HEADER && !h2_frame(w, h, dir))
		return h2_lost(w, dir, RS_R_NOT_HTTP2, len);
	return 1;
}

/* Payload bytes at ptr (avail of them): forwarded as far as the frame asks, else skipped. */
static __always_inline int h2_payload(struct rs_work *w, struct rs_h2 *h, __u32 dir, __u64 ptr,
				      __u64 avail)
{
	struct rs_h2_frag *f;
	__u32 used, n;
	__u64 skip;

	if (h->copy) {
		n = h->copy < avail ? h->copy : avail;
		if (!ptr) {
			h2_mark(w, dir, RS_H2_REC_GAP, n);
		} else {
			h2_room(w, dir, sizeof(*f) + 4);
			used = w->h2ev.used & RS_H2_EV_MASK;
			if (n > RS_H2_EV_DATA - sizeof(*f) - used)
				n = RS_H2_EV_DATA - sizeof(*f) - used;
			RS_BOUND(n, RS_H2_EV_DATA - 1); /* n < RS_H2_EV_DATA, said to the verifier */
			f = (struct rs_h2_frag *)(w->h2ev.data + used);
			if (bpf_probe_read_user(w->h2ev.data + used + sizeof(*f), n,
						(void *)(ptr + w->off))) {
				f->rec = RS_H2_REC_GAP;
				w->h2ev.used = used + sizeof(*f);
			} else {
				f->rec = RS_H2_REC_FRAG;
				w->h2ev.used = used + sizeof(*f) + ((n + 3) & ~3u);
			}
			f->pad = 0;
			f->len = n;
		}
		h->copy -= n;
		h->left -= n;
		w->off += n;
	} else {
		skip = h->left < avail ? h->left : avail;
		h->left -= skip;
		w->off += skip;
	}
	if (!h->left)
		h->state = RS_H2_HEADER;
	return 1;
}

/* One step of the walk of len bytes at ptr, from w->off: 0 when it ends. */
__noinline int rs_h2_step(__u32 dir, __u64 ptr, __u64 len)
{
	struct rs_work *w = work_get();
	struct rs_h2 *h;
	__u64 avail;

	if (!w || w->off >= len)
		return 0;
	h = h2_of(w, dir);
	avail = len - w->off;
	switch (h->state) {
	case RS_H2_HEADER:
		return h2_header(w, h, dir, ptr, avail, len);
	case RS_H2_PAYLOAD:
		return h2_payload(w, h, dir, ptr, avail);
	case RS_H2_PREFACE:
		if (h->left > avail) {
			h->left -= avail;
			w->off = len;
			return 0;
		}
		w->off += h->left;
		h->left = 0;
		h->have = 0;
		h->state = RS_H2_HEADER;
		return 1;
	default:
		w->off = len;
		return 0;
	}
}

/*
 * Feed the len bytes at user address ptr, from w->off on, read or written in direction
 * dir of the HTTP/2 connection in the work area, to its walker. ptr == 0: bytes that
 * cannot be looked at (sendfile), fine inside a payload that is skipped. The caller
 * sends the event when the call's bytes are all fed (rs_h2_flush).
 */
__noinline int rs_h2_feed(__u32 dir, __u64 ptr, __u64 len)
{
	struct rs_work *w = work_get();

	if (!w || w->off >= len)
		return 0;
	for (int step = 0; step < RS_H2_STEPS && w->off < len; step++)
		if (!rs_h2_step(dir, ptr, len))
			break;
	if (w->off < len && h2_of(w, dir)->state != RS_H2_LOST)
		h2_lost(w, dir, RS_R_SCAN_LIMIT, len);
	return 0;
}

/*
 * The connection in the work area speaks HTTP/2 from here on. late: picked up
 * mid-connection, so its HPACK tables are unknown to the daemon; else the request
 * direction starts with the client's connection preface.
 */
static __always_inline void h2_begin(struct rs_work *w, bool late)
{
	__builtin_memset(&w->conn.h2req, 0, sizeof(w->conn.h2req));
	__builtin_memset(&w->conn.h2resp, 0, sizeof(w->conn.h2resp));
	w->conn.flags |= RS_CONN_H2;
	stat_inc(RS_STAT_CONNS_H2);
	if (late) {
		w->conn.h2req.late = 1;
		w->conn.h2resp.late = 1;
	} else {
		w->conn.h2req.state = RS_H2_PREFACE;
		w->conn.h2req.left = RS_H2_PREFACE_LEN;
		w->conn.h2req.first = 1;
		w->conn.h2resp.first = 1;
	}
}

/*
 * h2c by Upgrade: the HTTP/1.1 request that asked for it, which the HTTP/1.x exchange
 * layer left in w->conn.cur, is stream 1 and is answered there (RFC 7540 3.2): the
 * daemon gets its request line, start and body size in a record of its own.
 */
static __always_inline void h2_upgraded(struct rs_work *w, __u32 dir)
{
	struct rs_h2_upgrade *u = h2_record(w, dir, sizeof(*u));
	__u64 body = w->conn.cur.body_bytes;

	u->rec = RS_H2_REC_UPGRADE;
	u->pad = 0;
	u->head_len = w->conn.cur.head_len;
	u->body_bytes = body > 0xffffffffULL ? 0xffffffffU : (__u32)body;
	u->start_lo = (__u32)w->conn.cur.start_ns;
	u->start_hi = (__u32)(w->conn.cur.start_ns >> 32);
	__builtin_memcpy(u->head, w->conn.cur.head, RS_HEAD_MAX);
}

/*
 * The HTTP/2 connection in the work area closed: an event says so, for the daemon to
 * end the streams it had open.
 */
static __always_inline void h2_close(struct rs_work *w)
{
	w->h2ev.used = 0;
	w->h2ev.flags = 0;
	h2_room(w, RS_DIR_REQ, 0);
	w->h2ev.flags |= RS_H2_EVF_CLOSE;
	w->h2ev.ended_by = w->conn.peer.ended_by;
	rs_h2_flush(RS_DIR_REQ);
}

#endif /* REDSCOPE_H2_BPF_H */
