/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * kernel.c: the kernel boundary. The only file that knows the BPF skeleton: it checks
 * the kernel and privileges, opens, loads and attaches the programs, and hands the
 * rest of the daemon what it needs of them: the maps it reads and sweeps, the ring
 * buffer, the kernel's counters and the uprobes on libssl.
 */
#ifndef REDSCOPE_KERNEL_H
#define REDSCOPE_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include <bpf/libbpf.h>

#include "capture.h"
#include "selectors.h"

struct kernel_opts {
	const struct selectors *sel;
	uint32_t max_connections; /* 0: the object's default */
	uint32_t max_processes;	  /* 0: the object's default */
	enum capture capture;
	bool client; /* follow the requests targets send (--client-metrics) */
};

/* Mount tracefs and bpffs if needed; check the kernel version, BTF and privileges. */
int kernel__preflight(void);
int kernel__open_and_attach(const struct kernel_opts *opts);
/* Detach and unload everything; safe to call whatever got loaded. */
void kernel__destroy(void);
/* The capture backend in use, once attached. */
enum capture kernel__capture(void);
/* Keep only the capabilities running needs; after load, attach and bind. */
int kernel__drop_privileges(void);

/* The maps userspace reads or sweeps. */
enum kernel_map {
	KMAP_TARGETS,	/* tgid -> struct rs_target */
	KMAP_WATCHED,	/* one byte per tgid, mmapped */
	KMAP_BUSY_OPEN, /* tgid -> start of its busy interval */
	KMAP_CONNS,	/* socket -> struct rs_conn */
	KMAP_PIPELINE,	/* struct rs_pipe_key -> struct rs_request */
	KMAP_FDS,	/* struct rs_fd_key -> socket (syscalls capture) */
	KMAP_SSL_SOCKS, /* struct rs_ssl_key -> socket */
	KMAP_CONN_PORTS, /* one byte per local TCP port, mmapped */
	KMAP__COUNT,
};
/* The map's file descriptor, or -1 before the programs are loaded. */
int kernel__map_fd(enum kernel_map m);
/*
 * The busy time so far of target tgid, whose entry t was just read from the targets
 * map, its running interval included. With fetching atomics the entry holds the
 * intervals' ends minus their starts, and the time now is added while one is open;
 * an entry read between the two adds of an open or a close is off by a clock reading,
 * so it is read again, a few times, else 0 for this once (a service's busy counter
 * never goes down). t may be read again.
 */
uint64_t kernel__busy_ns(__u32 tgid, struct rs_target *t);
/* Can busy_ns be a process's busy time: no more than redscope has been loaded? */
bool kernel__busy_plausible(uint64_t busy_ns);
/* The kernel's counters (enum rs_stat), summed over CPUs; zeros when unreadable. */
void kernel__stats(uint64_t out[RS_STAT__COUNT]);
/* The ring buffer of records (struct rs_event_*), calling fn for each. */
struct ring_buffer *kernel__ring_buffer(ring_buffer_sample_fn fn, void *ctx);

/* The uprobes on libssl: each call's entry program, and the return program of all. */
enum kernel_ssl_probe { KSSL_READ, KSSL_WRITE, KSSL_READ_EX, KSSL_WRITE_EX, KSSL_RETURN };
/* Attach one to func in the library at path; NULL and errno set on failure. */
struct bpf_link *kernel__attach_ssl(enum kernel_ssl_probe p, const char *path, const char *func);

#endif /* REDSCOPE_KERNEL_H */
