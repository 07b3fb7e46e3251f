/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* webconfig.c: --web.config.file, the Prometheus exporters' web configuration. */
#ifndef REDSCOPE_WEBCONFIG_H
#define REDSCOPE_WEBCONFIG_H

#include <stdbool.h>
#include <stddef.h>

enum web_client_auth {
	WEB_CLIENT_NONE = 0,
	WEB_CLIENT_REQUEST,
	WEB_CLIENT_REQUIRE_ANY,
	WEB_CLIENT_VERIFY_IF_GIVEN,
	WEB_CLIENT_REQUIRE_AND_VERIFY,
};
enum web_tls_version { WEB_TLS10 = 0, WEB_TLS11, WEB_TLS12, WEB_TLS13 };
struct web_user {
	char *name;
	char *hash; /* bcrypt */
};
struct web_config {
	bool tls;
	char *cert_pem, *key_pem, *client_ca_pem;
	enum web_client_auth client_auth;
	enum web_tls_version min_version, max_version;
	struct web_user *users; /* basic auth; none: no authentication */
	size_t n_users;
};
int web_config__load(const char *path, struct web_config *c);
void web_config__free(struct web_config *c);

#endif /* REDSCOPE_WEBCONFIG_H */
