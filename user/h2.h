/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * h2.c: HTTP/2 connections as the kernel's frame walker reports them (struct
 * rs_event_h2): header blocks reassembled and decoded (hpack.c), streams followed from
 * the request's HEADERS to the response's END_STREAM, a reset, or the connection's end,
 * each finished stream handed to the caller once.
 *
 * A pure module: events in, streams out, nothing else touched. It trusts nothing in
 * the events: a block cut short, an HPACK error, a frame out of place or a lost event
 * makes what is unknown unknown (counted in struct h2_counts), never a guess.
 */
#ifndef REDSCOPE_H2_H
#define REDSCOPE_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "redscope.h"

#define H2_PATH_MAX 256	    /* bytes of :path kept */
#define H2_VALUE_MAX 64	    /* bytes of :method, :authority, content-type kept */
#define H2_BLOCK_MAX 65536   /* a header block longer than this is not decoded */
#define H2_STREAMS_MAX 1024  /* open streams followed per connection */
#define H2_CONNS_MAX 65536   /* connections followed at once */

enum h2_end {
	H2_END_STREAM = 0,   /* the response ended its stream (END_STREAM) */
	H2_END_RESET,	     /* a RST_STREAM ended it (reset_code, reset_by_client) */
	H2_END_CLOSED,	     /* the connection closed with the stream open */
};

/* A string of a request or response header: known false when it could not be decoded. */
struct h2_value {
	char s[H2_VALUE_MAX];
	uint32_t len;
	bool known;	/* decoded; else unknown (a late join, a lost block) */
	bool truncated; /* longer than kept */
};

struct h2_stream_result {
	uint64_t sk;
	uint32_t tgid;
	uint32_t stream_id;
	uint64_t start_ns; /* the request's HEADERS were read */
	uint64_t end_ns;   /* the stream ended */
	uint64_t req_body_bytes, resp_body_bytes; /* DATA payloads, padding included */
	struct h2_value method, authority, content_type;
	char path[H2_PATH_MAX];
	uint32_t path_len;
	bool path_known, path_truncated;
	unsigned int status;	 /* :status of the final response, 0: none seen */
	bool status_known;	 /* false when the response's header block could not be read */
	int grpc_status;	 /* grpc-status from trailers or a trailers-only response, or: */
#define H2_GRPC_NONE (-1)	 /* no grpc-status in the response */
#define H2_GRPC_UNKNOWN (-2)	 /* a field of the response could not be decoded: maybe it */
	uint64_t grpc_timeout_ns; /* the call's deadline from grpc-timeout, 0: none */
	enum h2_end end;
	uint32_t reset_code;	 /* H2_END_RESET: the error code */
	bool reset_by_client;
	bool closed_by_client;	 /* H2_END_CLOSED: the client closed it first, or reset it */
	bool request_ended;	 /* the request's END_STREAM was seen */
	bool queued;		 /* the first stream to end of a connection seen at accept: */
	uint64_t queue_ns;	 /* the connection's wait in the listen queue */
	bool tls;
};

/* What went unseen or wrong, for the self metrics. */
struct h2_counts {
	uint64_t conns;		  /* connections followed */
	uint64_t late_conns;	  /* picked up mid-connection */
	uint64_t hpack_errors;	  /* header blocks HPACK could not decode */
	uint64_t blocks_lost;	  /* header blocks not seen whole (too large, a gap, a lost event) */
	uint64_t frame_errors;	  /* frames out of place: CONTINUATION without HEADERS, ... */
	uint64_t framing_lost;	  /* directions whose framing the kernel lost */
	uint64_t streams_dropped; /* streams abandoned unfinished: lost events, too many open */
	uint64_t streams_unseen;  /* responses to streams begun before redscope saw them */
	uint64_t streams_refused; /* streams a GOAWAY said were never processed */
	uint64_t conns_dropped;	  /* connections not followed: too many at once */
};

typedef void (*h2_on_stream)(void *ctx, const struct h2_stream_result *r);

struct h2_conns;

struct h2_conns *h2_conns_new(h2_on_stream on_stream, void *ctx);
void h2_conns_free(struct h2_conns *cs);
/* One event of size bytes from the ring buffer. */
void h2_conns_event(struct h2_conns *cs, const void *ev, size_t size);
const struct h2_counts *h2_conns_counts(const struct h2_conns *cs);
size_t h2_conns_open(const struct h2_conns *cs);
/*
 * Process tgid's HTTP/2 streams in flight, and the time it had any (to now, CLOCK_MONOTONIC,
 * the kernel's clock): what its HTTP/1.x requests are to the kernel's busy time. Safe from
 * any thread.
 */
void h2_conns_process(struct h2_conns *cs, uint32_t tgid, uint64_t now, int64_t *active,
		      uint64_t *busy_ns);
/* Process tgid exited: its busy time so far, and it is forgotten. */
uint64_t h2_conns_process_exit(struct h2_conns *cs, uint32_t tgid, uint64_t now);

#endif /* REDSCOPE_H2_H */
