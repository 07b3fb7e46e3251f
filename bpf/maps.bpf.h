/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* BPF maps of redscope and the per-CPU work area the parser runs in. */
#ifndef REDSCOPE_MAPS_BPF_H
#define REDSCOPE_MAPS_BPF_H

#include "redscope.h"

/* How the buffer of an in-flight socket syscall is described. */
enum rs_io_kind {
	RS_IO_BUF = 0, /* one buffer: read, recvfrom, write, sendto */
	RS_IO_IOV,     /* struct iovec array: readv, writev */
	RS_IO_MSG,     /* struct user_msghdr: recvmsg, sendmsg */
	RS_IO_BLIND,   /* bytes without a buffer we may read: sendfile */
};

/* Arguments of a watched socket syscall, kept from enter to exit. */
struct rs_io {
	__u64 buf; /* buffer, iovec array or msghdr, by kind */
	__u32 fd;
	__u32 vlen; /* iovec count for RS_IO_IOV */
	__u8 kind;  /* enum rs_io_kind */
	__u8 dir;   /* enum rs_dir */
	__u8 pad[6];
};

/* Per-CPU scratch: a working copy of the connection being parsed and a copy window. */
struct rs_work {
	struct rs_conn conn;
	struct rs_conn_key key;
	__u64 now;
	__u64 off;  /* bytes of the current buffer segment fed so far */
	__u32 done; /* the scanner finished a message */
	__u32 stop; /* rs_slow: the scan loop must stop at the returned index */
	__u8 buf[RS_SCAN_WINDOW + RS_SCAN_PAD];
};

/* Unaligned little-endian word of the scan window: BPF on x86 and arm64 loads it as is. */
#ifdef __bpf__
#define RS_LOAD64(p) (*(const __u64 *)(p))
#else
static inline __u64 RS_LOAD64(const void *p)
{
	__u64 v;

	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RS_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct rs_target);
} targets SEC(".maps");

/*
 * When each target's current busy interval (requests in flight) began; no entry while
 * none is in flight. Inserting with BPF_NOEXIST and deleting are atomic, so the thread
 * that opens an interval and the one that closes it need no fetch atomics (Linux 5.12).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RS_MAX_TARGETS);
	__type(key, __u32);
	__type(value, __u64);
} busy_open SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RS_MAX_CONNS);
	__type(key, struct rs_conn_key);
	__type(value, struct rs_conn);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RS_MAX_PIPELINED);
	__type(key, struct rs_pipe_key);
	__type(value, struct rs_request);
} pipeline SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RS_MAX_INFLIGHT);
	__type(key, __u64);
	__type(value, struct rs_io);
} inflight SEC(".maps");

/* SSL_read/SSL_write calls in progress, by thread (pid_tgid). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RS_MAX_INFLIGHT);
	__type(key, __u64);
	__type(value, struct rs_ssl_call);
} ssl_calls SEC(".maps");

/* The socket of each SSL object, learnt from the syscalls nested in its calls. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RS_MAX_CONNS);
	__type(key, struct rs_ssl_key);
	__type(value, __u32);
} ssl_fds SEC(".maps");

/* When server-side TCP sockets became ESTABLISHED, until a worker accepts them. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RS_MAX_ESTABLISHED);
	__type(key, __u64); /* struct sock * */
	__type(value, __u64);
} established SEC(".maps");

/* Selectors: --comm, --port, --cgroup. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RS_MAX_SEL_COMMS);
	__type(key, char[16]);
	__type(value, __u8);
} sel_comms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RS_MAX_SEL_PORTS);
	__type(key, __u16);
	__type(value, __u8);
} sel_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, RS_MAX_SEL_CGROUPS);
	__type(key, __u32);
	__type(value, __u32);
} sel_cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RS_RINGBUF_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RS_STAT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rs_work);
} work SEC(".maps");

/*
 * Set bits in a target's flags. A plain store: atomic or needs Linux 5.12, and the
 * verifier of older kernels refuses an object that holds one anywhere. A bit another
 * CPU sets at the same instant can be lost; every flag here is set again by the next
 * event that needs it, which costs one more event, never a wrong count.
 */
static __always_inline void target_flags_set(struct rs_target *t, __u32 bits)
{
	t->flags |= bits;
}

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;
}

/*
 * Submit flags for a ringbuf record: no wakeup, the daemon drains the ring on a
 * short timer (waking it costs more than the rest of a request's processing).
 * Once the ring is a quarter full, wake it so that nothing is dropped.
 */
static __always_inline __u64 ringbuf_wakeup_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > RS_RINGBUF_BYTES / 4
		       ? BPF_RB_FORCE_WAKEUP
		       : BPF_RB_NO_WAKEUP;
}

static __always_inline struct rs_work *work_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&work, &zero);
}

#endif /* REDSCOPE_MAPS_BPF_H */
