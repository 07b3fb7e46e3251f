/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* capture.c: how socket I/O is captured (--capture). */
#ifndef REDSCOPE_CAPTURE_H
#define REDSCOPE_CAPTURE_H

enum capture {
	CAPTURE_AUTO = 0, /* the cheapest the kernel supports */
	CAPTURE_SOCKETS,  /* sock_recv_length/sock_send_length tracepoints (Linux 6.3) */
	CAPTURE_FENTRY,	  /* fexit on the socket receive and send functions (trampolines) */
	CAPTURE_SYSCALLS, /* syscall tracepoints: every process pays */
	CAPTURE__COUNT,
};
extern const char *const capture_names[CAPTURE__COUNT];
int capture_parse(const char *s, enum capture *out);

#endif /* REDSCOPE_CAPTURE_H */
