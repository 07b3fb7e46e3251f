// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What each kind of step a redscope program takes costs on this kernel and machine: one
 * program on sock/sock_send_length repeats one step STEPS times a run (the loader
 * picks the step in the rodata), so its run time per run, less an empty run's, over
 * STEPS is the step's cost.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define STEPS 50
#define VALUE 416 /* the size of redscope's connection */

enum step {
	EMPTY,
	GLOBAL_CALL,
	INLINE_WORK,
	READ_USER_64,
	READ_USER_512,
	READ_KERNEL_4,
	CLOCK,
	CGROUP_ID,
	PID_TGID,
	TASK_PT_REGS,
	HASH_LOOKUP,
	HASH_UPDATE_DELETE,
	RINGBUF_RESERVE_DISCARD,
	COPY_VALUE,
};

const volatile __u32 step = EMPTY;
const volatile __u64 user_buf = 0; /* the loader's buffer */
const volatile __u32 loader_tgid = 0;

struct scratch {
	__u64 sum;
	__u64 buf[2 * VALUE / 8]; /* words: copies of it go a word at a time, as a struct's do */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8[VALUE]);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} ring SEC(".maps");

static __always_inline struct scratch *scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
}

/* What a call to a global (not inlined) BPF function costs, and the same work inline. */
__noinline int global_add(__u32 x)
{
	struct scratch *s = scratch_get();

	if (!s)
		return 0;
	s->sum += x;
	return 1;
}

static __always_inline int inline_add(__u32 x)
{
	struct scratch *s = scratch_get();

	if (!s)
		return 0;
	s->sum += x;
	return 1;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(stepcost, struct sock *sk, int ret, int flags)
{
	struct scratch *s = scratch_get();
	__u64 key = (__u64)sk, acc = 0;
	void *e;

	if (!s || (bpf_get_current_pid_tgid() >> 32) != loader_tgid)
		return 0;
	for (int i = 0; i < STEPS; i++) {
		switch (step) {
		case GLOBAL_CALL:
			acc += global_add(i);
			break;
		case INLINE_WORK:
			acc += inline_add(i);
			break;
		case READ_USER_64:
			bpf_probe_read_user(s->buf, 64, (void *)user_buf);
			break;
		case READ_USER_512:
			bpf_probe_read_user(s->buf, 512, (void *)user_buf);
			break;
		case READ_KERNEL_4:
			bpf_probe_read_kernel(s->buf, 4, &sk->__sk_common.skc_num);
			break;
		case CLOCK:
			acc += bpf_ktime_get_ns();
			break;
		case CGROUP_ID:
			acc += bpf_get_current_cgroup_id();
			break;
		case PID_TGID:
			acc += bpf_get_current_pid_tgid();
			break;
		case TASK_PT_REGS:
			acc += bpf_task_pt_regs(bpf_get_current_task_btf()) != 0;
			break;
		case HASH_LOOKUP:
			key += i;
			acc += bpf_map_lookup_elem(&conns, &key) != NULL;
			break;
		case HASH_UPDATE_DELETE:
			key = i;
			bpf_map_update_elem(&conns, &key, s->buf, BPF_ANY);
			bpf_map_delete_elem(&conns, &key);
			break;
		case RINGBUF_RESERVE_DISCARD:
			e = bpf_ringbuf_reserve(&ring, 328, 0);
			if (e)
				bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
			break;
		case COPY_VALUE:
			__builtin_memcpy(s->buf + VALUE / 8, s->buf, VALUE);
			break;
		default:
			break;
		}
	}
	s->sum += acc;
	return 0;
}
