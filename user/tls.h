/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* tls.c: uprobes on the libssl of watched processes. */
#ifndef REDSCOPE_TLS_H
#define REDSCOPE_TLS_H

#include <stdbool.h>
#include <sys/types.h>

#include "selfmetrics.h"

/* Hook the libssl files the process maps now. */
void tls__scan(pid_t pid);
/* Check the process later, from the main loop; tls_seen: it spoke TLS. */
void tls__queue(pid_t pid, bool tls_seen);
void tls__memory_bio(pid_t pid);
void tls__drain(void);
void tls__stats(struct self_stats *st);
void tls__cleanup(void);

#endif /* REDSCOPE_TLS_H */
