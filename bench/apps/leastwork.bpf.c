// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The least any design of per-request metrics must do on the sockets backend's hooks,
 * and nothing more: a lower bound on what a request can cost, to set beside the hooks
 * alone (hookfloor.bpf.c) and redscope.
 *
 * For each read on a server socket (local port `port`) of a process it may watch: the
 * process check, the connection's state (socket local storage, the cheapest per-socket
 * lookup there is), the syscall's buffer, the request line's first 64 bytes read into
 * that state and the clock. For each write: the same lookups, the response's first 16
 * bytes (through the iovec array for writev) and, at a status line, the clock and a
 * record of the request line, the status and both times to the ring buffer.
 *
 * What it leaves out is what exact counts need: framing (where a head ends, bodies,
 * chunks, pipelining), a connection's birth and close, requests in flight, queue time,
 * TLS. It counts a request at the first status line written after one was read, which
 * is right for one request at a time on a connection, as the benchmark's are.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "arch.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define HEAD 64
#define CHUNK 4096 /* processes per entry of the watched array, as redscope's */

const volatile __u16 port = 0;
/* per-connection state in a preallocated hash map keyed by the socket, not in its storage */
const volatile bool hash_state = false;

struct conn {
	__u64 start_ns;
	__u32 head_len;
	__u32 pad;
	char head[HEAD];
};

struct record {
	__u64 start_ns;
	__u64 end_ns;
	__u32 status;
	__u32 head_len;
	char head[HEAD];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct conn);
} conn_hash SEC(".maps");

struct chunk {
	__u8 on[CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct conn);
} conns SEC(".maps");

/* a byte per process, set for one not to watch: none is (the check is what counts here) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4194304 / CHUNK);
	__type(key, __u32);
	__type(value, struct chunk);
} watched SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} records SEC(".maps");

/* The first user buffer of the syscall in progress, 0 when it has none we know. */
static __always_inline __u64 first_buffer(void)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	long nr = RS_SYSCALL_NR(regs);
	__u64 arg = RS_SYSCALL_ARG1(regs);
	struct iovec iov;

	switch (nr) {
	case RS_NR_READ:
	case RS_NR_WRITE:
	case RS_NR_RECVFROM:
	case RS_NR_SENDTO:
		return arg;
	case RS_NR_READV:
	case RS_NR_WRITEV:
		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)arg))
			return 0;
		return (__u64)iov.iov_base;
	default:
		return 0;
	}
}

/* The state of server connection sk of a process that may be watched, or NULL. */
static __always_inline struct conn *server_conn(struct sock *sk, int ret, __u64 create)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, key = tgid / CHUNK;
	struct chunk *c = bpf_map_lookup_elem(&watched, &key);

	__u64 sk_key = (__u64)sk;
	struct conn *s, zero = {};

	if (!c || c->on[tgid & (CHUNK - 1)] || ret <= 0 || sk->__sk_common.skc_num != port)
		return NULL;
	if (!hash_state)
		return bpf_sk_storage_get(&conns, sk, 0, create);
	s = bpf_map_lookup_elem(&conn_hash, &sk_key);
	if (s || !create)
		return s;
	bpf_map_update_elem(&conn_hash, &sk_key, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&conn_hash, &sk_key);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(least_recv, struct sock *sk, int ret, int flags)
{
	struct conn *c = server_conn(sk, ret, BPF_SK_STORAGE_GET_F_CREATE);
	__u64 buf;

	if (!c || !(buf = first_buffer()))
		return 0;
	if (bpf_probe_read_user(c->head, HEAD, (void *)buf))
		return 0;
	c->head_len = ret < HEAD ? ret : HEAD;
	c->start_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(least_send, struct sock *sk, int ret, int flags)
{
	struct conn *c = server_conn(sk, ret, 0);
	struct record *r;
	__u64 buf, first[2];

	if (!c || !c->start_ns || !(buf = first_buffer()))
		return 0;
	if (bpf_probe_read_user(first, sizeof(first), (void *)buf) ||
	    (first[0] & 0xffffffffffffff) != 0x2e312f50545448 /* "HTTP/1." */)
		return 0;
	r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
	if (!r)
		return 0;
	r->start_ns = c->start_ns;
	r->end_ns = bpf_ktime_get_ns();
	r->status = first[1] >> 8 & 0xffffff; /* the code's three digits, for the reader */
	r->head_len = c->head_len;
	__builtin_memcpy(r->head, c->head, HEAD);
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	c->start_ns = 0;
	return 0;
}

/* a design needs the state changes and the socket's end; the least it does is nothing */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(least_state, struct sock *sk, int oldstate, int newstate)
{
	return 0;
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(least_destroy, struct sock *sk)
{
	__u64 sk_key = (__u64)sk;

	if (hash_state && sk->__sk_common.skc_num == port)
		bpf_map_delete_elem(&conn_hash, &sk_key);
	return 0;
}
