/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every capture backend hands its hooks to: bytes moved on a socket, a socket
 * accepted, a socket closed, a TCP state change. Connections are kept per socket, in
 * the conns hash map keyed by the socket's address, whatever the backend.
 */
#ifndef REDSCOPE_CAPTURE_BPF_H
#define REDSCOPE_CAPTURE_BPF_H

#include "feed.bpf.h"
#include "targets.bpf.h"

/*
 * The current thread read ciphertext of TLS connection sk outside any SSL call, and no
 * SSL object has sk yet: if its SSL object is on a memory BIO, the thread's next
 * SSL_read that names no socket decrypts it (membio_socket).
 */
static __always_inline void membio_read(struct sock *sk)
{
	__u64 id = bpf_get_current_pid_tgid(), key = (__u64)sk;

	bpf_map_update_elem(&membio_reads, &id, &key, BPF_ANY);
}

/* The first user buffer of a call, for a look at its first bytes. */
static __always_inline __u64 io_first_buf(__u32 kind, __u64 buf)
{
	struct rs_msg_iov msg;
	struct iovec iov;

	if (kind == RS_IO_BUF)
		return buf;
	if (kind == RS_IO_BLIND)
		return 0;
	if (kind == RS_IO_MSG) {
		if (read_msg_iov(buf, &msg))
			return 0;
		buf = msg.iov;
	}
	/* the iovecs of a message's iterator (Linux 5.10's fentry capture) are the kernel's copy */
	if (kind == RS_IO_KIOV ? bpf_probe_read_kernel(&iov, sizeof(iov), (void *)buf)
			       : bpf_probe_read_user(&iov, sizeof(iov), (void *)buf))
		return 0;
	return (__u64)iov.iov_base;
}

/*
 * Do the len bytes read at buf start with a frame an HTTP/2 client sends to open a
 * stream or keep the connection going: HEADERS on a client's (odd) stream, SETTINGS,
 * PING or WINDOW_UPDATE, each with the length and flags it may have. Not DATA: a read
 * in the middle of a body would pass for it too often.
 */
static __always_inline bool looks_like_h2_frame(__u64 buf, __u64 len)
{
	__u8 h[RS_H2_FRAME_HEADER];
	__u32 length, stream;

	if (!buf || len < sizeof(h) || bpf_probe_read_user(h, sizeof(h), (void *)buf))
		return false;
	length = (__u32)h[0] << 16 | (__u32)h[1] << 8 | h[2];
	stream = (__u32)h[5] << 24 | (__u32)h[6] << 16 | (__u32)h[7] << 8 | h[8];
	if (length > 16384 || (stream >> 31))
		return false;
	switch (h[3]) {
	case RS_H2_HEADERS:
		return (stream & 1) && length &&
		       !(h[4] & ~(RS_H2_END_STREAM | RS_H2_END_HEADERS | RS_H2_PADDED | RS_H2_PRIORITY_FLAG));
	case RS_H2_SETTINGS:
		return !stream && !(length % 6) && !(h[4] & ~1);
	case RS_H2_PING:
		return !stream && length == 8 && !(h[4] & ~1);
	case RS_H2_WINDOW_UPDATE:
		return length == 4 && !h[4];
	default:
		return false;
	}
}

enum rs_adopt {
	RS_ADOPT_NO = 0,
	RS_ADOPT_HTTP1,	 /* the read starts a request */
	RS_ADOPT_HTTP2,	 /* the read starts an HTTP/2 frame a client sends */
	RS_ADOPT_CLIENT, /* the write starts a request: the process is the client */
};

/* Set by the daemon before load: follow the requests targets send (--client-metrics). */
RS_RODATA bool targ_client = false;

/*
 * A request read on a socket we do not know: a connection accepted before redscope
 * started. Follow it from this read on if the bytes at buf (len read) start a request
 * or an HTTP/2 frame, and the process can still answer: a server that shut down its
 * writing (a lingering close, after its connection ended) reads only to drop. A
 * request read after its client's reset is followed: it is counted unanswered.
 */
static __always_inline enum rs_adopt conn_adoptable(struct sock *sk, __u64 buf, __u64 len)
{
	if (tcp_write_shut_by_self(sk))
		return RS_ADOPT_NO;
	if (looks_like_request(first_word(buf, len), len))
		return selected_conn(sk) ? RS_ADOPT_HTTP1 : RS_ADOPT_NO;
	/*
	 * Either side sends frames of these shapes: HTTP/2 is taken up on the server's end
	 * only, one whose local port is one connections are accepted on (a client reading
	 * its answers on an ephemeral port is not a server)
	 */
	if ((sock_is_unix(sk) || conn_port_marked(tcp_local_port(sk))) &&
	    looks_like_h2_frame(buf, len))
		return selected_conn(sk) ? RS_ADOPT_HTTP2 : RS_ADOPT_NO;
	return RS_ADOPT_NO;
}

/*
 * A write on a TCP socket we do not know: the process sends a request on a connection
 * it opened (a server never writes one on a connection it accepted) if the bytes at buf
 * (len written) start a request. The process is watched; which ports it serves
 * (--port) says nothing of what it calls.
 */
static __always_inline enum rs_adopt client_adoptable(struct sock *sk, __u64 buf, __u64 len)
{
	if (sock_is_unix(sk) || !looks_like_request(first_word(buf, len), len))
		return RS_ADOPT_NO;
	return RS_ADOPT_CLIENT;
}

/*
 * Socket sk, connection c (conn_get(sk)), is closed: what it had open ends, and it is
 * forgotten. by: who closed it (enum rs_ended_by), if the caller knows.
 */
static __always_inline void conn_end(struct sock *sk, struct rs_conn *c, __u8 by)
{
	struct rs_work *w;

	c->peer.ended_by = c->flags & RS_CONN_RESET ? RS_BY_RESET : by;
	if ((c->flags & (RS_CONN_TLS | RS_CONN_PLAINTEXT)) == RS_CONN_TLS)
		stat_inc(RS_STAT_PARSE_ERROR + RS_R_TLS_NO_PLAINTEXT);
	if (c->ssl) {
		struct rs_ssl_key key = { .tgid = c->tgid, .ssl = c->ssl };

		bpf_map_delete_elem(&ssl_socks, &key);
	}
	if (c->flags & RS_CONN_H2) {
		/* the daemon follows its streams: it ends those still open */
		w = work_get();
		if (w) {
			w->conn = *c;
			w->sk = (__u64)sk;
			w->tgid = c->tgid;
			w->now = bpf_ktime_get_ns();
			h2_close(w);
		}
		conn_del(sk);
		return;
	}
	/* with no request unanswered and no response open, rs_h1_close has nothing to end */
	w = (c->flags & RS_CONN_IN_REQUEST) || resp_open(&c->resp) ? work_get() : NULL;
	if (w) {
		w->conn = *c;
		w->sk = (__u64)sk;
		w->tgid = c->tgid;
		w->now = bpf_ktime_get_ns();
		rs_h1_close();
	}
	conn_del(sk);
}

/* Socket sk is closed: conn_end, for a caller that has not looked the connection up. */
static __always_inline void conn_closed(struct sock *sk, __u8 by)
{
	struct rs_conn *c = conn_get(sk);

	if (c)
		conn_end(sk, c, by);
}

/*
 * A connection is new to redscope: what it starts with, in the work area.
 * accepted: taken from the listen queue since redscope started, its first bytes start
 * a request whatever they are; else picked up mid-stream. est: established_at(sk),
 * when its handshake completed, if known. copied: its socket's copied_seq after this
 * read (TCP), else 0. client: the process opened it and is sending a request on it.
 */
static __always_inline void conn_new(struct rs_work *w, struct sock *sk, bool accepted, __u64 *est,
				     __u32 copied, bool client)
{
	__u64 key = (__u64)sk;

	__builtin_memset(&w->conn, 0, sizeof(w->conn));
	if (accepted) {
		w->conn.accept_ns = bpf_ktime_get_ns();
		w->conn.flags = RS_CONN_ACCEPTED;
	}
	if (est) {
		w->conn.established_ns = *est;
		bpf_map_delete_elem(&established, &key);
	}
	w->conn.copied_seq = copied;
	/* (its local port marked: its close is seen, at the cost of a lookup for others on it) */
	if (sock_is_unix(sk))
		w->conn.flags |= RS_CONN_UNIX;
	else
		conn_port_mark(tcp_local_port(sk));
	if (client) {
		w->conn.flags |= RS_CONN_CLIENT;
		sock_peer(sk, &w->conn.peer);
		stat_inc(RS_STAT_CONNS_CLIENT);
	} else {
		stat_inc(RS_STAT_CONNS_OPENED);
	}
}

/*
 * The direction a call's bytes (dir: read, RS_DIR_REQ, or written) flow in the
 * exchanges of a connection with these flags: a client writes the requests and reads
 * the responses.
 */
static __always_inline __u32 conn_dir(__u32 flags, __u32 dir)
{
	return flags & RS_CONN_CLIENT ? dir ^ 1 : dir;
}

/*
 * len bytes read (RS_DIR_REQ) or written (RS_DIR_RESP) by process tgid on socket sk,
 * where kind and buf say (vlen iovecs). ssl: the SSL object when the bytes are TLS
 * plaintext from SSL_read/SSL_write, else 0. c: conn_get(sk), which the caller has
 * looked up already; without one, est and copied say what conn_new needs. The
 * connection is worked on in the work area and stored back once. Returns 1 when sk
 * is a connection.
 */
static __always_inline int conn_io(struct sock *sk, struct rs_conn *c, __u64 *est, __u32 copied,
				   __u32 tgid, __u32 dir, __u32 kind, __u64 buf, __u32 vlen,
				   __u64 len, __u64 ssl)
{
	enum rs_adopt adopt = RS_ADOPT_NO;
	__u64 key = (__u64)sk;
	struct rs_work *w;
	__u32 fdir;

	if (c) {
		/* syscall bytes of a TLS connection are ciphertext; a tunnel is not HTTP */
		if (!ssl && (c->flags & RS_CONN_TLS)) {
			if (dir == RS_DIR_REQ && !c->ssl)
				membio_read(sk);
			return 1;
		}
		fdir = conn_dir(c->flags, dir);
		if (!(c->flags & RS_CONN_H2) &&
		    (fdir == RS_DIR_REQ ? c->req.state : c->resp.state) == RS_H1_IGNORED)
			return 1;
	} else if (!est) {
		if (dir == RS_DIR_REQ)
			adopt = conn_adoptable(sk, io_first_buf(kind, buf), len);
		else if (targ_client)
			adopt = client_adoptable(sk, io_first_buf(kind, buf), len);
		if (adopt == RS_ADOPT_NO)
			return 0;
	}
	w = work_get();
	if (!w)
		return 1;
	if (c)
		w->conn = *c;
	else
		conn_new(w, sk, est != NULL, est, copied, adopt == RS_ADOPT_CLIENT);
	if (adopt == RS_ADOPT_HTTP2)
		h2_begin(w, true); /* its HPACK tables are older than redscope */
	if (ssl) {
		if (!(w->conn.flags & RS_CONN_TLS))
			stat_inc(RS_STAT_CONNS_TLS); /* its handshake was inside SSL_read */
		w->conn.flags |= RS_CONN_TLS | RS_CONN_PLAINTEXT;
		w->conn.ssl = ssl;
	}
	w->sk = (__u64)sk;
	w->tgid = tgid;
	w->conn.tgid = tgid;
	w->now = bpf_ktime_get_ns();
	w->first = 1;
	w->budget = RS_FEED_BUDGET;
	fdir = conn_dir(w->conn.flags, dir);
	rs_feed_io(fdir, kind, buf, vlen, len);
	if (w->conn.flags & RS_CONN_H2)
		rs_h2_flush(fdir);
	if (c)
		*c = w->conn;
	else
		bpf_map_update_elem(&conns, &key, &w->conn, BPF_ANY);
	/*
	 * Reset while the application was in this call, or before it got to the socket:
	 * what it moved counts, then the connection ends (no state change is to come).
	 */
	if ((w->conn.flags & RS_CONN_RESET) || (!c && tcp_closed(sk)))
		conn_closed(sk, RS_BY_RESET);
	if (!ssl && (w->conn.flags & RS_CONN_TLS)) {
		tls_seen(tgid);
		if (dir == RS_DIR_REQ)
			membio_read(sk);
	}
	return 1;
}

/* conn_io for a caller that has not looked the connection up. */
static __always_inline int conn_io_of(struct sock *sk, __u32 tgid, __u32 dir, __u32 kind,
				      __u64 buf, __u32 vlen, __u64 len, __u64 ssl)
{
	return conn_io(sk, conn_get(sk), NULL, 0, tgid, dir, kind, buf, vlen, len, ssl);
}

/*
 * A connection process tgid takes from the listen queue: its first bytes will be a
 * request, whatever they are. est: established_at(sk), when its handshake completed.
 */
static __always_inline struct rs_conn *conn_accepted(struct sock *sk, __u32 tgid, __u64 *est)
{
	struct rs_work *w = work_get();
	__u64 key = (__u64)sk;

	/* reset while it waited to be accepted: its reads, if any, are picked up as such */
	if (!w || tcp_closed(sk))
		return NULL;
	conn_new(w, sk, true, est, 0, false);
	w->conn.tgid = tgid;
	bpf_map_update_elem(&conns, &key, &w->conn, BPF_ANY);
	return conn_get(sk);
}

/*
 * TCP state changes of every socket of the host (softirq or process context, no
 * target to check): the state test comes first.
 *   SYN_RECV -> ESTABLISHED: a server-side connection completed its handshake and
 *     waits in the listen queue until a worker takes it (queue time).
 *   -> FIN_WAIT1, LAST_ACK, CLOSE: the socket is closed, by close() or by its
 *     process's exit, or the connection died; every TCP socket passes CLOSE before
 *     it is freed, so no connection outlives its socket.
 *   -> LISTEN: the current process listens: in auto mode it becomes a target.
 */
static __always_inline int sock_state(struct sock *sk, __u16 port, int from, int to)
{
	__u64 key = (__u64)sk, now;
	struct rs_conn *c;

	if (to == RS_TCP_ESTABLISHED) {
		if (from != RS_TCP_SYN_RECV || BPF_CORE_READ(sk, sk_protocol) != RS_IPPROTO_TCP)
			return 0;
		now = bpf_ktime_get_ns();
		conn_port_mark(port);
		bpf_map_update_elem(&established, &key, &now, BPF_ANY);
	} else if (to == RS_TCP_FIN_WAIT1 || to == RS_TCP_LAST_ACK || to == RS_TCP_CLOSE) {
		if (!conn_port_marked(port))
			return 0;
		c = conn_get(sk);
		if (!c)
			return 0;
		/*
		 * The application closed it, or shut down its writing: what it wrote is all.
		 * A reset or a timeout can come while its writer is inside a call: that
		 * call's bytes still count, so the connection ends when a call returns
		 * (conn_io), at the close (enter_close), or when the socket is freed
		 * (sock_destroyed), whichever comes first.
		 */
		if (sock_write_shut(sk))
			conn_end(sk, c,
				 to == RS_TCP_LAST_ACK	  ? RS_BY_PEER /* the peer's FIN came first */
				 : to == RS_TCP_FIN_WAIT1 ? RS_BY_SELF
							  : RS_BY_UNKNOWN);
		else
			c->flags |= RS_CONN_RESET;
	} else if (to == RS_TCP_LISTEN && BPF_CORE_READ(sk, sk_protocol) == RS_IPPROTO_TCP) {
		listening(sk);
	}
	return 0;
}

/*
 * A TCP socket is freed: whatever of it is still open ends now, at the latest, and
 * nothing keyed by its address may be found by the next socket at that address.
 */
static __always_inline int sock_destroyed(struct sock *sk, __u16 port)
{
	__u64 key = (__u64)sk;

	if (!conn_port_marked(port))
		return 0;
	bpf_map_delete_elem(&established, &key); /* costs what a lookup would when absent */
	conn_closed(sk, RS_BY_UNKNOWN);
	return 0;
}

#endif /* REDSCOPE_CAPTURE_BPF_H */
