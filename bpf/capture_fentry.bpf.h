/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The fentry capture, for kernels with BPF trampolines but without the socket
 * tracepoints (the EKS 5.10 and 6.1 lines): fexit on sock_recvmsg, which every socket
 * receive goes through, and on the protocols' send functions (tcp_sendmsg,
 * unix_stream_sendmsg, and tcp_sendpage for sendfile and splice before Linux 6.5):
 * sock_sendmsg itself is inlined into its callers and never fires for write().
 * The user buffer comes from the arguments of the syscall in progress where
 * bpf_task_pt_regs exists (5.15); before, from the message's iterator, noted at entry.
 */
#ifndef REDSCOPE_CAPTURE_FENTRY_BPF_H
#define REDSCOPE_CAPTURE_FENTRY_BPF_H

#include "capture_sockets.bpf.h"

/* The iterator of Linux 5.10, where it differs from later ones. */
#define RS_ITER_IOVEC_510 4 /* iov_iter.type: user iovecs (bit 0 is the direction) */
#define RS_ITER_KVEC_510 8  /* kernel buffers: a kernel socket user */

struct iov_iter___510 {
	unsigned int type;
	size_t iov_offset;
	const struct iovec *iov;
	unsigned long nr_segs;
} __attribute__((preserve_access_index));

struct msghdr___510 {
	struct iov_iter___510 msg_iter;
} __attribute__((preserve_access_index));

/*
 * Entry of a receive or send, before bpf_task_pt_regs (Linux 5.15): note where the
 * message's bytes go or come from while the iterator still says so; the exit has it
 * advanced past them. recv_sk: the socket of a receive, whose reader may be a server
 * not watched yet (tcp_server_found, here and not at the exit, which would have no
 * iterator of its first bytes); NULL for a send.
 */
static __always_inline int iter_enter(struct msghdr *msg, struct sock *recv_sk)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct msghdr___510 *m = (struct msghdr___510 *)msg;
	struct rs_iter it = {};
	unsigned int type;

	if (!tgid_watched(id >> 32) &&
	    (!recv_sk || recv_sk->__sk_common.skc_family == RS_AF_UNIX ||
	     !tcp_server_found(recv_sk, id >> 32, 0)))
		return 0;
	type = BPF_CORE_READ(m, msg_iter.type);
	if (type & RS_ITER_KVEC_510)
		return 0; /* a kernel user of the socket: not an application's bytes */
	it.kind = (type & RS_ITER_IOVEC_510) && !BPF_CORE_READ(m, msg_iter.iov_offset) ? RS_IO_KIOV
											  : RS_IO_BLIND;
	it.iov = (__u64)BPF_CORE_READ(m, msg_iter.iov);
	it.nr_segs = BPF_CORE_READ(m, msg_iter.nr_segs);
	bpf_map_update_elem(&iters, &id, &it, BPF_ANY);
	return 0;
}

/* BPF_PROG hands each program its raw context too, unused here */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-parameter"

SEC("fentry/sock_recvmsg")
int BPF_PROG(fentry_sock_recvmsg, struct socket *sock, struct msghdr *msg, int flags)
{
	return iter_enter(msg, sock->sk);
}

SEC("fexit/sock_recvmsg")
int BPF_PROG(fexit_sock_recvmsg, struct socket *sock, struct msghdr *msg, int flags, int ret)
{
	return sock_io(sock->sk, ret, flags, RS_DIR_REQ, false);
}

SEC("fentry/tcp_sendmsg")
int BPF_PROG(fentry_tcp_sendmsg, struct sock *sk, struct msghdr *msg, size_t size)
{
	return iter_enter(msg, NULL);
}

SEC("fexit/tcp_sendmsg")
int BPF_PROG(fexit_tcp_sendmsg, struct sock *sk, struct msghdr *msg, size_t size, int ret)
{
	return sock_io(sk, ret, 0, RS_DIR_RESP, false);
}

SEC("fentry/unix_stream_sendmsg")
int BPF_PROG(fentry_unix_stream_sendmsg, struct socket *sock, struct msghdr *msg, size_t len)
{
	return iter_enter(msg, NULL);
}

SEC("fexit/unix_stream_sendmsg")
int BPF_PROG(fexit_unix_stream_sendmsg, struct socket *sock, struct msghdr *msg, size_t len,
	     int ret)
{
	return sock_io(sock->sk, ret, 0, RS_DIR_RESP, false);
}

/* sendfile and splice into a TCP socket before Linux 6.5: bytes we cannot look at */
SEC("fexit/tcp_sendpage")
int BPF_PROG(fexit_tcp_sendpage, struct sock *sk, struct page *page, int offset, size_t size,
	     int flags, int ret)
{
	return sock_io(sk, ret, 0, RS_DIR_RESP, true);
}

#pragma clang diagnostic pop

#endif /* REDSCOPE_CAPTURE_FENTRY_BPF_H */
