/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The connection layer, below every protocol's parser: connections by socket (found,
 * stored, forgotten), the first bytes of a read, and the requests in flight and busy
 * time of each process. It knows no protocol and calls none: the parsers (h1.bpf.h
 * with h1_exchange.bpf.h, h2.bpf.h) call down into it, and only feed.bpf.h and
 * capture.bpf.h, above them all, know there is more than one.
 */
#ifndef REDSCOPE_CONN_BPF_H
#define REDSCOPE_CONN_BPF_H

#include "maps.bpf.h"

struct sock; /* named by address only: what it holds is sock.bpf.h's to read */

static __always_inline struct rs_conn *conn_get(struct sock *sk)
{
	__u64 key = (__u64)sk;

	return bpf_map_lookup_elem(&conns, &key);
}

static __always_inline void conn_del(struct sock *sk)
{
	__u64 key = (__u64)sk;

	bpf_map_delete_elem(&conns, &key);
}

/* When the handshake of socket sk completed, in the established map, or NULL. */
static __always_inline __u64 *established_at(struct sock *sk)
{
	__u64 key = (__u64)sk;

	return bpf_map_lookup_elem(&established, &key);
}

/* The first 8 bytes (fewer: len) of the user buffer at ptr, 0 when they cannot be read. */
static __always_inline __u64 first_word(__u64 ptr, __u64 len)
{
	__u64 first[2] = {};
	__u32 size = len < 8 ? len : 8;

	RS_BOUND(size, sizeof(first) - 1);

	if (!ptr || bpf_probe_read_user(first, size, (void *)ptr))
		return 0;
	return first[0];
}

/*
 * Requests in flight in a process go up or down by delta at time now. The process is
 * busy while any is.
 *
 * With fetching atomics (Linux 5.12): the add that takes the count from 0 to 1 opens
 * the busy interval and the one that takes it from 1 to 0 closes it, and busy_ns
 * holds the closes' times minus the opens' (wrapping): the busy time so far is
 * busy_ns while none is in flight, busy_ns + now while some are (busy_time). Opens
 * and closes alternate whatever the order of the adds, so no map entry is needed.
 *
 * Without: a request that begins opens the busy interval unless one is open (insert
 * with BPF_NOEXIST); one that leaves none in flight closes it: whoever deletes the
 * entry adds the interval to busy_ns, so two threads finishing at once add it once.
 * A request that began while the interval was being closed found it still open: the
 * closer opens a new one for it. Plain atomic adds only, which every kernel has.
 */
static __always_inline void target_active_add(__u32 tgid, __s32 delta, __u64 now)
{
	struct rs_target *t = bpf_map_lookup_elem(&targets, &tgid);
	__u64 *open, since;
	__s32 was;

	if (!t)
		return;
	if (targ_atomic_fetch) {
		was = __sync_fetch_and_add(&t->active, delta);
		if (delta > 0 && was == 0)
			__sync_fetch_and_add(&t->busy_ns, -now);
		else if (delta < 0 && was == 1)
			__sync_fetch_and_add(&t->busy_ns, now);
		return;
	}
	__sync_fetch_and_add(&t->active, delta);
	if (delta > 0) {
		bpf_map_update_elem(&busy_open, &tgid, &now, BPF_NOEXIST);
		return;
	}
	if (*(volatile __s32 *)&t->active > 0)
		return;
	open = bpf_map_lookup_elem(&busy_open, &tgid);
	if (!open)
		return;
	since = *open;
	if (bpf_map_delete_elem(&busy_open, &tgid))
		return; /* another thread closed it */
	if (now > since)
		__sync_fetch_and_add(&t->busy_ns, now - since);
	if (*(volatile __s32 *)&t->active > 0)
		bpf_map_update_elem(&busy_open, &tgid, &now, BPF_NOEXIST);
}

#endif /* REDSCOPE_CONN_BPF_H */
