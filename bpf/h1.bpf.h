/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Streaming HTTP/1.x framing in BPF: where requests and responses start and end.
 *
 * Each direction of a connection runs a small state machine (struct rs_h1) that is
 * fed the bytes of every read or write, however they are split. Only heads, chunk
 * size lines and trailers are looked at byte by byte; bodies of known length are
 * skipped by arithmetic, so a 10 MB response costs what a 10 byte one does.
 *
 * The heavy functions are global (non-static) BPF subprograms: the verifier checks
 * each once, on its own, instead of once per call site and loop iteration. They
 * take scalars only and find their state in the per-CPU work area.
 */
#ifndef REDSCOPE_H1_BPF_H
#define REDSCOPE_H1_BPF_H

#include "maps.bpf.h"

#define RS_STATUS_LINE_LEN 12 /* "HTTP/1.x NNN" */
/* Little-endian packing of bytes into words, for comparisons without string tables. */
#define M4(a, b, c, d) ((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24)
#define M8(a, b, c, d, e, f, g, h) (M4(a, b, c, d) | M4(e, f, g, h) << 32)

/* Tokens the scanner matches, as words (names lower case: matched case-insensitively). */
#define CL_NAME_0 M8('c', 'o', 'n', 't', 'e', 'n', 't', '-')
#define CL_NAME_1 M8('l', 'e', 'n', 'g', 't', 'h', ':', 0)
#define CL_NAME_LEN 15
#define TE_NAME_0 M8('t', 'r', 'a', 'n', 's', 'f', 'e', 'r')
#define TE_NAME_1 M8('-', 'e', 'n', 'c', 'o', 'd', 'i', 'n')
#define TE_NAME_2 M8('g', ':', 0, 0, 0, 0, 0, 0)
#define TE_NAME_LEN 18
#define CHUNKED_NAME M8('c', 'h', 'u', 'n', 'k', 'e', 'd', 0)
#define CHUNKED_LEN 7
#define STATUS_PREFIX M8('H', 'T', 'T', 'P', '/', '1', '.', 0)
#define STATUS_PREFIX_LEN 7
#define HEAD_NAME M8('H', 'E', 'A', 'D', ' ', 0, 0, 0)
#define H2_PREFACE M8('P', 'R', 'I', ' ', '*', ' ', 'H', 'T')
#define RS_TLS_HANDSHAKE 0x16 /* content type of a TLS handshake record */
#define HEAD_NAME_LEN 5
#define POS_DONE 0xff

/* Character pos of the token packed in words w0, w1, w2. */
static __always_inline __u8 token_char(__u64 w0, __u64 w1, __u64 w2, __u32 pos)
{
	__u64 w = pos < 8 ? w0 : pos < 16 ? w1 : w2;

	return w >> (8 * (pos & 7));
}

static __always_inline struct rs_h1 *h1_of(struct rs_work *w, __u32 dir)
{
	return dir == RS_DIR_REQ ? &w->conn.req : &w->conn.resp;
}

static __always_inline bool is_digit(__u8 c)
{
	return c >= '0' && c <= '9';
}

static __always_inline int hex_value(__u8 c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Requests in flight in a process go up or down by delta at time now. The process is
 * busy while any is. A request that begins opens the busy interval unless one is open
 * (insert with BPF_NOEXIST); one that leaves none in flight closes it: whoever deletes
 * the entry adds the interval to busy_ns, so two threads finishing at once add it once.
 * A request that began while the interval was being closed found it still open: the
 * closer opens a new one for it. Plain atomic adds only, which every kernel has.
 */
static __always_inline void target_active_add(__u32 tgid, __s32 delta, __u64 now)
{
	struct rs_target *t = bpf_map_lookup_elem(&targets, &tgid);
	__u64 *open, since;

	if (!t)
		return;
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

/* Start a fresh chunk-size line. */
static __always_inline void chunk_size_begin(struct rs_h1 *h)
{
	h->state = RS_H1_CHUNK_SIZE;
	h->mode = RS_LINE_NAME;
	h->pos = 0;
	h->remaining = 0;
}

/*
 * The empty line after a head: decide how the body is framed. Returns true when the
 * message has no body and is complete.
 */
static __always_inline bool head_done(struct rs_h1 *h, __u32 dir)
{
	if ((h->flags & RS_H1F_CL) &&
	    (!(h->flags & RS_H1F_CL_DIGITS) || (h->flags & RS_H1F_BAD_CL))) {
		stat_inc(RS_STAT_PE_BAD_LENGTH);
		h->state = RS_H1_BROKEN;
		return false;
	}
	if (dir == RS_DIR_RESP) {
		if (h->status < 200 && h->status != 101) {
			/* interim response (100 Continue, 103 Early Hints): a final one follows */
			h->state = RS_H1_IDLE;
			return false;
		}
		if (h->status == 101 || h->status == 204 || h->status == 304 ||
		    (h->flags & RS_H1F_HEAD_METHOD))
			return true;
		if (!(h->flags & (RS_H1F_CHUNKED | RS_H1F_CL))) {
			h->state = RS_H1_UNTIL_CLOSE;
			return false;
		}
	}
	if (h->flags & RS_H1F_CHUNKED) {
		chunk_size_begin(h);
		return false;
	}
	if ((h->flags & RS_H1F_CL) && h->clen) {
		h->state = RS_H1_BODY;
		h->remaining = h->clen;
		return false;
	}
	return true;
}

/* One byte of a start line or field line (not CR, not LF). */
static __always_inline void line_byte(struct rs_work *w, struct rs_h1 *h, __u8 c)
{
	__u8 lc = c | 0x20; /* lower case for letters; '-', ':' and digits unchanged */
	__u8 pos = h->pos;

	switch (h->mode) {
	case RS_LINE_REQUEST:
		if (w->conn.cur.head_len < RS_HEAD_MAX)
			w->conn.cur.head[w->conn.cur.head_len & (RS_HEAD_MAX - 1)] = c;
		if (w->conn.cur.head_len < 0xffff)
			w->conn.cur.head_len++;
		if (pos < HEAD_NAME_LEN) {
			if (c == token_char(HEAD_NAME, 0, 0, pos)) {
				h->pos = pos + 1;
				if (pos + 1 == HEAD_NAME_LEN)
					w->conn.cur.head_method = 1;
			} else {
				h->pos = POS_DONE;
			}
		}
		break;
	case RS_LINE_STATUS:
		if (pos < STATUS_PREFIX_LEN) {
			if (c != token_char(STATUS_PREFIX, 0, 0, pos))
				goto bad_status;
		} else if (pos == STATUS_PREFIX_LEN) {
			if (!is_digit(c))
				goto bad_status;
		} else if (pos == STATUS_PREFIX_LEN + 1) {
			if (c != ' ')
				goto bad_status;
		} else if (pos < RS_STATUS_LINE_LEN) {
			/* every valid status code is within 100..599 (RFC 9110 15) */
			if (!is_digit(c) || (pos == STATUS_PREFIX_LEN + 2 && (c < '1' || c > '5')))
				goto bad_status;
			h->status = h->status * 10 + (c - '0');
		}
		h->pos = pos + 1;
		if (pos + 1 == RS_STATUS_LINE_LEN)
			h->mode = RS_LINE_SKIP; /* reason phrase */
		break;
	case RS_LINE_NAME:
		h->pos = 1;
		if (lc == 'c')
			h->mode = RS_LINE_NAME_CL;
		else if (lc == 't')
			h->mode = RS_LINE_NAME_TE;
		else
			h->mode = RS_LINE_SKIP;
		break;
	case RS_LINE_NAME_CL:
		if (lc != token_char(CL_NAME_0, CL_NAME_1, 0, pos)) {
			h->mode = RS_LINE_SKIP;
			break;
		}
		h->pos = pos + 1;
		if (pos + 1 == CL_NAME_LEN) {
			h->mode = RS_LINE_VALUE_CL;
			h->flags |= RS_H1F_CL;
			h->flags &= ~RS_H1F_CL_DIGITS;
			h->clen = 0;
		}
		break;
	case RS_LINE_NAME_TE:
		if (lc != token_char(TE_NAME_0, TE_NAME_1, TE_NAME_2, pos)) {
			h->mode = RS_LINE_SKIP;
			break;
		}
		h->pos = pos + 1;
		if (pos + 1 == TE_NAME_LEN) {
			h->mode = RS_LINE_VALUE_TE;
			h->pos = 0;
		}
		break;
	case RS_LINE_VALUE_CL:
		if (is_digit(c)) {
			if (h->clen >= (1ULL << 56))
				h->flags |= RS_H1F_BAD_CL;
			else
				h->clen = h->clen * 10 + (c - '0');
			h->flags |= RS_H1F_CL_DIGITS;
		} else if (c != ' ' && c != '\t') {
			h->flags |= RS_H1F_BAD_CL;
		}
		break;
	case RS_LINE_VALUE_TE:
		/* chunked counts only as the last coding: anything after it undoes it */
		if (pos == CHUNKED_LEN) {
			if (c != ' ' && c != '\t') {
				h->flags &= ~RS_H1F_CHUNKED;
				h->pos = lc == 'c';
			}
		} else if (lc == token_char(CHUNKED_NAME, 0, 0, pos)) {
			h->pos = pos + 1;
			if (pos + 1 == CHUNKED_LEN)
				h->flags |= RS_H1F_CHUNKED;
		} else {
			h->pos = lc == 'c';
		}
		break;
	default:
		break;
	}
	return;
bad_status:
	stat_inc(RS_STAT_PE_BAD_STATUS_LINE);
	h->state = RS_H1_BROKEN;
}

#define SWAR_ONES 0x0101010101010101ULL
#define SWAR_HIGHS 0x8080808080808080ULL
#define SWAR_LF 0x0a0a0a0a0a0a0a0aULL
#define SWAR_LOWER 0x2020202020202020ULL
#define LOW_BYTES(n) ((n) >= 8 ? ~0ULL : (1ULL << (8 * (n))) - 1)

/* Index (0-7) of the lowest byte of w that is a line feed, 8 if none. */
static __always_inline __u32 lf_index(__u64 w)
{
	__u64 x = w ^ SWAR_LF;
	/* the lowest flagged byte is exact; borrows only flag bytes above it */
	__u64 t = (x - SWAR_ONES) & ~x & SWAR_HIGHS;

	if (!t)
		return 8;
	return (((t & -t) >> 7) * 0x0001020304050607ULL) >> 56;
}

/* Index of the first line feed in w->buf[i, n), or n. */
static __always_inline __u32 find_lf(struct rs_work *w, __u32 i, __u32 n)
{
	for (int k = 0; k < RS_SCAN_WINDOW / 8 + 1 && i < n; k++) {
		__u32 at = lf_index(RS_LOAD64(w->buf + (i & (RS_SCAN_WINDOW - 1))));

		if (at < 8)
			return i + at < n ? i + at : n;
		i += 8;
	}
	return n;
}

/*
 * The start of a field line, with its whole name in the window: classify it with
 * word compares. Returns the index after what it consumed.
 */
static __always_inline __u32 field_line_start(struct rs_work *w, struct rs_h1 *h, __u32 i)
{
	const __u8 *p = w->buf + (i & (RS_SCAN_WINDOW - 1));
	__u64 w0 = RS_LOAD64(p) | SWAR_LOWER;

	h->line_open = 1;
	h->pos = 0;
	if (w0 == CL_NAME_0 && ((RS_LOAD64(p + 8) | SWAR_LOWER) & LOW_BYTES(7)) == CL_NAME_1) {
		h->mode = RS_LINE_VALUE_CL;
		h->flags |= RS_H1F_CL;
		h->flags &= ~RS_H1F_CL_DIGITS;
		h->clen = 0;
		return i + CL_NAME_LEN;
	}
	if (w0 == TE_NAME_0 && (RS_LOAD64(p + 8) | SWAR_LOWER) == TE_NAME_1 &&
	    ((RS_LOAD64(p + 16) | SWAR_LOWER) & LOW_BYTES(2)) == TE_NAME_2) {
		h->mode = RS_LINE_VALUE_TE;
		return i + TE_NAME_LEN;
	}
	h->mode = RS_LINE_SKIP;
	return i + 1;
}

/*
 * A status line with "HTTP/1.x NNN" in the window: read the code at once.
 * Returns false when the bytes are not a status line (the per-byte path decides).
 */
static __always_inline bool status_line(struct rs_h1 *h, const __u8 *p)
{
	__u64 w0 = RS_LOAD64(p);
	__u64 w1 = RS_LOAD64(p + 8);
	__u8 minor = w0 >> 56, sp = w1, d0 = w1 >> 8, d1 = w1 >> 16, d2 = w1 >> 24;

	if ((w0 & LOW_BYTES(7)) != STATUS_PREFIX || !is_digit(minor) || sp != ' ' ||
	    d0 < '1' || d0 > '5' || !is_digit(d1) || !is_digit(d2))
		return false; /* the per-byte path then says why */
	h->status = (d0 - '0') * 100 + (d1 - '0') * 10 + (d2 - '0');
	h->pos = RS_STATUS_LINE_LEN;
	h->mode = RS_LINE_SKIP; /* reason phrase */
	h->line_open = 1;
	return true;
}

/*
 * A request line that ends inside the window: capture it in one copy. Returns the
 * index of its line feed, or i when it does not end here (the per-byte path then
 * captures it as it comes).
 */
static __always_inline __u32 request_line(struct rs_work *w, struct rs_h1 *h, __u32 i, __u32 n)
{
	const __u8 *p = w->buf + (i & (RS_SCAN_WINDOW - 1));
	__u32 lf = find_lf(w, i, n), len;

	if (lf >= n)
		return i;
	len = lf - i;
	if (len && w->buf[(lf - 1) & (RS_SCAN_WINDOW - 1)] == '\r')
		len--;
	/* the line only: header fields (cookies, credentials) are never copied */
	bpf_probe_read_kernel(w->conn.cur.head, len < RS_HEAD_MAX ? len : RS_HEAD_MAX, p);
	w->conn.cur.head_len = len < 0xffff ? len : 0xffff;
	w->conn.cur.head_method = (RS_LOAD64(p) & LOW_BYTES(HEAD_NAME_LEN)) == HEAD_NAME;
	h->pos = POS_DONE;
	h->mode = RS_LINE_SKIP;
	h->line_open = 1;
	return lf;
}

/*
 * Everything the scan loop does not do itself, starting at w->buf[i]: line ends,
 * line starts, start lines, values, chunk framing. Whole tokens are taken with word
 * reads when the window holds them, byte by byte otherwise (lines split across
 * reads). Returns the index to go on from; sets w->stop when the caller must stop
 * there. Global so that the verifier checks it once, not once per loop iteration.
 */
__noinline int rs_slow(__u32 dir, __u32 i, __u32 n)
{
	struct rs_work *w = work_get();
	struct rs_h1 *h;
	__u8 c;
	int v;

	if (!w || i >= n || i >= RS_SCAN_WINDOW)
		return n;
	h = h1_of(w, dir);
	c = w->buf[i & (RS_SCAN_WINDOW - 1)];
	switch (h->state) {
	case RS_H1_IDLE:
		/* a server ignores empty lines before a request line (RFC 9112 2.2) */
		if (c == '\r' || c == '\n')
			return i + 1;
		w->stop = 1;
		return i;
	case RS_H1_HEAD:
	case RS_H1_TRAILER:
		if (c == '\r')
			return i + 1;
		if (c != '\n') {
			if (!h->line_open) {
				if (h->mode == RS_LINE_NAME && i + TE_NAME_LEN <= n)
					return field_line_start(w, h, i);
				if (h->mode == RS_LINE_STATUS && i + RS_STATUS_LINE_LEN <= n &&
				    status_line(h, w->buf + (i & (RS_SCAN_WINDOW - 1))))
					return i + RS_STATUS_LINE_LEN;
				if (h->mode == RS_LINE_REQUEST) {
					__u32 lf = request_line(w, h, i, n);

					if (lf != i)
						return lf;
				}
			}
			h->line_open = 1;
			line_byte(w, h, c);
			if (h->state == RS_H1_BROKEN)
				w->stop = 1;
			return i + 1;
		}
		if (!h->line_open && h->mode >= RS_LINE_NAME) {
			/* empty line: end of the head or of the trailers */
			if (h->state == RS_H1_TRAILER || head_done(h, dir)) {
				h->state = RS_H1_IDLE;
				w->done = 1;
			}
			w->stop = 1;
			return i + 1;
		}
		if (h->mode == RS_LINE_STATUS && h->pos < RS_STATUS_LINE_LEN) {
			/* status line ended before "HTTP/1.x NNN" */
			stat_inc(RS_STAT_PE_BAD_STATUS_LINE);
			h->state = RS_H1_BROKEN;
			w->stop = 1;
			return i + 1;
		}
		h->mode = h->state == RS_H1_TRAILER ? RS_LINE_SKIP : RS_LINE_NAME;
		h->pos = 0;
		h->line_open = 0;
		/* the next line usually starts right here: classify it in the same call */
		if (h->mode == RS_LINE_NAME && i + 1 + TE_NAME_LEN <= n) {
			c = w->buf[(i + 1) & (RS_SCAN_WINDOW - 1)];
			if (c != '\r' && c != '\n')
				return field_line_start(w, h, i + 1);
		}
		return i + 1;
	case RS_H1_CHUNK_SIZE:
		if (c == '\n') {
			if (!h->pos)
				break;
			if (h->remaining) {
				h->state = RS_H1_CHUNK_DATA;
				w->stop = 1;
				return i + 1;
			}
			/* last chunk: trailer fields up to an empty line */
			h->state = RS_H1_TRAILER;
			h->mode = RS_LINE_SKIP;
			h->line_open = 0;
			return i + 1;
		}
		if (h->mode == RS_LINE_SKIP || c == '\r')
			return i + 1; /* chunk extension */
		v = hex_value(c);
		if (v >= 0) {
			if (h->remaining >= (1ULL << 56))
				break;
			h->remaining = h->remaining * 16 + v;
			h->pos = 1;
			return i + 1;
		}
		if ((c == ';' || c == ' ' || c == '\t') && h->pos) {
			h->mode = RS_LINE_SKIP;
			return i + 1;
		}
		break;
	case RS_H1_CHUNK_END:
		if (c == '\r')
			return i + 1;
		if (c != '\n')
			break;
		chunk_size_begin(h);
		return i + 1;
	default:
		w->stop = 1;
		return i;
	}
	stat_inc(RS_STAT_PE_BAD_CHUNK);
	h->state = RS_H1_BROKEN;
	w->stop = 1;
	return i + 1;
}

/*
 * Scan w->buf[from, n) in a byte-level state. Returns the index where it stopped:
 * n, or the first byte the state machine does not consume itself (body, message
 * end, broken). Sets w->done when a message completed. The common case, the rest of
 * a header line nobody cares about, is skipped here eight bytes at a time.
 */
__noinline int rs_scan(__u32 dir, __u32 from, __u32 n)
{
	struct rs_work *w = work_get();
	struct rs_h1 *h;
	__u32 i = from;

	if (!w || n > RS_SCAN_WINDOW)
		return -1;
	h = h1_of(w, dir);
	w->stop = 0;
	for (int k = 0; k < RS_SCAN_WINDOW && i < n; k++) {
		if (h->mode == RS_LINE_SKIP && h->line_open &&
		    (h->state == RS_H1_HEAD || h->state == RS_H1_TRAILER)) {
			__u32 at = lf_index(RS_LOAD64(w->buf + (i & (RS_SCAN_WINDOW - 1))));

			if (at == 8) {
				i += 8;
				continue;
			}
			i += at;
			if (i >= n)
				break;
		}
		i = rs_slow(dir, i, n);
		if (w->stop)
			return i;
	}
	return i < n ? i : n;
}

/*
 * The connection lost sync or is not HTTP: stop following it. Requests it had in
 * flight are no longer active; they are counted as the parse error that broke it
 * (reason RS_STAT__COUNT: already counted where it was found).
 */
__noinline int rs_break(__u32 reason)
{
	struct rs_work *w = work_get();
	__u32 i;

	if (!w)
		return 0;
	if (reason < RS_STAT__COUNT)
		stat_inc(reason);
	w->conn.req.state = RS_H1_BROKEN;
	w->conn.resp.state = RS_H1_BROKEN;
	if (!(w->conn.flags & RS_CONN_IN_REQUEST))
		return 0;
	target_active_add(w->key.tgid, -(__s32)(w->conn.queued + 1), w->now);
	for (i = 0; i < RS_PIPELINE_MAX && i < w->conn.queued; i++) {
		struct rs_pipe_key pk = { .tgid = w->key.tgid, .fd = w->key.fd, .seq = w->conn.seq + i };

		bpf_map_delete_elem(&pipeline, &pk);
	}
	w->conn.queued = 0;
	w->conn.flags &= ~RS_CONN_IN_REQUEST;
	return 0;
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

	if (!w || !(w->conn.flags & RS_CONN_IN_REQUEST))
		return 0;
	src = &w->conn.cur;
	if (w->conn.queued) {
		pk.tgid = w->key.tgid;
		pk.fd = w->key.fd;
		pk.seq = w->conn.seq;
		src = bpf_map_lookup_elem(&pipeline, &pk);
	}
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(RS_STAT_LOST_EVENTS);
	} else if (!src) {
		bpf_ringbuf_discard(e, 0);
		stat_inc(RS_STAT_LOST_EVENTS);
	} else {
		e->type = RS_EV_HTTP;
		e->tgid = w->key.tgid;
		e->cgroup_id = bpf_get_current_cgroup_id();
		e->start_ns = src->start_ns;
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
			e->end_ns = w->now;
			e->status = 0;
			e->resp_body_bytes = 0;
		} else {
			e->end_ns = w->conn.end_ns;
			e->status = w->conn.resp.status;
			e->resp_body_bytes = w->conn.resp.body_bytes;
		}
		bpf_ringbuf_submit(e, ringbuf_wakeup_flags());
	}
	if (w->conn.queued) {
		bpf_map_delete_elem(&pipeline, &pk);
		w->conn.queued--;
		w->conn.seq++;
	} else {
		w->conn.flags &= ~RS_CONN_IN_REQUEST;
	}
	target_active_add(w->key.tgid, -1,
			  reason == RS_END_NO_RESPONSE ? w->now : w->conn.end_ns);
	return 0;
}

/*
 * A new request begins on the connection. A close-delimited response still open
 * ends here; a request still waiting for its response is queued (pipelining).
 */
static __always_inline bool request_begin(struct rs_work *w)
{
	if ((w->conn.flags & RS_CONN_IN_REQUEST) && w->conn.resp.state == RS_H1_UNTIL_CLOSE) {
		rs_emit(RS_END_NEXT_REQUEST);
		w->conn.resp.state = RS_H1_IDLE;
	}
	if (w->conn.flags & RS_CONN_IN_REQUEST) {
		struct rs_pipe_key pk = {
			.tgid = w->key.tgid,
			.fd = w->key.fd,
			.seq = w->conn.seq + w->conn.queued,
		};

		w->conn.cur.body_bytes = w->conn.req.body_bytes;
		if (w->conn.queued >= RS_PIPELINE_MAX ||
		    bpf_map_update_elem(&pipeline, &pk, &w->conn.cur, BPF_ANY)) {
			rs_break(RS_STAT_PE_PIPELINE_FULL);
			return false;
		}
		w->conn.queued++;
	}
	w->conn.flags |= RS_CONN_IN_REQUEST;
	w->conn.cur.start_ns = w->now;
	w->conn.cur.body_bytes = 0;
	w->conn.cur.head_len = 0;
	w->conn.cur.head_method = 0;
	target_active_add(w->key.tgid, 1, w->now);
	return true;
}

/* Is the oldest unanswered request a HEAD request? */
static __always_inline bool oldest_is_head(struct rs_work *w)
{
	struct rs_pipe_key pk = { .tgid = w->key.tgid, .fd = w->key.fd, .seq = w->conn.seq };
	struct rs_request *r;

	if (!w->conn.queued)
		return w->conn.cur.head_method;
	r = bpf_map_lookup_elem(&pipeline, &pk);
	return r && r->head_method;
}

/*
 * First byte of a message in this direction: set the state machine up for its head.
 * Returns 0 when the connection is not followed any further.
 */
__noinline int rs_begin(__u32 dir, __u32 first)
{
	struct rs_work *w = work_get();
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
			rs_break(RS_STAT_PE_NOT_HTTP);
			return 0;
		}
		if (!request_begin(w))
			return 0;
		h->mode = RS_LINE_REQUEST;
		h->flags = 0;
	} else {
		if (!(w->conn.flags & RS_CONN_IN_REQUEST)) {
			rs_break(RS_STAT_PE_ORPHAN_RESPONSE);
			return 0;
		}
		h->mode = RS_LINE_STATUS;
		h->flags = oldest_is_head(w) ? RS_H1F_HEAD_METHOD : 0;
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

/* A message in this direction is complete. */
__noinline int rs_end(__u32 dir)
{
	struct rs_work *w = work_get();

	if (!w || dir == RS_DIR_REQ)
		return 0;
	rs_emit(RS_END_LENGTH);
	if (w->conn.resp.status == 101) {
		/* the connection now speaks another protocol */
		stat_inc(RS_STAT_CONNS_UPGRADED);
		w->conn.req.state = RS_H1_BROKEN;
		w->conn.resp.state = RS_H1_BROKEN;
	}
	return 0;
}

/*
 * One step of rs_feed: advance w->off through the bytes at ptr (len in all) by a
 * body run or one scan window. Returns 0 when the rest of the bytes are not looked at.
 */
__noinline int rs_step(__u32 dir, __u64 ptr, __u64 len)
{
	struct rs_work *w = work_get();
	struct rs_h1 *h;
	__u64 left, take;
	__u32 n;
	int from, used;

	if (!w || w->off >= len)
		return 0;
	h = h1_of(w, dir);
	left = len - w->off;
	switch (h->state) {
	case RS_H1_BROKEN:
		return 0;
	case RS_H1_UNTIL_CLOSE:
		h->body_bytes += left;
		w->off = len;
		return 0;
	case RS_H1_BODY:
	case RS_H1_CHUNK_DATA:
		take = left < h->remaining ? left : h->remaining;
		w->off += take;
		h->remaining -= take;
		h->body_bytes += take;
		if (h->remaining)
			return 1;
		if (h->state == RS_H1_CHUNK_DATA) {
			h->state = RS_H1_CHUNK_END;
		} else {
			h->state = RS_H1_IDLE;
			rs_end(dir);
		}
		return 1;
	default:
		break;
	}
	/* byte-level states: idle, head, chunk size, chunk end, trailer */
	if (!ptr) {
		rs_break(RS_STAT_PE_UNSEEN_BYTES);
		return 0;
	}
	n = left < RS_SCAN_WINDOW ? left : RS_SCAN_WINDOW;
	if (bpf_probe_read_user(w->buf, n, (void *)(ptr + w->off))) {
		rs_break(RS_STAT_PE_READ_FAULT);
		return 0;
	}
	from = 0;
	if (h->state == RS_H1_IDLE) {
		from = rs_scan(dir, 0, n); /* skips empty lines */
		if (from < 0)
			return 0;
		if ((__u32)from >= n) {
			w->off += n;
			return 1;
		}
		/* "PRI * HTTP/2.0": a client speaking HTTP/2 with prior knowledge */
		if (dir == RS_DIR_REQ && (__u32)from + 8 <= n &&
		    RS_LOAD64(w->buf + (from & (RS_SCAN_WINDOW - 1))) == H2_PREFACE) {
			rs_break(RS_STAT_PE_HTTP2_PREFACE);
			return 0;
		}
		if (!rs_begin(dir, w->buf[from & (RS_SCAN_WINDOW - 1)]))
			return 0;
	}
	w->done = 0;
	used = rs_scan(dir, from, n);
	if (used < from)
		return 0;
	if (h->state == RS_H1_BROKEN) {
		rs_break(RS_STAT__COUNT); /* counted where it was found */
		return 0;
	}
	if (h->state == RS_H1_HEAD || h->state == RS_H1_TRAILER) {
		h->head_bytes += used - from;
		if (h->head_bytes > RS_HEAD_SCAN_MAX) {
			rs_break(RS_STAT_PE_HEAD_TOO_LARGE);
			return 0;
		}
	}
	w->off += used;
	if (w->done)
		rs_end(dir);
	return 1;
}

/*
 * Feed len bytes at user address ptr, read or written in one direction, to the
 * connection in the work area. ptr == 0 means the bytes cannot be looked at
 * (sendfile, iovecs beyond RS_MAX_IOV): fine inside a body, fatal inside a head.
 */
__noinline int rs_feed(__u32 dir, __u64 ptr, __u64 len)
{
	struct rs_work *w = work_get();
	int step;

	if (!w)
		return 0;
	if (dir == RS_DIR_RESP)
		w->conn.end_ns = w->now;
	w->off = 0;
	for (step = 0; step < RS_SCAN_STEPS; step++)
		if (!rs_step(dir, ptr, len))
			return 0;
	if (w->off < len && h1_of(w, dir)->state != RS_H1_BROKEN)
		rs_break(RS_STAT_PE_SCAN_LIMIT);
	return 0;
}

/* Feed the bytes of one syscall, described by kind, to the connection in the work area. */
__noinline int rs_feed_io(__u32 dir, __u32 kind, __u64 buf, __u32 vlen, __u64 total)
{
	struct user_msghdr msg;
	struct iovec iov;
	__u64 left = total, seg;
	__u32 i;

	if (kind == RS_IO_BUF)
		return rs_feed(dir, buf, total);
	if (kind == RS_IO_BLIND)
		return rs_feed(dir, 0, total);
	if (kind == RS_IO_MSG) {
		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)buf))
			return rs_feed(dir, 0, total);
		buf = (__u64)msg.msg_iov;
		vlen = msg.msg_iovlen;
	}
	for (i = 0; i < RS_MAX_IOV && i < vlen && left; i++) {
		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(buf + i * sizeof(iov))))
			break;
		seg = iov.iov_len < left ? iov.iov_len : left;
		rs_feed(dir, (__u64)iov.iov_base, seg);
		left -= seg;
	}
	if (left)
		rs_feed(dir, 0, left);
	return 0;
}

/*
 * The connection is being closed: a response still open ends here, requests that
 * never got one are reported as such.
 */
__noinline int rs_close(void)
{
	struct rs_work *w = work_get();
	struct rs_h1 *h;
	__u32 i;

	if (!w)
		return 0;
	h = &w->conn.resp;
	if ((w->conn.flags & RS_CONN_IN_REQUEST) && h->state != RS_H1_IDLE &&
	    h->state != RS_H1_BROKEN && !(h->state == RS_H1_HEAD && h->pos < RS_STATUS_LINE_LEN))
		rs_emit(h->state == RS_H1_UNTIL_CLOSE ? RS_END_CLOSE : RS_END_TRUNCATED);
	for (i = 0; i <= RS_PIPELINE_MAX && (w->conn.flags & RS_CONN_IN_REQUEST); i++)
		rs_emit(RS_END_NO_RESPONSE);
	return 0;
}

#endif /* REDSCOPE_H1_BPF_H */
