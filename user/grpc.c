// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* gRPC status codes; see grpc.h. */
#include "grpc.h"

static const char *const names[GRPC_CODES] = {
	"OK",		     "CANCELLED",	  "UNKNOWN",	       "INVALID_ARGUMENT",
	"DEADLINE_EXCEEDED", "NOT_FOUND",	  "ALREADY_EXISTS",    "PERMISSION_DENIED",
	"RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",	       "OUT_OF_RANGE",
	"UNIMPLEMENTED",     "INTERNAL",	  "UNAVAILABLE",       "DATA_LOSS",
	"UNAUTHENTICATED",
};

const char *grpc_code_name(unsigned int code)
{
	if (code < GRPC_CODES)
		return names[code];
	return code == GRPC_CODE_UNDECODED ? "{unknown}" : "_OTHER";
}

bool grpc_server_error(unsigned int code)
{
	switch (code) {
	case 2:	 /* UNKNOWN */
	case 4:	 /* DEADLINE_EXCEEDED */
	case 12: /* UNIMPLEMENTED */
	case 13: /* INTERNAL */
	case 14: /* UNAVAILABLE */
	case 15: /* DATA_LOSS */
		return true;
	default:
		return false;
	}
}

unsigned int grpc_code_of_reset(uint32_t h2_error)
{
	switch (h2_error) {
	case 0x7: /* REFUSED_STREAM */
		return GRPC_UNAVAILABLE;
	case 0x8: /* CANCEL */
		return GRPC_CANCELLED;
	case 0xb: /* ENHANCE_YOUR_CALM */
		return 8; /* RESOURCE_EXHAUSTED */
	case 0xc: /* INADEQUATE_SECURITY */
		return 7; /* PERMISSION_DENIED */
	default: /* NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, ... */
		return GRPC_INTERNAL;
	}
}
