/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* kube.c: Kubernetes pod metadata from cgroups and containerd bundles. */
#ifndef REDSCOPE_KUBE_H
#define REDSCOPE_KUBE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define KUBE_ID_LEN 64	/* container ID: hex digits */
#define KUBE_UID_LEN 36 /* pod UID */
#define KUBE_NAME_MAX 254 /* a DNS subdomain name and its NUL */
struct kube_meta {
	char namespace[KUBE_NAME_MAX];
	char pod[KUBE_NAME_MAX];
	char container[KUBE_NAME_MAX];
};
enum kube_mode { KUBE_AUTO = 0, KUBE_ON, KUBE_OFF };
struct kube_opts {
	enum kube_mode mode; /* auto: on when the runtime's CRI state dir or the API env exists */
	const char *runtime_dir; /* containerd's io.containerd.runtime.v2.task state dir */
};
int kube__init(const struct kube_opts *opts);
bool kube__enabled(void);
/* The pod metadata of a process; false when it is not in a pod's container. */
bool kube__of(pid_t pid, struct kube_meta *out);
/* Forget the containers whose bundle is gone. */
void kube__sweep(void);
size_t kube__containers(void);
void kube__cleanup(void);
/* Pure parsers, for tests: the container ID and pod UID in /proc/PID/cgroup ... */
bool kube_parse_cgroup(const char *data, size_t len, char id[KUBE_ID_LEN + 1],
		       char uid[KUBE_UID_LEN + 1]);
/* ... and the string value of one key of a bundle's config.json. */
bool kube_parse_annotation(const char *json, size_t len, const char *key, char *out,
			   size_t out_len);

#endif /* REDSCOPE_KUBE_H */
