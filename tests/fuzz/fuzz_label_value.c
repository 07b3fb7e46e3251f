// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: label value escaping on any bytes. The output must be what the text
 * format allows in a label value: valid UTF-8, no raw line feed, no unescaped quote,
 * backslashes only before \, " or n.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "prom.h"

/* Length of the UTF-8 sequence at p, 0 if invalid (a strict decoder, separate from prom.c's). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len = p[0] < 0x80 ? 1 : (p[0] >> 5) == 6 ? 2 : (p[0] >> 4) == 14 ? 3 : (p[0] >> 3) == 30 ? 4 : 0;
	uint32_t cp;

	if (!len || len > n)
		return 0;
	cp = len == 1 ? p[0] : p[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1);
	struct buf out = {};

	if (!in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0'; /* label values are C strings: the daemon's are */
	prom__label_value(&out, in);
	for (size_t i = 0; i < out.len;) {
		const unsigned char *p = (const unsigned char *)out.data + i;
		size_t k = utf8_len(p, out.len - i);

		assert(k);
		assert(*p != '\n' && *p != '"');
		if (*p == '\\') {
			assert(i + 1 < out.len && strchr("\\\"n", p[1]));
			k = 2;
		}
		i += k;
	}
	buf__free(&out);
	free(in);
	return 0;
}
