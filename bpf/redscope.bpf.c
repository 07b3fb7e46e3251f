// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* redscope BPF programs: socket syscall tracepoints and process lifecycle hooks. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "redscope.h"
#include "maps.bpf.h"
#include "sock.bpf.h"
#include "h1.bpf.h"

#define RS_MSG_PEEK 2
#define RS_E2BIG 7 /* errno of a full map */

/* Set by the daemon before load. */
const volatile __u32 targ_self_tgid = 0; /* never watch redscope itself */
const volatile bool targ_auto = true;	 /* a process that accepts a connection becomes a target */
const volatile bool targ_sel_comm = false;   /* --comm: only processes named in sel_comms */
const volatile bool targ_sel_port = false;   /* --port: only connections to ports in sel_ports */
const volatile __u32 targ_sel_cgroups = 0;   /* --cgroup: entries of sel_cgroups in use */

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Does the current process pass the --comm and --cgroup selectors? */
static __always_inline bool selected_process(void)
{
	char comm[16] = {};
	bool in_cgroup = false;
	__u32 i;

	if (targ_sel_comm) {
		bpf_get_current_comm(comm, sizeof(comm));
		if (!bpf_map_lookup_elem(&sel_comms, comm))
			return false;
	}
	if (!targ_sel_cgroups)
		return true;
	for (i = 0; i < RS_MAX_SEL_CGROUPS && i < targ_sel_cgroups; i++)
		if (bpf_current_task_under_cgroup(&sel_cgroups, i) == 1)
			in_cgroup = true;
	return in_cgroup;
}

/* Does a connection pass the --port selector? */
static __always_inline bool selected_conn(struct sock *sk)
{
	__u16 port;

	if (!targ_sel_port)
		return true;
	port = sock_local_port(sk);
	return bpf_map_lookup_elem(&sel_ports, &port);
}

static __always_inline struct rs_target *target_of(__u32 tgid)
{
	struct rs_target *t = bpf_map_lookup_elem(&targets, &tgid);

	if (t && (t->flags & RS_TARGET_IGNORED))
		return NULL;
	return t;
}

static __always_inline void proc_event(__u32 type, __u32 tgid, __u32 parent, __u64 busy_ns)
{
	struct rs_event_proc *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		stat_inc(RS_STAT_LOST_EVENTS);
		return;
	}
	e->type = type;
	e->tgid = tgid;
	e->parent_tgid = parent;
	e->pad = 0;
	e->busy_ns = busy_ns;
	bpf_ringbuf_submit(e, ringbuf_wakeup_flags());
}

/*
 * A target's first TLS connection: the daemon makes sure the TLS library it uses
 * is hooked, or says once that its HTTPS traffic cannot be seen.
 */
static __always_inline void tls_seen(__u32 tgid)
{
	struct rs_target *t = bpf_map_lookup_elem(&targets, &tgid);

	if (!t || (t->flags & RS_TARGET_TLS_SEEN))
		return;
	target_flags_set(t, RS_TARGET_TLS_SEEN);
	proc_event(RS_EV_TLS, tgid, 0, 0);
}

/* Report once per process that it drives OpenSSL through memory BIOs. */
static __always_inline void membio_seen(__u32 tgid)
{
	struct rs_target *t = bpf_map_lookup_elem(&targets, &tgid);

	if (!t || (t->flags & RS_TARGET_TLS_MEMBIO))
		return;
	target_flags_set(t, RS_TARGET_TLS_MEMBIO);
	proc_event(RS_EV_TLS_MEMBIO, tgid, 0, 0);
}

/*
 * A syscall made inside SSL_read or SSL_write moves ciphertext: it tells which
 * socket the SSL object uses, and is not parsed itself.
 */
static __always_inline bool ssl_nested(__u64 id, __u32 fd)
{
	struct rs_ssl_call *call = bpf_map_lookup_elem(&ssl_calls, &id);
	struct rs_ssl_key sk = { .tgid = id >> 32 };

	if (!call)
		return false;
	if (call->fd != (__s32)fd) {
		call->fd = fd;
		sk.ssl = call->ssl;
		bpf_map_update_elem(&ssl_fds, &sk, &fd, BPF_ANY);
	}
	return true;
}

/* Read-side and write-side syscalls of a target: remember the buffer until exit. */
static __always_inline int io_enter(__u32 fd, __u64 buf, __u32 vlen, __u8 kind, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct rs_conn_key key = { .tgid = id >> 32, .fd = fd };
	struct rs_io io = { .buf = buf, .fd = fd, .vlen = vlen, .kind = kind, .dir = dir };
	struct rs_target *t = target_of(key.tgid);

	if (!t)
		return 0;
	if ((t->flags & RS_TARGET_SSL) && ssl_nested(id, fd))
		return 0;
	/* responses only matter on connections whose requests were seen */
	if (dir == RS_DIR_RESP && !bpf_map_lookup_elem(&conns, &key))
		return 0;
	if (bpf_map_update_elem(&inflight, &id, &io, BPF_ANY))
		stat_inc(RS_STAT_INFLIGHT_FULL);
	return 0;
}

/* The first user buffer of a syscall, for a look at its first bytes. */
static __always_inline __u64 io_first_buf(const struct rs_io *io)
{
	struct user_msghdr msg;
	struct iovec iov;
	__u64 vec = io->buf;

	if (io->kind == RS_IO_BUF)
		return io->buf;
	if (io->kind == RS_IO_MSG) {
		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)io->buf))
			return 0;
		vec = (__u64)msg.msg_iov;
	}
	if (bpf_probe_read_user(&iov, sizeof(iov), (void *)vec))
		return 0;
	return (__u64)iov.iov_base;
}

/*
 * Does a read that returned len bytes starting with the 8 bytes in w look like the
 * start of a request: a known method and a space?
 */
static __always_inline bool looks_like_request(__u64 w, long len)
{
	if (len < 4)
		return false;
	if ((w & 0xffffffff) == M4('G', 'E', 'T', ' ') || (w & 0xffffffff) == M4('P', 'U', 'T', ' '))
		return true;
	if (len < 5)
		return false;
	w &= len >= 8 ? ~0ULL : (1ULL << (8 * len)) - 1;
	if ((w & 0xffffffffff) == M8('P', 'O', 'S', 'T', ' ', 0, 0, 0) ||
	    (w & 0xffffffffff) == M8('H', 'E', 'A', 'D', ' ', 0, 0, 0))
		return true;
	if ((w & 0xffffffffffff) == M8('P', 'A', 'T', 'C', 'H', ' ', 0, 0) ||
	    (w & 0xffffffffffff) == M8('T', 'R', 'A', 'C', 'E', ' ', 0, 0))
		return true;
	if ((w & 0xffffffffffffff) == M8('D', 'E', 'L', 'E', 'T', 'E', ' ', 0))
		return true;
	return w == M8('O', 'P', 'T', 'I', 'O', 'N', 'S', ' ') ||
	       w == M8('C', 'O', 'N', 'N', 'E', 'C', 'T', ' ');
}

/*
 * A request read on a descriptor we do not know: a connection accepted before
 * redscope started. Follow it from this request on if it is a stream socket.
 * buf holds the first of the len bytes read.
 */
static __always_inline bool conn_adoptable(__u32 fd, __u64 buf, long len)
{
	__u64 first = 0;
	struct sock *sk;

	if (!buf || bpf_probe_read_user(&first, sizeof(first), (void *)buf))
		return false;
	if (!looks_like_request(first, len))
		return false;
	sk = fd_stream_sock(fd);
	return sk && selected_conn(sk);
}

static __always_inline int io_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct rs_io *iop = bpf_map_lookup_elem(&inflight, &id);
	struct rs_conn_key key;
	struct rs_conn *c;
	struct rs_work *w;
	struct rs_io io;

	if (!iop)
		return 0;
	io = *iop;
	bpf_map_delete_elem(&inflight, &id);
	if (ret <= 0)
		return 0;
	key.tgid = id >> 32;
	key.fd = io.fd;
	w = work_get();
	if (!w)
		return 0;
	c = bpf_map_lookup_elem(&conns, &key);
	if (c) {
		if (c->req.state == RS_H1_BROKEN || (c->flags & RS_CONN_TLS))
			return 0;
		w->conn = *c;
	} else {
		if (io.dir != RS_DIR_REQ || !conn_adoptable(io.fd, io_first_buf(&io), ret))
			return 0;
		__builtin_memset(&w->conn, 0, sizeof(w->conn));
		stat_inc(RS_STAT_CONNS_OPENED);
	}
	w->key = key;
	w->now = bpf_ktime_get_ns();
	rs_feed_io(io.dir, io.kind, io.buf, io.vlen, ret);
	if (c)
		*c = w->conn;
	else
		bpf_map_update_elem(&conns, &key, &w->conn, BPF_ANY);
	if (w->conn.flags & RS_CONN_TLS)
		tls_seen(key.tgid);
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
 * TLS: uprobes on SSL_read, SSL_read_ex, SSL_write and SSL_write_ex of each libssl
 * that targets map (attached by the daemon, once per library file, for every
 * process: the target check comes first). The entry remembers the call; the
 * syscalls nested in it name the socket (ssl_nested); the return feeds the
 * plaintext to the connection's parser as if a syscall had moved it.
 */
static __always_inline int ssl_enter(__u64 ssl, __u64 buf, __u64 out, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct rs_ssl_key sk = { .tgid = id >> 32, .ssl = ssl };
	struct rs_ssl_call call = { .ssl = ssl, .buf = buf, .out = out, .fd = -1, .dir = dir };
	struct rs_target *t = target_of(sk.tgid);
	__u32 *fd;

	if (!t)
		return 0;
	if (!(t->flags & RS_TARGET_SSL))
		target_flags_set(t, RS_TARGET_SSL);
	fd = bpf_map_lookup_elem(&ssl_fds, &sk);
	if (fd)
		call.fd = *fd;
	/* the outer call of any nesting is the one that counts */
	if (bpf_map_update_elem(&ssl_calls, &id, &call, BPF_NOEXIST) == -RS_E2BIG)
		stat_inc(RS_STAT_INFLIGHT_FULL);
	return 0;
}

/* SSL_read(ssl, buf, num) */
SEC("uprobe")
int ssl_read_enter(struct pt_regs *ctx)
{
	return ssl_enter(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), 0, RS_DIR_REQ);
}

/* SSL_read_ex(ssl, buf, num, size_t *readbytes) */
SEC("uprobe")
int ssl_read_ex_enter(struct pt_regs *ctx)
{
	return ssl_enter(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM4(ctx), RS_DIR_REQ);
}

/* SSL_write(ssl, buf, num) */
SEC("uprobe")
int ssl_write_enter(struct pt_regs *ctx)
{
	return ssl_enter(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), 0, RS_DIR_RESP);
}

/* SSL_write_ex(ssl, buf, num, size_t *written) */
SEC("uprobe")
int ssl_write_ex_enter(struct pt_regs *ctx)
{
	return ssl_enter(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM4(ctx), RS_DIR_RESP);
}

/* Return of all four: one program, attached to each by the daemon. */
SEC("uretprobe")
int ssl_exit(struct pt_regs *ctx)
{
	int ret = PT_REGS_RC(ctx); /* all four return int: the upper half of rax is junk */
	__u64 id = bpf_get_current_pid_tgid();
	struct rs_ssl_call *callp = bpf_map_lookup_elem(&ssl_calls, &id);
	struct rs_ssl_call call;
	struct rs_conn_key key;
	struct rs_conn *c;
	struct rs_work *w;
	__u64 n = 0;

	if (!callp)
		return 0;
	call = *callp;
	bpf_map_delete_elem(&ssl_calls, &id);
	if (call.out) {
		/* SSL_read_ex, SSL_write_ex: 1 on success, the count through a pointer */
		if (ret != 1 || bpf_probe_read_user(&n, sizeof(n), (void *)call.out))
			return 0;
	} else if (ret > 0) {
		n = ret;
	}
	if (!n)
		return 0;
	if (call.fd < 0) {
		/* a memory BIO: the application moves the ciphertext itself, later */
		stat_inc(RS_STAT_TLS_NO_SOCKET);
		membio_seen(id >> 32);
		return 0;
	}
	key.tgid = id >> 32;
	key.fd = call.fd;
	w = work_get();
	if (!w)
		return 0;
	c = bpf_map_lookup_elem(&conns, &key);
	if (c) {
		if (c->req.state == RS_H1_BROKEN)
			return 0;
		w->conn = *c;
	} else {
		if (call.dir != RS_DIR_REQ || !conn_adoptable(call.fd, call.buf, n))
			return 0;
		__builtin_memset(&w->conn, 0, sizeof(w->conn));
		stat_inc(RS_STAT_CONNS_OPENED);
	}
	if (!(w->conn.flags & RS_CONN_TLS))
		stat_inc(RS_STAT_CONNS_TLS); /* its handshake was inside SSL_read */
	w->conn.flags |= RS_CONN_TLS | RS_CONN_PLAINTEXT;
	w->conn.ssl = call.ssl;
	w->key = key;
	w->now = bpf_ktime_get_ns();
	rs_feed(call.dir, call.buf, n);
	if (c)
		*c = w->conn;
	else
		bpf_map_update_elem(&conns, &key, &w->conn, BPF_ANY);
	return 0;
}

/*
 * A new connection: its first bytes will be a request. In auto mode, a process
 * accepting one becomes a target if it passes the selectors.
 */
static __always_inline int accept_exit(long ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct rs_target *t = bpf_map_lookup_elem(&targets, &tgid);
	struct rs_conn_key key = { .tgid = tgid, .fd = ret };
	struct sock *sk;
	struct rs_work *w;
	__u64 skey, *est;

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
		struct rs_target nt = { .flags = RS_TARGET_AUTO | RS_TARGET_FOLLOW };

		if (!selected_process())
			return 0;
		if (!bpf_map_update_elem(&targets, &tgid, &nt, BPF_NOEXIST))
			proc_event(RS_EV_TARGET, tgid, 0, 0);
	}
	w = work_get();
	if (!w)
		return 0;
	__builtin_memset(&w->conn, 0, sizeof(w->conn));
	w->conn.accept_ns = bpf_ktime_get_ns();
	w->conn.flags = RS_CONN_ACCEPTED;
	skey = (__u64)sk;
	est = bpf_map_lookup_elem(&established, &skey);
	if (est) {
		w->conn.established_ns = *est;
		bpf_map_delete_elem(&established, &skey);
	}
	bpf_map_update_elem(&conns, &key, &w->conn, BPF_ANY);
	stat_inc(RS_STAT_CONNS_OPENED);
	return 0;
}

/*
 * A server-side TCP connection completed its handshake: it now waits in the listen
 * queue until a worker accepts it. This fires in softirq context for every TCP
 * socket of the host, with no process to check: the state test comes first.
 */
SEC("tracepoint/sock/inet_sock_set_state")
int on_sock_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 sk, now;

	if (ctx->newstate != RS_TCP_ESTABLISHED || ctx->oldstate != RS_TCP_SYN_RECV ||
	    ctx->protocol != RS_IPPROTO_TCP)
		return 0;
	sk = (__u64)ctx->skaddr;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&established, &sk, &now, BPF_ANY);
	return 0;
}

/*
 * A process starts listening. In auto mode it becomes a target if it passes the
 * selectors, before its first connection: its workers, forked next, are followed
 * from birth, and the daemon hooks the libssl it maps before its first TLS request.
 */
SEC("tracepoint/syscalls/sys_enter_listen")
int enter_listen(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct rs_target *t = bpf_map_lookup_elem(&targets, &tgid);
	struct rs_target nt = { .flags = RS_TARGET_AUTO | RS_TARGET_FOLLOW };
	struct sock *sk;

	if (t) {
		if (!(t->flags & RS_TARGET_IGNORED))
			proc_event(RS_EV_LISTEN, tgid, 0, 0);
		return 0;
	}
	if (!targ_auto || tgid == targ_self_tgid)
		return 0;
	sk = fd_stream_sock(ctx->args[0]);
	if (!sk || !selected_conn(sk) || !selected_process())
		return 0;
	if (!bpf_map_update_elem(&targets, &tgid, &nt, BPF_NOEXIST))
		proc_event(RS_EV_TARGET, tgid, 0, 0);
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

SEC("tracepoint/syscalls/sys_enter_close")
int enter_close(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct rs_conn_key key = { .tgid = id >> 32, .fd = ctx->args[0] };
	struct rs_conn *c;
	struct rs_work *w;

	if (!bpf_map_lookup_elem(&targets, &key.tgid))
		return 0;
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c)
		return 0;
	if ((c->flags & (RS_CONN_TLS | RS_CONN_PLAINTEXT)) == RS_CONN_TLS)
		stat_inc(RS_STAT_PE_TLS_NO_PLAINTEXT);
	if (c->ssl) {
		struct rs_ssl_key sk = { .tgid = key.tgid, .ssl = c->ssl };

		bpf_map_delete_elem(&ssl_fds, &sk);
	}
	w = work_get();
	if (w && (c->flags & RS_CONN_IN_REQUEST)) {
		w->conn = *c;
		w->key = key;
		w->now = bpf_ktime_get_ns();
		rs_close();
	}
	bpf_map_delete_elem(&conns, &key);
	return 0;
}

/* Children of a followed target are targets from the moment they exist. */
SEC("raw_tp/sched_process_fork")
int on_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	__u32 parent = bpf_get_current_pid_tgid() >> 32;
	struct rs_target *t = bpf_map_lookup_elem(&targets, &parent);
	struct rs_target nt = {};
	__u32 tgid;

	if (!t || !(t->flags & RS_TARGET_FOLLOW))
		return 0;
	tgid = BPF_CORE_READ(child, tgid);
	if (tgid == parent)
		return 0; /* a new thread */
	nt.flags = t->flags; /* the child starts idle: no request of the parent's is its */
	bpf_map_update_elem(&targets, &tgid, &nt, BPF_ANY);
	proc_event(RS_EV_FORK, tgid, parent, 0);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int on_exec(struct bpf_raw_tracepoint_args *ctx)
{
	(void)ctx;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!bpf_map_lookup_elem(&targets, &tgid))
		return 0;
	/* a new program: it stays watched only if it passes the selectors still */
	if (!selected_process()) {
		bpf_map_delete_elem(&busy_open, &tgid);
		bpf_map_delete_elem(&targets, &tgid);
		proc_event(RS_EV_EXIT, tgid, 0, 0);
		return 0;
	}
	proc_event(RS_EV_EXEC, tgid, 0, 0);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int on_exit(struct bpf_raw_tracepoint_args *ctx)
{
	(void)ctx;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct rs_target *t = bpf_map_lookup_elem(&targets, &tgid);
	struct task_struct *task;
	__u64 busy, now, *since;

	if (!t)
		return 0;
	bpf_map_delete_elem(&inflight, &id);
	bpf_map_delete_elem(&ssl_calls, &id);
	task = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0; /* other threads of the process live on */
	/* its busy time goes to the daemon, or the service's counter would drop */
	now = bpf_ktime_get_ns();
	busy = t->busy_ns;
	since = bpf_map_lookup_elem(&busy_open, &tgid);
	if (since && now > *since)
		busy += now - *since;
	bpf_map_delete_elem(&busy_open, &tgid);
	bpf_map_delete_elem(&targets, &tgid);
	proc_event(RS_EV_EXIT, tgid, 0, busy);
	return 0;
}
