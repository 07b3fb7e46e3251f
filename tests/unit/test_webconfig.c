// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --web.config.file, the exporter-toolkit format: what it accepts, and each mistake
 * refused (with the file's line in the message) rather than half applied.
 */
#include <fcntl.h>
#include <errno.h>

#include "unit.h"
#include "webconfig.h"

static char dir[] = "/tmp/redscope-webconfig-XXXXXX";
static struct web_config wc;

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		perror(path);
		exit(1);
	}
}

/* Load a config of this text (as web.yml in the test's directory), error lines muted. */
static int load(const char *yaml)
{
	char path[256];
	int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY), err;

	write_file("web.yml", yaml);
	snprintf(path, sizeof(path), "%s/web.yml", dir);
	web_config__free(&wc);
	dup2(null, STDERR_FILENO);
	err = web_config__load(path, &wc);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(null);
	return err;
}

#define HASH "$2y$10$8Tp0pH6BZ1Y8wBqQe0xr6e2jKk0Yv1m7YgS8bY2Y5p0J8s0Y8cF7u"

static void tls_with_files_relative_to_the_config(void)
{
	CHECK_EQ(load("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"), 0);
	CHECK(wc.tls);
	CHECK_STR(wc.cert_pem, "CERT\n");
	CHECK_STR(wc.key_pem, "KEY\n");
	CHECK(!wc.client_ca_pem);
	CHECK_EQ(wc.client_auth, WEB_CLIENT_NONE);
	CHECK_EQ(wc.min_version, WEB_TLS12); /* exporter-toolkit's defaults */
	CHECK_EQ(wc.max_version, WEB_TLS13);
	CHECK_EQ(load("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
		      "  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n"
		      "  min_version: TLS13\n"),
		 0);
	CHECK_STR(wc.client_ca_pem, "CA\n");
	CHECK_EQ(wc.client_auth, WEB_CLIENT_REQUIRE_AND_VERIFY);
	CHECK_EQ(wc.min_version, WEB_TLS13);
}

static void basic_auth_users(void)
{
	CHECK_EQ(load("basic_auth_users:\n  prometheus: " HASH "\n  alice: '" HASH "'\n"), 0);
	CHECK(!wc.tls);
	CHECK_EQ(wc.n_users, 2);
	CHECK_STR(wc.users[0].name, "prometheus");
	CHECK_STR(wc.users[1].name, "alice");
	CHECK_STR(wc.users[1].hash, HASH);
	/* http2 is accepted and means nothing here; an empty file is no configuration */
	CHECK_EQ(load("http_server_config:\n  http2: false\n"), 0);
	CHECK_EQ(load(""), 0);
	CHECK(!wc.tls && !wc.n_users);
}

static void mistakes_are_refused(void)
{
	CHECK_EQ(load("tls_server_config:\n  cert_file: server.crt\n"), -EINVAL); /* no key */
	CHECK(!wc.cert_pem); /* nothing half loaded */
	CHECK_EQ(load("tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n"),
		 -ENOENT);
	CHECK_EQ(load("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
		      "  client_auth_type: RequireAnyClientCert\n"),
		 -EINVAL); /* a client CA is needed */
	CHECK_EQ(load("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
		      "  client_auth_type: Sometimes\n"),
		 -EINVAL);
	CHECK_EQ(load("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
		      "  min_version: TLS13\n  max_version: TLS12\n"),
		 -EINVAL);
	CHECK_EQ(load("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
		      "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n"),
		 -EINVAL);
	CHECK_EQ(load("basic_auth_users:\n  alice: secret\n"), -EINVAL); /* not a bcrypt hash */
	CHECK_EQ(load("basic_auth_users:\n  'a:b': " HASH "\n"), -EINVAL);
	CHECK_EQ(load("basic_auth_users: [alice]\n"), -EINVAL);
	CHECK_EQ(load("http_server_config:\n  headers: {X-Frame-Options: deny}\n"), -EINVAL);
	CHECK_EQ(load("tls_config:\n  cert_file: server.crt\n"), -EINVAL); /* unknown key */
	CHECK_EQ(load("- a list\n"), -EINVAL);
	CHECK_EQ(load("tls_server_config: {cert_file: [unclosed\n"), -EINVAL); /* not YAML */
}

int main(void)
{
	char path[256];

	if (!mkdtemp(dir))
		return 1;
	write_file("server.crt", "CERT\n");
	write_file("server.key", "KEY\n");
	write_file("ca.crt", "CA\n");
	RUN(tls_with_files_relative_to_the_config);
	RUN(basic_auth_users);
	RUN(mistakes_are_refused);
	web_config__free(&wc);
	for (const char *const *n = (const char *const[]){ "web.yml", "server.crt", "server.key",
							   "ca.crt", NULL };
	     *n; n++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *n);
		unlink(path);
	}
	rmdir(dir);
	return unit_report("webconfig");
}
