/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Which processes and connections are watched: the selectors and the targets map. */
#ifndef REDSCOPE_TARGETS_BPF_H
#define REDSCOPE_TARGETS_BPF_H

#include "maps.bpf.h"
#include "sock.bpf.h"

/* Set by the daemon before load. */
const volatile __u32 targ_self_tgid = 0; /* never watch redscope itself */
const volatile bool targ_auto = true;	 /* a process that accepts a connection becomes a target */
const volatile bool targ_sel_comm = false;   /* --comm: only processes named in sel_comms */
const volatile bool targ_sel_port = false;   /* --port: only connections to ports in sel_ports */
const volatile __u32 targ_sel_cgroups = 0;   /* --cgroup: entries of sel_cgroups in use */

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

/* A watched process's entry; NULL for the others, after one byte's check. */
static __always_inline struct rs_target *target_of(__u32 tgid)
{
	struct rs_target *t;

	if (!tgid_watched(tgid))
		return NULL;
	t = bpf_map_lookup_elem(&targets, &tgid);
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
	/*
	 * A new program or a new target: the daemon reads its identity (and its libssl) from
	 * /proc at once, while it lives: a process exec'd to serve one connection (inetd
	 * style) may be gone before the next timed drain. A fork inherits its parent's.
	 */
	bpf_ringbuf_submit(e, type == RS_EV_FORK || type == RS_EV_EXIT ? ringbuf_wakeup_flags()
									  : BPF_RB_FORCE_WAKEUP);
}

/*
 * The current process, not a target yet, serves a connection (listens, accepts, reads
 * one) and passes the selectors: it becomes one, and follows its children. False when
 * it cannot (the targets map is full).
 */
static __always_inline bool target_add_found(__u32 tgid)
{
	struct rs_target nt = { .flags = RS_TARGET_AUTO | RS_TARGET_FOLLOW };

	nt.gen = bpf_ktime_get_ns();
	if (!bpf_map_update_elem(&targets, &tgid, &nt, BPF_NOEXIST)) {
		tgid_watch(tgid, RS_WATCHED);
		proc_event(RS_EV_TARGET, tgid, 0, 0);
	}
	return tgid_watched(tgid);
}

/* target_add_found for a process the selectors have not been asked about yet. */
static __always_inline bool target_found(__u32 tgid)
{
	return selected_process() && target_add_found(tgid);
}

/*
 * The current process listens on socket sk. In auto mode it becomes a target if it
 * passes the selectors, before its first connection: its workers, forked next, are
 * followed from birth. A target that listens may have loaded a libssl the daemon
 * should hook before its first TLS request.
 */
static __always_inline void listening(struct sock *sk)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct rs_target *t = bpf_map_lookup_elem(&targets, &tgid);

	if (t) {
		if (!(t->flags & RS_TARGET_IGNORED))
			proc_event(RS_EV_LISTEN, tgid, 0, 0);
		return;
	}
	if (targ_auto && tgid != targ_self_tgid && selected_conn(sk))
		target_found(tgid);
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

#endif /* REDSCOPE_TARGETS_BPF_H */
