/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Streaming HTTP/1.x framing in BPF: where requests and responses start and end.
 *
 * Each direction of a connection runs a small state machine (struct rs_h1) that is
 * fed the bytes of every read or write, however they are split: any number of
 * iovecs, any number of messages or chunks in one call, heads split at any byte.
 * The bytes are copied from the application a window at a time and every message
 * that starts or ends in the window is framed there. Only heads, chunk size lines
 * and trailers are looked at byte by byte; bodies of known length are skipped by
 * arithmetic, so a 10 MB response costs what a 10 byte one does.
 *
 * The framing core touches framing state only and tells the exchange layer below
 * it (h1_exchange.bpf.h) when a message begins or ends, or when framing is lost.
 *
 * The heavy functions are global (non-static) BPF subprograms: the verifier checks
 * each once, on its own, instead of once per call site and loop iteration. They
 * take scalars only and find their state in the per-CPU work area.
 */
#ifndef REDSCOPE_H1_BPF_H
#define REDSCOPE_H1_BPF_H

#include "h1_exchange.bpf.h"

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
#define H2_PREFACE M8('P', 'R', 'I', ' ', '*', ' ', 'H', 'T')
#define HOST_NAME M8('h', 'o', 's', 't', ':', 0, 0, 0)
#define HOST_NAME_LEN 5
#define POS_DONE 0xff

/* Character pos of the token packed in words w0, w1, w2. */
static __always_inline __u8 token_char(__u64 w0, __u64 w1, __u64 w2, __u32 pos)
{
	__u64 w = pos < 8 ? w0 : pos < 16 ? w1 : w2;

	return w >> (8 * (pos & 7));
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

#define SWAR_ONES 0x0101010101010101ULL
#define SWAR_HIGHS 0x8080808080808080ULL
#define SWAR_LF 0x0a0a0a0a0a0a0a0aULL
#define SWAR_LOWER 0x2020202020202020ULL
/* What the first 8 bytes of a request line (fewer: len) say of its response's framing. */
static __always_inline __u8 method_kind(__u64 w, __u32 len)
{
	if (len >= HEAD_NAME_LEN && (w & LOW_BYTES(HEAD_NAME_LEN)) == HEAD_NAME)
		return RS_METHOD_HEAD;
	if (len >= 8 && w == CONNECT_NAME)
		return RS_METHOD_CONNECT;
	return RS_METHOD_OTHER;
}

/*
 * Do the 8 bytes in w start HTTP/2 where a message of direction dir would start: the
 * client's connection preface, or, before any request or after a 101, the server's (a
 * SETTINGS frame: nginx and others write theirs as soon as the connection is up, ahead
 * of the client's).
 */
static __always_inline bool h2_starts(struct rs_work *w, __u32 dir, __u64 word)
{
	if (w->conn.flags & RS_CONN_CLIENT)
		return false; /* what a process calls is followed in HTTP/1.x only */
	if (dir == RS_DIR_REQ)
		return word == H2_PREFACE;
	/* length < 64 KiB, a multiple of 6; type SETTINGS; no flags; stream 0 (3 bytes of 4) */
	return (!(w->conn.flags & RS_CONN_IN_REQUEST) || (w->conn.flags & RS_CONN_UPGRADE)) &&
	       (word & 0xffffffffff0000ffULL) == 0x04000000ULL &&
	       !((((word >> 8) & 0xff) << 8 | ((word >> 16) & 0xff)) % 6);
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
static __always_inline bool head_done(struct rs_work *w, struct rs_h1 *h, __u32 dir)
{
	if ((h->flags & RS_H1F_CL) &&
	    (!(h->flags & RS_H1F_CL_DIGITS) || (h->flags & RS_H1F_BAD_CL))) {
		w->lost = RS_R_BAD_LENGTH + 1;
		return false;
	}
	if (dir == RS_DIR_RESP) {
		if (h->status < 200 && h->status != 101) {
			/* interim response (100 Continue, 103 Early Hints): a final one follows */
			h->state = RS_H1_IDLE;
			return false;
		}
		/* a 2xx to CONNECT has no body whatever its fields say (RFC 9110 9.3.6) */
		if (h->status == 101 || h->status == 204 || h->status == 304 ||
		    (h->flags & RS_H1F_HEAD_METHOD) ||
		    ((h->flags & RS_H1F_CONNECT) && h->status >= 200 && h->status < 300))
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

/* One byte of a Content-Length value (not CR, not LF). */
static __always_inline void cl_byte(struct rs_h1 *h, __u8 c)
{
	if (is_digit(c)) {
		if (h->clen >= (1ULL << 56))
			h->flags |= RS_H1F_BAD_CL;
		else
			h->clen = h->clen * 10 + (c - '0');
		h->flags |= RS_H1F_CL_DIGITS;
	} else if (c != ' ' && c != '\t') {
		h->flags |= RS_H1F_BAD_CL;
	}
}

/*
 * One byte of a Transfer-Encoding value (not CR, not LF): chunked counts only as the
 * last coding, anything after it undoes it.
 */
static __always_inline void te_byte(struct rs_h1 *h, __u8 c)
{
	__u8 lc = c | 0x20, pos = h->pos;

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
}

/* Bytes of the head that hold the request line: a client's keeps room for its Host. */
static __always_inline __u32 head_room(struct rs_work *w)
{
	return w->conn.flags & RS_CONN_CLIENT ? RS_CLIENT_LINE_MAX : RS_HEAD_MAX;
}

/* One byte of a start line or field line (not CR, not LF). */
static __always_inline void line_byte(struct rs_work *w, struct rs_h1 *h, __u8 c)
{
	__u8 lc = c | 0x20; /* lower case for letters; '-', ':' and digits unchanged */
	__u8 pos = h->pos;

	switch (h->mode) {
	case RS_LINE_REQUEST:
		if (w->conn.cur.head_len < head_room(w))
			w->conn.cur.head[w->conn.cur.head_len & (RS_HEAD_MAX - 1)] = c;
		if (w->conn.cur.head_len < 0xffff)
			w->conn.cur.head_len++;
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
		cl_byte(h, c);
		break;
	case RS_LINE_VALUE_TE:
		te_byte(h, c);
		break;
	default:
		break;
	}
	return;
bad_status:
	w->lost = RS_R_BAD_STATUS_LINE + 1;
}

/* The request line captured byte by byte ended: what its method says. */
static __always_inline void request_line_end(struct rs_work *w)
{
	__u32 len = w->conn.cur.head_len;

	w->conn.cur.method = method_kind(RS_LOAD64(w->conn.cur.head) & LOW_BYTES(len), len);
}

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

/*
 * Index of the first line feed in w->buf[i, n), or n. Global: the verifier checks its
 * loop once, not in every state rs_slow reaches it in.
 */
__noinline int rs_find_lf(__u32 i, __u32 n)
{
	struct rs_work *w = work_get();

	if (!w)
		return n;
	for (int k = 0; k < RS_SCAN_WINDOW / 8 + 1 && i < n; k++) {
		__u32 at = lf_index(RS_LOAD64(w->buf + (i & (RS_SCAN_WINDOW - 1))));

		if (at < 8)
			return i + at < n ? i + at : n;
		i += 8;
	}
	return n;
}

/*
 * The value of a Content-Length or Transfer-Encoding field, from w->buf[j]: its
 * bytes in one loop, up to its line feed, the end of the window or
 * RS_VALUE_FAST_MAX bytes. Returns the index it stopped at; the per-byte path goes
 * on from there (the value state is the same either way). Global: the verifier
 * checks its loop once.
 */
#define RS_VALUE_FAST_MAX 32 /* longer values go on byte by byte */
__noinline int rs_field_value(__u32 dir, __u32 j, __u32 n)
{
	struct rs_work *w = work_get();
	struct rs_h1 *h;
	bool cl;
	__u8 c;

	if (!w || n > RS_SCAN_WINDOW)
		return j;
	h = h1_of(w, dir);
	cl = h->mode == RS_LINE_VALUE_CL;
	for (int k = 0; k < RS_VALUE_FAST_MAX && j < n; k++, j++) {
		c = w->buf[j & (RS_SCAN_WINDOW - 1)];
		if (c == '\n')
			break;
		if (c == '\r')
			continue;
		if (cl)
			cl_byte(h, c);
		else
			te_byte(h, c);
	}
	return j;
}

/*
 * The Host field of a request a client sends, its value from w->buf[j] (the window
 * ends at n): kept after the request line (RS_CLIENT_HOST_AT), for the daemon to name
 * the server called. A value longer than RS_CLIENT_HOST_MAX or not ended in the window
 * is kept as cut (the daemon then names the server by its address). Global: the
 * verifier checks it once.
 */
__noinline int rs_host_value(__u32 j, __u32 n)
{
	struct rs_work *w = work_get();
	__u32 len = RS_CLIENT_HOST_CUT, at;

	if (!w || j > n || n > RS_SCAN_WINDOW)
		return 0;
	/* its line feed within RS_CLIENT_HOST_MAX bytes, and the window */
	for (__u32 k = 0; k < (RS_CLIENT_HOST_MAX + 8) / 8; k++) {
		at = lf_index(RS_LOAD64(w->buf + ((j + 8 * k) & (RS_SCAN_WINDOW - 1))));
		if (at < 8) {
			len = 8 * k + at;
			break;
		}
	}
	if (len > RS_CLIENT_HOST_MAX || j + len >= n) {
		w->conn.cur.head[RS_CLIENT_HOST_AT] = RS_CLIENT_HOST_CUT;
		return 0;
	}
	RS_BOUND(len, 63); /* len <= RS_CLIENT_HOST_MAX, said to the verifier (the CR, if any,
			      is cut by the daemon) */
	if (bpf_probe_read_kernel(w->conn.cur.head + RS_CLIENT_HOST_AT + 1, len,
				  w->buf + (j & (RS_SCAN_WINDOW - 1))))
		len = RS_CLIENT_HOST_CUT;
	w->conn.cur.head[RS_CLIENT_HOST_AT] = len;
	return 0;
}

/*
 * The start of a field line, with its whole name in the window: classify it with
 * word compares. Returns the index after what it consumed.
 */
static __always_inline __u32 field_line_start(struct rs_work *w, struct rs_h1 *h, __u32 i,
					      __u32 n)
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
		return rs_field_value(h == &w->conn.req ? RS_DIR_REQ : RS_DIR_RESP, i + CL_NAME_LEN, n);
	}
	if (w0 == TE_NAME_0 && (RS_LOAD64(p + 8) | SWAR_LOWER) == TE_NAME_1 &&
	    ((RS_LOAD64(p + 16) | SWAR_LOWER) & LOW_BYTES(2)) == TE_NAME_2) {
		h->mode = RS_LINE_VALUE_TE;
		return rs_field_value(h == &w->conn.req ? RS_DIR_REQ : RS_DIR_RESP, i + TE_NAME_LEN, n);
	}
	h->mode = RS_LINE_SKIP;
	if ((w->conn.flags & RS_CONN_CLIENT) && h == &w->conn.req &&
	    (w0 & LOW_BYTES(HOST_NAME_LEN)) == HOST_NAME)
		rs_host_value(i + HOST_NAME_LEN, n);
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
	__u32 lf = rs_find_lf(i, n), len, copy;

	if (lf >= n)
		return i;
	len = lf - i;
	if (len && w->buf[(lf - 1) & (RS_SCAN_WINDOW - 1)] == '\r')
		len--;
	copy = len < head_room(w) ? len : head_room(w);
	RS_BOUND(copy, 2 * RS_HEAD_MAX - 1); /* copy <= RS_HEAD_MAX: a bound the 6.1 verifier
						 loses through a min() of two variables */
	/* the line only: header fields (cookies, credentials) are never copied */
	bpf_probe_read_kernel(w->conn.cur.head, copy, p);
	w->conn.cur.head_len = len < 0xffff ? len : 0xffff;
	w->conn.cur.method = method_kind(RS_LOAD64(p) & LOW_BYTES(len), len);
	h->pos = POS_DONE;
	h->mode = RS_LINE_SKIP;
	h->line_open = 1;
	return lf;
}

/*
 * The empty line that ends a head or trailers, its line feed at index lf: how the body
 * is framed, or the message is complete. The scan stops after it.
 */
static __always_inline int empty_line(struct rs_work *w, struct rs_h1 *h, __u32 dir, __u32 lf)
{
	if (h->state == RS_H1_TRAILER || head_done(w, h, dir)) {
		h->state = RS_H1_IDLE;
		w->done = 1;
	}
	w->stop = 1;
	return lf + 1;
}

/*
 * A chunk-size line from w->buf[i] (hex digits, an extension after ';', CRLF), as much of
 * it as the window holds, in one call: on to the chunk's data, or to the trailers after
 * the last chunk (their end too when there are none). Returns the index to go on from.
 * Global: the verifier checks its loop once.
 */
#define RS_CHUNK_LINE_STEPS 24 /* 16 hex digits, CRLF and room for a short extension */
__noinline int rs_chunk_size_line(__u32 dir, __u32 i, __u32 n)
{
	struct rs_work *w = work_get();
	struct rs_h1 *h;
	int v;
	__u8 c;

	if (!w)
		return n;
	h = h1_of(w, dir);
	for (int k = 0; k < RS_CHUNK_LINE_STEPS && i < n; k++, i++) {
		c = w->buf[i & (RS_SCAN_WINDOW - 1)];
		if (c == '\n') {
			if (!h->pos)
				goto bad;
			if (h->remaining) {
				h->state = RS_H1_CHUNK_DATA;
				w->stop = 1;
				return i + 1;
			}
			/* last chunk: trailer fields up to an empty line, often none */
			h->state = RS_H1_TRAILER;
			h->mode = RS_LINE_SKIP;
			h->line_open = 0;
			if (i + 1 < n && w->buf[(i + 1) & (RS_SCAN_WINDOW - 1)] == '\n')
				return empty_line(w, h, dir, i + 1);
			if (i + 2 < n && w->buf[(i + 1) & (RS_SCAN_WINDOW - 1)] == '\r' &&
			    w->buf[(i + 2) & (RS_SCAN_WINDOW - 1)] == '\n')
				return empty_line(w, h, dir, i + 2);
			return i + 1;
		}
		if (h->mode == RS_LINE_SKIP || c == '\r')
			continue; /* chunk extension */
		v = hex_value(c);
		if (v >= 0) {
			if (h->remaining >= (1ULL << 56))
				goto bad;
			h->remaining = h->remaining * 16 + v;
			h->pos = 1;
			continue;
		}
		if ((c == ';' || c == ' ' || c == '\t') && h->pos) {
			h->mode = RS_LINE_SKIP;
			continue;
		}
		goto bad;
	}
	return i;
bad:
	w->lost = RS_R_BAD_CHUNK + 1;
	w->stop = 1;
	return i + 1;
}

/*
 * Everything the scan loop does not do itself, starting at w->buf[i]: line ends,
 * line starts, start lines, values, chunk framing. Whole tokens are taken with word
 * reads when the window holds them, byte by byte otherwise (lines split across
 * reads). Returns the index to go on from; sets w->stop when the caller must stop
 * there, w->lost (reason + 1) when the bytes cannot be framed. Global so that the
 * verifier checks it once, not once per loop iteration.
 */
__noinline int rs_slow(__u32 dir, __u32 i, __u32 n)
{
	struct rs_work *w = work_get();
	struct rs_h1 *h;
	__u8 c;

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
					return field_line_start(w, h, i, n);
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
			if (w->lost)
				w->stop = 1;
			return i + 1;
		}
		if (!h->line_open && h->mode >= RS_LINE_NAME)
			return empty_line(w, h, dir, i);
		if (h->mode == RS_LINE_STATUS && h->pos < RS_STATUS_LINE_LEN) {
			/* status line ended before "HTTP/1.x NNN" */
			w->lost = RS_R_BAD_STATUS_LINE + 1;
			w->stop = 1;
			return i + 1;
		}
		if (h->mode == RS_LINE_REQUEST)
			request_line_end(w);
		h->mode = h->state == RS_H1_TRAILER ? RS_LINE_SKIP : RS_LINE_NAME;
		h->pos = 0;
		h->line_open = 0;
		/*
		 * The next line usually starts right here: classify it in the same call, or
		 * end the head (or trailers) if it is the empty line.
		 */
		if (i + 2 < n) {
			c = w->buf[(i + 1) & (RS_SCAN_WINDOW - 1)];
			if (c == '\n')
				return empty_line(w, h, dir, i + 1);
			if (c == '\r' && w->buf[(i + 2) & (RS_SCAN_WINDOW - 1)] == '\n')
				return empty_line(w, h, dir, i + 2);
			if (h->mode == RS_LINE_NAME && c != '\r' && i + 1 + TE_NAME_LEN <= n)
				return field_line_start(w, h, i + 1, n);
		}
		return i + 1;
	case RS_H1_CHUNK_END:
		/* the line end after a chunk's data, then the next size line in this call */
		if (c == '\r' && i + 1 < n)
			c = w->buf[++i & (RS_SCAN_WINDOW - 1)];
		if (c == '\r')
			return i + 1;
		if (c != '\n')
			break;
		chunk_size_begin(h);
		if (++i >= n)
			return i;
		/* fall through */
	case RS_H1_CHUNK_SIZE:
		return rs_chunk_size_line(dir, i, n);
	default:
		w->stop = 1;
		return i;
	}
	w->lost = RS_R_BAD_CHUNK + 1;
	w->stop = 1;
	return i + 1;
}

/*
 * Do the bytes at p start a field line whose name is neither Content-Length nor
 * Transfer-Encoding (TE_NAME_LEN bytes readable)? A name that starts like
 * Transfer-Encoding goes the long way, to field_line_start, which tells them apart.
 */
static __always_inline bool ordinary_field_line(const __u8 *p, bool host)
{
	__u64 w0 = RS_LOAD64(p);
	__u8 c = w0;

	w0 |= SWAR_LOWER;
	if (host && (w0 & LOW_BYTES(HOST_NAME_LEN)) == HOST_NAME)
		return false; /* a client's: rs_host_value keeps it */
	if (w0 == CL_NAME_0) /* Content-Type, Content-Encoding, ... */
		return ((RS_LOAD64(p + 8) | SWAR_LOWER) & LOW_BYTES(7)) != CL_NAME_1;
	return c != '\r' && c != '\n' && w0 != TE_NAME_0;
}

/*
 * From w->buf[i], inside a field line of a head that nobody looks into: skip it and
 * every such line after it (ordinary_field_line), a word at a time. Returns the index
 * of the line feed after which comes a line the scanner must look at (the empty line,
 * Content-Length, Transfer-Encoding, one whose name does not fit in the window), n
 * when the window ends inside a line, or where its steps ran out (inside a line, or at
 * a line feed not passed yet). Global: the verifier checks its loop once, not in every
 * step of rs_scan's.
 */
#define RS_SKIP_STEPS 64 /* a word skipped or a line feed passed in each: a head's fields */
__noinline int rs_skip_fields(__u32 i, __u32 n)
{
	struct rs_work *w = work_get();
	bool host;

	if (!w || n > RS_SCAN_WINDOW)
		return n;
	host = w->conn.flags & RS_CONN_CLIENT;
	for (int k = 0; k < RS_SKIP_STEPS && i < n; k++) {
		__u32 at = lf_index(RS_LOAD64(w->buf + (i & (RS_SCAN_WINDOW - 1))));

		i += at;
		if (at < 8 && i < n) {
			if (i + 1 + TE_NAME_LEN > n ||
			    !ordinary_field_line(w->buf + ((i + 1) & (RS_SCAN_WINDOW - 1)), host))
				return i;
			i += 2;
		}
		barrier_var(i);
		i &= 2 * RS_SCAN_WINDOW - 1;
	}
	return i < n ? i : n;
}

/*
 * Scan w->buf[from, n) in a byte-level state. Returns the index where it stopped:
 * n, or the first byte the state machine does not consume itself (body, message
 * end, lost framing). Sets w->done when a message completed. The common case, the
 * rest of a header line nobody cares about, is skipped here eight bytes at a time.
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
	for (int k = 0; k < RS_SCAN_STEPS && i < n; k++) {
		bool slow = true;

		if (h->mode == RS_LINE_SKIP && h->line_open &&
		    (h->state == RS_H1_HEAD || h->state == RS_H1_TRAILER)) {
			__u32 at = lf_index(RS_LOAD64(w->buf + (i & (RS_SCAN_WINDOW - 1))));

			i += at;
			slow = at < 8 && i < n; /* at its line feed */
			/*
			 * A field line of a head follows it that is neither Content-Length
			 * nor Transfer-Encoding (most do): it and the like after it are
			 * skipped in one call, in the state rs_slow would leave them in.
			 */
			if (slow && h->state == RS_H1_HEAD && i + 1 + TE_NAME_LEN <= n &&
			    ordinary_field_line(w->buf + ((i + 1) & (RS_SCAN_WINDOW - 1)),
						w->conn.flags & RS_CONN_CLIENT)) {
				h->pos = 0;
				i = rs_skip_fields(i + 2, n);
				slow = i < n && w->buf[i & (RS_SCAN_WINDOW - 1)] == '\n';
			}
		}
		if (slow) {
			i = rs_slow(dir, i, n);
			if (w->stop)
				return i;
		}
		/*
		 * i < n + 8 <= 2 * RS_SCAN_WINDOW: the mask changes nothing but what the
		 * verifier knows of i, which then is the same after either branch, so it
		 * walks each iteration of this loop once, not once per way to reach it.
		 */
		barrier_var(i);
		i &= 2 * RS_SCAN_WINDOW - 1;
	}
	return i < n ? i : n;
}

/*
 * Body bytes [i, n) of the current message, or as many of them as it has left:
 * counted, not read. Returns the index after them.
 */
static __always_inline __u64 body_run(struct rs_h1 *h, __u32 dir, __u64 i, __u64 n)
{
	__u64 take = n - i < h->remaining ? n - i : h->remaining;

	h->remaining -= take;
	h->body_bytes += take;
	if (!h->remaining) {
		if (h->state == RS_H1_CHUNK_DATA) {
			h->state = RS_H1_CHUNK_END;
		} else {
			h->state = RS_H1_IDLE;
			rs_message_end(dir);
		}
	}
	return i + take;
}

/*
 * One step of framing at w->buf[i] in a window of n bytes: a body run, or the start
 * of a message and as much of its head as follows, or more of a head, chunk line or
 * trailer. Returns the index to go on from (at least i + 1), or -1 when the rest of
 * the bytes are not looked at (framing lost, a tunnel, not HTTP).
 */
__noinline int rs_frame(__u32 dir, __u32 i, __u32 n)
{
	struct rs_work *w = work_get();
	struct rs_h1 *h;
	__u8 c;
	int j;

	if (!w || i >= n || n > RS_SCAN_WINDOW)
		return -1;
	h = h1_of(w, dir);
	switch (h->state) {
	case RS_H1_BODY:
	case RS_H1_CHUNK_DATA:
		return body_run(h, dir, i, n);
	case RS_H1_UNTIL_CLOSE:
		h->body_bytes += n - i;
		return n;
	case RS_H1_RESYNC:
	case RS_H1_IGNORED:
		return -1;
	case RS_H1_IDLE:
		if (w->conn.flags & RS_CONN_UPGRADE) {
			/*
			 * After a 101: HTTP/2 if its preface (either side's) comes next (the
			 * feeding goes on with it), else a tunnel (WebSocket, ...): not
			 * followed any further.
			 */
			if (i + 8 <= n && h2_starts(w, dir, RS_LOAD64(w->buf + (i & (RS_SCAN_WINDOW - 1))))) {
				w->h2_at = w->off + i + 1;
			} else {
				rs_upgrade_tunnel();
			}
			return -1;
		}
		j = i;
		c = w->buf[i & (RS_SCAN_WINDOW - 1)];
		if (c == '\r' || c == '\n') {
			j = rs_scan(dir, i, n); /* skips empty lines */
			if (j < 0 || (__u32)j >= n)
				return n;
			if (!w->stop)
				return j; /* its steps ran out among empty lines: on from there */
		}
		/*
		 * "PRI * HTTP/2.0": a client speaking HTTP/2 with prior knowledge (or over
		 * TLS with ALPN h2). Not HTTP/1.x from here: where it starts is handed back
		 * to the feeding (feed.bpf.h), which goes on with HTTP/2's framing.
		 */
		if ((__u32)j + 8 <= n && h2_starts(w, dir, RS_LOAD64(w->buf + (j & (RS_SCAN_WINDOW - 1))))) {
			w->h2_at = w->off + j + 1;
			return -1;
		}
		if (!rs_message_begin(dir, w->buf[j & (RS_SCAN_WINDOW - 1)]))
			return -1;
		i = j;
		break;
	default:
		break;
	}
	/* head, chunk size line, chunk end, trailer */
	w->done = 0;
	w->lost = 0;
	j = rs_scan(dir, i, n);
	if (j < (int)i)
		return -1;
	if (w->lost) {
		rs_lost(dir, w->lost - 1);
		return -1;
	}
	if (h->state == RS_H1_HEAD || h->state == RS_H1_TRAILER) {
		h->head_bytes += j - i;
		if (h->head_bytes > RS_HEAD_SCAN_MAX) {
			rs_lost(dir, RS_R_HEAD_TOO_LARGE);
			return -1;
		}
	}
	if (w->done)
		rs_message_end(dir);
	return j > (int)i ? j : (int)i + 1;
}

/*
 * Frame the bytes at user address ptr (len in all) from w->off on, until a window is
 * used up: either a body run skipped without reading it, or up to RS_SCAN_WINDOW
 * bytes copied once and framed in place, every message that starts or ends in them
 * included. Returns 0 when the rest of the bytes are not looked at.
 */
__noinline int rs_window(__u32 dir, __u64 ptr, __u64 len)
{
	struct rs_work *w = work_get();
	struct rs_h1 *h;
	__u64 left;
	__u32 n, i = 0;
	int next;

	if (!w || w->off >= len)
		return 0;
	h = h1_of(w, dir);
	left = len - w->off;
	switch (h->state) {
	case RS_H1_RESYNC:
	case RS_H1_IGNORED:
		w->off = len;
		return 0;
	case RS_H1_UNTIL_CLOSE:
		h->body_bytes += left;
		w->off = len;
		return 0;
	case RS_H1_BODY:
	case RS_H1_CHUNK_DATA:
		/* a body that runs past the window, or bytes we cannot read: arithmetic */
		if (!ptr || h->remaining >= left || h->remaining >= RS_SCAN_WINDOW) {
			w->off += body_run(h, dir, 0, left);
			return 1;
		}
		break;
	default:
		break;
	}
	if (!ptr) {
		rs_lost(dir, RS_R_UNSEEN_BYTES); /* head bytes we cannot look at */
		return 0;
	}
	n = left < RS_SCAN_WINDOW ? left : RS_SCAN_WINDOW;
	if (w->budget < n) {
		rs_lost(dir, RS_R_SCAN_LIMIT);
		return 0;
	}
	w->budget -= n;
	if (bpf_probe_read_user(w->buf, n, (void *)(ptr + w->off))) {
		rs_lost(dir, RS_R_READ_FAULT);
		return 0;
	}
	for (int k = 0; k < RS_WINDOW_STEPS && i < n; k++) {
		next = rs_frame(dir, i, n);
		if (next < 0) {
			w->off = len;
			return 0;
		}
		i = next;
	}
	w->off += i;
	return 1;
}

#endif /* REDSCOPE_H1_BPF_H */
