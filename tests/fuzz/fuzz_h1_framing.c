// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: the BPF framing core and exchange layer (bpf/h1.bpf.h, bpf/h1_exchange.bpf.h,
 * run as C) on any sequence of reads, writes, sendfiles and a close. The input is a
 * script of operations:
 *   op, len, then len bytes: op % 4 = 0 read, 1 write, 2 sendfile of len * 509 bytes
 *   (op & 4: by the reading side), 3 close and a new connection; a read or write with
 *   op & 8 is a readv or writev of iovecs of (op >> 4) + 1 bytes each.
 * Whatever the bytes, nothing reads outside them, and once a connection is closed no
 * request is left in flight and every request that began is accounted for: in a
 * record or counted unframed.
 */
#include <assert.h>
#include <stdint.h>

#include "h1_sim.h"

static void check_records(size_t from)
{
	for (size_t i = from; i < sim_n_events; i++) { /* each record as the daemon gets it */
		const struct rs_event_http *e = &sim_events[i];

		assert(e->type == RS_EV_HTTP && e->tgid == SIM_TGID);
		assert(e->status == 0 || (e->status >= 100 && e->status <= 599));
		assert(e->end_reason <= RS_END_NO_RESPONSE);
		assert((e->status == 0) == (e->end_reason == RS_END_NO_RESPONSE));
		assert(e->end_ns >= e->start_ns);
	}
}

static void close_and_check(void)
{
	sim_close();
	assert(sim_target.active == 0);
	assert(!(sim_work.conn.flags & RS_CONN_IN_REQUEST));
	assert(sim_accounted());
}

/* A read or write of data[0, n): in one buffer, or in iovecs of `piece` bytes. */
static void io(__u32 dir, const uint8_t *data, size_t n, bool vectored, size_t piece)
{
	static struct iovec iov[256];
	__u32 vlen = 0;

	if (!vectored) {
		sim_io(dir, data, n);
		return;
	}
	for (size_t off = 0; off < n && vlen < 256; off += piece)
		iov[vlen++] = (struct iovec){ (void *)(data + off), off + piece < n ? piece : n - off };
	sim_iov(dir, iov, vlen, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t i = 0;

	sim_reset();
	while (i + 2 <= size) {
		uint8_t op = data[i], len = data[i + 1];
		size_t n = len < size - i - 2 ? len : size - i - 2;

		i += 2;
		switch (op % 4) {
		case 0:
		case 1:
			io(op % 4 ? RS_DIR_RESP : RS_DIR_REQ, data + i, n, op & 8, (op >> 4) + 1);
			i += n;
			break;
		case 2:
			sim_blind(op & 4 ? RS_DIR_REQ : RS_DIR_RESP, (size_t)len * 509);
			break;
		default:
			close_and_check();
			check_records(0);
			sim_reset();
		}
		assert(sim_target.active >= 0);
	}
	close_and_check();
	check_records(0);
	return 0;
}
