/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* daemon.c: start-up, the event loop and shutdown of serve, top and report. */
#ifndef REDSCOPE_DAEMON_H
#define REDSCOPE_DAEMON_H

#include "cli.h"

/* Run the command c says until it ends; the exit status (0, 1 failed, 2 bad setup). */
int daemon__run(struct config *c);

#endif /* REDSCOPE_DAEMON_H */
