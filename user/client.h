/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * client.c: what names an outbound call a watched process made (a request it sent on
 * a connection it opened): the server it called, from the request's Host field or,
 * with none, the connection's peer, and why a call that got no response failed.
 */
#ifndef REDSCOPE_CLIENT_H
#define REDSCOPE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "redscope.h"

#define CLIENT_ADDRESS_MAX 256		  /* server_address, NUL included */
#define CLIENT_ADDRESS_OVERFLOW "{overflow}" /* a service's addresses beyond the cap */

/* Why a call got no response (error_type), or CLIENT_ANSWERED. */
enum client_error {
	CLIENT_ANSWERED = 0,
	CLIENT_CONNECTION_RESET,  /* the connection was reset before a response */
	CLIENT_CONNECTION_CLOSED, /* the server closed it before answering */
	CLIENT_TIMEOUT,		  /* the caller closed it first: gave up waiting */
	CLIENT_NO_RESPONSE,	  /* the connection ended, who ended it unknown */
	CLIENT_ERROR__COUNT,
};
const char *client_error_name(enum client_error e);
/* The error of a call that got no response, from who ended its connection. */
enum client_error client_error_of(uint8_t ended_by);

/*
 * server_address of a call: the Host field's value (host[0, len), as captured: leading
 * and trailing blanks, a CR, a port, brackets of an IPv6 literal, a trailing dot and
 * upper case are taken off), or, when there is none, or it is cut or is no host name,
 * the peer's IP address. Writes a NUL-terminated string into out.
 */
void client_server_address(const char *host, size_t len, const struct rs_peer *peer,
			   char out[CLIENT_ADDRESS_MAX]);

#endif /* REDSCOPE_CLIENT_H */
