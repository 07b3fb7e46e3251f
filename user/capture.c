// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The names of the capture backends, as --capture takes them and /metrics shows them. */
#include <errno.h>
#include <string.h>

#include "capture.h"

const char *const capture_names[CAPTURE__COUNT] = {
	[CAPTURE_AUTO] = "auto",
	[CAPTURE_SOCKETS] = "sockets",
	[CAPTURE_FENTRY] = "fentry",
	[CAPTURE_SYSCALLS] = "syscalls",
};

int capture_parse(const char *s, enum capture *out)
{
	for (int i = 0; i < CAPTURE__COUNT; i++) {
		if (!strcmp(s, capture_names[i])) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}
