// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel's HTTP/1 framing core (bpf/h1.bpf.h and the connection layer), compiled as C
 * through the unit tests' simulation, fed N requests of one shape and their responses:
 * run under valgrind's callgrind, the difference between N and 0 requests is the framing
 * core's instructions per request, without the noise of a machine's load.
 *
 *     framing SHAPE N
 */
#include <stdio.h>

#include "h1_sim.h"

#define WRK_GET "GET / HTTP/1.1\r\nHost: 127.0.0.1:34567\r\n\r\n"
#define HEY_GET                                                                         \
	"GET / HTTP/1.1\r\nHost: 127.0.0.1:34567\r\nUser-Agent: hey/0.0.1\r\n"            \
	"Content-Type: text/html\r\nAccept-Encoding: gzip\r\n\r\n"
#define NGINX_HEAD                                                                      \
	"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 07 Dec 2026 04:30:00 GMT\r\n" \
	"Content-Type: text/html\r\nContent-Length: 612\r\n"                                \
	"Last-Modified: Mon, 07 Dec 2026 04:00:00 GMT\r\nConnection: keep-alive\r\n"        \
	"ETag: \"6574a1b0-264\"\r\nAccept-Ranges: bytes\r\n\r\n"
#define GUNICORN_HEAD                                                                   \
	"HTTP/1.1 200 OK\r\nServer: gunicorn\r\nDate: Mon, 07 Dec 2026 04:30:00 GMT\r\n"    \
	"Connection: close\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
#define POST_JSON                                                                       \
	"POST /polls/3/vote HTTP/1.1\r\nHost: polls.example\r\nUser-Agent: python-requests/2.28\r\n" \
	"Accept: */*\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"choice\": \"yes\"}"
#define CHUNKED_RESP                                                                    \
	"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n" \
	"Date: Mon, 07 Dec 2026 04:30:00 GMT\r\n\r\n"                                     \
	"d\r\n{\"votes\": 12}\r\n0\r\n\r\n"

/* a string literal read or written in one call */
#define str(dir, s) sim_io(dir, s, sizeof(s) - 1)

enum shape { NGINX_WRK, GUNICORN_HEY, POST_CHUNKED, SHAPES };
static const char *const shapes[SHAPES] = { "nginx-wrk", "gunicorn-hey", "post-chunked" };

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 0;
	struct iovec head = { NGINX_HEAD, sizeof(NGINX_HEAD) - 1 };
	int shape = 0;

	while (shape < SHAPES && (argc < 2 || strcmp(argv[1], shapes[shape])))
		shape++;
	if (shape == SHAPES) {
		fprintf(stderr, "usage: framing nginx-wrk|gunicorn-hey|post-chunked N\n");
		return 2;
	}
	sim_reset();
	for (long i = 0; i < n; i++) {
		switch (shape) {
		case NGINX_WRK:
			/* recv, then writev of the head and sendfile of the file */
			str(RS_DIR_REQ, WRK_GET);
			sim_iov(RS_DIR_RESP, &head, 1, head.iov_len);
			sim_blind(RS_DIR_RESP, 612);
			break;
		case GUNICORN_HEY:
			/* recv, then a send of the head and one of the body */
			str(RS_DIR_REQ, HEY_GET);
			str(RS_DIR_RESP, GUNICORN_HEAD);
			str(RS_DIR_RESP, "Hello, world!");
			break;
		default:
			/* a JSON body in the request's read, a chunked answer in one write */
			str(RS_DIR_REQ, POST_JSON);
			str(RS_DIR_RESP, CHUNKED_RESP);
			break;
		}
		if (sim_n_events != 1 || sim_target.active || sim_out_of_step()) {
			fprintf(stderr, "framing: %s: request %ld not counted as one\n", shapes[shape], i);
			return 1;
		}
		sim_n_events = 0;
	}
	return 0;
}
