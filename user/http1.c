// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Parse the HTTP/1.x request line captured by the BPF side (RFC 9112 section 3).
 * A pure function over (buf, len): it must survive any bytes and never read past len.
 */
#include <string.h>

#include "common.h"
#include "http1.h"

static const struct {
	const char *name;
	enum http_method method;
} methods[] = {
	{ "GET", HTTP_GET },	     { "HEAD", HTTP_HEAD },	  { "POST", HTTP_POST },
	{ "PUT", HTTP_PUT },	     { "DELETE", HTTP_DELETE },	  { "CONNECT", HTTP_CONNECT },
	{ "OPTIONS", HTTP_OPTIONS }, { "TRACE", HTTP_TRACE },	  { "PATCH", HTTP_PATCH },
};

static const char *const method_names[HTTP_METHOD__COUNT] = {
	[HTTP_GET] = "GET",	      [HTTP_HEAD] = "HEAD",	  [HTTP_POST] = "POST",
	[HTTP_PUT] = "PUT",	      [HTTP_DELETE] = "DELETE",	  [HTTP_CONNECT] = "CONNECT",
	[HTTP_OPTIONS] = "OPTIONS",   [HTTP_TRACE] = "TRACE",	  [HTTP_PATCH] = "PATCH",
	[HTTP_OTHER] = "_OTHER",
};

static const char *const error_names[HTTP1_ERROR__COUNT] = {
	[HTTP1_OK] = "ok",
	[HTTP1_BAD_METHOD] = "bad_method",
	[HTTP1_BAD_TARGET] = "bad_target",
	[HTTP1_BAD_VERSION] = "bad_version",
	[HTTP1_HTTP2_PREFACE] = "http2_preface",
};

const char *http_method_name(enum http_method m)
{
	return (unsigned int)m < HTTP_METHOD__COUNT ? method_names[m] : "_OTHER";
}

const char *http_version_name(enum http_version v)
{
	static const char *const names[HTTP_VERSION__COUNT] = {
		[HTTP_VERSION_1_1] = "1.1",
		[HTTP_VERSION_1_0] = "1.0",
		[HTTP_VERSION_2] = "2",
	};
	return (unsigned int)v < HTTP_VERSION__COUNT ? names[v] : "1.1";
}

const char *http1_error_name(enum http1_error e)
{
	return (unsigned int)e < HTTP1_ERROR__COUNT ? error_names[e] : "unknown";
}

/* tchar of RFC 9110 5.6.2 */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

/* A visible character that may appear in a request target (no SP, no controls). */
static bool is_target_char(unsigned char c)
{
	return c > 0x20 && c != 0x7f;
}

enum http_method http_method_of(const char *p, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
		if (strlen(methods[i].name) == n && !memcmp(methods[i].name, p, n))
			return methods[i].method;
	return HTTP_OTHER;
}

static bool has_prefix(const char *p, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	return n >= k && !memcmp(p, prefix, k);
}

/* The path of a request target, query and fragment cut. Sets *complete when it ended. */
static void target_path(const char *t, size_t n, const char **path, size_t *len, bool *complete)
{
	size_t i = 0;

	*complete = true;
	if (n == 1 && t[0] == '*') { /* asterisk-form: OPTIONS * */
		*path = t;
		*len = 1;
		return;
	}
	if (t[0] != '/') {
		/* absolute-form: scheme "://" authority path; anything else is authority-form */
		const char *sep = memchr(t, ':', n);

		if (!sep || (size_t)(sep - t) + 3 > n || sep[1] != '/' || sep[2] != '/') {
			*path = t;
			*len = 0;
			return;
		}
		i = sep - t + 3;
		while (i < n && t[i] != '/' && t[i] != '?' && t[i] != '#')
			i++;
		if (i == n || t[i] != '/') {
			*path = "/";
			*len = 1;
			*complete = i < n;
			return;
		}
		t += i;
		n -= i;
	}
	for (i = 0; i < n && t[i] != '?' && t[i] != '#'; i++)
		;
	*path = t;
	*len = i;
	*complete = i < n;
}

enum http1_error http1_parse_request_line(const char *line, size_t len, size_t line_len,
					  struct http1_request *out)
{
	bool captured_all = line_len <= len;
	size_t i = 0, tstart, tend;
	bool path_complete;
	const char *v;
	size_t vlen;

	memset(out, 0, sizeof(*out));
	while (i < len && is_tchar(line[i]))
		i++;
	if (i == 0 || i == len || line[i] != ' ')
		return i == len && i > 0 && captured_all ? HTTP1_BAD_TARGET : HTTP1_BAD_METHOD;
	out->method = http_method_of(line, i);
	tstart = ++i;
	while (i < len && line[i] != ' ') {
		if (!is_target_char(line[i]))
			return HTTP1_BAD_TARGET;
		i++;
	}
	tend = i;
	if (tend == tstart)
		return HTTP1_BAD_TARGET;

	if (i < len) {
		v = line + i + 1;
		vlen = len - i - 1;
		if (vlen == 8 && has_prefix(v, vlen, "HTTP/1.1"))
			;
		else if (vlen == 8 && has_prefix(v, vlen, "HTTP/1.0"))
			out->version = HTTP_VERSION_1_0;
		else if (!captured_all && vlen < 8 && !memcmp(v, "HTTP/1.", vlen < 7 ? vlen : 7))
			; /* version cut by the capture */
		else if (tstart == 4 && has_prefix(line, len, "PRI * HTTP/2.0"))
			return HTTP1_HTTP2_PREFACE;
		else
			return HTTP1_BAD_VERSION;
	} else if (captured_all) {
		return HTTP1_BAD_VERSION; /* HTTP/0.9 simple request or missing version */
	}

	target_path(line + tstart, tend - tstart, &out->path, &out->path_len, &path_complete);
	/* the target ran to the end of the capture: its path may go on beyond it */
	out->truncated = !captured_all && tend == len && !path_complete;
	return HTTP1_OK;
}
