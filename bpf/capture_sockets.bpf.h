/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The socket capture (Linux 6.3 and later): tp_btf on sock/sock_recv_length and
 * sock/sock_send_length, which fire at the end of every socket receive and send
 * (read, recv*, write, send*, sendfile and splice into a socket) and nowhere else, so
 * no syscall tracepoint is on and a process that does no socket I/O pays nothing.
 * The user buffer the bytes went to or came from is read from the arguments of the
 * syscall in progress (bpf_task_pt_regs).
 */
#ifndef REDSCOPE_CAPTURE_SOCKETS_BPF_H
#define REDSCOPE_CAPTURE_SOCKETS_BPF_H

#include "arch.bpf.h"
#include "tls.bpf.h"

#define RS_MSG_PEEK 2
#define RS_EAGAIN 11 /* a non-blocking socket with nothing to read (or no room): all is as it was */

/* Set by the daemon before load: bpf_task_pt_regs exists (Linux 5.15). */
const volatile bool targ_task_pt_regs = true;

/*
 * The bytes of the syscall in progress: how to find them (kind, buf, vlen). False for
 * socket I/O without a syscall of ours behind it (io_uring workers, kernel sockets).
 */
static __always_inline bool syscall_bytes(__u32 *kind, __u64 *buf, __u32 *vlen)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	long nr = RS_SYSCALL_NR(regs);

	*vlen = 0;
	*buf = 0;
	switch (nr) {
	case RS_NR_READ:
	case RS_NR_WRITE:
	case RS_NR_RECVFROM:
	case RS_NR_SENDTO:
		*kind = RS_IO_BUF;
		*buf = RS_SYSCALL_ARG1(regs);
		return true;
	case RS_NR_READV:
	case RS_NR_WRITEV:
		*kind = RS_IO_IOV;
		*buf = RS_SYSCALL_ARG1(regs);
		*vlen = RS_SYSCALL_ARG2(regs);
		return true;
	case RS_NR_RECVMSG:
	case RS_NR_SENDMSG:
		*kind = RS_IO_MSG;
		*buf = RS_SYSCALL_ARG1(regs);
		return true;
	case RS_NR_SENDFILE:
	case RS_NR_SPLICE:
		*kind = RS_IO_BLIND;
		return true;
	default:
		return false;
	}
}

/*
 * The bytes of the receive or send that just ended on this thread: from the syscall's
 * arguments, or, without bpf_task_pt_regs, from the iterator its entry noted (the
 * fentry capture on Linux 5.10). blind: bytes nobody can look at (sendpage).
 */
static __always_inline bool call_bytes(__u64 id, bool blind, __u32 *kind, __u64 *buf, __u32 *vlen)
{
	struct rs_iter *it;

	if (blind) {
		*kind = RS_IO_BLIND;
		*buf = 0;
		*vlen = 0;
		return true;
	}
	if (targ_task_pt_regs)
		return syscall_bytes(kind, buf, vlen);
	it = bpf_map_lookup_elem(&iters, &id);
	if (!it)
		return false;
	*kind = it->kind;
	*buf = it->iov;
	*vlen = it->nr_segs;
	bpf_map_delete_elem(&iters, &id);
	return true;
}

/*
 * A unix socket's stream ended (a read returned 0): the other end closed. If that end
 * is a connection, its close-delimited response, if any, ends here (unix sockets have
 * no state change to tell). Either end's reader may tell: the peer of a server, or
 * the server itself.
 */
static __always_inline void unix_eof(struct sock *sk)
{
	struct sock *peer = BPF_CORE_READ((struct unix_sock *)sk, peer);

	conn_closed(sk, RS_BY_PEER);
	if (peer)
		conn_closed(peer, RS_BY_PEER);
}

/* Do the ret bytes the syscall in progress read start a request? */
static __always_inline bool read_a_request(int ret)
{
	__u32 kind, vlen;
	__u64 buf;

	return targ_task_pt_regs && syscall_bytes(&kind, &buf, &vlen) &&
	       looks_like_request(first_word(io_first_buf(kind, buf), ret), ret);
}

/*
 * A process not watched yet receives on an accepted unix socket (one with the bound
 * address of its listener): bytes that start a request make it a server, in auto mode.
 * Unix sockets have no state change to tell a listener. Returns true when it became one.
 */
static __always_inline bool unix_server_found(struct sock *sk, __u32 tgid, int ret)
{
	struct unix_sock *us;

	/* bpf_skc_to_unix_sock came with bpf_task_pt_regs (Linux 5.15): not before */
	if (!targ_auto || tgid == targ_self_tgid || !targ_task_pt_regs)
		return false;
	us = bpf_skc_to_unix_sock(sk); /* a plain load of addr, not a probe read */
	if (!us || !us->addr || !read_a_request(ret))
		return false;
	return target_found(tgid);
}

/*
 * A process not watched yet reads ret bytes from TCP socket sk, the server end of a
 * connection: its local port is one connections are accepted on (conn_ports), and it
 * completed its handshake since redscope started (established) or, opened before, what
 * is read starts a request. Whoever created or listened on the listening socket, this
 * process serves the connection: an exec'd worker handed the listening socket (uvicorn
 * --workers, systemd socket activation), a process handed the connection itself (inetd
 * style, SCM_RIGHTS). In auto mode it becomes a target if it passes the selectors;
 * a request it reads when it cannot is counted. Returns true when it became one.
 */
static __always_inline bool tcp_server_found(struct sock *sk, __u32 tgid, int ret)
{
	bool request;

	if (!conn_port_marked(sk->__sk_common.skc_num) || !targ_auto || tgid == targ_self_tgid ||
	    !selected_conn(sk) || !selected_process())
		return false;
	request = read_a_request(ret);
	if (!request && !established_at(sk))
		return false; /* the client end of a connection, or not HTTP */
	if (target_add_found(tgid))
		return true;
	if (request)
		stat_inc(RS_STAT_REQS_UNWATCHED);
	return false;
}

/*
 * Where TCP socket sk's reads stand (copied_seq): a plain load through the socket's
 * BTF type (the hooks' sk is one), not a probe read.
 */
static __always_inline __u32 tcp_copied_seq(struct sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

	return tp ? tp->copied_seq : 0;
}

/*
 * TCP bytes a target's reads took from a socket other than through these hooks
 * (splice from the socket: haproxy splice-request): the gap between where the socket's
 * copied sequence number stands and where the connection's reads left it. Counted
 * blind before the bytes of this call, so bodies keep their framing.
 */
static __always_inline __u64 tcp_unseen_reads(struct sock *sk, struct rs_conn *c, int ret)
{
	__u32 copied = tcp_copied_seq(sk);
	__u32 before = copied - ret, gap = c->copied_seq ? before - c->copied_seq : 0;
	__u8 state;

	c->copied_seq = copied;
	/*
	 * A read that took the peer's FIN after its bytes moved copied_seq one further (the
	 * FIN's sequence number): no byte went unseen. The peer's FIN is in once the state
	 * is past ESTABLISHED on the receiving side (CLOSE_WAIT, and what follows it).
	 */
	if (gap) {
		state = BPF_CORE_READ(sk, __sk_common.skc_state);
		if (state == RS_TCP_CLOSE_WAIT || state == RS_TCP_LAST_ACK || state == RS_TCP_CLOSING ||
		    state == RS_TCP_TIME_WAIT || state == RS_TCP_CLOSE)
			gap--;
	}
	return gap < (1u << 30) ? gap : 0;
}

/*
 * The socket I/O a thread does inside SSL_read or SSL_write is ciphertext: not parsed.
 * A connection accepted since redscope started whose handshake is inside SSL_read is
 * taken up here (its queue time ends here), for its plaintext to find.
 */
static __always_inline void tls_inside_ssl(struct sock *sk, __u32 tgid)
{
	struct rs_conn *c;
	__u64 *est;

	if (conn_get(sk) || !(est = established_at(sk)))
		return;
	c = conn_accepted(sk, tgid, est);
	if (c) {
		c->flags |= RS_CONN_TLS;
		stat_inc(RS_STAT_CONNS_TLS);
	}
}

/*
 * The bytes of a receive or send by the current process on socket sk. blind: bytes
 * nobody can look at (sendpage).
 */
static __always_inline int sock_io(struct sock *sk, int ret, int flags, __u32 dir, bool blind)
{
	__u64 id = bpf_get_current_pid_tgid(), buf, *est;
	__u32 tgid = id >> 32, kind, vlen;
	__u8 watched = tgid_watched(tgid);
	bool unix;
	struct rs_conn *c;

	if (!watched && ret > 0 && dir == RS_DIR_RESP)
		return 0; /* the common case of every process that is not watched: done */
	unix = sk->__sk_common.skc_family == RS_AF_UNIX;
	if (!watched) {
		if (dir != RS_DIR_REQ || ret < 0)
			return 0;
		if (!unix) {
			if (!ret || !tcp_server_found(sk, tgid, ret))
				return 0;
		} else if (ret == 0) {
			/* another process reading the end of a unix stream we may follow */
			unix_eof(sk);
			return 0;
		} else if (!unix_server_found(sk, tgid, ret)) {
			return 0;
		}
	}
	if (ret <= 0) {
		if (ret == 0 && dir == RS_DIR_REQ && unix)
			unix_eof(sk);
		else if (ret < 0 && ret != -RS_EAGAIN && (c = conn_get(sk)) &&
			 (c->flags & RS_CONN_RESET))
			conn_end(sk, c, RS_BY_RESET); /* a call the reset interrupted returned */
		return 0;
	}
	if ((flags & RS_MSG_PEEK) || sk->sk_type != RS_SOCK_STREAM)
		return 0;
	if ((watched & RS_WATCHED_SSL) && bpf_map_lookup_elem(&ssl_calls, &id)) {
		ssl_nested(id, (__u64)sk);
		tls_inside_ssl(sk, tgid);
		bpf_map_delete_elem(&iters, &id);
		return 0;
	}
	if (!call_bytes(id, blind, &kind, &buf, &vlen))
		return 0;
	c = conn_get(sk);
	if (dir == RS_DIR_REQ && !unix) {
		/*
		 * Accepted since redscope started (and not reset while it waited): its first
		 * bytes start a request. Taken up in the work area, stored once.
		 */
		if (!c && (est = established_at(sk)) && !tcp_closed(sk)) {
			conn_io(sk, NULL, est, tcp_copied_seq(sk), tgid,
				dir, kind, buf, vlen, ret, 0);
			return 0;
		}
		if (c) {
			__u64 gap = tcp_unseen_reads(sk, c, ret);

			/* (which can end the connection: it is looked up again) */
			if (gap && conn_io(sk, c, NULL, 0, tgid, dir, RS_IO_BLIND, 0, 0, gap, 0))
				c = conn_get(sk);
		}
	}
	conn_io(sk, c, NULL, 0, tgid, dir, kind, buf, vlen, ret, 0);
	return 0;
}

/*
 * tcp_local_port for the socket of a BTF tracepoint: skc_num, a plain load, while the
 * socket holds its port; the probe read of inet_sport only once it gave it back.
 */
static __always_inline __u16 btf_tcp_local_port(struct sock *sk)
{
	__u16 num = sk->__sk_common.skc_num;

	return num ? num : tcp_local_port(sk);
}

#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-parameter"

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv, struct sock *sk, int ret, int flags)
{
	return sock_io(sk, ret, flags, RS_DIR_REQ, false);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send, struct sock *sk, int ret, int flags)
{
	return sock_io(sk, ret, flags, RS_DIR_RESP, false);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sock_state_btf, struct sock *sk, int oldstate, int newstate)
{
	return sock_state(sk, btf_tcp_local_port(sk), oldstate, newstate);
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(sock_destroy_btf, struct sock *sk)
{
	return sock_destroyed(sk, btf_tcp_local_port(sk));
}

#pragma clang diagnostic pop

#endif /* REDSCOPE_CAPTURE_SOCKETS_BPF_H */
