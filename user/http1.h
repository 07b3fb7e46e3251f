/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* http1.c: what a captured request line says. */
#ifndef REDSCOPE_HTTP1_H
#define REDSCOPE_HTTP1_H

#include <stdbool.h>
#include <stddef.h>

enum http_method {
	HTTP_GET = 0,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_DELETE,
	HTTP_CONNECT,
	HTTP_OPTIONS,
	HTTP_TRACE,
	HTTP_PATCH,
	HTTP_OTHER, /* a valid token that is no RFC 9110 method nor PATCH */
	HTTP_METHOD__COUNT,
};
const char *http_method_name(enum http_method m);
/* The method a token names: HTTP_OTHER for a token that is none of them. */
enum http_method http_method_of(const char *p, size_t n);

/* The protocol version a request was made in: network_protocol_version. */
enum http_version {
	HTTP_VERSION_1_1 = 0,
	HTTP_VERSION_1_0,
	HTTP_VERSION_2,
	HTTP_VERSION__COUNT,
};
const char *http_version_name(enum http_version v);

/* Why a captured request line was not counted (userspace parse errors). */
enum http1_error {
	HTTP1_OK = 0,
	HTTP1_BAD_METHOD,     /* method is not a token */
	HTTP1_BAD_TARGET,     /* request target missing or not a valid form */
	HTTP1_BAD_VERSION,    /* not HTTP/1.0 or HTTP/1.1 */
	HTTP1_HTTP2_PREFACE,  /* HTTP/2 connection preface (prior knowledge) */
	HTTP1_ERROR__COUNT,
};
const char *http1_error_name(enum http1_error e);

struct http1_request {
	enum http_method method;
	const char *path; /* request target's path, query and fragment cut; not NUL-terminated */
	size_t path_len;
	bool truncated; /* the request line was longer than the capture: path is a prefix */
	enum http_version version; /* 1.1 when the capture cut the version off */
};

/*
 * Parse a request line captured by the BPF side: line[0, len), no CR/LF. line_len is
 * the length of the full line as seen on the wire; when it exceeds len, only the
 * start was captured. Pure function: reads nothing outside line[0, len).
 */
enum http1_error http1_parse_request_line(const char *line, size_t len, size_t line_len,
					  struct http1_request *out);

#endif /* REDSCOPE_HTTP1_H */
