// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --web.config.file: the web configuration file of the Prometheus exporters
 * (exporter-toolkit): TLS with an optional client CA, TLS version bounds, and basic
 * auth users with bcrypt password hashes. Unknown keys are errors, as there.
 * Files it names are read once, at start, relative to the file's directory.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common.h"
#include "log.h"
#include "webconfig.h"

#define PEM_MAX (1024 * 1024)

static const char *const client_auth_names[] = {
	[WEB_CLIENT_NONE] = "NoClientCert",
	[WEB_CLIENT_REQUEST] = "RequestClientCert",
	[WEB_CLIENT_REQUIRE_ANY] = "RequireAnyClientCert",
	[WEB_CLIENT_VERIFY_IF_GIVEN] = "VerifyClientCertIfGiven",
	[WEB_CLIENT_REQUIRE_AND_VERIFY] = "RequireAndVerifyClientCert",
};

static const char *const tls_versions[] = { [WEB_TLS10] = "TLS10", [WEB_TLS11] = "TLS11",
					    [WEB_TLS12] = "TLS12", [WEB_TLS13] = "TLS13" };

struct parse {
	yaml_document_t doc;
	const char *path;
	char dir[PATH_MAX];
	struct web_config *cfg;
};

static int fail(const struct parse *p, const yaml_node_t *n, const char *fmt, const char *what)
{
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, what);
	p_err("invalid --web.config.file %s, line %zu: %s", p->path,
	      n ? n->start_mark.line + 1 : (size_t)0, msg);
	return -EINVAL;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *node(struct parse *p, int id)
{
	return yaml_document_get_node(&p->doc, id);
}

/* Read a whole PEM file, relative to the config file's directory. */
static int read_pem(struct parse *p, const yaml_node_t *n, char **out)
{
	const char *name = scalar(n);
	char path[PATH_MAX * 2];
	size_t len = 0;
	FILE *f;

	if (!name || !name[0])
		return fail(p, n, "%s must be a file name", "a file key");
	snprintf(path, sizeof(path), "%s%s%s", name[0] == '/' ? "" : p->dir,
		 name[0] == '/' ? "" : "/", name);
	f = fopen(path, "re");
	if (!f) {
		p_err("invalid --web.config.file %s: cannot read %s: %s", p->path, path,
		      strerror(errno));
		return -errno;
	}
	free(*out);
	*out = malloc(PEM_MAX + 1);
	if (*out)
		len = fread(*out, 1, PEM_MAX, f);
	fclose(f);
	if (!*out)
		return -ENOMEM;
	(*out)[len] = '\0';
	return 0;
}

static int pick(struct parse *p, const yaml_node_t *n, const char *const *names, size_t count,
		const char *what, int *out)
{
	const char *v = scalar(n);

	for (size_t i = 0; v && i < count; i++) {
		if (names[i] && !strcmp(v, names[i])) {
			*out = (int)i;
			return 0;
		}
	}
	return fail(p, n, "unknown %s", what);
}

static int tls_config(struct parse *p, yaml_node_t *map)
{
	struct web_config *c = p->cfg;
	int err = 0;

	if (map->type != YAML_MAPPING_NODE)
		return fail(p, map, "%s must be a mapping", "tls_server_config");
	for (yaml_node_pair_t *kv = map->data.mapping.pairs.start;
	     !err && kv < map->data.mapping.pairs.top; kv++) {
		const char *key = scalar(node(p, kv->key));
		yaml_node_t *v = node(p, kv->value);
		int x;

		if (!key)
			err = fail(p, v, "%s: keys are names", "tls_server_config");
		else if (!strcmp(key, "cert_file"))
			err = read_pem(p, v, &c->cert_pem);
		else if (!strcmp(key, "key_file"))
			err = read_pem(p, v, &c->key_pem);
		else if (!strcmp(key, "client_ca_file"))
			err = read_pem(p, v, &c->client_ca_pem);
		else if (!strcmp(key, "client_auth_type")) {
			err = pick(p, v, client_auth_names, ARRAY_SIZE(client_auth_names),
				   "client_auth_type", &x);
			c->client_auth = x;
		} else if (!strcmp(key, "min_version")) {
			err = pick(p, v, tls_versions, ARRAY_SIZE(tls_versions), "min_version", &x);
			c->min_version = x;
		} else if (!strcmp(key, "max_version")) {
			err = pick(p, v, tls_versions, ARRAY_SIZE(tls_versions), "max_version", &x);
			c->max_version = x;
		} else {
			err = fail(p, v, "tls_server_config.%s is not supported", key);
		}
	}
	if (err)
		return err;
	if (!c->cert_pem || !c->key_pem)
		return fail(p, map, "%s needs cert_file and key_file", "tls_server_config");
	/* libmicrohttpd asks for client certificates only when it has a CA to name */
	if (c->client_auth != WEB_CLIENT_NONE && !c->client_ca_pem)
		return fail(p, map, "%s other than NoClientCert needs client_ca_file",
			    "client_auth_type");
	if (c->min_version > c->max_version)
		return fail(p, map, "%s is above max_version", "min_version");
	c->tls = true;
	return 0;
}

static bool is_bcrypt(const char *h)
{
	return h && strlen(h) == 60 && h[0] == '$' && h[1] == '2' && strchr("aby", h[2]) &&
	       h[3] == '$';
}

static int users_config(struct parse *p, yaml_node_t *map)
{
	struct web_config *c = p->cfg;

	if (map->type != YAML_MAPPING_NODE)
		return fail(p, map, "%s must be a mapping of user names to bcrypt hashes",
			    "basic_auth_users");
	for (yaml_node_pair_t *kv = map->data.mapping.pairs.start;
	     kv < map->data.mapping.pairs.top; kv++) {
		const char *user = scalar(node(p, kv->key));
		const char *hash = scalar(node(p, kv->value));
		struct web_user *grown;

		if (!user || !user[0] || strchr(user, ':'))
			return fail(p, node(p, kv->key), "%s: a user name without ':'",
				    "basic_auth_users");
		if (!is_bcrypt(hash))
			return fail(p, node(p, kv->value),
				    "the password of %s must be a bcrypt hash ($2y$...)", user);
		grown = realloc(c->users, (c->n_users + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		c->users = grown;
		c->users[c->n_users].name = strdup(user);
		c->users[c->n_users].hash = strdup(hash);
		c->n_users++;
		if (!c->users[c->n_users - 1].name || !c->users[c->n_users - 1].hash)
			return -ENOMEM;
	}
	return 0;
}

static int http_config(struct parse *p, yaml_node_t *map)
{
	if (map->type != YAML_MAPPING_NODE)
		return fail(p, map, "%s must be a mapping", "http_server_config");
	for (yaml_node_pair_t *kv = map->data.mapping.pairs.start;
	     kv < map->data.mapping.pairs.top; kv++) {
		const char *key = scalar(node(p, kv->key));

		/* HTTP/2 is not something libmicrohttpd speaks: HTTP/1.1 it is */
		if (key && !strcmp(key, "http2"))
			continue;
		return fail(p, node(p, kv->value), "http_server_config.%s is not supported",
			    key ? key : "?");
	}
	return 0;
}

int web_config__load(const char *path, struct web_config *c)
{
	struct parse p = { .path = path, .cfg = c };
	yaml_parser_t parser;
	yaml_node_t *root;
	char copy[PATH_MAX];
	FILE *f;
	int err = 0;

	memset(c, 0, sizeof(*c));
	c->min_version = WEB_TLS12; /* exporter-toolkit's default */
	c->max_version = WEB_TLS13;
	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(p.dir, sizeof(p.dir), "%s", dirname(copy));
	f = fopen(path, "re");
	if (!f) {
		p_err("cannot read --web.config.file %s: %s", path, strerror(errno));
		return -errno;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &p.doc)) {
		p_err("invalid --web.config.file %s, line %zu: %s", path, parser.problem_mark.line + 1,
		      parser.problem ? parser.problem : "not YAML");
		yaml_parser_delete(&parser);
		fclose(f);
		return -EINVAL;
	}
	root = yaml_document_get_root_node(&p.doc);
	if (root && root->type != YAML_MAPPING_NODE &&
	    !(root->type == YAML_SCALAR_NODE && !root->data.scalar.length))
		err = fail(&p, root, "%s", "the top level must be a mapping");
	for (yaml_node_pair_t *kv = root && root->type == YAML_MAPPING_NODE
					    ? root->data.mapping.pairs.start
					    : NULL;
	     !err && kv && kv < root->data.mapping.pairs.top; kv++) {
		const char *key = scalar(node(&p, kv->key));
		yaml_node_t *v = node(&p, kv->value);

		if (key && !strcmp(key, "tls_server_config"))
			err = tls_config(&p, v);
		else if (key && !strcmp(key, "basic_auth_users"))
			err = users_config(&p, v);
		else if (key && !strcmp(key, "http_server_config"))
			err = http_config(&p, v);
		else
			err = fail(&p, v, "unknown key %s", key ? key : "?");
	}
	yaml_document_delete(&p.doc);
	yaml_parser_delete(&parser);
	fclose(f);
	if (err)
		web_config__free(c);
	return err;
}

void web_config__free(struct web_config *c)
{
	free(c->cert_pem);
	free(c->key_pem);
	free(c->client_ca_pem);
	for (size_t i = 0; i < c->n_users; i++) {
		free(c->users[i].name);
		free(c->users[i].hash);
	}
	free(c->users);
	memset(c, 0, sizeof(*c));
}
