// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Outbound calls named: server_address from a Host value or the peer, error types. */
#include <arpa/inet.h>
#include <sys/socket.h>

#include "client.h"
#include "common.h"
#include "unit.h"

/* server_address of Host value host (NULL: none) on a connection to peer ip. */
static const char *address(const char *host, const char *ip)
{
	static char out[CLIENT_ADDRESS_MAX];
	struct rs_peer peer = { .port = 8080 };
	struct guarded g = guard_copy(host ? host : "", host ? strlen(host) : 0);

	if (strchr(ip, ':')) {
		peer.family = AF_INET6;
		inet_pton(AF_INET6, ip, peer.addr);
	} else {
		peer.family = AF_INET;
		inet_pton(AF_INET, ip, peer.addr);
	}
	client_server_address(host ? g.data : NULL, host ? strlen(host) : 0, &peer, out);
	guard_free(&g);
	return out;
}

static void host_names_the_server(void)
{
	static const struct {
		const char *host, *want;
	} cases[] = {
		{ "polls", "polls" },
		{ " polls.default.svc.cluster.local\r", "polls.default.svc.cluster.local" },
		{ "Polls.Default.SVC:8000", "polls.default.svc" },
		{ "dynamodb.eu-west-1.amazonaws.com", "dynamodb.eu-west-1.amazonaws.com" },
		{ "example.com.:443", "example.com" },
		{ "127.0.0.1:8000", "127.0.0.1" },
		{ "[::1]:8080", "::1" },
		{ "[2001:DB8:0:0::1]", "2001:db8::1" },
		{ "my_host\t", "my_host" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		CHECK_STR(address(cases[i].host, "10.1.2.3"), cases[i].want);
}

static void no_host_name_falls_back_to_the_peer(void)
{
	static const char *const bad[] = {
		NULL,		   /* HTTP/1.0 with no Host */
		"",		   /* empty */
		"user:pw@secret", /* userinfo never leaves */
		"a b",		   /* blanks inside */
		"::1",		   /* IPv6 without brackets */
		"host:port",	   /* a port that is no number */
		"host:123456",	   /* too long for one */
		"[::1",		   /* unclosed */
		"[zz::1]",	   /* not an address */
		"h/path",	   /* a path */
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK_STR(address(bad[i], "10.1.2.3"), "10.1.2.3");
	CHECK_STR(address(NULL, "fd00::7"), "fd00::7");
	CHECK_STR(address(NULL, "::ffff:192.168.1.9"), "192.168.1.9"); /* v4-mapped: as IPv4 */
}

static void calls_without_an_answer_say_why(void)
{
	CHECK_EQ(client_error_of(RS_BY_RESET), CLIENT_CONNECTION_RESET);
	CHECK_EQ(client_error_of(RS_BY_PEER), CLIENT_CONNECTION_CLOSED);
	CHECK_EQ(client_error_of(RS_BY_SELF), CLIENT_TIMEOUT);
	CHECK_EQ(client_error_of(RS_BY_UNKNOWN), CLIENT_NO_RESPONSE);
	CHECK_STR(client_error_name(CLIENT_TIMEOUT), "timeout");
	CHECK_STR(client_error_name(CLIENT_CONNECTION_RESET), "connection_reset");
	CHECK_STR(client_error_name(CLIENT_ANSWERED), "");
}

int main(void)
{
	RUN(host_names_the_server);
	RUN(no_host_name_falls_back_to_the_peer);
	RUN(calls_without_an_answer_say_why);
	return unit_report("client");
}
