// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Turn a request path into the value of the http_route label: few distinct values
 * per service, and no personal data. A user pattern (--route) that matches wins;
 * otherwise each segment that looks like an identifier (a number, a UUID, a hex
 * string, a date, a long token) becomes {id}, one that holds an e-mail address
 * becomes {email}, and one of several words (a search phrase, a name, a file name
 * with spaces) becomes {text}.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "route.h"

#define TRUNCATED_SEGMENT "{truncated}"
#define ID_SEGMENT "{id}"
#define EMAIL_SEGMENT "{email}"
#define TEXT_SEGMENT "{text}"
#define MAX_PATTERNS 256

static const char *patterns[MAX_PATTERNS];
static size_t n_patterns;

int route__add_pattern(const char *pattern)
{
	if (pattern[0] != '/' || strlen(pattern) >= ROUTE_MAX) {
		p_err("invalid --route '%s': a pattern is a path starting with '/', such as "
		      "/users/{id}/orders, shorter than %d characters",
		      pattern, ROUTE_MAX);
		return -EINVAL;
	}
	if (n_patterns == MAX_PATTERNS) {
		p_err("too many --route: at most %d", MAX_PATTERNS);
		return -E2BIG;
	}
	patterns[n_patterns++] = pattern;
	return 0;
}

void route__clear_patterns(void)
{
	n_patterns = 0;
}

/* Length of the segment starting at s (up to '/' or n). */
static size_t segment_len(const char *s, size_t n)
{
	const char *slash = memchr(s, '/', n);

	return slash ? (size_t)(slash - s) : n;
}

/* Does path[0, len) match the pattern? {name} stands for one non-empty segment. */
static bool pattern_matches(const char *pat, const char *path, size_t len)
{
	size_t pl = strlen(pat), pi = 0, i = 0;

	while (pi < pl && i < len) {
		if (pat[pi] == '{') {
			const char *close = memchr(pat + pi, '}', pl - pi);
			size_t seg = segment_len(path + i, len - i);

			if (!close || !seg)
				return false;
			pi = close - pat + 1;
			i += seg;
			continue;
		}
		if (pat[pi] != path[i])
			return false;
		pi++;
		i++;
	}
	return pi == pl && i == len;
}

static bool is_hex(unsigned char c)
{
	return isdigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !is_hex(s[i]))
			return false;
	}
	return true;
}

/* Does a path segment identify one thing among many rather than name a resource? */
bool route_segment_is_id(const char *s, size_t n)
{
	size_t digits = 0, letters = 0, hex = 0, other = 0;

	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (isdigit(c))
			digits++;
		else if (isalpha(c))
			letters++;
		else if (!strchr("-_.~=+%", c))
			other++;
		hex += is_hex(c);
	}
	if (digits == n || is_uuid(s, n))
		return true; /* 42, 550e8400-e29b-41d4-a716-446655440000 */
	if (n >= 8 && hex == n && digits)
		return true; /* 5f3a9c2e, a git sha, a Mongo ObjectId */
	if (digits >= 4 && digits * 2 >= n)
		return true; /* 2024-01-15, 12345-67, v20240115 */
	/* a long mix of letters and digits: tokens, keys, base64 */
	return n >= 16 && digits && letters && !other;
}

static bool is_word_char(unsigned char c)
{
	return isalnum(c) || c >= 0x80; /* letters of any script, percent-decoded or raw */
}

/* Does s[0, n) hold the percent-encoding %hh (either case) at i? */
static bool pct_at(const char *s, size_t n, size_t i, const char *hh)
{
	return i + 2 < n && s[i] == '%' && tolower((unsigned char)s[i + 1]) == hh[0] &&
	       tolower((unsigned char)s[i + 2]) == hh[1];
}

/*
 * What a segment that may carry personal data becomes, or NULL: an e-mail address
 * (an '@', raw or %40) is {email}; words joined by a space (raw, %20, or '+' as
 * forms and search boxes write it) are {text}. A '+' that joins no two words stays
 * (c++, a+).
 */
const char *route_segment_personal(const char *s, size_t n)
{
	bool text = false;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '@' || pct_at(s, n, i, "40"))
			return EMAIL_SEGMENT;
		if (s[i] == ' ' || pct_at(s, n, i, "20"))
			text = true;
		else if (s[i] == '+' && i > 0 && i + 1 < n && is_word_char(s[i - 1]) &&
			 is_word_char(s[i + 1]))
			text = true;
	}
	return text ? TEXT_SEGMENT : NULL;
}

/* Append placeholder to out at *o if it fits in room; false when it does not. */
static bool put_placeholder(char *out, size_t *o, size_t room, const char *placeholder)
{
	size_t n = strlen(placeholder);

	if (*o + n > room)
		return false;
	memcpy(out + *o, placeholder, n);
	*o += n;
	return true;
}

void route_from_path(const char *path, size_t len, bool truncated, char out[ROUTE_MAX])
{
	size_t keep = len, o = 0, i = 0;
	size_t room = ROUTE_MAX - 1 - (truncated ? sizeof(TRUNCATED_SEGMENT) - 1 : 0);

	if (!truncated) {
		for (size_t p = 0; p < n_patterns; p++) {
			if (pattern_matches(patterns[p], path, len)) {
				strcpy(out, patterns[p]);
				return;
			}
		}
	} else {
		/* only whole segments are kept from a path the capture cut */
		while (keep > 0 && path[keep - 1] != '/')
			keep--;
	}
	while (i < keep) {
		const char *personal;
		size_t seg;

		if (path[i] == '/') {
			if (o == room)
				break;
			out[o++] = '/';
			i++;
			continue;
		}
		seg = segment_len(path + i, keep - i);
		personal = route_segment_personal(path + i, seg);
		if (personal || route_segment_is_id(path + i, seg)) {
			if (!put_placeholder(out, &o, room, personal ? personal : ID_SEGMENT))
				break;
		} else {
			size_t n = seg < room - o ? seg : room - o;

			memcpy(out + o, path + i, n);
			o += n;
			if (n < seg)
				break;
		}
		i += seg;
	}
	out[o] = '\0';
	if (truncated)
		strcat(out, TRUNCATED_SEGMENT);
}
