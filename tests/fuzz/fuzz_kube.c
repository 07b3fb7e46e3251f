// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: the Kubernetes metadata parsers on any bytes, as /proc/PID/cgroup and as
 * a bundle's config.json. Whatever they return must be well-formed: a 64-digit
 * lower-case hex container ID and a UUID-shaped pod UID, a NUL-terminated value
 * that fits its buffer.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[KUBE_ID_LEN + 1], uid[KUBE_UID_LEN + 1], value[16];
	/* exact-size copy: any read past the end is caught */
	char *in = malloc(size ? size : 1);

	if (!in)
		return 0;
	memcpy(in, data, size);
	if (kube_parse_cgroup(in, size, id, uid)) {
		assert(strlen(id) == KUBE_ID_LEN && strspn(id, "0123456789abcdef") == KUBE_ID_LEN);
		assert(strlen(uid) == KUBE_UID_LEN);
		for (int i = 0; i < KUBE_UID_LEN; i++)
			assert((i == 8 || i == 13 || i == 18 || i == 23) ? uid[i] == '-'
									 : strchr("0123456789abcdef", uid[i]) != NULL);
	}
	if (kube_parse_annotation(in, size, "k", value, sizeof(value)))
		assert(strlen(value) < sizeof(value));
	free(in);
	return 0;
}
