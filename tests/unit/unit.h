/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A minimal unit test harness: CHECK macros, a test runner, and guard-page buffers. */
#ifndef REDSCOPE_UNIT_H
#define REDSCOPE_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int unit_failures;
static const char *unit_current;

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__, \
				unit_current, #cond);                                   \
			unit_failures++;                                                \
		}                                                                       \
	} while (0)

#define CHECK_EQ(a, b)                                                                  \
	do {                                                                            \
		long long a_ = (long long)(a), b_ = (long long)(b);                     \
		if (a_ != b_) {                                                         \
			fprintf(stderr, "%s:%d: %s: %s == %lld, expected %s == %lld\n",   \
				__FILE__, __LINE__, unit_current, #a, a_, #b, b_);      \
			unit_failures++;                                                \
		}                                                                       \
	} while (0)

#define CHECK_STR(a, b)                                                                 \
	do {                                                                            \
		const char *a_ = (a), *b_ = (b);                                        \
		if (strcmp(a_, b_)) {                                                   \
			fprintf(stderr, "%s:%d: %s: %s == \"%s\", expected \"%s\"\n",     \
				__FILE__, __LINE__, unit_current, #a, a_, b_);          \
			unit_failures++;                                                \
		}                                                                       \
	} while (0)

#define RUN(test)                                      \
	do {                                           \
		unit_current = #test;                  \
		test();                                \
	} while (0)

static inline int unit_report(const char *suite)
{
	if (unit_failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", suite, unit_failures);
		return 1;
	}
	printf("%s: ok\n", suite);
	return 0;
}

/*
 * Copy n bytes so that they end exactly at a PROT_NONE page: any read past them
 * faults. Release with guard_free().
 */
struct guarded {
	char *base;
	size_t size;
	char *data;
};

static inline struct guarded guard_copy(const void *src, size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = (n + page - 1) / page + 1;
	struct guarded g = { .size = pages * page };

	g.base = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g.base == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	mprotect(g.base + (pages - 1) * page, page, PROT_NONE);
	g.data = g.base + (pages - 1) * page - n;
	memcpy(g.data, src, n);
	return g;
}

static inline void guard_free(struct guarded *g)
{
	munmap(g->base, g->size);
}

#endif /* REDSCOPE_UNIT_H */
