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
#define RS_TCP_LISTEN 10
#define RS_TCP_ESTABLISHED 1
#define RS_TCP_SYN_RECV 3
#define RS_IPPROTO_TCP 6

/*
 * The socket of fd if it is a connected stream socket (TCP over IPv4/IPv6, or unix)
 * of the current task: the kind of descriptor an HTTP/1.x server reads requests
 * from. NULL otherwise.
 */
static __always_inline struct sock *fd_stream_sock(__u32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;
	struct socket *sock;
	struct sock *sk;
	__u16 family;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & RS_S_IFMT) != RS_S_IFSOCK)
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

/* Local port of a TCP socket (host order); 0 for a unix socket. */
static __always_inline __u16 sock_local_port(struct sock *sk)
{
	if (BPF_CORE_READ(sk, __sk_common.skc_family) == RS_AF_UNIX)
		return 0;
	return BPF_CORE_READ(sk, __sk_common.skc_num);
}

#endif /* REDSCOPE_SOCK_BPF_H */
