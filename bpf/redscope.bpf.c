// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * redscope BPF programs, one file per hook family: the capture backend (socket
 * syscall tracepoints, TCP state changes), TLS plaintext (libssl uprobes) and the
 * process lifecycle (sched raw tracepoints), over one parser per protocol (HTTP/1.x,
 * HTTP/2) and the connection layer beneath them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "redscope.h"
#include "maps.bpf.h"
#include "sock.bpf.h"
#include "targets.bpf.h"
#include "conn.bpf.h"
#include "h1_exchange.bpf.h"
#include "h1.bpf.h"
#include "h2.bpf.h"
#include "feed.bpf.h"
#include "capture.bpf.h"
#include "tls.bpf.h"
#include "capture_syscalls.bpf.h"
#include "capture_sockets.bpf.h"
#include "capture_fentry.bpf.h"
#include "proc.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
