/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel side of one connection, simulated: the BPF framing parser from
 * bpf/h1.bpf.h and the HTTP/2 frame walker from bpf/h2.bpf.h compiled as C, with maps
 * and helpers backed by static memory.
 * Feed it what a server reads and writes; collect the records it would emit.
 */
#ifndef REDSCOPE_H1_SIM_H
#define REDSCOPE_H1_SIM_H

#include "bpf_shim.h"
#include "../../bpf/feed.bpf.h"

#define SIM_MAX_EVENTS 4096
#define SIM_PIPE_SLOTS (RS_PIPELINE_MAX + 4)
#define SIM_TGID 4242
#define SIM_SK 0xffff888012345600ULL

static struct rs_work sim_work;
static __u64 sim_stats[RS_STAT__COUNT];
static struct rs_target sim_target;
static bool sim_busy_open;
static __u64 sim_busy_since;
static struct {
	bool used;
	struct rs_pipe_key key;
	struct rs_request value;
} sim_pipe[SIM_PIPE_SLOTS];
static struct rs_event_http sim_events[SIM_MAX_EVENTS];
static size_t sim_n_events;
static __u64 sim_lost;
static __u64 sim_clock;

void *bpf_map_lookup_elem(void *map, const void *key)
{
	if (map == &work)
		return &sim_work;
	if (map == &stats)
		return *(const __u32 *)key < RS_STAT__COUNT ? &sim_stats[*(const __u32 *)key] : NULL;
	if (map == &targets)
		return *(const __u32 *)key == SIM_TGID ? &sim_target : NULL;
	if (map == &busy_open)
		return *(const __u32 *)key == SIM_TGID && sim_busy_open ? &sim_busy_since : NULL;
	if (map == &pipeline) {
		for (size_t i = 0; i < SIM_PIPE_SLOTS; i++)
			if (sim_pipe[i].used && !memcmp(&sim_pipe[i].key, key, sizeof(struct rs_pipe_key)))
				return &sim_pipe[i].value;
	}
	return NULL;
}

long bpf_map_update_elem(void *map, const void *key, const void *value, __u64 flags)
{
	struct rs_request *r;

	if (map == &busy_open) {
		if (sim_busy_open && flags == BPF_NOEXIST)
			return -17; /* EEXIST */
		sim_busy_open = true;
		sim_busy_since = *(const __u64 *)value;
		return 0;
	}
	if (map != &pipeline)
		return -1;
	r = bpf_map_lookup_elem(map, key);
	for (size_t i = 0; !r && i < SIM_PIPE_SLOTS; i++) {
		if (!sim_pipe[i].used) {
			sim_pipe[i].used = true;
			memcpy(&sim_pipe[i].key, key, sizeof(struct rs_pipe_key));
			r = &sim_pipe[i].value;
		}
	}
	if (!r)
		return -7; /* E2BIG: full, like a full map */
	memcpy(r, value, sizeof(*r));
	return 0;
}

long bpf_map_delete_elem(void *map, const void *key)
{
	if (map == &busy_open) {
		if (!sim_busy_open)
			return -2; /* ENOENT */
		sim_busy_open = false;
		return 0;
	}
	if (map != &pipeline)
		return -1;
	for (size_t i = 0; i < SIM_PIPE_SLOTS; i++)
		if (sim_pipe[i].used && !memcmp(&sim_pipe[i].key, key, sizeof(struct rs_pipe_key)))
			sim_pipe[i].used = false;
	return 0;
}

static struct rs_event_http sim_reserved;
static bool sim_reserved_busy;

void *bpf_ringbuf_reserve(void *ringbuf, __u64 size, __u64 flags)
{
	(void)ringbuf;
	(void)flags;
	if (size != sizeof(sim_reserved) || sim_reserved_busy || sim_n_events == SIM_MAX_EVENTS) {
		sim_lost++;
		return NULL;
	}
	sim_reserved_busy = true;
	memset(&sim_reserved, 0xa5, sizeof(sim_reserved)); /* unset fields must show */
	return &sim_reserved;
}

void bpf_ringbuf_submit(void *data, __u64 flags)
{
	(void)flags;
	sim_events[sim_n_events++] = *(struct rs_event_http *)data;
	sim_reserved_busy = false;
}

void bpf_ringbuf_discard(void *data, __u64 flags)
{
	(void)data;
	(void)flags;
	sim_reserved_busy = false;
}

/* HTTP/2 events, as the ring buffer would hold them; sim_h2_full makes it refuse them. */
static struct rs_event_h2 *sim_h2_events;
static size_t sim_n_h2_events, sim_h2_cap;
static bool sim_h2_full;

long bpf_ringbuf_output(void *ringbuf, void *data, __u64 size, __u64 flags)
{
	(void)ringbuf;
	(void)flags;
	if (sim_h2_full || size > sizeof(struct rs_event_h2) ||
	    ((struct rs_event_h2 *)data)->type != RS_EV_H2) {
		sim_lost++;
		return -11; /* EAGAIN */
	}
	if (sim_n_h2_events == sim_h2_cap) {
		sim_h2_cap = sim_h2_cap ? 2 * sim_h2_cap : 256;
		sim_h2_events = realloc(sim_h2_events, sim_h2_cap * sizeof(*sim_h2_events));
	}
	memset(&sim_h2_events[sim_n_h2_events], 0xa5, sizeof(sim_h2_events[0]));
	memcpy(&sim_h2_events[sim_n_h2_events++], data, size);
	return 0;
}

__u64 bpf_ringbuf_query(void *ringbuf, __u64 flags)
{
	(void)ringbuf;
	(void)flags;
	return 0;
}

long bpf_probe_read_user(void *dst, __u32 size, const void *src)
{
	if (!src) {
		memset(dst, 0, size);
		return -14; /* EFAULT */
	}
	memcpy(dst, src, size);
	return 0;
}

long bpf_probe_read_kernel(void *dst, __u32 size, const void *src)
{
	memcpy(dst, src, size);
	return 0;
}

/* Asked once for every request that begins: the simulation counts requests with it. */
static __u64 sim_begun;

__u64 bpf_get_current_cgroup_id(void)
{
	sim_begun++;
	return 1;
}

/* A fresh accepted connection; all records and counters cleared. */
static inline void sim_reset(void)
{
	memset(&sim_work, 0, sizeof(sim_work));
	memset(sim_stats, 0, sizeof(sim_stats));
	memset(sim_pipe, 0, sizeof(sim_pipe));
	memset(&sim_target, 0, sizeof(sim_target));
	sim_busy_open = false;
	sim_begun = 0;
	sim_n_events = 0;
	sim_n_h2_events = 0;
	sim_h2_full = false;
	sim_lost = 0;
	sim_clock = 1000;
	sim_work.sk = SIM_SK;
	sim_work.tgid = SIM_TGID;
	sim_work.conn.tgid = SIM_TGID;
	sim_work.conn.flags = RS_CONN_ACCEPTED;
	sim_work.conn.accept_ns = sim_clock;
}

/* One syscall's bytes, as the capture hands them to the framing core. */
static inline void sim_call(__u32 dir, __u32 kind, const void *p, __u32 vlen, size_t n)
{
	sim_work.now = ++sim_clock;
	sim_work.first = 1;
	sim_work.budget = RS_FEED_BUDGET;
	rs_feed_io(dir, kind, (__u64)(unsigned long)p, vlen, n);
	if (sim_work.conn.flags & RS_CONN_H2)
		rs_h2_flush(dir); /* as the capture does after each call */
}

/* What a read (RS_DIR_REQ) or write (RS_DIR_RESP) of these bytes does. */
static inline void sim_io(__u32 dir, const void *p, size_t n)
{
	sim_call(dir, RS_IO_BUF, p, 0, n);
}

/* readv or writev of n bytes in vlen iovecs. */
static inline void sim_iov(__u32 dir, const struct iovec *iov, __u32 vlen, size_t n)
{
	sim_call(dir, RS_IO_IOV, iov, vlen, n);
}

/* sendfile, splice: bytes the parser cannot look at. */
static inline void sim_blind(__u32 dir, size_t n)
{
	sim_call(dir, RS_IO_BLIND, NULL, 0, n);
}

/* The connection closes, as conn_end does it. */
static inline void sim_close(void)
{
	sim_work.now = ++sim_clock;
	if (sim_work.conn.flags & RS_CONN_H2)
		h2_close(&sim_work);
	else
		rs_h1_close();
}

static inline __u64 sim_stat(enum rs_stat s)
{
	return sim_stats[s];
}

static inline __u64 sim_parse_errors(enum rs_reason r)
{
	return sim_stats[RS_STAT_PARSE_ERROR + r];
}

static inline __u64 sim_unframed(enum rs_reason r)
{
	return sim_stats[RS_STAT_UNFRAMED + r];
}

/* Every request unframed, whatever the reason. */
static inline __u64 sim_unframed_all(void)
{
	__u64 n = 0;

	for (int r = 0; r < RS_R__COUNT; r++)
		n += sim_unframed(r);
	return n;
}

/*
 * Every request that began is in a record (an HTTP series, or unanswered) or counted
 * unframed: after a close, nothing is in flight and nothing went missing.
 */
static inline bool sim_accounted(void)
{
	__u64 unframed_begun = sim_unframed_all() - sim_unframed(RS_R_ORPHAN_RESPONSE) -
			       sim_unframed(RS_R_RESYNC);

	return sim_begun == sim_n_events + sim_lost + unframed_begun && sim_target.active == 0;
}

/* Framing of a direction is lost and not found again yet. */
static inline bool sim_out_of_step(void)
{
	return sim_work.conn.req.state == RS_H1_RESYNC || sim_work.conn.resp.state == RS_H1_RESYNC;
}

/* Not followed any more: a tunnel, HTTP/2. */
static inline bool sim_ignored(void)
{
	return sim_work.conn.req.state == RS_H1_IGNORED && sim_work.conn.resp.state == RS_H1_IGNORED;
}

#endif /* REDSCOPE_H1_SIM_H */
