/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* web.c: the HTTP endpoint (libmicrohttpd): /metrics, /healthz, TLS and basic auth. */
#ifndef REDSCOPE_WEB_H
#define REDSCOPE_WEB_H

#include <stdbool.h>

#include "buf.h"
#include "prom.h"
#include "webconfig.h"

struct web_opts {
	const char *listen_address; /* [host]:port */
	const char *telemetry_path;
	const struct web_config *config; /* TLS and basic auth; NULL: plain HTTP, open */
};
struct web;
/* Bind the listen address; fails early, with a clear message, when it is taken. */
int web__bind(const struct web_opts *opts, int *fd_out);
/* The /metrics page, rendered piece by piece as it is sent (from the server's thread). */
struct web_page {
	void *(*open)(void *ctx, enum prom_format format); /* its state; NULL: out of memory */
	/* append the next piece to out; false when the page is complete (nothing appended) */
	bool (*next)(void *state, struct buf *out);
	void (*close)(void *state);
	void *ctx;
};
struct web *web__start(const struct web_opts *opts, int listen_fd, const struct web_page *page);
void web__stop(struct web *w);

#endif /* REDSCOPE_WEB_H */
