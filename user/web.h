/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* web.c: the HTTP endpoint (libmicrohttpd): /metrics, /healthz, TLS and basic auth. */
#ifndef REDSCOPE_WEB_H
#define REDSCOPE_WEB_H

#include "buf.h"
#include "webconfig.h"

struct web_opts {
	const char *listen_address; /* [host]:port */
	const char *telemetry_path;
	const struct web_config *config; /* TLS and basic auth; NULL: plain HTTP, open */
};
struct web;
/* Bind the listen address; fails early, with a clear message, when it is taken. */
int web__bind(const struct web_opts *opts, int *fd_out);
struct web *web__start(const struct web_opts *opts, int listen_fd,
		       void (*render)(struct buf *out, void *ctx), void *ctx);
/* Let go of a rendered page once it may no longer be reused (call now and then). */
void web__trim(struct web *w);
void web__stop(struct web *w);

#endif /* REDSCOPE_WEB_H */
