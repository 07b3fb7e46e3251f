/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Types, limits and constants shared by the BPF programs and the redscope daemon. */
#ifndef REDSCOPE_H
#define REDSCOPE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Map sizes: every BPF map is sized here and nowhere else. */
#define RS_MAX_TARGETS 16384	/* watched processes */
#define RS_MAX_CONNS 32768	/* tracked connections (LRU), overridable at load */
#define RS_MAX_INFLIGHT 16384	/* threads inside a watched socket syscall */
#define RS_MAX_ESTABLISHED 16384 /* server-side TCP connections not accepted yet */
#define RS_MAX_FDS 32768	/* (process, descriptor) -> socket, for the syscall capture */
#define RS_TGID_CHUNK (1u << 16) /* processes per entry of the watched byte array */
#define RS_MAX_TGID_CHUNKS 64	/* 4M processes: the most pid_max allows; set at load */
#define RS_MAX_SEL_COMMS 64	/* --comm values */
#define RS_MAX_SEL_PORTS 64	/* --port values */
#define RS_MAX_SEL_CGROUPS 8	/* --cgroup values */
#define RS_RINGBUF_BYTES (2u << 20) /* 6k records: 170 ms of 36k req/s; woken at a quarter */

/* Capture and scan bounds. */
#define RS_HEAD_MAX 256		/* bytes of the request line kept per request */
#define RS_SCAN_WINDOW 512	/* bytes copied from userspace and scanned at a time */
#define RS_SCAN_PAD RS_HEAD_MAX	/* slack after the window: fixed-size reads near its end */
#define RS_WINDOW_STEPS 512	/* framing steps in one window: each takes at least a byte */
#define RS_SCAN_STEPS 16	/* scanner steps in one framing step: eight bytes skipped, or a
				   line end, line start or byte looked at (runs of ordinary field
				   lines take one step; the verifier walks each step) */
#define RS_FEED_BUDGET (128u << 10) /* bytes scanned per syscall: heads, chunk lines */
#define RS_FEED_STEPS 512	/* windows read or body runs skipped per buffer segment */
#define RS_MAX_IOV 1024		/* iovec segments followed per readv/writev/msghdr: UIO_MAXIOV */
#define RS_IOV_BATCH 8		/* iovecs copied from the application at once */
#define RS_HEAD_SCAN_MAX 65536	/* a message head longer than this is not HTTP we follow */

/* Direction of the bytes on a server-side connection. */
enum rs_dir {
	RS_DIR_REQ = 0,	 /* read by the application: requests */
	RS_DIR_RESP = 1, /* written by the application: responses */
};

/* Framing state of one direction of an HTTP/1.x connection (rs_h1.state). */
enum rs_h1_state {
	RS_H1_IDLE = 0,	   /* between messages */
	RS_H1_HEAD,	   /* start line and header fields */
	RS_H1_BODY,	   /* counting a Content-Length body */
	RS_H1_CHUNK_SIZE,  /* chunk-size line, with extensions */
	RS_H1_CHUNK_DATA,  /* counting chunk data */
	RS_H1_CHUNK_END,   /* CRLF after chunk data */
	RS_H1_TRAILER,	   /* trailer fields after the last chunk */
	RS_H1_UNTIL_CLOSE, /* response body delimited by connection close */
	RS_H1_RESYNC,	   /* framing lost: waiting for a read or write that starts a message */
	RS_H1_IGNORED,	   /* not HTTP/1.x any more (tunnel, upgrade, HTTP/2): until close */
};

/* What the scanner is doing inside the current line (rs_h1.mode). */
enum rs_line_mode {
	RS_LINE_REQUEST = 0, /* request line: captured into the head */
	RS_LINE_STATUS,	     /* status line: HTTP/1.x NNN */
	RS_LINE_NAME,	     /* start of a field line: first character decides */
	RS_LINE_NAME_CL,     /* matching "content-length:" */
	RS_LINE_NAME_TE,     /* matching "transfer-encoding:" */
	RS_LINE_VALUE_CL,    /* digits of Content-Length */
	RS_LINE_VALUE_TE,    /* looking for "chunked" in Transfer-Encoding */
	RS_LINE_SKIP,	     /* anything else up to the end of the line */
};

/* rs_h1.flags */
#define RS_H1F_CL (1u << 0)	     /* a Content-Length field was seen */
#define RS_H1F_CHUNKED (1u << 1)     /* Transfer-Encoding ends in chunked */
#define RS_H1F_HEAD_METHOD (1u << 2) /* response to a HEAD request: no body */
#define RS_H1F_CL_DIGITS (1u << 3)   /* at least one Content-Length digit seen */
#define RS_H1F_BAD_CL (1u << 4)	     /* Content-Length is not a plain number */
#define RS_H1F_ORPHAN (1u << 5)	     /* a response to no request redscope framed: not emitted */
#define RS_H1F_CONNECT (1u << 6)     /* response to a CONNECT request: 2xx opens a tunnel */

/* Streaming framing parser state of one direction. */
struct rs_h1 {
	__u64 remaining;  /* body bytes left: Content-Length or current chunk */
	__u64 clen;	  /* Content-Length being parsed, then parsed */
	__u64 body_bytes; /* body bytes of the current message so far */
	__u32 head_bytes; /* bytes of the current head scanned so far */
	__u16 line_open;  /* the current line has a character other than CR */
	__u16 status;	  /* response status code */
	__u8 state;	  /* enum rs_h1_state */
	__u8 mode;	  /* enum rs_line_mode */
	__u8 pos;	  /* match position inside the current token */
	__u8 flags;	  /* RS_H1F_* */
	__u32 pad;
};
_Static_assert(sizeof(struct rs_h1) == 40, "rs_h1 layout");

/* rs_conn.flags */
/*
 * HTTP/2 (RFC 9113): the frame walker of each direction (bpf/h2.bpf.h) in place of the
 * HTTP/1.x framing state. It finds the frame headers of the bytes moved, however they
 * are split, and skips payloads by arithmetic; header block fragments, and the few
 * bytes of RST_STREAM and GOAWAY that say how a stream ended, go to the daemon, which
 * decodes HPACK and follows the streams.
 */
#define RS_H2_PREFACE_LEN 24	  /* "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" */
#define RS_H2_FRAME_HEADER 9
#define RS_H2_FRAG_MAX 16384	  /* bytes of a header block frame forwarded at most */
#define RS_H2_EV_DATA 1024	  /* bytes of records one event carries */
#define RS_H2_STEPS 512		  /* walker steps per buffer segment: a frame takes two */

enum rs_h2_state {
	RS_H2_HEADER = 0, /* collecting a frame header */
	RS_H2_PAYLOAD,	  /* in a frame's payload */
	RS_H2_PREFACE,	  /* the client's connection preface */
	RS_H2_LOST,	  /* framing lost: nothing followed until close */
};

enum rs_h2_frame_type {
	RS_H2_DATA = 0,
	RS_H2_HEADERS = 1,
	RS_H2_PRIORITY = 2,
	RS_H2_RST_STREAM = 3,
	RS_H2_SETTINGS = 4,
	RS_H2_PUSH_PROMISE = 5,
	RS_H2_PING = 6,
	RS_H2_GOAWAY = 7,
	RS_H2_WINDOW_UPDATE = 8,
	RS_H2_CONTINUATION = 9,
};

#define RS_H2_END_STREAM 0x1
#define RS_H2_END_HEADERS 0x4
#define RS_H2_PADDED 0x8
#define RS_H2_PRIORITY_FLAG 0x20

struct rs_h2 {
	__u32 left;   /* bytes of the current frame's payload (or of the preface) to come */
	__u32 copy;   /* of them, the first this many go to the daemon */
	__u8 state;   /* enum rs_h2_state */
	__u8 have;    /* frame header bytes collected in hdr */
	__u8 hdr[RS_H2_FRAME_HEADER];
	__u8 late;    /* picked up mid-connection: the daemon's HPACK tables start unknown */
	__u8 dropped; /* an event of this direction was lost to a full ring buffer */
	__u8 first;   /* the next frame is the direction's first: SETTINGS, or not HTTP/2 */
	__u8 pad[18];
};
_Static_assert(sizeof(struct rs_h2) == 40, "rs_h2 layout: the size of rs_h1, whose place it takes");

/* Bytes of a frame's payload the walker forwards: what names a stream's end, no more. */
static inline __u32 rs_h2_copy_len(__u8 type, __u32 length)
{
	__u32 max;

	switch (type) {
	case RS_H2_HEADERS:
	case RS_H2_CONTINUATION:
	case RS_H2_PUSH_PROMISE:
		return length; /* whole, up to RS_H2_FRAG_MAX (else not at all) */
	case RS_H2_RST_STREAM:
		max = 4; /* the error code */
		break;
	case RS_H2_GOAWAY:
		max = 8; /* the last stream id and the error code, not the debug data */
		break;
	default:
		return 0;
	}
	return length < max ? length : max;
}

/* The records of an HTTP/2 event, one after another in its data, 4-byte aligned. */
enum rs_h2_rec {
	RS_H2_REC_FRAME = 1, /* struct rs_h2_frame: a frame header the daemon follows */
	RS_H2_REC_FRAG = 2,  /* struct rs_h2_frag and len bytes: payload of the last frame */
	RS_H2_REC_GAP = 3,   /* struct rs_h2_frag: len bytes of it that could not be read */
	RS_H2_REC_LOST = 4,  /* struct rs_h2_frag: framing lost here (len: enum rs_reason) */
	RS_H2_REC_UPGRADE = 5, /* struct rs_h2_upgrade: stream 1 of an h2c Upgrade */
};

struct rs_h2_frame {
	__u8 rec; /* RS_H2_REC_FRAME */
	__u8 type;
	__u8 flags;
	__u8 pad;
	__u32 stream;
	__u32 length;
};

struct rs_h2_frag {
	__u8 rec; /* RS_H2_REC_FRAG, RS_H2_REC_GAP, RS_H2_REC_LOST */
	__u8 pad;
	__u16 len;
};

/* The HTTP/1.1 request that asked for h2c by Upgrade: HTTP/2's stream 1. */
struct rs_h2_upgrade {
	__u8 rec; /* RS_H2_REC_UPGRADE */
	__u8 pad;
	__u16 head_len;	    /* as rs_event_http's */
	__u32 body_bytes;   /* its body's size */
	__u32 start_lo, start_hi; /* its start_ns (records are 4-byte aligned) */
	char head[RS_HEAD_MAX];
};
_Static_assert(sizeof(struct rs_h2_upgrade) % 4 == 0, "rs_h2_upgrade: records 4-byte aligned");

#define RS_CONN_ACCEPTED (1u << 0)   /* seen at accept(): the first bytes start a request */
#define RS_CONN_IN_REQUEST (1u << 1) /* a request was read and is not answered yet */
#define RS_CONN_TLS (1u << 2)	     /* speaks TLS: its syscall bytes are ciphertext, not parsed */
#define RS_CONN_PLAINTEXT (1u << 3)  /* its TLS plaintext was seen in SSL_read/SSL_write */
#define RS_CONN_UNIX (1u << 4)	     /* a unix socket: no TCP state change tells its close */
#define RS_CONN_RESET (1u << 5)	     /* TCP reset or timed out: ends at the next call or close */
#define RS_CONN_H2 (1u << 6)	     /* speaks HTTP/2: h2req and h2resp walk its frames */
#define RS_CONN_UPGRADE (1u << 7)    /* answered 101: HTTP/2 (h2c), or a tunnel from here */
#define RS_CONN_CLIENT (1u << 8)     /* opened by the process: it writes the requests and reads
					the responses (each call's direction is turned round) */

/* Who ended a connection (rs_conn.peer.ended_by, rs_event_http.ended_by). */
enum rs_ended_by {
	RS_BY_UNKNOWN = 0,
	RS_BY_PEER,  /* the other end closed first (its FIN came before the process closed) */
	RS_BY_SELF,  /* the process closed first (a client: gave up waiting) */
	RS_BY_RESET, /* a reset, or a timeout of the TCP connection itself */
};

/* The other end of a connection, for client connections (RS_CONN_CLIENT). */
struct rs_peer {
	__u8 addr[16];	/* IPv4 in the first 4 bytes, or IPv6 */
	__u16 port;	/* host order */
	__u8 family;	/* AF_INET, AF_INET6 */
	__u8 ended_by;	/* enum rs_ended_by, set when the connection ends */
	__u32 pad;
};

/*
 * A client request's head (rs_request.head): its request line in the first
 * RS_CLIENT_LINE_MAX bytes, then the value of its Host field: a length byte at
 * RS_CLIENT_HOST_AT (0: no Host field seen; RS_CLIENT_HOST_CUT: one too long, or cut by
 * the end of what one call wrote) and up to RS_CLIENT_HOST_MAX bytes.
 */
#define RS_CLIENT_LINE_MAX 192
#define RS_CLIENT_HOST_AT RS_CLIENT_LINE_MAX
#define RS_CLIENT_HOST_MAX 62
#define RS_CLIENT_HOST_CUT 0xff

/* rs_request.method: what the framing of its response depends on. */
enum rs_method_kind {
	RS_METHOD_OTHER = 0,
	RS_METHOD_HEAD,	   /* the response has no body */
	RS_METHOD_CONNECT, /* a 2xx response opens a tunnel */
};

/* A request read from a connection and not answered yet. */
struct rs_request {
	__u64 start_ns;	  /* its first byte was read */
	__u64 body_bytes; /* its body, once the next request was read after it */
	__u64 cgroup_id;  /* of the process that read it */
	__u32 tgid;	  /* the process that read it: its requests in flight include this one */
	__u16 head_len;	  /* bytes of the request line seen; head holds the first RS_HEAD_MAX */
	__u8 method;	  /* enum rs_method_kind */
	__u8 pad;
	char head[RS_HEAD_MAX]; /* request line, CR/LF excluded */
};
_Static_assert(sizeof(struct rs_request) == 32 + RS_HEAD_MAX, "rs_request layout");

/*
 * One server-side connection, kept per socket (struct sock *): a socket read through
 * two descriptors, or by a process other than the one that accepted it, is one.
 */
struct rs_conn {
	union { /* the framing of each direction: HTTP/1.x, or HTTP/2 with RS_CONN_H2 */
		struct rs_h1 req;
		struct rs_h2 h2req;
	};
	union {
		struct rs_h1 resp;
		struct rs_h2 h2resp;
	};
	struct rs_request cur; /* newest request read; older unanswered ones are queued */
	__u64 accept_ns;       /* accept() returned; 0 when the connection predates redscope */
	__u64 established_ns;  /* TCP handshake done; reported with the first request, then 0 */
	__u64 end_ns;	       /* last byte of the response so far was written */
	__u64 ssl;	       /* the application's SSL object of a TLS connection, else 0 */
	__u32 flags;	       /* RS_CONN_* */
	__u32 tgid;	       /* the process that last read or wrote it */
	__u16 queued;	       /* unanswered requests older than cur, in the pipeline map */
	__u16 seq;	       /* pipeline sequence number of the oldest queued request */
	__u32 copied_seq;      /* TCP: the socket's copied_seq after the last read seen */
	struct rs_peer peer;   /* RS_CONN_CLIENT: the server it talks to */
};
_Static_assert(sizeof(struct rs_conn) == 2 * 40 + 32 + RS_HEAD_MAX + 48 + 24, "rs_conn layout");
_Static_assert(RS_CLIENT_HOST_AT + 1 + RS_CLIENT_HOST_MAX < RS_HEAD_MAX, "client head layout");

/* Key of a queued (pipelined) request in the pipeline map. */
struct rs_pipe_key {
	__u64 sk;
	__u32 seq;
	__u32 pad;
};

#define RS_PIPELINE_MAX 256   /* unanswered requests queued per connection */
#define RS_MAX_PIPELINED 8192 /* queued requests on the whole host */

/* Key of the fds map: a descriptor of a process, and what it is (struct rs_fd). */
struct rs_fd_key {
	__u32 tgid;
	__u32 fd;
};

struct rs_fd {
	__u64 sk;  /* the connected stream socket it refers to, 0: not one we follow */
	__u32 gen; /* rs_target.gen when it was looked up: an exec closes descriptors */
	__u32 pad;
};

/* targets map value: one per watched process. */
#define RS_TARGET_AUTO (1u << 0)    /* found by auto mode, not named by a selector */
#define RS_TARGET_IGNORED (1u << 1) /* known and deliberately not watched */
#define RS_TARGET_FOLLOW (1u << 2)  /* forked children become targets too */
#define RS_TARGET_SSL (1u << 3)	    /* called SSL_read/SSL_write: its syscalls may be nested in one */
#define RS_TARGET_TLS_SEEN (1u << 4) /* a TLS connection of it was reported (RS_EV_TLS) */
#define RS_TARGET_TLS_MEMBIO (1u << 5) /* its SSL calls on a memory BIO were reported */

struct rs_target {
	__u32 flags;   /* RS_TARGET_* */
	__s32 active;  /* requests in flight in this process */
	__u64 busy_ns; /* time with requests in flight: with fetching atomics, the busy
			  intervals' ends minus their starts (add the time now while active > 0);
			  without, the intervals that ended (the open one started at its entry in
			  the busy_open map) */
	__u32 gen;     /* executions since it became a target: fds entries of older ones are stale */
	__u32 pad;
};
_Static_assert(sizeof(struct rs_target) == 24, "rs_target layout");

/*
 * The busy time so far at now (bpf_ktime_get_ns's clock) of the target whose entry is
 * t, its running interval included: with fetching atomics, busy_ns holds its intervals'
 * ends minus their starts and the open one counts up to now; without, busy_ns holds the
 * intervals that ended and the open one began at since (its busy_open entry, 0: none).
 * The kernel's exit record, the daemon and the unit tests all read it this way.
 */
static inline __u64 rs_busy_ns(const struct rs_target *t, int atomics, __u64 since, __u64 now)
{
	if (atomics)
		return t->busy_ns + (t->active > 0 ? now : 0);
	return t->busy_ns + (since && now > since ? now - since : 0);
}

/*
 * Why the framing of a connection was lost, or a request is in no HTTP series. The
 * kernel side counts each in the stats map twice over: where framing was lost
 * (RS_STAT_PARSE_ERROR + reason) and requests that ended up in no series because of it
 * (RS_STAT_UNFRAMED + reason). The daemon names them with rs_reason_names.
 */
enum rs_reason {
	RS_R_NOT_HTTP = 0,     /* the bytes that should start a request do not */
	RS_R_BAD_STATUS_LINE,  /* a response does not start with HTTP/1.x NNN */
	RS_R_HEAD_TOO_LARGE,   /* a head longer than RS_HEAD_SCAN_MAX */
	RS_R_BAD_CHUNK,	       /* malformed chunked framing */
	RS_R_BAD_LENGTH,       /* malformed Content-Length */
	RS_R_SCAN_LIMIT,       /* more than RS_FEED_BUDGET bytes of heads in one call */
	RS_R_UNSEEN_BYTES,     /* head bytes moved without a buffer to read (sendfile, splice) */
	RS_R_ORPHAN_RESPONSE,  /* a response to a request redscope did not frame */
	RS_R_PIPELINE_FULL,    /* more than RS_PIPELINE_MAX requests awaiting responses */
	RS_R_READ_FAULT,       /* bytes could not be copied from the application */
	RS_R_NOT_HTTP2,	       /* a connection that began HTTP/2 does not follow its framing */
	RS_R_TLS_NO_PLAINTEXT, /* a TLS connection closed without its plaintext seen */
	RS_R_RESYNC,	       /* a request read while the responses were out of sync */
	RS_R__COUNT,
};

/* Self statistics kept in a per-CPU array, indexed by enum rs_stat. */
enum rs_stat {
	RS_STAT_LOST_EVENTS = 0, /* ringbuf full: record dropped */
	RS_STAT_CONNS_OPENED,	 /* connections that started being tracked */
	RS_STAT_CONNS_UPGRADED,	 /* 101 Switching Protocols: no longer HTTP/1.x */
	RS_STAT_CONNS_TUNNELED,	 /* a 2xx answer to CONNECT: a tunnel */
	RS_STAT_INFLIGHT_FULL,	 /* too many threads inside watched syscalls */
	RS_STAT_CONNS_TLS,	 /* connections that started with a TLS handshake */
	RS_STAT_TLS_NO_SOCKET,	 /* SSL calls whose socket is unknown (memory BIO): not parsed */
	RS_STAT_REQS_UNWATCHED,	 /* requests read by a server that could not become a target */
	RS_STAT_CONNS_H2,	 /* connections followed as HTTP/2 (preface, or picked up late) */
	RS_STAT_CONNS_CLIENT,	 /* connections a target opened and sent a request on */
	RS_STAT_PARSE_ERROR,	 /* + enum rs_reason: framing lost, or not HTTP */
	RS_STAT_UNFRAMED = RS_STAT_PARSE_ERROR + RS_R__COUNT, /* + enum rs_reason: requests */
	RS_STAT__COUNT = RS_STAT_UNFRAMED + RS_R__COUNT,
};

/* Ringbuf record types. */
enum rs_event_type {
	RS_EV_HTTP = 1, /* one finished (or abandoned) request */
	RS_EV_FORK = 2, /* a watched process forked a new process */
	RS_EV_EXIT = 3, /* a watched process exited */
	RS_EV_EXEC = 4, /* a watched process executed a new program */
	RS_EV_TARGET = 5, /* a process became a target at accept (auto mode) */
	RS_EV_TLS = 6,	  /* a target's first connection that speaks TLS */
	RS_EV_LISTEN = 7, /* a process that may become a target listens: check its libssl */
	RS_EV_TLS_MEMBIO = 8, /* a target's first SSL call on a memory BIO (unreadable HTTPS) */
	RS_EV_H2 = 9,	      /* frames of an HTTP/2 connection read or written in one call */
};

/* How the response of an RS_EV_HTTP record ended. */
enum rs_end_reason {
	RS_END_LENGTH = 0,	/* framing said so: Content-Length, last chunk, no body */
	RS_END_CLOSE,		/* connection closed after (part of) the response */
	RS_END_NEXT_REQUEST,	/* next request arrived on a close-delimited response */
	RS_END_TRUNCATED,	/* connection closed before the framing said the response ended */
	RS_END_NO_RESPONSE,	/* connection closed before any response: status 0 */
};

struct rs_event_http {
	__u32 type; /* RS_EV_HTTP */
	__u32 tgid;
	__u64 cgroup_id;
	__u64 start_ns;
	__u64 end_ns;
	__u64 accept_ns;
	__u64 established_ns; /* first request of a TCP connection seen at accept, else 0 */
	__u64 req_body_bytes;
	__u64 resp_body_bytes;
	__u16 status;
	__u16 head_len; /* bytes of the request line seen; head holds min(head_len, RS_HEAD_MAX) */
	__u8 end_reason; /* enum rs_end_reason */
	__u8 tls;	 /* seen as TLS plaintext: url_scheme https */
	__u8 client;	 /* a request the process sent (RS_CONN_CLIENT): peer says to whom */
	__u8 pad;
	struct rs_peer peer; /* client: the server; ended_by with RS_END_NO_RESPONSE */
	char head[RS_HEAD_MAX]; /* client: see RS_CLIENT_LINE_MAX */
};
_Static_assert(sizeof(struct rs_event_http) == 96 + RS_HEAD_MAX, "rs_event_http layout");

#define RS_H2_EVF_TLS (1u << 0)	 /* seen as TLS plaintext */
#define RS_H2_EVF_CLOSE (1u << 1) /* the connection closed: its open streams end */
#define RS_H2_EVF_LATE (1u << 2)	 /* picked up mid-connection: HPACK state unknown */
#define RS_H2_EVF_DROPPED (1u << 3) /* the direction's last event was lost: state unknown */
#define RS_H2_EVF_QUEUED (1u << 4)  /* queue_ns: the connection's wait in the listen queue */
#define RS_H2_EVF_UPGRADE (1u << 5) /* HTTP/2 by Upgrade: h2c; stream 1 was HTTP/1.1's request */

struct rs_event_h2 {
	__u32 type; /* RS_EV_H2 */
	__u32 tgid; /* the process that moved the bytes: the daemon names it */
	__u64 sk;      /* the connection */
	__u64 ts;      /* when the call moved the bytes */
	__u64 queue_ns; /* RS_H2_EVF_QUEUED: accept() minus the handshake's end, in the
			   connection's first event */
	__u8 dir;      /* enum rs_dir */
	__u8 flags;    /* RS_H2_EVF_* */
	__u16 used;    /* bytes of data in use */
	__u8 ended_by; /* RS_H2_EVF_CLOSE: who closed the connection (enum rs_ended_by) */
	__u8 pad[3];
	__u8 data[RS_H2_EV_DATA];
};
_Static_assert(sizeof(struct rs_event_h2) == 40 + RS_H2_EV_DATA, "rs_event_h2 layout");

struct rs_event_proc {
	__u32 type; /* RS_EV_FORK, RS_EV_EXIT, RS_EV_EXEC, RS_EV_TARGET, RS_EV_TLS, ... */
	__u32 tgid;
	__u32 parent_tgid; /* RS_EV_FORK: the process that forked */
	__u32 pad;
	__u64 busy_ns; /* RS_EV_EXIT: all the time the process had requests in flight */
};
_Static_assert(sizeof(struct rs_event_proc) == 24, "rs_event_proc layout");

/* An SSL_read/SSL_write call in progress on a thread of a target (ssl_calls map). */
struct rs_ssl_call {
	__u64 ssl; /* SSL * */
	__u64 buf; /* plaintext buffer */
	__u64 out; /* size_t * of the byte count (the _ex calls), or 0: the return value */
	__u64 sk;  /* socket of the SSL object, from the socket I/O nested in a call; 0 unknown */
	__u8 dir;  /* enum rs_dir */
	__u8 pad[7];
};
_Static_assert(sizeof(struct rs_ssl_call) == 40, "rs_ssl_call layout");

/* Key of the ssl_socks map: which socket an SSL object of a process reads and writes. */
struct rs_ssl_key {
	__u32 tgid;
	__u32 pad;
	__u64 ssl;
};

#endif /* REDSCOPE_H */
