/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The bytes of one syscall, fed to the connection's framing: a buffer, an iovec array
 * or a msghdr's, in user or kernel memory, segment by segment, each to the HTTP/1.x
 * framing core (h1.bpf.h) or the HTTP/2 frame walker (h2.bpf.h), whichever the
 * connection speaks. Both parsers sit below this file and know nothing of each other.
 */
#ifndef REDSCOPE_FEED_BPF_H
#define REDSCOPE_FEED_BPF_H

#include "h1.bpf.h"
#include "h2.bpf.h"

/*
 * Feed len bytes at user address ptr, read or written in one direction, to the
 * connection in the work area: to its HTTP/2 frame walker, or to the HTTP/1.x framing,
 * which hands over to the walker where it meets HTTP/2's connection preface. ptr == 0
 * means the bytes cannot be looked at (sendfile, splice): fine inside a body or a
 * payload, a loss of framing inside a head.
 */
__noinline int rs_feed(__u32 dir, __u64 ptr, __u64 len)
{
	struct rs_work *w = work_get();
	bool ended = false;

	if (!w || !len)
		return 0;
	/* after a 101, its time stays the end of the request that asked (rs_upgrade_tunnel) */
	if (dir == RS_DIR_RESP && !(w->conn.flags & RS_CONN_UPGRADE))
		w->conn.end_ns = w->now;
	w->off = 0;
	if (w->conn.flags & RS_CONN_H2)
		return rs_h2_feed(dir, ptr, len);
	if (w->first) {
		/* out of step: the bytes of a call may start a message where it can resume */
		w->first = 0;
		if (h1_of(w, dir)->state == RS_H1_RESYNC)
			rs_resync(dir, ptr, len);
	}
	w->h2_at = 0;
	for (int step = 0; step < RS_FEED_STEPS && w->off < len; step++) {
		if (!rs_window(dir, ptr, len)) {
			ended = true;
			break;
		}
	}
	if (w->h2_at) {
		/*
		 * h2c by Upgrade: the request that asked is stream 1. Anything else HTTP/1.x
		 * had in flight ends here, as at a close: counted, not lost.
		 */
		bool upgraded = rs_h1_hand_over();

		rs_h1_close();
		h2_begin(w, false);
		if (upgraded)
			h2_upgraded(w, dir);
		w->off = w->h2_at - 1;
		return rs_h2_feed(dir, ptr, len);
	}
	if (!ended && w->off < len)
		rs_lost(dir, RS_R_SCAN_LIMIT);
	return 0;
}

/*
 * Feed up to RS_IOV_BATCH iovecs of the array at address vec (user memory, or kernel
 * memory with in_kernel), from index i of vlen, to the connection in the work area:
 * as many of the w->left bytes as they hold. Returns -1 when the array cannot be read.
 * Global: the verifier checks it once, not once per batch of rs_feed_io's loop (which
 * made rs_feed_io half of what verifying a capture program took).
 */
__noinline int rs_feed_iovs(__u32 dir, __u64 vec, __u32 i, __u32 vlen, __u32 in_kernel)
{
	struct rs_work *w = work_get();
	void *src = (void *)(vec + (__u64)i * sizeof(struct iovec));
	__u32 size;
	__u64 seg;

	if (!w || i >= vlen)
		return -1;
	size = (vlen - i) * sizeof(struct iovec);
	if (size > sizeof(w->iov))
		size = sizeof(w->iov);
	if (in_kernel ? bpf_probe_read_kernel(w->iov, size, src) : bpf_probe_read_user(w->iov, size, src))
		return -1;
	for (__u32 b = 0; b < RS_IOV_BATCH && i + b < vlen && w->left; b++) {
		seg = w->iov[b].iov_len < w->left ? w->iov[b].iov_len : w->left;
		rs_feed(dir, (__u64)w->iov[b].iov_base, seg);
		w->left -= seg;
	}
	return 0;
}

/*
 * The iovec array of a struct user_msghdr at user address msg: only the two fields
 * that say where it is, side by side in every ABI redscope runs on (a whole msghdr
 * would take 56 bytes of a stack that every frame of the parser shares).
 */
struct rs_msg_iov {
	__u64 iov;
	__u64 iovlen;
};

static __always_inline long read_msg_iov(__u64 msg, struct rs_msg_iov *out)
{
	_Static_assert(__builtin_offsetof(struct user_msghdr, msg_iovlen) ==
			       __builtin_offsetof(struct user_msghdr, msg_iov) + sizeof(__u64),
		       "msg_iov and msg_iovlen side by side");
	return bpf_probe_read_user(out, sizeof(*out),
				   (void *)(msg + __builtin_offsetof(struct user_msghdr, msg_iov)));
}

/*
 * Feed the bytes of one syscall, described by kind, to the connection in the work area.
 * Inlined into the program: the iovec batches are fed one call deep, which keeps the
 * parser within the verifier's eight frames.
 */
static __always_inline int rs_feed_io(__u32 dir, __u32 kind, __u64 buf, __u32 vlen, __u64 total)
{
	struct rs_work *w = work_get();
	struct rs_msg_iov msg;

	if (!w)
		return 0;
	if (kind == RS_IO_BUF)
		return rs_feed(dir, buf, total);
	if (kind == RS_IO_BLIND)
		return rs_feed(dir, 0, total);
	if (kind == RS_IO_MSG) {
		if (read_msg_iov(buf, &msg))
			return rs_feed(dir, 0, total);
		buf = msg.iov;
		vlen = msg.iovlen;
	}
	w->left = total;
	for (__u32 i = 0; i < RS_MAX_IOV && i < vlen && w->left; i += RS_IOV_BATCH)
		if (rs_feed_iovs(dir, buf, i, vlen, kind == RS_IO_KIOV) < 0)
			break;
	if (w->left)
		rs_feed(dir, 0, w->left);
	return 0;
}

#endif /* REDSCOPE_FEED_BPF_H */
