/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * grpc.c: gRPC status codes (grpc/doc/statuscodes.md) as the RPC metrics name them, which
 * of them a server is to blame for, and the status a call gets when no grpc-status came
 * (grpc/doc/PROTOCOL-HTTP2.md: an HTTP/2 reset, a closed connection).
 */
#ifndef REDSCOPE_GRPC_H
#define REDSCOPE_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GRPC_OK 0
#define GRPC_CANCELLED 1
#define GRPC_UNKNOWN 2
#define GRPC_DEADLINE_EXCEEDED 4
#define GRPC_INTERNAL 13
#define GRPC_UNAVAILABLE 14
#define GRPC_CODES 17	       /* 0 (OK) to 16 (UNAUTHENTICATED) */
#define GRPC_CODE_OTHER 1000   /* a number past 16 */
#define GRPC_CODE_UNDECODED 1001 /* the status could not be decoded (a late join) */

/* "OK", "DEADLINE_EXCEEDED", ...; "_OTHER" past 16, "{unknown}" when undecoded. */
const char *grpc_code_name(unsigned int code);
/*
 * Codes that count as the server's errors (OpenTelemetry's gRPC conventions): UNKNOWN,
 * DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS; a client's own
 * mistakes (INVALID_ARGUMENT, NOT_FOUND, ...) are not.
 */
bool grpc_server_error(unsigned int code);
/* The status of a call an HTTP/2 RST_STREAM with this error code ended. */
unsigned int grpc_code_of_reset(uint32_t h2_error);

#endif /* REDSCOPE_GRPC_H */
