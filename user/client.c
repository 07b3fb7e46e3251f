// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Outbound calls, named: the server a call went to as its request named it (Host), so
 * that a cluster's calls read as the Kubernetes services or AWS endpoints they went to,
 * with no API access and no DNS query; the peer's address only when the request named
 * none. Pure functions.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "client.h"

const char *client_error_name(enum client_error e)
{
	static const char *const names[CLIENT_ERROR__COUNT] = {
		[CLIENT_ANSWERED] = "",
		[CLIENT_CONNECTION_RESET] = "connection_reset",
		[CLIENT_CONNECTION_CLOSED] = "connection_closed",
		[CLIENT_TIMEOUT] = "timeout",
		[CLIENT_NO_RESPONSE] = "no_response",
	};

	return e < CLIENT_ERROR__COUNT ? names[e] : "no_response";
}

enum client_error client_error_of(uint8_t ended_by)
{
	switch (ended_by) {
	case RS_BY_RESET:
		return CLIENT_CONNECTION_RESET;
	case RS_BY_PEER:
		return CLIENT_CONNECTION_CLOSED;
	case RS_BY_SELF:
		return CLIENT_TIMEOUT;
	default:
		return CLIENT_NO_RESPONSE;
	}
}

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static bool digits(const char *p, size_t n)
{
	if (!n || n > 5)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

/* The host of a Host value v[0, n), lower case, into out; false when it is none. */
static bool host_of(const char *v, size_t n, char out[CLIENT_ADDRESS_MAX])
{
	const char *colon;
	size_t k = 0;

	while (n && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
		n--;
	if (n && v[0] == '[') { /* an IPv6 literal, and maybe a port */
		const char *end = memchr(v, ']', n);
		struct in6_addr a;
		char lit[INET6_ADDRSTRLEN];

		if (!end || (size_t)(end - v) - 1 >= sizeof(lit) ||
		    (end + 1 < v + n && (end[1] != ':' || !digits(end + 2, v + n - end - 2))))
			return false;
		memcpy(lit, v + 1, end - v - 1);
		lit[end - v - 1] = 0;
		/* as inet_ntop writes it: one spelling per address */
		return inet_pton(AF_INET6, lit, &a) == 1 && inet_ntop(AF_INET6, &a, out, CLIENT_ADDRESS_MAX);
	}
	colon = memchr(v, ':', n);
	if (colon) {
		if (!digits(colon + 1, v + n - colon - 1))
			return false; /* two colons (IPv6 without brackets), or no port after one */
		n = colon - v;
	}
	if (n && v[n - 1] == '.')
		n--; /* the root of a fully qualified name */
	if (!n || n >= CLIENT_ADDRESS_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = v[i] >= 'A' && v[i] <= 'Z' ? v[i] + ('a' - 'A') : v[i];

		if (!host_char(c))
			return false; /* userinfo, a path, blanks inside: no host name */
		out[k++] = c;
	}
	out[k] = 0;
	return true;
}

void client_server_address(const char *host, size_t len, const struct rs_peer *peer,
			   char out[CLIENT_ADDRESS_MAX])
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (host && len && host_of(host, len, out))
		return;
	if (peer->family == AF_INET6 && !memcmp(peer->addr, v4mapped, sizeof(v4mapped)))
		inet_ntop(AF_INET, peer->addr + 12, out, CLIENT_ADDRESS_MAX);
	else if (peer->family == AF_INET6)
		inet_ntop(AF_INET6, peer->addr, out, CLIENT_ADDRESS_MAX);
	else if (peer->family == AF_INET)
		inet_ntop(AF_INET, peer->addr, out, CLIENT_ADDRESS_MAX);
	else
		snprintf(out, CLIENT_ADDRESS_MAX, "{unknown}");
}
