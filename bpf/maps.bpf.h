/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* BPF maps of redscope and the per-CPU work area the parser runs in. */
#ifndef REDSCOPE_MAPS_BPF_H
#define REDSCOPE_MAPS_BPF_H

#include "redscope.h"

/* How the bytes of an in-flight socket syscall are described. */
enum rs_io_kind {
	RS_IO_BUF = 0, /* one buffer: read, recvfrom, write, sendto */
	RS_IO_IOV,     /* struct iovec array: readv, writev */
	RS_IO_MSG,     /* struct user_msghdr: recvmsg, sendmsg */
	RS_IO_BLIND,   /* bytes without a buffer we may read: sendfile, splice */
	RS_IO_KIOV,    /* a kernel array of iovecs of user buffers: an iterator's */
};

/* Arguments of a watched socket syscall, kept from enter to exit. */
struct rs_io {
	__u64 buf; /* buffer, iovec array or msghdr, by kind */
	__u32 fd;
	__u32 vlen;   /* iovec count for RS_IO_IOV */
	__u32 fd_in;  /* splice: the descriptor read from (fd is the one written to) */
	__u8 kind;    /* enum rs_io_kind */
	__u8 dir;     /* enum rs_dir; splice: RS_DIR_RESP, decided at exit */
	__u8 splice;  /* splice: either end may be a connection */
	__u8 pad;
};

/* Where the bytes of a receive or send in progress are, from its iterator (rs_iters). */
struct rs_iter {
	__u64 iov;     /* kernel address of the iovec array */
	__u64 nr_segs; /* its iovecs */
	__u32 kind;    /* RS_IO_KIOV, or RS_IO_BLIND: bytes we cannot look at */
	__u32 pad;
};

/* Per-CPU scratch: a working copy of the connection being parsed and a copy window. */
struct rs_work {
	struct rs_conn conn;
	__u64 sk;     /* the socket of conn: its key */
	__u64 now;
	__u64 off;    /* bytes of the current buffer segment fed so far */
	__u64 left;   /* bytes of the syscall not fed yet, while iovecs are */
	__u32 tgid;   /* the process reading or writing */
	__u32 done;   /* the scanner finished a message */
	__u32 stop;   /* rs_slow: the scan loop must stop at the returned index */
	__u32 lost;   /* rs_slow: framing lost, reason + 1 */
	__u32 budget; /* bytes this syscall may still scan */
	__u32 first;  /* the segment being fed starts the syscall's bytes */
	__u32 h2_at;  /* HTTP/1.x framing met HTTP/2's preface at this offset of the segment, + 1 */
	struct iovec iov[RS_IOV_BATCH];
	__u8 buf[RS_SCAN_WINDOW + RS_SCAN_PAD];
	struct rs_event_h2 h2ev; /* HTTP/2: the event being filled (bpf/h2.bpf.h) */
	__u8 h2ev_pad[RS_H2_EV_DATA + 8]; /* slack: a copy's bounds, as the verifier sees them */
};

/*
 * v &= mask where the compiler cannot see it: a bound the verifier needs on a value
 * the compiler knows to be in range already, and would not mask.
 */
#ifdef __bpf__
#define RS_BOUND(v, mask) asm volatile("%0 &= %1" : "+r"(v) : "i"(mask))
#else
#define RS_BOUND(v, mask) ((v) &= (mask))
#endif

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
 * A byte per process id, non-zero for a watched process (RS_WATCHED_*): the first
 * check of every hook that fires for all processes is one array lookup the JIT
 * inlines and one load. Byte stores need no atomics. The daemon maps it to mark the
 * processes it finds.
 */
#define RS_WATCHED 1u	  /* a target */
#define RS_WATCHED_SSL 2u /* a target that calls SSL_read/SSL_write: its I/O may be nested in one */
struct rs_tgid_chunk {
	__u8 on[RS_TGID_CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, RS_MAX_TGID_CHUNKS);
	__type(key, __u32);
	__type(value, struct rs_tgid_chunk);
} watched SEC(".maps");

/* Set by the daemon before load; the unit tests' simulation sets them at will. */
#ifndef RS_RODATA
#define RS_RODATA const volatile
#endif

/*
 * BPF atomics return the old value (Linux 5.12): busy time is kept in the targets
 * map alone, and busy_open is not used (target_active_add).
 */
RS_RODATA bool targ_atomic_fetch = false;

/*
 * Without fetching atomics: when each target's current busy interval (requests in
 * flight) began; no entry while none is in flight. Inserting with BPF_NOEXIST and
 * deleting are atomic, so the thread that opens an interval and the one that closes
 * it need no fetch atomics.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RS_MAX_TARGETS);
	__type(key, __u32);
	__type(value, __u64);
} busy_open SEC(".maps");

/*
 * Connections, by socket (struct sock *): preallocated, so that a new one costs no
 * allocation. Each is deleted when its socket closes or is freed (tcp_destroy_sock),
 * so an address the kernel reuses for another socket finds nothing.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RS_MAX_CONNS);
	__type(key, __u64);
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

/* The iterators of the fentry capture's calls in progress, by thread (pid_tgid). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RS_MAX_INFLIGHT);
	__type(key, __u64);
	__type(value, struct rs_iter);
} iters SEC(".maps");

/* What the descriptors of targets are: the syscall capture's way from fd to socket. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RS_MAX_FDS);
	__type(key, struct rs_fd_key);
	__type(value, struct rs_fd);
} fds SEC(".maps");

/* SSL_read/SSL_write calls in progress, by thread (pid_tgid). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RS_MAX_INFLIGHT);
	__type(key, __u64);
	__type(value, struct rs_ssl_call);
} ssl_calls SEC(".maps");

/*
 * The TLS connection (struct sock *) each thread (pid_tgid) read ciphertext from last
 * outside any SSL call, while no SSL object has it: an application that moves the
 * ciphertext into a memory BIO itself (Python asyncio, Node.js) decrypts it with its
 * next SSL_read, whose socket nothing else names.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RS_MAX_INFLIGHT);
	__type(key, __u64);
	__type(value, __u64);
} membio_reads SEC(".maps");

/*
 * The socket (struct sock *) of each SSL object, learnt from the I/O nested in its calls
 * or, on a memory BIO, from the ciphertext read before (membio_reads).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RS_MAX_CONNS);
	__type(key, struct rs_ssl_key);
	__type(value, __u64);
} ssl_socks SEC(".maps");

/*
 * When server-side TCP sockets became ESTABLISHED, until the application takes them up;
 * deleted then, or when the socket is freed.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RS_MAX_ESTABLISHED);
	__type(key, __u64); /* struct sock * */
	__type(value, __u64);
} established SEC(".maps");

/*
 * Local TCP ports on which a connection was ever followed or a handshake timed: a
 * byte per port. A state change or a socket freed on any other port (the clients of
 * the host, every other service) has nothing of redscope's to end, and is left at
 * this one inlined lookup instead of two hash lookups.
 */
#define RS_PORT_CHUNK 4096u
struct rs_port_chunk {
	__u8 on[RS_PORT_CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE); /* the daemon marks the ports listening at its start */
	__uint(max_entries, 65536 / RS_PORT_CHUNK);
	__type(key, __u32);
	__type(value, struct rs_port_chunk);
} conn_ports SEC(".maps");

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

/* What the watched array says of process tgid: 0, or RS_WATCHED and more bits. */
static __always_inline __u8 tgid_watched(__u32 tgid)
{
	__u32 chunk = tgid / RS_TGID_CHUNK;
	struct rs_tgid_chunk *c = bpf_map_lookup_elem(&watched, &chunk);

	return c ? c->on[tgid & (RS_TGID_CHUNK - 1)] : 0;
}

static __always_inline void tgid_watch(__u32 tgid, __u8 bits)
{
	__u32 chunk = tgid / RS_TGID_CHUNK;
	struct rs_tgid_chunk *c = bpf_map_lookup_elem(&watched, &chunk);

	if (c)
		c->on[tgid & (RS_TGID_CHUNK - 1)] = bits;
}

/* The byte of conn_ports for a local TCP port (tcp_local_port), or NULL. */
static __always_inline __u8 *conn_port_of(__u16 port)
{
	__u32 chunk = port / RS_PORT_CHUNK;
	struct rs_port_chunk *c = bpf_map_lookup_elem(&conn_ports, &chunk);

	return c ? &c->on[port & (RS_PORT_CHUNK - 1)] : NULL;
}

/* Connections may be on this local port now (a plain store: it only goes to 1). */
static __always_inline void conn_port_mark(__u16 port)
{
	__u8 *on = conn_port_of(port);

	if (on && !*on)
		*on = 1;
}

/* May a TCP socket on this local port have a connection or a timed handshake? */
static __always_inline bool conn_port_marked(__u16 port)
{
	__u8 *on = conn_port_of(port);

	return on && *on;
}

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += n;
}

static __always_inline void stat_inc(__u32 idx)
{
	stat_add(idx, 1);
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
