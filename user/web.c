// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The HTTP endpoint: /metrics (or --web.telemetry-path), /healthz and a landing page. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <zlib.h>

#include "internal.h"

#define CONTENT_TYPE_TEXT_004 "text/plain; version=0.0.4; charset=utf-8"
#define MAX_CONNECTIONS 64
#define CONNECTION_TIMEOUT_S 30

struct web {
	struct MHD_Daemon *daemon;
	char *telemetry_path;
	void (*render)(struct buf *out, void *ctx);
	void *ctx;
};

/* Split "[host]:port", "host:port" or ":port". */
static int split_address(const char *addr, char *host, size_t host_len, char *port, size_t port_len)
{
	const char *colon;
	size_t hlen;

	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		hlen = end - addr - 1;
		addr++;
		colon = end + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return -EINVAL;
		hlen = colon - addr;
	}
	if (hlen >= host_len || !colon[1] || strlen(colon + 1) >= port_len)
		return -EINVAL;
	memcpy(host, addr, hlen);
	host[hlen] = '\0';
	strcpy(port, colon + 1);
	for (const char *p = port; *p; p++)
		if (*p < '0' || *p > '9')
			return -EINVAL;
	return 0;
}

static int listen_on(const struct addrinfo *ai, bool dual_stack)
{
	int one = 1, zero = 0;
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (dual_stack && ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 128)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int web__bind(const struct web_opts *opts, int *fd_out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL, *ai;
	char host[256], port[16];
	int fd = -EINVAL, rc;

	if (split_address(opts->listen_address, host, sizeof(host), port, sizeof(port))) {
		p_err("invalid --web.listen-address '%s': expected [host]:port, for example :9435",
		      opts->listen_address);
		return -EINVAL;
	}
	/* no host: every address, IPv6 and IPv4 on one socket where the host has IPv6 */
	hints.ai_family = host[0] ? AF_UNSPEC : AF_INET6;
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc && !host[0]) {
		hints.ai_family = AF_INET;
		rc = getaddrinfo(NULL, port, &hints, &res);
	}
	if (rc) {
		p_err("cannot resolve --web.listen-address '%s': %s", opts->listen_address,
		      gai_strerror(rc));
		return -EINVAL;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = listen_on(ai, !host[0]);
		if (fd >= 0 || fd == -EADDRINUSE || fd == -EACCES)
			break;
	}
	if (fd < 0 && !host[0] && fd != -EADDRINUSE && fd != -EACCES) {
		/* IPv6 disabled on this host */
		struct addrinfo v4 = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
				       .ai_flags = AI_PASSIVE };
		struct addrinfo *res4 = NULL;

		if (!getaddrinfo(NULL, port, &v4, &res4) && res4)
			fd = listen_on(res4, false);
		freeaddrinfo(res4);
	}
	freeaddrinfo(res);
	if (fd == -EADDRINUSE) {
		p_err("cannot listen on %s: address already in use; stop the process holding it or "
		      "choose another address with --web.listen-address",
		      opts->listen_address);
		return fd;
	}
	if (fd < 0) {
		p_err("cannot listen on %s: %s", opts->listen_address, strerror(-fd));
		return fd;
	}
	*fd_out = fd;
	return 0;
}

static bool accepts_gzip(struct MHD_Connection *conn)
{
	const char *ae = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Encoding");

	return ae && strstr(ae, "gzip");
}

/* gzip src into a new heap buffer; NULL on failure (the caller then sends it plain). */
static char *gzip(const char *src, size_t len, size_t *out_len)
{
	z_stream zs = {};
	size_t cap;
	char *out;

	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	cap = deflateBound(&zs, len);
	out = malloc(cap);
	if (!out) {
		deflateEnd(&zs);
		return NULL;
	}
	zs.next_in = (Bytef *)src;
	zs.avail_in = len;
	zs.next_out = (Bytef *)out;
	zs.avail_out = cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&zs);
		free(out);
		return NULL;
	}
	*out_len = zs.total_out;
	deflateEnd(&zs);
	return out;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned int status,
				 const char *type, const char *text)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), (void *)text,
								     MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result send_metrics(struct web *w, struct MHD_Connection *conn)
{
	struct MHD_Response *resp;
	struct buf out = {};
	enum MHD_Result ret;
	char *body;
	size_t len;
	bool gz = false;

	w->render(&out, w->ctx);
	if (out.oom) {
		buf__free(&out);
		return send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
				 "out of memory while rendering metrics\n");
	}
	body = out.data ? out.data : strdup("");
	len = out.len;
	if (accepts_gzip(conn)) {
		size_t zlen;
		char *z = gzip(body, len, &zlen);

		if (z) {
			free(body);
			body = z;
			len = zlen;
			gz = true;
		}
	}
	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE_TEXT_004);
	if (gz)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	static const char landing_fmt[] =
		"<html><head><title>redscope</title></head><body><h1>redscope</h1>"
		"<p>HTTP RED metrics from the kernel, for every HTTP/1.x server on this host.</p>"
		"<p><a href=\"%s\">Metrics</a></p></body></html>\n";
	struct web *w = cls;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
				 "method not allowed\n");
	if (!strcmp(url, w->telemetry_path))
		return send_metrics(w, conn);
	if (!strcmp(url, "/healthz"))
		return send_text(conn, MHD_HTTP_OK, "text/plain", "ok\n");
	if (!strcmp(url, "/")) {
		struct MHD_Response *resp;
		struct buf page = {};
		enum MHD_Result ret;

		buf__printf(&page, landing_fmt, w->telemetry_path);
		if (page.oom || !page.data)
			return MHD_NO;
		resp = MHD_create_response_from_buffer(page.len, page.data, MHD_RESPMEM_MUST_FREE);
		if (!resp) {
			buf__free(&page);
			return MHD_NO;
		}
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
		ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	return send_text(conn, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
}

struct web *web__start(const struct web_opts *opts, int listen_fd,
		       void (*render)(struct buf *out, void *ctx), void *ctx)
{
	struct web *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->render = render;
	w->ctx = ctx;
	w->telemetry_path = strdup(opts->telemetry_path);
	if (!w->telemetry_path)
		goto fail;
	w->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
				     NULL, handle, w, MHD_OPTION_LISTEN_SOCKET, listen_fd,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)MAX_CONNECTIONS,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
				     MHD_OPTION_END);
	if (!w->daemon) {
		p_err("failed to start the HTTP server on %s", opts->listen_address);
		goto fail;
	}
	return w;
fail:
	free(w->telemetry_path);
	free(w);
	return NULL;
}

void web__stop(struct web *w)
{
	if (!w)
		return;
	MHD_stop_daemon(w->daemon);
	free(w->telemetry_path);
	free(w);
}
