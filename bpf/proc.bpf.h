/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Process lifecycle: follow the workers of targets from birth, forget them at exit. */
#ifndef REDSCOPE_PROC_BPF_H
#define REDSCOPE_PROC_BPF_H

#include "targets.bpf.h"

/*
 * Process tgid (entry t) is watched no more: it exited, or executed a program the
 * selectors do not pass. Its busy time so far, a running interval included, goes to
 * the daemon with the record, or its service's counter would drop.
 */
static __always_inline void target_forget(__u32 tgid, struct rs_target *t)
{
	__u64 *since = targ_atomic_fetch ? NULL : bpf_map_lookup_elem(&busy_open, &tgid);
	__u64 busy = rs_busy_ns(t, targ_atomic_fetch, since ? *since : 0, bpf_ktime_get_ns());

	tgid_watch(tgid, 0);
	bpf_map_delete_elem(&busy_open, &tgid);
	bpf_map_delete_elem(&targets, &tgid);
	proc_event(RS_EV_EXIT, tgid, 0, busy);
}

/* Children of a followed target are targets from the moment they exist. */
SEC("raw_tp/sched_process_fork")
int on_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	__u32 parent = bpf_get_current_pid_tgid() >> 32;
	struct rs_target nt = {}, *t;
	__u32 tgid;

	if (!tgid_watched(parent))
		return 0;
	t = bpf_map_lookup_elem(&targets, &parent);
	if (!t || !(t->flags & RS_TARGET_FOLLOW))
		return 0;
	tgid = BPF_CORE_READ(child, tgid);
	if (tgid == parent)
		return 0; /* a new thread */
	nt.flags = t->flags; /* the child starts idle: no request of the parent's is its */
	nt.gen = bpf_ktime_get_ns(); /* what a process of this pid left in fds is stale */
	bpf_map_update_elem(&targets, &tgid, &nt, BPF_ANY);
	tgid_watch(tgid, nt.flags & RS_TARGET_SSL ? RS_WATCHED | RS_WATCHED_SSL : RS_WATCHED);
	proc_event(RS_EV_FORK, tgid, parent, 0);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int on_exec(struct bpf_raw_tracepoint_args *ctx)
{
	(void)ctx;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct rs_target *t;

	if (!tgid_watched(tgid))
		return 0;
	t = bpf_map_lookup_elem(&targets, &tgid);
	if (!t)
		return 0;
	/* descriptors marked close-on-exec are gone: what fds knew of them is stale */
	t->gen = bpf_ktime_get_ns();
	/* a new program: it stays watched only if it passes the selectors still */
	if (!selected_process()) {
		target_forget(tgid, t);
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
	struct task_struct *task;
	struct rs_target *t;

	if (!tgid_watched(tgid))
		return 0;
	t = bpf_map_lookup_elem(&targets, &tgid);
	if (!t)
		return 0;
	bpf_map_delete_elem(&inflight, &id);
	bpf_map_delete_elem(&ssl_calls, &id);
	task = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0; /* other threads of the process live on */
	target_forget(tgid, t);
	return 0;
}

#endif /* REDSCOPE_PROC_BPF_H */
