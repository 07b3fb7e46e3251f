/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Resolve a file descriptor of the current task to its socket with CO-RE reads. */
#ifndef REDSCOPE_SOCK_BPF_H
#define REDSCOPE_SOCK_BPF_H

#define RS_S_IFMT 00170000
#define RS_S_IFSOCK 0140000
#define RS_AF_UNIX 1
#define RS_AF_INET 2
#define RS_AF_INET6 10
#define RS_SOCK_STREAM 1
#define RS_TCP_ESTABLISHED 1
#define RS_TCP_SYN_RECV 3
#define RS_TCP_FIN_WAIT1 4
#define RS_TCP_TIME_WAIT 6
#define RS_TCP_CLOSE 7
#define RS_TCP_CLOSE_WAIT 8
#define RS_TCP_LAST_ACK 9
#define RS_TCP_LISTEN 10
#define RS_TCP_CLOSING 11
#define RS_IPPROTO_TCP 6

/*
 * The local port of a TCP socket as the TCP tracepoints report it (their sport): from
 * inet_sport, which stays set through TCP_CLOSE, unlike skc_num, which the kernel
 * clears when the socket gives its port back, before that state change is traced.
 */
static __always_inline __u16 tcp_local_port(struct sock *sk)
{
	return bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
}

/* The open file of descriptor fd of the current task, or NULL. */
static __always_inline struct file *fd_file(__u32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]))
		return NULL;
	return f;
}

/*
 * The socket of descriptor fd if it is a stream socket (TCP over IPv4/IPv6, or unix)
 * of the current task that is not listening: the kind of descriptor an HTTP/1.x
 * server reads requests from. NULL otherwise.
 */
static __always_inline struct sock *fd_stream_sock(__u32 fd)
{
	struct file *f = fd_file(fd);
	struct socket *sock;
	struct sock *sk;
	__u16 family;

	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & RS_S_IFMT) != RS_S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	if (!sock || BPF_CORE_READ(sock, type) != RS_SOCK_STREAM)
		return NULL;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return NULL;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != RS_AF_INET && family != RS_AF_INET6 && family != RS_AF_UNIX)
		return NULL;
	if (BPF_CORE_READ(sk, __sk_common.skc_state) == RS_TCP_LISTEN)
		return NULL;
	return sk;
}

/* struct file's reference count: f_count before Linux 6.13, then f_ref, kept minus one */
struct file___count {
	atomic_long_t f_count;
} __attribute__((preserve_access_index));
struct rs_file_ref {
	atomic_long_t refcnt;
};
struct file___ref {
	struct rs_file_ref f_ref;
} __attribute__((preserve_access_index));

/* Is descriptor fd the last reference to its open file: does closing it release it? */
static __always_inline bool fd_last_reference(__u32 fd)
{
	struct file *f = fd_file(fd);

	if (!f)
		return false;
	if (bpf_core_field_exists(((struct file___count *)f)->f_count))
		return BPF_CORE_READ((struct file___count *)f, f_count.counter) == 1;
	return BPF_CORE_READ((struct file___ref *)f, f_ref.refcnt.counter) == 0;
}

static __always_inline bool sock_is_unix(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_family) == RS_AF_UNIX;
}

/* A TCP socket whose connection is over (reset, or closed both ways). */
static __always_inline bool tcp_closed(struct sock *sk)
{
	return !sock_is_unix(sk) && BPF_CORE_READ(sk, __sk_common.skc_state) == RS_TCP_CLOSE;
}

#define RS_SEND_SHUTDOWN 2

/* Has the application shut down the writing side (close, exit, shutdown(SHUT_WR))? */
static __always_inline bool sock_write_shut(struct sock *sk)
{
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_shutdown) & RS_SEND_SHUTDOWN;
}

/*
 * Has the process shut down its writing on TCP socket sk (shutdown(SHUT_WR), as a
 * lingering close does), so that nothing it reads now can be answered? A reset shuts
 * both ways too, but leaves its error pending for the next call to report.
 */
static __always_inline bool tcp_write_shut_by_self(struct sock *sk)
{
	return !sock_is_unix(sk) && sock_write_shut(sk) && !BPF_CORE_READ(sk, sk_err);
}

/* The other end of TCP socket sk: its address, port and family, into p. */
static __always_inline void sock_peer(struct sock *sk, struct rs_peer *p)
{
	p->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	p->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (p->family == RS_AF_INET6)
		BPF_CORE_READ_INTO(&p->addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	else
		BPF_CORE_READ_INTO((__u32 *)p->addr, sk, __sk_common.skc_daddr);
}

/* Local port of a TCP socket (host order); 0 for a unix socket. */
static __always_inline __u16 sock_local_port(struct sock *sk)
{
	if (sock_is_unix(sk))
		return 0;
	return BPF_CORE_READ(sk, __sk_common.skc_num);
}

#endif /* REDSCOPE_SOCK_BPF_H */
