// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The HTTP endpoint: /metrics (or --web.telemetry-path), /healthz and a landing page. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <crypt.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <zlib.h>

#include "buf.h"
#include "log.h"
#include "prom.h"
#include "web.h"
#include "webconfig.h"

#define MAX_CONNECTIONS 64
#define CONNECTION_TIMEOUT_S 30
#define AUTH_CACHE 16
/* the most a scrape's response holds at once: one piece of the page, one of gzip */
#define STREAM_BLOCK (32 * 1024)
#define AUTH_REALM "redscope"
/* a bcrypt hash of nothing anyone knows: unknown users cost what known ones do */
#define DUMMY_HASH "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"

struct web {
	struct MHD_Daemon *daemon;
	char *telemetry_path;
	struct web_page page;
	const struct web_config *config;
	/* SHA-256 of "user\0password" that passed, so that bcrypt runs once per client */
	unsigned char good[AUTH_CACHE][32];
	size_t n_good;
	struct crypt_data *crypt; /* crypt_r's large state: the server thread's only */
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

/*
 * A /metrics response being sent: the page is rendered piece by piece as the client
 * takes it, and gzipped as it goes, so that what a scrape holds is a piece of the
 * page and the compressor's state, however many series there are, and a client that
 * reads slowly or leaves holds no lock and costs no more.
 */
struct stream {
	const struct web_page *page;
	void *state;	    /* the page's */
	struct buf text;    /* rendered, not yet sent (or compressed) */
	size_t text_off;
	bool rendered;	    /* the page is complete */
	bool gz, gz_done;   /* gzip: the compressed stream is complete */
	z_stream zs;
	size_t z_len, z_off; /* compressed, not yet sent */
	unsigned char z[STREAM_BLOCK];
};

/* The next piece of the page into st->text; false on failure. */
static bool stream_render(struct stream *st)
{
	st->text.len = 0;
	st->text_off = 0;
	if (!st->rendered && !st->page->next(st->state, &st->text))
		st->rendered = true;
	return !st->text.oom;
}

/* Compress what is rendered into st->z, rendering more when it is all in; false on failure. */
static bool stream_deflate(struct stream *st)
{
	int ret;

	if (st->text_off == st->text.len && !stream_render(st))
		return false;
	st->zs.next_in = (Bytef *)st->text.data + st->text_off;
	st->zs.avail_in = st->text.len - st->text_off;
	st->zs.next_out = st->z;
	st->zs.avail_out = sizeof(st->z);
	ret = deflate(&st->zs, st->rendered ? Z_FINISH : Z_NO_FLUSH);
	if (ret == Z_STREAM_ERROR)
		return false;
	st->gz_done = ret == Z_STREAM_END;
	st->text_off = st->text.len - st->zs.avail_in;
	st->z_len = sizeof(st->z) - st->zs.avail_out;
	st->z_off = 0;
	return true;
}

/* libmicrohttpd asks for the next bytes of the body (up to max at out). */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct stream *st = cls;
	size_t n = 0, k;

	(void)pos;
	while (n < max) {
		if (st->gz && st->z_off < st->z_len) {
			k = st->z_len - st->z_off < max - n ? st->z_len - st->z_off : max - n;
			memcpy(out + n, st->z + st->z_off, k);
			st->z_off += k;
		} else if (!st->gz && st->text_off < st->text.len) {
			k = st->text.len - st->text_off < max - n ? st->text.len - st->text_off : max - n;
			memcpy(out + n, st->text.data + st->text_off, k);
			st->text_off += k;
		} else if (st->gz ? st->gz_done : st->rendered) {
			break;
		} else if (!(st->gz ? stream_deflate(st) : stream_render(st))) {
			return MHD_CONTENT_READER_END_WITH_ERROR;
		} else {
			continue;
		}
		n += k;
	}
	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void stream_free(void *cls)
{
	struct stream *st = cls;

	if (st->state)
		st->page->close(st->state);
	if (st->gz)
		deflateEnd(&st->zs);
	buf__free(&st->text);
	free(st);
}

static enum MHD_Result send_metrics(struct web *w, struct MHD_Connection *conn)
{
	struct stream *st = calloc(1, sizeof(*st));
	enum prom_format format = prom__negotiate(
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!st)
		return MHD_NO;
	st->page = &w->page;
	st->state = w->page.open(w->page.ctx, format);
	/* the fastest level: scrapes are large and frequent, text compresses well anyway */
	st->gz = accepts_gzip(conn) && deflateInit2(&st->zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8,
						    Z_DEFAULT_STRATEGY) == Z_OK;
	if (!st->state) {
		stream_free(st);
		return send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
				 "out of memory while rendering metrics\n");
	}
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, st,
						 stream_free);
	if (!resp) {
		stream_free(st);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				format == PROM_PROTOBUF ? PROM_CONTENT_TYPE_PROTOBUF
							: PROM_CONTENT_TYPE_TEXT);
	if (st->gz)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept, Accept-Encoding");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Constant-time comparison of equal-length secrets. */
static bool same(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return !d;
}

static bool password_ok(struct web *w, const char *user, const char *pass)
{
	const struct web_config *c = w->config;
	const char *hash = DUMMY_HASH, *got;
	unsigned char digest[32];
	struct buf key = {};
	bool ok;

	buf__printf(&key, "%s", user);
	buf__append(&key, "", 1);
	buf__printf(&key, "%s", pass);
	if (key.oom || gnutls_hash_fast(GNUTLS_DIG_SHA256, key.data, key.len, digest)) {
		buf__free(&key);
		return false;
	}
	buf__free(&key);
	for (size_t i = 0; i < w->n_good && i < AUTH_CACHE; i++)
		if (same(w->good[i], digest, sizeof(digest)))
			return true;
	for (size_t i = 0; i < c->n_users; i++)
		if (!strcmp(c->users[i].name, user))
			hash = c->users[i].hash;
	if (!w->crypt && !(w->crypt = calloc(1, sizeof(*w->crypt))))
		return false;
	got = crypt_r(pass, hash, w->crypt);
	ok = hash != (const char *)DUMMY_HASH && got && strlen(got) == strlen(hash) &&
	     same(got, hash, strlen(hash));
	if (ok)
		memcpy(w->good[w->n_good++ % AUTH_CACHE], digest, sizeof(digest));
	return ok;
}

/* Basic auth, when users are configured: true to go on; else a 401 is queued. */
static bool authorized(struct web *w, struct MHD_Connection *conn, enum MHD_Result *ret)
{
	static const char denied[] = "unauthorized\n";
	struct MHD_Response *resp;
	char *pass = NULL, *user;
	bool ok;

	if (!w->config || !w->config->n_users)
		return true;
	user = MHD_basic_auth_get_username_password(conn, &pass);
	ok = user && pass && password_ok(w, user, pass);
	MHD_free(user);
	MHD_free(pass);
	if (ok)
		return true;
	resp = MHD_create_response_from_buffer(strlen(denied), (void *)denied,
					       MHD_RESPMEM_PERSISTENT);
	*ret = resp ? MHD_queue_basic_auth_fail_response(conn, AUTH_REALM, resp) : MHD_NO;
	if (resp)
		MHD_destroy_response(resp);
	return false;
}

/* The client certificate policy of tls_server_config: NULL when met, else why not. */
static const char *client_cert_problem(const struct web *w, struct MHD_Connection *conn)
{
	const struct web_config *c = w->config;
	const union MHD_ConnectionInfo *ci;
	unsigned int n = 0, status = 0;
	gnutls_session_t session;
	bool given;

	if (!c || !c->tls || c->client_auth == WEB_CLIENT_NONE || c->client_auth == WEB_CLIENT_REQUEST)
		return NULL;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	session = ci ? (gnutls_session_t)ci->tls_session : NULL;
	if (!session)
		return "no TLS session\n";
	given = gnutls_certificate_get_peers(session, &n) && n > 0;
	if (!given)
		return c->client_auth == WEB_CLIENT_VERIFY_IF_GIVEN
			       ? NULL
			       : "a client certificate is required\n";
	if (c->client_auth == WEB_CLIENT_REQUIRE_ANY)
		return NULL;
	if (gnutls_certificate_verify_peers2(session, &status) || status)
		return "the client certificate is not signed by client_ca_file\n";
	return NULL;
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
	const char *problem = client_cert_problem(w, conn);
	enum MHD_Result ret = MHD_NO;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (problem)
		return send_text(conn, MHD_HTTP_FORBIDDEN, "text/plain", problem);
	if (!authorized(w, conn, &ret))
		return ret;
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

struct web *web__start(const struct web_opts *opts, int listen_fd, const struct web_page *page)
{
	static const char *const versions[] = { [WEB_TLS10] = "+VERS-TLS1.0",
						[WEB_TLS11] = "+VERS-TLS1.1",
						[WEB_TLS12] = "+VERS-TLS1.2",
						[WEB_TLS13] = "+VERS-TLS1.3" };
	const struct web_config *c = opts->config;
	struct web *w = calloc(1, sizeof(*w));
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem o[8];
	struct buf prio = {};
	size_t n = 0;

	if (!w)
		return NULL;
	w->page = *page;
	w->config = c;
	w->telemetry_path = strdup(opts->telemetry_path);
	if (!w->telemetry_path)
		goto fail;
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, MAX_CONNECTIONS, NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S, NULL };
	if (c && c->tls) {
		flags |= MHD_USE_TLS;
		buf__puts(&prio, "NORMAL:-VERS-ALL");
		for (int v = c->min_version; v <= (int)c->max_version; v++)
			buf__printf(&prio, ":%s", versions[v]);
		if (prio.oom)
			goto fail;
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, c->cert_pem };
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, c->key_pem };
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0, prio.data };
		if (c->client_auth != WEB_CLIENT_NONE)
			o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0,
							  c->client_ca_pem };
	}
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	w->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, w, MHD_OPTION_ARRAY, o,
				     MHD_OPTION_END);
	buf__free(&prio); /* GnuTLS has parsed it */
	if (!w->daemon) {
		p_err("failed to start the HTTP%s server on %s%s", c && c->tls ? "S" : "",
		      opts->listen_address,
		      c && c->tls ? ": check the certificate, key and CA of --web.config.file" : "");
		goto fail;
	}
	return w;
fail:
	buf__free(&prio);
	free(w->telemetry_path);
	free(w);
	return NULL;
}

void web__stop(struct web *w)
{
	if (!w)
		return;
	MHD_stop_daemon(w->daemon);
	free(w->crypt);
	free(w->telemetry_path);
	free(w);
}
