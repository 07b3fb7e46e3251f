/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* compat_statsd.c: the whole --compat=statsd feature (gunicorn and Django statsd series). */
#ifndef REDSCOPE_COMPAT_STATSD_H
#define REDSCOPE_COMPAT_STATSD_H

#include "prom.h"
#include "store.h"

/* The families of the services gunicorn runs; store lock held. */
void compat_statsd__render(const struct store *s, struct prom_out *o);

#endif /* REDSCOPE_COMPAT_STATSD_H */
