/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What every module of the daemon uses: the shared kernel ABI, the version, ARRAY_SIZE. */
#ifndef REDSCOPE_COMMON_H
#define REDSCOPE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "redscope.h"

#ifndef REDSCOPE_VERSION
#define REDSCOPE_VERSION "dev"
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* CLOCK_MONOTONIC in ns: the clock of the kernel side's bpf_ktime_get_ns(). */
static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

#endif /* REDSCOPE_COMMON_H */
