/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The socket capture (Linux 6.3 and later): tp_btf on sock/sock_recv_length and
 * sock/sock_send_length, which fire at the end of every socket receive and send
 * (read, recv*, write, send*, sendfile and splice into a socket) and nowhere else, so
 * no syscall tracepoint is on and a process that does no socket I/O pays nothing.
 * The user buffer the bytes went to or came from is read from the arguments of the
 * syscall in progress (bpf_task_pt_regs). Connection state lives in the socket's own
 * storage and goes away with it.
 */
#ifndef REDSCOPE_CAPTURE_SOCKETS_BPF_H
#define REDSCOPE_CAPTURE_SOCKETS_BPF_H

#include "arch.bpf.h"
#include "tls.bpf.h"

#define RS_MSG_PEEK 2

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
 * the server itself. Unix connections are in the hash map, by socket address.
 */
static __always_inline void unix_eof(struct sock *sk)
{
	struct sock *peer = BPF_CORE_READ((struct unix_sock *)sk, peer);

	conn_closed(sk, false);
	if (peer)
		conn_closed(peer, false);
}

/*
 * A process not watched yet receives on an accepted unix socket (one with the bound
 * address of its listener): bytes that start a request make it a server, in auto mode.
 * Unix sockets have no state change to tell a listener. Returns true when it became one.
 */
static __always_inline bool unix_server_found(struct sock *sk, __u32 tgid, int ret)
{
	__u32 kind, vlen;
	__u64 buf;

	if (!targ_auto || tgid == targ_self_tgid || !targ_task_pt_regs ||
	    !BPF_CORE_READ((struct unix_sock *)sk, addr) || !syscall_bytes(&kind, &buf, &vlen) ||
	    !looks_like_request(first_word(io_first_buf(kind, buf), ret), ret))
		return false;
	target_found(tgid);
	return tgid_watched(tgid);
}

/*
 * TCP bytes a target's reads took from a socket other than through these hooks
 * (splice from the socket: haproxy splice-request): the gap between where the socket's
 * copied sequence number stands and where the connection's reads left it. Counted
 * blind before the bytes of this call, so bodies keep their framing.
 */
static __always_inline __u64 tcp_unseen_reads(struct sock *sk, struct rs_conn *c, int ret)
{
	__u32 copied = BPF_CORE_READ((struct tcp_sock *)sk, copied_seq);
	__u32 before = copied - ret, gap = c && c->copied_seq ? before - c->copied_seq : 0;

	if (c)
		c->copied_seq = copied;
	return gap < (1u << 30) ? gap : 0;
}

/*
 * Ciphertext moved inside an SSL call, with no connection in the socket's storage yet:
 * its handshake was inside SSL_read. Its plaintext goes to the hash map; the socket's
 * storage says so, for its close to end that connection too. A connection accepted
 * since redscope started gets its queue time there.
 */
static __always_inline void tls_seen_inside_ssl(struct sock *sk, __u32 tgid)
{
	struct rs_conn *c = conn_get(sk, true), *plain;
	struct rs_work *w;

	if (c) {
		c->flags |= RS_CONN_TLS;
		return;
	}
	if (bpf_map_lookup_elem(&established, &(__u64){ (__u64)sk })) {
		plain = conn_accepted(sk, tgid, false);
		if (plain) {
			plain->flags |= RS_CONN_TLS;
			stat_inc(RS_STAT_CONNS_TLS);
		}
	}
	w = work_get();
	if (!w)
		return;
	__builtin_memset(&w->conn, 0, sizeof(w->conn));
	w->conn.flags = RS_CONN_TLS;
	w->conn.tgid = tgid;
	conn_put(sk, true, &w->conn);
}

/*
 * The bytes of a receive or send by the current process on socket sk. sk_storage:
 * sk is an argument the verifier trusts, connections may be in its storage. blind:
 * bytes nobody can look at.
 */
static __always_inline int sock_io(struct sock *sk, int ret, int flags, __u32 dir,
				   bool sk_storage, bool blind)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, kind, vlen;
	struct rs_target *t;
	struct rs_conn *c;
	__u64 buf, gap = 0;

	bool unix = sk->__sk_common.skc_family == RS_AF_UNIX, skst = sk_storage && !unix;

	if (!tgid_watched(tgid)) {
		if (!unix || dir != RS_DIR_REQ || ret < 0)
			return 0;
		if (ret == 0) {
			/* another process reading the end of a unix stream we may follow */
			unix_eof(sk);
			return 0;
		}
		if (!unix_server_found(sk, tgid, ret))
			return 0;
	}
	if (ret <= 0) {
		if (ret == 0 && dir == RS_DIR_REQ && unix)
			unix_eof(sk);
		else if (ret < 0 && (c = conn_get(sk, skst)) && (c->flags & RS_CONN_RESET))
			conn_closed(sk, skst); /* a call the reset interrupted returned */
		return 0;
	}
	if ((flags & RS_MSG_PEEK) || sk->sk_type != RS_SOCK_STREAM)
		return 0;
	t = target_of(tgid);
	if (!t)
		return 0;
	if (ssl_nested(t, id, (__u64)sk)) {
		if (skst)
			tls_seen_inside_ssl(sk, tgid);
		bpf_map_delete_elem(&iters, &id);
		return 0;
	}
	if (!call_bytes(id, blind, &kind, &buf, &vlen))
		return 0;
	c = conn_get(sk, skst);
	if (dir == RS_DIR_REQ && !unix) {
		gap = tcp_unseen_reads(sk, c, ret);
		if (!c && bpf_map_lookup_elem(&established, &(__u64){ (__u64)sk })) {
			/* accepted since redscope started: its first bytes start a request */
			c = conn_accepted(sk, tgid, skst);
			if (c)
				tcp_unseen_reads(sk, c, ret);
		}
	}
	if (gap)
		conn_io(sk, tgid, dir, RS_IO_BLIND, 0, 0, gap, 0, skst);
	conn_io(sk, tgid, dir, kind, buf, vlen, ret, 0, skst);
	/* a TLS connection: its plaintext comes through libssl, into the hash map */
	c = conn_get(sk, skst);
	if (skst && c && (c->flags & RS_CONN_TLS) && !conn_get(sk, false))
		conn_put(sk, false, c);
	return 0;
}

/* BPF_PROG hands each program its raw context too, unused here */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-parameter"

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv, struct sock *sk, int ret, int flags)
{
	return sock_io(sk, ret, flags, RS_DIR_REQ, true, false);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send, struct sock *sk, int ret, int flags)
{
	return sock_io(sk, ret, flags, RS_DIR_RESP, true, false);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sock_state_btf, struct sock *sk, int oldstate, int newstate)
{
	if (sk->sk_protocol != RS_IPPROTO_TCP)
		return 0;
	return sock_state(sk, oldstate, newstate, true);
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(sock_destroy_btf, struct sock *sk)
{
	return sock_destroyed(sk, true);
}

#pragma clang diagnostic pop

#endif /* REDSCOPE_CAPTURE_SOCKETS_BPF_H */
