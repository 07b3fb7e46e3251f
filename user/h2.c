// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP/2 connections from the frame walker's events; see h2.h.
 *
 * Per connection: for each direction an HPACK decoder, the frame being received (its
 * forwarded payload gathered across events) and the header block being gathered
 * (HEADERS or PUSH_PROMISE and its CONTINUATIONs); and the open streams, by id. The
 * client's HEADERS open a stream, the server's final HEADERS give its status, and the
 * stream ends at the server's END_STREAM (trailers included), a RST_STREAM either way,
 * or the connection's close.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "h2.h"
#include "hpack.h"
#include "http1.h"

struct h2_frame_in {
	uint8_t type, flags;
	uint32_t stream, length;
	uint32_t expect, got; /* payload bytes forwarded: expected, gathered */
	bool gap;	      /* some were not */
	bool skip;	      /* after a lost event: pieces of a frame whose header was lost */
	uint64_t ts;	      /* the event its header came in */
	struct buf payload;   /* what was forwarded of it */
};

struct h2_block {
	bool open;	 /* a HEADERS or PUSH_PROMISE waits for its CONTINUATIONs */
	bool broken;	 /* part of it went unseen */
	uint8_t type;	 /* RS_H2_HEADERS or RS_H2_PUSH_PROMISE */
	uint8_t flags;	 /* of the HEADERS frame: END_STREAM */
	uint32_t stream;
	uint64_t ts;
	struct buf bytes;
};

struct h2_dir {
	struct hpack_decoder dec;
	struct h2_frame_in frame;
	struct h2_block block;
	bool lost; /* the kernel lost this direction's framing */
};

struct h2_stream {
	struct h2_stream_result r;
	bool final_status; /* a final (non-1xx) response head was seen */
};

struct h2_conn {
	uint64_t sk;
	struct h2_conn *next; /* hash chain */
	struct h2_dir dir[2];
	struct h2_stream *streams;
	size_t n_streams, cap_streams;
	uint32_t first_stream, last_stream; /* client streams opened: the first and newest ids */
	uint32_t tgid;
	bool tls;
	bool queued; /* queue_ns waits for the first stream to end */
	uint64_t queue_ns;
};

#define H2_BUCKETS 4096
#define H2_PROC_BUCKETS 256

/* A process's streams in flight and busy time: HTTP/2's part of its saturation gauges. */
struct h2_proc {
	struct h2_proc *next;
	uint32_t tgid;
	int64_t active;
	uint64_t busy_ns; /* intervals with streams in flight that ended */
	uint64_t since;	  /* the open one's start, while active > 0 */
};

struct h2_conns {
	struct h2_conn *buckets[H2_BUCKETS];
	size_t n_conns;
	h2_on_stream on_stream;
	void *ctx;
	struct h2_counts counts;
	pthread_mutex_t procs_lock; /* the scrapes read procs */
	struct h2_proc *procs[H2_PROC_BUCKETS];
};

struct h2_conns *h2_conns_new(h2_on_stream on_stream, void *ctx)
{
	struct h2_conns *cs = calloc(1, sizeof(*cs));

	if (!cs)
		return NULL;
	cs->on_stream = on_stream;
	cs->ctx = ctx;
	pthread_mutex_init(&cs->procs_lock, NULL);
	return cs;
}

static struct h2_proc **proc_slot(struct h2_conns *cs, uint32_t tgid)
{
	struct h2_proc **pp = &cs->procs[tgid % H2_PROC_BUCKETS];

	while (*pp && (*pp)->tgid != tgid)
		pp = &(*pp)->next;
	return pp;
}

/* A stream of process tgid opened (+1) or ended (-1) at ts. */
static void proc_streams(struct h2_conns *cs, uint32_t tgid, int delta, uint64_t ts)
{
	struct h2_proc **pp, *p;

	pthread_mutex_lock(&cs->procs_lock);
	pp = proc_slot(cs, tgid);
	p = *pp;
	if (!p && delta > 0 && (p = calloc(1, sizeof(*p)))) {
		p->tgid = tgid;
		*pp = p;
	}
	if (p) {
		if (p->active <= 0 && delta > 0)
			p->since = ts;
		p->active += delta;
		if (p->active <= 0) {
			p->active = 0;
			if (delta < 0 && ts > p->since)
				p->busy_ns += ts - p->since;
		}
	}
	pthread_mutex_unlock(&cs->procs_lock);
}

void h2_conns_process(struct h2_conns *cs, uint32_t tgid, uint64_t now, int64_t *active,
		      uint64_t *busy_ns)
{
	struct h2_proc *p;

	pthread_mutex_lock(&cs->procs_lock);
	p = *proc_slot(cs, tgid);
	*active = p ? p->active : 0;
	*busy_ns = p ? p->busy_ns + (p->active > 0 && now > p->since ? now - p->since : 0) : 0;
	pthread_mutex_unlock(&cs->procs_lock);
}

uint64_t h2_conns_process_exit(struct h2_conns *cs, uint32_t tgid, uint64_t now)
{
	struct h2_proc **pp, *p;
	uint64_t busy = 0;

	pthread_mutex_lock(&cs->procs_lock);
	pp = proc_slot(cs, tgid);
	p = *pp;
	if (p) {
		busy = p->busy_ns + (p->active > 0 && now > p->since ? now - p->since : 0);
		*pp = p->next;
		free(p);
	}
	pthread_mutex_unlock(&cs->procs_lock);
	return busy;
}

static size_t bucket_of(uint64_t sk)
{
	sk ^= sk >> 29;
	sk *= 0xbf58476d1ce4e5b9ULL;
	sk ^= sk >> 32;
	return sk % H2_BUCKETS;
}

static struct h2_conn **conn_slot(struct h2_conns *cs, uint64_t sk)
{
	struct h2_conn **pp = &cs->buckets[bucket_of(sk)];

	while (*pp && (*pp)->sk != sk)
		pp = &(*pp)->next;
	return pp;
}

static void conn_free(struct h2_conn *c)
{
	for (int d = 0; d < 2; d++) {
		hpack_decoder_free(&c->dir[d].dec);
		buf__free(&c->dir[d].frame.payload);
		buf__free(&c->dir[d].block.bytes);
	}
	free(c->streams);
	free(c);
}

void h2_conns_free(struct h2_conns *cs)
{
	if (!cs)
		return;
	for (size_t b = 0; b < H2_BUCKETS; b++) {
		while (cs->buckets[b]) {
			struct h2_conn *c = cs->buckets[b];
			cs->buckets[b] = c->next;
			conn_free(c);
		}
	}
	for (size_t b = 0; b < H2_PROC_BUCKETS; b++) {
		while (cs->procs[b]) {
			struct h2_proc *p = cs->procs[b];
			cs->procs[b] = p->next;
			free(p);
		}
	}
	pthread_mutex_destroy(&cs->procs_lock);
	free(cs);
}

const struct h2_counts *h2_conns_counts(const struct h2_conns *cs)
{
	return &cs->counts;
}

size_t h2_conns_open(const struct h2_conns *cs)
{
	return cs->n_conns;
}

static struct h2_conn *conn_new(struct h2_conns *cs, const struct rs_event_h2 *ev)
{
	bool late = ev->flags & RS_H2_EVF_LATE;
	struct h2_conn *c;

	if (cs->n_conns >= H2_CONNS_MAX) {
		cs->counts.conns_dropped++;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (hpack_decoder_init(&c->dir[0].dec, late) || hpack_decoder_init(&c->dir[1].dec, late)) {
		conn_free(c);
		return NULL;
	}
	c->sk = ev->sk;
	if (ev->flags & RS_H2_EVF_UPGRADE) /* stream 1 was the request that upgraded */
		c->first_stream = c->last_stream = 1;
	cs->n_conns++;
	cs->counts.conns++;
	if (late)
		cs->counts.late_conns++;
	return c;
}

static struct h2_stream *stream_find(struct h2_conn *c, uint32_t id)
{
	for (size_t i = 0; i < c->n_streams; i++)
		if (c->streams[i].r.stream_id == id)
			return &c->streams[i];
	return NULL;
}

static struct h2_stream *stream_open(struct h2_conns *cs, struct h2_conn *c, uint32_t id, uint64_t ts)
{
	if (c->n_streams >= H2_STREAMS_MAX) {
		cs->counts.streams_dropped++;
		return NULL;
	}
	if (c->n_streams == c->cap_streams) {
		size_t cap = c->cap_streams ? 2 * c->cap_streams : 8;
		struct h2_stream *s = realloc(c->streams, cap * sizeof(*s));
		if (!s)
			return NULL;
		c->streams = s;
		c->cap_streams = cap;
	}
	struct h2_stream *s = &c->streams[c->n_streams++];
	memset(s, 0, sizeof(*s));
	s->r.sk = c->sk;
	s->r.tgid = c->tgid;
	s->r.stream_id = id;
	s->r.start_ns = ts;
	s->r.grpc_status = H2_GRPC_NONE;
	s->r.tls = c->tls;
	proc_streams(cs, s->r.tgid, 1, ts);
	return s;
}

/* The stream ends: handed over, and forgotten. */
static void stream_end(struct h2_conns *cs, struct h2_conn *c, struct h2_stream *s, enum h2_end end,
		       uint64_t ts)
{
	s->r.end = end;
	s->r.end_ns = ts;
	s->r.queued = c->queued;
	s->r.queue_ns = c->queue_ns;
	c->queued = false;
	proc_streams(cs, s->r.tgid, -1, ts);
	cs->on_stream(cs->ctx, &s->r);
	*s = c->streams[--c->n_streams];
}

/* What is open cannot be followed any more: dropped, and counted. */
static void streams_drop(struct h2_conns *cs, struct h2_conn *c, uint64_t ts)
{
	cs->counts.streams_dropped += c->n_streams;
	while (c->n_streams)
		proc_streams(cs, c->streams[--c->n_streams].r.tgid, -1, ts);
}

static void value_set(struct h2_value *v, const struct hpack_str *s)
{
	v->known = s->known;
	v->len = s->len < sizeof(v->s) ? s->len : sizeof(v->s) - 1;
	v->truncated = s->len > v->len;
	memcpy(v->s, s->p, v->len);
	v->s[v->len] = 0;
}

static bool name_is(const struct hpack_str *n, const char *lit)
{
	size_t len = strlen(lit);
	return n->known && n->len == len && !memcmp(n->p, lit, len);
}

/* The fields of one header block that the metrics need. */
struct h2_fields {
	struct h2_value method, authority, content_type, status, grpc_status, grpc_timeout;
	char path[H2_PATH_MAX];
	uint32_t path_len;
	bool path_known, path_truncated, unknown_names;
};

static int on_field(void *ctx, const struct hpack_header *h)
{
	struct h2_fields *f = ctx;

	if (!h->name.known) {
		f->unknown_names = true;
		return 0;
	}
	if (name_is(&h->name, ":method")) {
		value_set(&f->method, &h->value);
	} else if (name_is(&h->name, ":path")) {
		f->path_known = h->value.known;
		f->path_len = h->value.len < H2_PATH_MAX ? h->value.len : H2_PATH_MAX;
		f->path_truncated = h->value.len > f->path_len;
		memcpy(f->path, h->value.p, f->path_len);
	} else if (name_is(&h->name, ":authority")) {
		value_set(&f->authority, &h->value);
	} else if (name_is(&h->name, ":status")) {
		value_set(&f->status, &h->value);
	} else if (name_is(&h->name, "content-type")) {
		value_set(&f->content_type, &h->value);
	} else if (name_is(&h->name, "grpc-status")) {
		value_set(&f->grpc_status, &h->value);
	} else if (name_is(&h->name, "grpc-timeout")) {
		value_set(&f->grpc_timeout, &h->value);
	}
	return 0;
}

static int small_number(const struct h2_value *v, int max)
{
	int n = 0;

	if (!v->known || !v->len || v->len > 4)
		return -1;
	for (uint32_t i = 0; i < v->len; i++) {
		if (v->s[i] < '0' || v->s[i] > '9')
			return -1;
		n = n * 10 + (v->s[i] - '0');
	}
	return n <= max ? n : -1;
}

/* grpc-timeout: at most 8 digits and a unit, H M S m u n (gRPC over HTTP/2); 0: none. */
static uint64_t grpc_timeout_ns(const struct h2_value *v)
{
	static const struct {
		char unit;
		uint64_t ns;
	} units[] = { { 'H', 3600000000000ULL }, { 'M', 60000000000ULL }, { 'S', 1000000000ULL },
		      { 'm', 1000000ULL },	  { 'u', 1000ULL },	      { 'n', 1ULL } };
	uint64_t n = 0;

	if (!v->known || v->len < 2 || v->len > 9)
		return 0;
	for (uint32_t i = 0; i + 1 < v->len; i++) {
		if (v->s[i] < '0' || v->s[i] > '9')
			return 0;
		n = n * 10 + (uint64_t)(v->s[i] - '0');
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (units[i].unit == v->s[v->len - 1])
			return n * units[i].ns;
	return 0;
}

/*
 * Decode a header block of direction d; false when it cannot be (then the decoder is
 * one joined late from here on, and f says nothing).
 */
static bool block_decode(struct h2_conns *cs, struct h2_dir *d, const uint8_t *p, size_t len,
			 bool broken, struct h2_fields *f)
{
	enum hpack_error err;

	memset(f, 0, sizeof(*f));
	if (broken) {
		cs->counts.blocks_lost++;
		hpack_decoder_lost(&d->dec);
		return false;
	}
	err = hpack_decode(&d->dec, p, len, on_field, f);
	if (err) {
		cs->counts.hpack_errors++;
		hpack_decoder_lost(&d->dec);
		return false;
	}
	return true;
}

/* A request's header block: it opens a stream, or is the request's trailers. */
static void request_block(struct h2_conns *cs, struct h2_conn *c, struct h2_block *b, bool ok,
			  const struct h2_fields *f)
{
	struct h2_stream *s = stream_find(c, b->stream);

	if (b->type != RS_H2_HEADERS)
		return;
	if (!s) {
		if (!b->stream || !(b->stream & 1)) { /* a client opens odd streams only */
			cs->counts.frame_errors++;
			return;
		}
		/* stream ids only grow: a block for one seen before is of a stream that ended
		 * (trailers the client sent after the server's answer), never a new request */
		if (c->first_stream && b->stream <= c->last_stream)
			return;
		if (!c->first_stream)
			c->first_stream = b->stream;
		if (b->stream > c->last_stream)
			c->last_stream = b->stream;
		s = stream_open(cs, c, b->stream, b->ts);
		if (!s)
			return;
		if (ok) {
			s->r.grpc_timeout_ns = grpc_timeout_ns(&f->grpc_timeout);
			s->r.method = f->method;
			s->r.authority = f->authority;
			s->r.content_type = f->content_type;
			s->r.path_known = f->path_known;
			s->r.path_truncated = f->path_truncated;
			s->r.path_len = f->path_len;
			memcpy(s->r.path, f->path, f->path_len);
			/* a name unknown to a late join may have been the method's or path's */
			if (!f->method.len && f->unknown_names)
				s->r.method.known = false;
		}
	}
	if (b->flags & RS_H2_END_STREAM)
		s->r.request_ended = true;
}

/* A response's header block: its head (1xx ones wait for the final one), or trailers. */
static void response_block(struct h2_conns *cs, struct h2_conn *c, struct h2_block *b, bool ok,
			   const struct h2_fields *f)
{
	struct h2_stream *s;
	int n;

	if (b->type != RS_H2_HEADERS) /* PUSH_PROMISE: decoded for the table's sake only */
		return;
	s = stream_find(c, b->stream);
	if (!s) {
		/*
		 * A pushed stream (even); one that ended already (the server answers a stream
		 * the client reset); or one begun before redscope saw the connection.
		 */
		if ((b->stream & 1) && (!c->first_stream || b->stream < c->first_stream ||
					b->stream > c->last_stream))
			cs->counts.streams_unseen++;
		return;
	}
	if (!s->final_status) {
		n = ok ? small_number(&f->status, 599) : -1;
		if (n >= 100 && n < 200 && n != 101 && !(b->flags & RS_H2_END_STREAM))
			return; /* informational: the final head is to come */
		s->final_status = true;
		s->r.status_known = n >= 100;
		s->r.status = n >= 100 ? (unsigned)n : 0;
	}
	if (ok && f->grpc_status.len)
		s->r.grpc_status = small_number(&f->grpc_status, 999);
	else if ((!ok || f->unknown_names) && s->r.grpc_status == H2_GRPC_NONE)
		s->r.grpc_status = H2_GRPC_UNKNOWN;
	if (b->flags & RS_H2_END_STREAM)
		stream_end(cs, c, s, H2_END_STREAM, b->ts);
}

static void block_done(struct h2_conns *cs, struct h2_conn *c, int dir)
{
	struct h2_dir *d = &c->dir[dir];
	struct h2_block *b = &d->block;
	struct h2_fields f;
	bool ok = block_decode(cs, d, (const uint8_t *)b->bytes.data, b->bytes.len, b->broken, &f);

	if (dir == RS_DIR_REQ)
		request_block(cs, c, b, ok, &f);
	else
		response_block(cs, c, b, ok, &f);
	b->open = false;
	b->broken = false;
	b->bytes.len = 0;
}

static void block_append(struct h2_block *b, const uint8_t *p, uint32_t len)
{
	if (b->broken)
		return;
	if (b->bytes.len + len > H2_BLOCK_MAX) {
		b->broken = true; /* a CONTINUATION flood, or a block too large to decode */
		return;
	}
	buf__append(&b->bytes, p, len);
	if (b->bytes.oom) {
		b->broken = true;
		b->bytes.oom = false;
	}
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * The fragment of a HEADERS or PUSH_PROMISE frame: its payload without padding, the
 * priority fields or the promised stream id. False when the frame says more padding
 * than it has (a connection error for the peer: the block is lost).
 */
static bool fragment_of(const struct h2_frame_in *fr, const uint8_t **p, uint32_t *len)
{
	uint32_t start = 0, pad = 0, n = fr->got;

	if (fr->flags & RS_H2_PADDED) {
		if (n < 1)
			return false;
		pad = (uint8_t)fr->payload.data[0];
		start = 1;
	}
	if (fr->type == RS_H2_HEADERS && (fr->flags & RS_H2_PRIORITY_FLAG))
		start += 5;
	if (fr->type == RS_H2_PUSH_PROMISE)
		start += 4;
	if (start + pad > n)
		return false;
	*p = (const uint8_t *)fr->payload.data + start;
	*len = n - start - pad;
	return true;
}

/* A frame whose forwarded payload is all here (or known to be partly missing). */
static void frame_done(struct h2_conns *cs, struct h2_conn *c, int dir)
{
	struct h2_dir *d = &c->dir[dir];
	struct h2_frame_in *fr = &d->frame;
	struct h2_block *b = &d->block;
	struct h2_stream *s;
	const uint8_t *p = NULL;
	uint32_t len = 0;

	switch (fr->type) {
	case RS_H2_HEADERS:
	case RS_H2_PUSH_PROMISE:
		if (b->open) { /* a block interrupted: the peer broke the protocol */
			cs->counts.frame_errors++;
			b->broken = true;
			block_done(cs, c, dir);
		}
		b->open = true;
		b->broken = fr->gap || !fragment_of(fr, &p, &len);
		b->type = fr->type;
		b->flags = fr->flags;
		b->stream = fr->stream;
		b->ts = fr->ts;
		b->bytes.len = 0;
		if (!b->broken)
			block_append(b, p, len);
		if (fr->flags & RS_H2_END_HEADERS)
			block_done(cs, c, dir);
		break;
	case RS_H2_CONTINUATION:
		if (!b->open || b->stream != fr->stream) {
			cs->counts.frame_errors++;
			hpack_decoder_lost(&d->dec);
			break;
		}
		if (fr->gap)
			b->broken = true;
		else
			block_append(b, (const uint8_t *)fr->payload.data, fr->got);
		if (fr->flags & RS_H2_END_HEADERS)
			block_done(cs, c, dir);
		break;
	case RS_H2_DATA:
		s = stream_find(c, fr->stream);
		if (!s)
			break;
		if (dir == RS_DIR_REQ) {
			s->r.req_body_bytes += fr->length;
			if (fr->flags & RS_H2_END_STREAM)
				s->r.request_ended = true;
		} else {
			s->r.resp_body_bytes += fr->length;
			if (fr->flags & RS_H2_END_STREAM)
				stream_end(cs, c, s, H2_END_STREAM, fr->ts);
		}
		break;
	case RS_H2_RST_STREAM:
		s = stream_find(c, fr->stream);
		if (!s)
			break;
		s->r.reset_code = fr->got >= 4 ? be32((const uint8_t *)fr->payload.data) : 0;
		s->r.reset_by_client = dir == RS_DIR_REQ;
		stream_end(cs, c, s, H2_END_RESET, fr->ts);
		break;
	case RS_H2_GOAWAY:
		if (dir != RS_DIR_RESP || fr->got < 4)
			break;
		/* the server says which streams it never processed: not requests served */
		uint32_t last = be32((const uint8_t *)fr->payload.data) & 0x7fffffff;
		for (size_t i = 0; i < c->n_streams;) {
			if (c->streams[i].r.stream_id > last) {
				cs->counts.streams_refused++;
				proc_streams(cs, c->streams[i].r.tgid, -1, fr->ts);
				c->streams[i] = c->streams[--c->n_streams];
			} else {
				i++;
			}
		}
		break;
	}
}

/*
 * h2c by Upgrade: the HTTP/1.1 request that asked for it is stream 1, answered in
 * HTTP/2. Its method and path come from its request line; its start is the request's.
 */
static void upgraded(struct h2_conns *cs, struct h2_conn *c, const struct rs_h2_upgrade *u,
		     uint64_t ts)
{
	size_t n = u->head_len < RS_HEAD_MAX ? u->head_len : RS_HEAD_MAX;
	struct http1_request req;
	struct h2_stream *s;
	const char *m;

	if (stream_find(c, 1) || c->last_stream > 1) { /* stream 1 is the first, once */
		cs->counts.frame_errors++;
		return;
	}
	c->first_stream = c->last_stream = 1;
	s = stream_open(cs, c, 1, ts);
	if (!s)
		return;
	s->r.start_ns = (uint64_t)u->start_hi << 32 | u->start_lo;
	s->r.req_body_bytes = u->body_bytes;
	s->r.request_ended = true; /* sent whole as HTTP/1.1 before the switch */
	if (http1_parse_request_line(u->head, n, u->head_len, &req) != HTTP1_OK)
		return; /* method and path stay unknown */
	m = http_method_name(req.method);
	s->r.method.len = strlen(m) < H2_VALUE_MAX ? strlen(m) : H2_VALUE_MAX - 1;
	memcpy(s->r.method.s, m, s->r.method.len);
	s->r.method.known = true;
	s->r.path_len = req.path_len < H2_PATH_MAX ? req.path_len : H2_PATH_MAX;
	memcpy(s->r.path, req.path, s->r.path_len);
	s->r.path_known = true;
	s->r.path_truncated = req.truncated || req.path_len > s->r.path_len;
}

/* A direction's state is unknown from here: what was open in it is dropped. */
static void dir_unknown(struct h2_conns *cs, struct h2_conn *c, int dir, uint64_t ts)
{
	struct h2_dir *d = &c->dir[dir];

	if (d->block.open)
		cs->counts.blocks_lost++;
	d->block.open = false;
	d->block.bytes.len = 0;
	d->frame.expect = d->frame.got = 0;
	d->frame.skip = true;
	hpack_decoder_lost(&d->dec);
	streams_drop(cs, c, ts);
}

/* The record of size bytes at *at of an event's used bytes, into out; false if cut. */
static bool take(const struct rs_event_h2 *ev, uint32_t *at, uint32_t used, void *out, size_t size)
{
	if (*at + size > used)
		return false;
	memcpy(out, ev->data + *at, size);
	*at += size;
	return true;
}

static void records(struct h2_conns *cs, struct h2_conn *c, const struct rs_event_h2 *ev)
{
	int dir = ev->dir;
	struct h2_dir *d = &c->dir[dir];
	struct h2_frame_in *fr = &d->frame;
	uint32_t used = ev->used <= RS_H2_EV_DATA ? ev->used : RS_H2_EV_DATA;

	for (uint32_t at = 0; at + 4 <= used && !d->lost;) {
		uint8_t rec = ev->data[at];
		if (rec == RS_H2_REC_FRAME) {
			struct rs_h2_frame f;
			if (!take(ev, &at, used, &f, sizeof(f)))
				break;
			if (fr->got < fr->expect) { /* the last frame's payload never came whole */
				fr->gap = true;
				frame_done(cs, c, dir);
			}
			*fr = (struct h2_frame_in){ .type = f.type, .flags = f.flags, .stream = f.stream,
						    .length = f.length, .ts = ev->ts, .payload = fr->payload };
			fr->payload.len = 0;
			fr->payload.oom = false;
			fr->expect = rs_h2_copy_len(f.type, f.length);
			if (fr->expect > RS_H2_FRAG_MAX) /* the walker sends a gap for it */
				fr->expect = 0, fr->gap = true;
			if (!fr->expect)
				frame_done(cs, c, dir);
			continue;
		}
		if (rec == RS_H2_REC_UPGRADE) {
			struct rs_h2_upgrade u;
			if (!take(ev, &at, used, &u, sizeof(u)))
				break;
			upgraded(cs, c, &u, ev->ts);
			continue;
		}
		struct rs_h2_frag g;
		memcpy(&g, ev->data + at, sizeof(g));
		at += sizeof(g);
		if (fr->skip && (rec == RS_H2_REC_FRAG || rec == RS_H2_REC_GAP)) {
			at += rec == RS_H2_REC_FRAG ? (g.len + 3) & ~3u : 0;
			continue;
		}
		if (rec == RS_H2_REC_FRAG) {
			if (at + g.len > used || fr->got + g.len > fr->expect ||
			    !buf__reserve(&fr->payload, g.len)) {
				cs->counts.frame_errors++;
				dir_unknown(cs, c, dir, ev->ts);
				return;
			}
			buf__append(&fr->payload, ev->data + at, g.len);
			fr->got += g.len;
			at += (g.len + 3) & ~3u;
			if (fr->got == fr->expect)
				frame_done(cs, c, dir);
		} else if (rec == RS_H2_REC_GAP) {
			/* the rest of this frame's payload is not coming (an oversized header
			 * block frame was handled when its header came) */
			if (fr->got < fr->expect) {
				fr->gap = true;
				fr->expect = fr->got;
				frame_done(cs, c, dir);
			}
		} else if (rec == RS_H2_REC_LOST) {
			cs->counts.framing_lost++;
			d->lost = true;
			dir_unknown(cs, c, dir, ev->ts);
		} else {
			cs->counts.frame_errors++;
			dir_unknown(cs, c, dir, ev->ts);
			return;
		}
	}
}

/* The connection closed; by: who closed it first (enum rs_ended_by). */
static void conn_close(struct h2_conns *cs, struct h2_conn **slot, uint64_t ts, uint8_t by)
{
	struct h2_conn *c = *slot;

	for (int d = 0; d < 2; d++) /* a header block its CONTINUATIONs never ended */
		if (c->dir[d].block.open)
			cs->counts.blocks_lost++;
	while (c->n_streams) {
		struct h2_stream *s = &c->streams[c->n_streams - 1];

		s->r.closed_by_client = by == RS_BY_PEER || by == RS_BY_RESET;
		stream_end(cs, c, s, H2_END_CLOSED, ts);
	}
	*slot = c->next;
	cs->n_conns--;
	conn_free(c);
}

void h2_conns_event(struct h2_conns *cs, const void *data, size_t size)
{
	const struct rs_event_h2 *ev = data;
	struct h2_conn **slot, *c;

	if (size < __builtin_offsetof(struct rs_event_h2, data) || ev->type != RS_EV_H2 ||
	    ev->dir > RS_DIR_RESP)
		return;
	if (size < __builtin_offsetof(struct rs_event_h2, data) + ev->used)
		return;
	slot = conn_slot(cs, ev->sk);
	c = *slot;
	if (!c) {
		if (!ev->used) /* the close of a connection never followed */
			return;
		c = conn_new(cs, ev);
		if (!c)
			return;
		*slot = c;
	} else if (ev->flags & RS_H2_EVF_DROPPED) {
		/* an event of this direction was lost: its frames and table are unknown */
		dir_unknown(cs, c, ev->dir, ev->ts);
	}
	c->tgid = ev->tgid;
	c->tls = ev->flags & RS_H2_EVF_TLS;
	if (ev->flags & RS_H2_EVF_QUEUED) {
		c->queued = true;
		c->queue_ns = ev->queue_ns;
	}
	records(cs, c, ev);
	if (ev->flags & RS_H2_EVF_CLOSE)
		conn_close(cs, slot, ev->ts, ev->ended_by);
}
