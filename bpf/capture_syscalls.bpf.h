/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The syscall capture: tracepoints on accept, the read-side and write-side socket
 * calls, and what changes what a descriptor refers to (close, dup2, dup3,
 * close_range). Every process on the host pays for these tracepoints being on.
 *
 * A descriptor is turned into its socket once and remembered per process (fds map):
 * connections are kept per socket, so a socket read through another descriptor, or
 * by another process (a forked child, a worker it was passed to), is the same one.
 */
#ifndef REDSCOPE_CAPTURE_SYSCALLS_BPF_H
#define REDSCOPE_CAPTURE_SYSCALLS_BPF_H

#include "tls.bpf.h"

#define RS_MSG_PEEK 2

/*
 * The socket descriptor fd of target t (process tgid) refers to, 0 when it is not a
 * stream socket we follow. Looked up in the task's descriptor table once, then kept
 * until the descriptor is closed or replaced, or the process executes a program
 * (which closes descriptors of its own accord: gen).
 */
static __always_inline __u64 fd_socket(struct rs_target *t, __u32 tgid, __u32 fd)
{
	struct rs_fd_key key = { .tgid = tgid, .fd = fd };
	struct rs_fd *e = bpf_map_lookup_elem(&fds, &key);
	struct rs_fd v = { .gen = t->gen };

	if (e && e->gen == t->gen)
		return e->sk;
	v.sk = (__u64)fd_stream_sock(fd);
	bpf_map_update_elem(&fds, &key, &v, BPF_ANY);
	return v.sk;
}

/* Read-side and write-side syscalls of a target: remember the buffer until exit. */
static __always_inline int io_enter(__u32 fd, __u64 buf, __u32 vlen, __u8 kind, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct rs_io io = { .buf = buf, .fd = fd, .vlen = vlen, .kind = kind, .dir = dir };
	struct rs_target *t = target_of(id >> 32);

	if (!t)
		return 0;
	/* inside SSL_read or SSL_write: ciphertext, which names the SSL object's socket */
	if ((t->flags & RS_TARGET_SSL) && bpf_map_lookup_elem(&ssl_calls, &id)) {
		ssl_nested(id, fd_socket(t, id >> 32, fd));
		return 0;
	}
	if (bpf_map_update_elem(&inflight, &id, &io, BPF_ANY))
		stat_inc(RS_STAT_INFLIGHT_FULL);
	return 0;
}

static __always_inline int io_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct rs_io *iop = bpf_map_lookup_elem(&inflight, &id);
	__u32 tgid = id >> 32;
	struct rs_target *t;
	struct rs_io io;
	__u64 sk;

	if (!iop)
		return 0;
	io = *iop;
	bpf_map_delete_elem(&inflight, &id);
	if (ret <= 0)
		return 0;
	t = target_of(tgid);
	if (!t)
		return 0;
	sk = fd_socket(t, tgid, io.fd);
	if (io.splice) {
		/* either end of a splice may be a connection: the bytes go unseen */
		if (sk && conn_io_of((struct sock *)sk, tgid, RS_DIR_RESP, RS_IO_BLIND, 0, 0, ret, 0))
			return 0;
		sk = fd_socket(t, tgid, io.fd_in);
		if (sk)
			conn_io_of((struct sock *)sk, tgid, RS_DIR_REQ, RS_IO_BLIND, 0, 0, ret, 0);
		return 0;
	}
	if (sk)
		conn_io_of((struct sock *)sk, tgid, io.dir, io.kind, io.buf, io.vlen, ret, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int enter_read(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ctx->args[0], ctx->args[1], 0, RS_IO_BUF, RS_DIR_REQ);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[3] & RS_MSG_PEEK)
		return 0;
	return io_enter(ctx->args[0], ctx->args[1], 0, RS_IO_BUF, RS_DIR_REQ);
}

SEC("tracepoint/syscalls/sys_enter_readv")
int enter_readv(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ctx->args[0], ctx->args[1], ctx->args[2], RS_IO_IOV, RS_DIR_REQ);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[2] & RS_MSG_PEEK)
		return 0;
	return io_enter(ctx->args[0], ctx->args[1], 0, RS_IO_MSG, RS_DIR_REQ);
}

SEC("tracepoint/syscalls/sys_enter_write")
int enter_write(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ctx->args[0], ctx->args[1], 0, RS_IO_BUF, RS_DIR_RESP);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ctx->args[0], ctx->args[1], 0, RS_IO_BUF, RS_DIR_RESP);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ctx->args[0], ctx->args[1], ctx->args[2], RS_IO_IOV, RS_DIR_RESP);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ctx->args[0], ctx->args[1], 0, RS_IO_MSG, RS_DIR_RESP);
}

SEC("tracepoint/syscalls/sys_enter_sendfile64")
int enter_sendfile64(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ctx->args[0], 0, 0, RS_IO_BLIND, RS_DIR_RESP);
}

/* splice(fd_in, off_in, fd_out, off_out, len, flags): a proxy moving bodies unseen */
SEC("tracepoint/syscalls/sys_enter_splice")
int enter_splice(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct rs_io io = { .fd = ctx->args[2], .fd_in = ctx->args[0], .kind = RS_IO_BLIND,
			    .dir = RS_DIR_RESP, .splice = 1 };

	if (!target_of(id >> 32))
		return 0;
	if (bpf_map_update_elem(&inflight, &id, &io, BPF_ANY))
		stat_inc(RS_STAT_INFLIGHT_FULL);
	return 0;
}

/*
 * Exit of every watched read- and write-side syscall. One program, attached by the
 * loader to each sys_exit tracepoint of the io_enter programs above, so that the
 * verifier checks the parser once.
 */
SEC("tracepoint/syscalls/sys_exit_read")
int exit_io(struct trace_event_raw_sys_exit *ctx)
{
	return io_exit(ctx->ret);
}

/*
 * A new connection: its first bytes will be a request. In auto mode, a process
 * accepting one becomes a target if it passes the selectors.
 */
static __always_inline int accept_exit(long ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct rs_target *t = bpf_map_lookup_elem(&targets, &tgid);
	struct rs_fd_key key = { .tgid = tgid, .fd = ret };
	struct rs_fd v = {};
	struct sock *sk;

	if (t && (t->flags & RS_TARGET_IGNORED))
		return 0;
	if (!t && (!targ_auto || tgid == targ_self_tgid))
		return 0;
	if (ret < 0)
		return 0;
	sk = fd_stream_sock(ret);
	if (!sk || !selected_conn(sk))
		return 0;
	if (!t) {
		target_found(tgid);
		t = target_of(tgid);
		if (!t)
			return 0;
	}
	v.sk = (__u64)sk;
	v.gen = t->gen;
	bpf_map_update_elem(&fds, &key, &v, BPF_ANY);
	conn_accepted(sk, tgid, established_at(sk));
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return accept_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return accept_exit(ctx->ret);
}

/* A unix socket starts listening (a TCP one says so in its state change). */
SEC("tracepoint/syscalls/sys_enter_listen")
int enter_listen(struct trace_event_raw_sys_enter *ctx)
{
	struct sock *sk = fd_stream_sock(ctx->args[0]);

	if (sk && sock_is_unix(sk))
		listening(sk);
	return 0;
}

/*
 * A descriptor of a target is closed. What it referred to is forgotten. A TCP
 * connection ends when its state changes (on_sock_state), or here when it was reset
 * before; a unix one here too: when the descriptor closed is the last reference to
 * the socket.
 */
SEC("tracepoint/syscalls/sys_enter_close")
int enter_close(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct rs_fd_key key = { .tgid = tgid, .fd = ctx->args[0] };
	struct rs_target *t = target_of(tgid);
	struct rs_conn *c;
	struct rs_fd *e;
	__u64 sk;

	if (!t)
		return 0;
	e = bpf_map_lookup_elem(&fds, &key);
	if (!e)
		return 0;
	sk = e->gen == t->gen ? e->sk : 0;
	bpf_map_delete_elem(&fds, &key);
	if (!sk)
		return 0;
	c = bpf_map_lookup_elem(&conns, &sk);
	if (c && ((c->flags & (RS_CONN_UNIX | RS_CONN_RESET)) || tcp_closed((struct sock *)sk)) &&
	    fd_last_reference(key.fd))
		conn_end((struct sock *)sk, c, RS_BY_SELF);
	return 0;
}

/* dup2(oldfd, newfd) and dup3: newfd refers to something else now. */
static __always_inline int fd_replaced(__u32 fd)
{
	struct rs_fd_key key = { .tgid = bpf_get_current_pid_tgid() >> 32, .fd = fd };

	if (target_of(key.tgid))
		bpf_map_delete_elem(&fds, &key);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_dup2")
int enter_dup2(struct trace_event_raw_sys_enter *ctx)
{
	return fd_replaced(ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_dup3")
int enter_dup3(struct trace_event_raw_sys_enter *ctx)
{
	return fd_replaced(ctx->args[1]);
}

/* close_range(): any descriptor may be gone; what was known of them all is stale. */
SEC("tracepoint/syscalls/sys_enter_close_range")
int enter_close_range(struct trace_event_raw_sys_enter *ctx)
{
	struct rs_target *t = target_of(bpf_get_current_pid_tgid() >> 32);

	(void)ctx;
	if (t)
		t->gen = bpf_ktime_get_ns();
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int on_sock_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	return sock_state((struct sock *)ctx->skaddr, ctx->sport, ctx->oldstate, ctx->newstate);
}

SEC("tracepoint/tcp/tcp_destroy_sock")
int on_sock_destroy(struct trace_event_raw_tcp_event_sk *ctx)
{
	return sock_destroyed((struct sock *)ctx->skaddr, ctx->sport);
}

#endif /* REDSCOPE_CAPTURE_SYSCALLS_BPF_H */
