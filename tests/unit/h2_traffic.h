/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Real HTTP/2 traffic for the tests: a libnghttp2 client and server talk to each other
 * in memory, and what each writes is kept, call by call, as the server's socket would
 * see it (the client's bytes read, the server's written). A conversation is scripted:
 * requests with their headers, bodies and trailers; responses with a status, a body,
 * gRPC trailers or none; padding; a client reset; a server GOAWAY.
 */
#ifndef REDSCOPE_H2_TRAFFIC_H
#define REDSCOPE_H2_TRAFFIC_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TR_MAX_STREAMS 256

struct tr_call {
	int dir; /* 0: read by the server (client's bytes), 1: written by the server */
	size_t off, len;
};

struct tr_stream_script {
	const char *method, *path, *content_type;
	size_t req_body;
	const char *extra_name, *extra_value; /* one more request header, or NULL */
	int status;			      /* 0: the server resets the stream instead */
	size_t resp_body;
	const char *grpc_status;	      /* trailers: grpc-status (and grpc-message) */
	const char *grpc_message;
	bool trailers_only;		      /* gRPC: one HEADERS with :status and grpc-status */
	bool client_reset;		      /* the client resets it after sending the request */
};

struct tr_conv {
	/* every byte of each direction, in order, and the calls that moved them */
	unsigned char *bytes[2];
	size_t len[2], cap[2];
	struct tr_call *calls;
	int n_calls, cap_calls;
	/* the script */
	const struct tr_stream_script *script;
	int n_script;
	int32_t stream_ids[TR_MAX_STREAMS];
	size_t pad_to;	  /* frames padded to a multiple of this, 0: no padding */
	bool goaway;	  /* the server sends GOAWAY after the last response */
	size_t max_write; /* the most bytes one write carries, 0: as libnghttp2 hands them */
	bool upgrade;	  /* h2c by Upgrade: script[0] is the HTTP/1.1 request that asked,
			     stream 1 (sent by the caller), answered in HTTP/2 */
	/* the sessions */
	nghttp2_session *client, *server;
	size_t req_body_left[TR_MAX_STREAMS], resp_body_left[TR_MAX_STREAMS];
};

static void tr_append(struct tr_conv *c, int dir, const uint8_t *p, size_t n)
{
	size_t chunk = c->max_write ? c->max_write : n;

	for (size_t done = 0; done < n; done += chunk) {
		size_t k = n - done < chunk ? n - done : chunk;
		if (c->len[dir] + k > c->cap[dir]) {
			c->cap[dir] = (c->len[dir] + k) * 2;
			c->bytes[dir] = realloc(c->bytes[dir], c->cap[dir]);
		}
		memcpy(c->bytes[dir] + c->len[dir], p + done, k);
		if (c->n_calls == c->cap_calls) {
			c->cap_calls = c->cap_calls ? 2 * c->cap_calls : 64;
			c->calls = realloc(c->calls, c->cap_calls * sizeof(*c->calls));
		}
		c->calls[c->n_calls++] = (struct tr_call){ dir, c->len[dir], k };
		c->len[dir] += k;
	}
}

static int tr_index(const struct tr_conv *c, int32_t stream_id)
{
	for (int i = 0; i < c->n_script; i++)
		if (c->stream_ids[i] == stream_id)
			return i;
	return -1;
}

/* Bodies: bytes of 'x', as many as the script says. */
static ssize_t tr_read_body(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t length,
			    uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct tr_conv *c = ud;
	int i = tr_index(c, stream_id);
	size_t *left = s == c->client ? &c->req_body_left[i] : &c->resp_body_left[i];
	size_t n = *left < length ? *left : length;

	(void)src;
	memset(buf, 'x', n);
	*left -= n;
	if (!*left) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		/* gRPC responses end with trailers, not with the last DATA frame */
		if (s == c->server && c->script[i].grpc_status) {
			const struct tr_stream_script *t = &c->script[i];
			nghttp2_nv tr[2] = {
				{ (uint8_t *)"grpc-status", (uint8_t *)t->grpc_status, 11,
				  strlen(t->grpc_status), 0 },
				{ (uint8_t *)"grpc-message", (uint8_t *)(t->grpc_message ? t->grpc_message : ""),
				  12, t->grpc_message ? strlen(t->grpc_message) : 0, 0 },
			};
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
			nghttp2_submit_trailer(s, stream_id, tr, t->grpc_message ? 2 : 1);
		}
	}
	return (ssize_t)n;
}

static ssize_t tr_padding(nghttp2_session *s, const nghttp2_frame *f, size_t max, void *ud)
{
	struct tr_conv *c = ud;
	size_t want;

	(void)s;
	if (!c->pad_to)
		return (ssize_t)f->hd.length;
	want = (f->hd.length / c->pad_to + 1) * c->pad_to;
	return (ssize_t)(want < max ? want : max);
}

/* The server answers a request once it is whole. */
static int tr_server_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct tr_conv *c = ud;
	int i;

	if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM) ||
	    (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA))
		return 0;
	i = tr_index(c, f->hd.stream_id);
	if (i < 0)
		return 0;
	const struct tr_stream_script *t = &c->script[i];
	if (t->client_reset)
		return 0; /* left unanswered: the client gives up on it */
	if (!t->status) {
		nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_INTERNAL_ERROR);
		return 0;
	}
	char status[8];
	snprintf(status, sizeof(status), "%d", t->status);
	nghttp2_nv nv[4] = {
		{ (uint8_t *)":status", (uint8_t *)status, 7, strlen(status), 0 },
		{ (uint8_t *)"content-type", (uint8_t *)(t->content_type ? t->content_type : "text/plain"),
		  12, strlen(t->content_type ? t->content_type : "text/plain"), 0 },
	};
	size_t n = 2;
	if (t->trailers_only) {
		nv[n++] = (nghttp2_nv){ (uint8_t *)"grpc-status", (uint8_t *)t->grpc_status, 11,
					strlen(t->grpc_status), 0 };
		if (t->grpc_message)
			nv[n++] = (nghttp2_nv){ (uint8_t *)"grpc-message", (uint8_t *)t->grpc_message, 12,
						strlen(t->grpc_message), 0 };
		nghttp2_submit_response(s, f->hd.stream_id, nv, n, NULL);
		return 0;
	}
	c->resp_body_left[i] = t->resp_body;
	nghttp2_data_provider dp = { .read_callback = tr_read_body };
	nghttp2_submit_response(s, f->hd.stream_id, nv, n,
				t->resp_body || t->grpc_status ? &dp : NULL);
	return 0;
}

/* Move what each side has to send to the other until both are quiet. */
static void tr_pump(struct tr_conv *c)
{
	for (int round = 0; round < 10000; round++) {
		const uint8_t *p;
		ssize_t n, moved = 0;
		while ((n = nghttp2_session_mem_send(c->client, &p)) > 0) {
			tr_append(c, 0, p, (size_t)n);
			nghttp2_session_mem_recv(c->server, p, (size_t)n);
			moved += n;
		}
		while ((n = nghttp2_session_mem_send(c->server, &p)) > 0) {
			tr_append(c, 1, p, (size_t)n);
			nghttp2_session_mem_recv(c->client, p, (size_t)n);
			moved += n;
		}
		if (!moved)
			return;
	}
}

/* Run the script: every request submitted at once, so their streams interleave. */
static void tr_run(struct tr_conv *c)
{
	nghttp2_session_callbacks *cb;

	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_select_padding_callback(cb, tr_padding);
	nghttp2_session_client_new(&c->client, cb, c);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, tr_server_frame);
	nghttp2_session_server_new(&c->server, cb, c);
	nghttp2_session_callbacks_del(cb);

	nghttp2_settings_entry big_window = { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 24 };
	nghttp2_submit_settings(c->client, NGHTTP2_FLAG_NONE, &big_window, 1);
	nghttp2_submit_settings(c->server, NGHTTP2_FLAG_NONE, &big_window, 1);
	int first = 0;
	if (c->upgrade) {
		/* both sides take the HTTP2-Settings of the request; stream 1 is open */
		uint8_t payload[16];
		ssize_t n = nghttp2_pack_settings_payload(payload, sizeof(payload), &big_window, 1);
		nghttp2_session_upgrade2(c->client, payload, (size_t)n, 0, NULL);
		nghttp2_session_upgrade2(c->server, payload, (size_t)n, 0, NULL);
		c->stream_ids[0] = 1;
		nghttp2_frame head = { .hd = { .type = NGHTTP2_HEADERS, .flags = NGHTTP2_FLAG_END_STREAM,
					       .stream_id = 1 } };
		tr_server_frame(c->server, &head, c);
		first = 1;
	}
	for (int i = first; i < c->n_script; i++) {
		const struct tr_stream_script *t = &c->script[i];
		nghttp2_nv nv[6] = {
			{ (uint8_t *)":method", (uint8_t *)t->method, 7, strlen(t->method), 0 },
			{ (uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0 },
			{ (uint8_t *)":path", (uint8_t *)t->path, 5, strlen(t->path), 0 },
			{ (uint8_t *)":authority", (uint8_t *)"svc.test:8080", 10, 13, 0 },
		};
		size_t n = 4;
		if (t->content_type)
			nv[n++] = (nghttp2_nv){ (uint8_t *)"content-type", (uint8_t *)t->content_type, 12,
						strlen(t->content_type), 0 };
		if (t->extra_name)
			nv[n++] = (nghttp2_nv){ (uint8_t *)t->extra_name, (uint8_t *)t->extra_value,
						strlen(t->extra_name), strlen(t->extra_value), 0 };
		c->req_body_left[i] = t->req_body;
		nghttp2_data_provider dp = { .read_callback = tr_read_body };
		/* the stream id is known before the body is read: the index is set first */
		c->stream_ids[i] = 2 * i + 1;
		int32_t id = nghttp2_submit_request(c->client, NULL, nv, n, t->req_body ? &dp : NULL, NULL);
		c->stream_ids[i] = id;
	}
	tr_pump(c);
	for (int i = 0; i < c->n_script; i++)
		if (c->script[i].client_reset)
			nghttp2_submit_rst_stream(c->client, NGHTTP2_FLAG_NONE, c->stream_ids[i], NGHTTP2_CANCEL);
	tr_pump(c);
	if (c->goaway) {
		nghttp2_submit_goaway(c->server, NGHTTP2_FLAG_NONE,
				      nghttp2_session_get_last_proc_stream_id(c->server), NGHTTP2_NO_ERROR,
				      (const uint8_t *)"bye", 3);
		tr_pump(c);
	}
}

static void tr_free(struct tr_conv *c)
{
	nghttp2_session_del(c->client);
	nghttp2_session_del(c->server);
	free(c->bytes[0]);
	free(c->bytes[1]);
	free(c->calls);
}

#endif /* REDSCOPE_H2_TRAFFIC_H */
