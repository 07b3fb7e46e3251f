// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTPS without keys: uprobes on the OpenSSL libraries watched processes map.
 *
 * A uprobe belongs to a file, not a process: each libssl file (told apart by device
 * and inode, seen through /proc/PID/root so that containers' own copies count) is
 * hooked once, for every process that maps it; the BPF programs check the target
 * first. A process is looked at when it becomes a target and when the kernel sees
 * its first TLS connection (the library may have been loaded late). A process that
 * speaks TLS through no libssl we can hook is reported once.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <bpf/libbpf.h>

#include "common.h"
#include "kernel.h"
#include "log.h"
#include "procfs.h"
#include "selfmetrics.h"
#include "tls.h"

#define MAX_PENDING 1024
#define LINKS_PER_LIB 8

struct tls_lib {
	struct tls_lib *next;
	dev_t dev;
	ino_t ino;
	struct bpf_link *links[LINKS_PER_LIB];
	size_t n_links;
};

static struct tls_lib *libs;
static size_t n_libs;
static uint64_t unsupported; /* processes speaking TLS redscope cannot read */

/* Processes to look at, queued by the ringbuf callback: attaching takes a while. */
static struct {
	pid_t pid;
	bool tls_seen;
} pending[MAX_PENDING];
static size_t n_pending;

/* Is the file of this mapping OpenSSL's libssl (libssl.so.3, libssl.so.1.1)? */
static bool is_libssl(const char *path)
{
	const char *base = strrchr(path, '/');

	return base && !strncmp(base + 1, "libssl.so", strlen("libssl.so"));
}

static struct tls_lib *find_lib(dev_t dev, ino_t ino)
{
	for (struct tls_lib *l = libs; l; l = l->next)
		if (l->dev == dev && l->ino == ino)
			return l;
	return NULL;
}

/* Attach one probe; 0 or a negative errno. */
static int attach_one(struct tls_lib *lib, enum kernel_ssl_probe probe, const char *path,
		      const char *func)
{
	struct bpf_link *link;
	int err;

	if (lib->n_links == LINKS_PER_LIB)
		return -E2BIG;
	link = kernel__attach_ssl(probe, path, func);
	if (!link) {
		err = -errno;
		p_debug("cannot attach a uprobe to %s in %s: %s", func, path, strerror(-err));
		return err ? err : -EINVAL;
	}
	lib->links[lib->n_links++] = link;
	return 0;
}

/*
 * Hook the four calls of one library. The return probe goes first: a call that
 * enters before its return is hooked must not leave a record behind. SSL_read and
 * SSL_write are required; the _ex calls exist from OpenSSL 1.1.1 on.
 */
static int attach_lib(struct tls_lib *lib, const char *path)
{
	const struct {
		const char *func;
		enum kernel_ssl_probe enter;
		bool required;
	} calls[] = {
		{ "SSL_read", KSSL_READ, true },
		{ "SSL_write", KSSL_WRITE, true },
		{ "SSL_read_ex", KSSL_READ_EX, false },
		{ "SSL_write_ex", KSSL_WRITE_EX, false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(calls); i++) {
		int err = attach_one(lib, KSSL_RETURN, path, calls[i].func);

		if (!err)
			err = attach_one(lib, calls[i].enter, path, calls[i].func);
		if (err && calls[i].required)
			return err;
	}
	return 0;
}

static void lib_detach(struct tls_lib *lib)
{
	for (size_t i = 0; i < lib->n_links; i++)
		bpf_link__destroy(lib->links[i]);
	lib->n_links = 0;
}

/*
 * Hook every libssl the process maps that is not hooked yet. Returns how many
 * libssl files it maps that are hooked, or -1 when its maps cannot be read.
 */
static int scan(pid_t pid)
{
	char maps[64], line[PATH_MAX + 128], path[PATH_MAX], full[PATH_MAX + 32];
	int hooked = 0, err;
	struct stat st;
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
	f = fopen(maps, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		struct tls_lib *lib;

		/* start-end perms offset dev inode path */
		if (sscanf(line, "%*s %*s %*s %*s %*s %4095s", path) != 1 || path[0] != '/' ||
		    !is_libssl(path) || strstr(line, " (deleted)"))
			continue;
		snprintf(full, sizeof(full), "/proc/%d/root%s", pid, path);
		if (stat(full, &st))
			continue;
		lib = find_lib(st.st_dev, st.st_ino);
		if (lib) {
			hooked += lib->n_links > 0;
			continue;
		}
		lib = calloc(1, sizeof(*lib));
		if (!lib)
			break;
		lib->dev = st.st_dev;
		lib->ino = st.st_ino;
		err = attach_lib(lib, full);
		if (err == -EACCES || err == -EPERM) {
			p_warn("cannot hook SSL_read and SSL_write in %s (process %d): this kernel "
			       "allows uprobes only with CAP_SYS_ADMIN (Linux 6.16, and stable "
			       "kernels since July 2025); grant it to see HTTPS requests",
			       path, pid);
			lib_detach(lib);
		} else if (err) {
			p_warn("cannot hook SSL_read and SSL_write in %s (process %d): %s; its HTTPS "
			       "requests are not seen",
			       path, pid, strerror(-err));
			lib_detach(lib); /* remembered, so that it is not tried again */
		} else {
			p_info("hooked TLS in %s (process %d)", path, pid);
			__atomic_add_fetch(&n_libs, 1, __ATOMIC_RELAXED); /* read by scrapes */
			hooked++;
		}
		lib->next = libs;
		libs = lib;
	}
	fclose(f);
	return hooked;
}

/* A process whose HTTPS redscope cannot read: counted, and said once. */
static void unreadable(pid_t pid, const char *why)
{
	char comm[64] = "?";

	__atomic_add_fetch(&unsupported, 1, __ATOMIC_RELAXED);
	if (procfs__text(pid, "comm", comm, sizeof(comm)))
		comm[strcspn(comm, "\n")] = '\0';
	p_warn("process %d (%s) %s", pid, comm, why);
}

void tls__queue(pid_t pid, bool tls_seen)
{
	if (n_pending < MAX_PENDING)
		pending[n_pending++] = (typeof(pending[0])){ .pid = pid, .tls_seen = tls_seen };
	else
		p_debug("too many new processes at once: process %d is not checked for libssl", pid);
}

void tls__scan(pid_t pid)
{
	scan(pid);
}

void tls__drain(void)
{
	for (size_t i = 0; i < n_pending; i++) {
		pid_t pid = pending[i].pid;

		if (scan(pid) != 0 || !pending[i].tls_seen)
			continue;
		/* it speaks TLS and maps no libssl */
		unreadable(pid, "speaks TLS without a libssl.so redscope can hook (OpenSSL linked "
				"statically, as in Node.js builds that bundle it, or another TLS "
				"library): its HTTPS requests are not seen");
	}
	n_pending = 0;
}

void tls__memory_bio(pid_t pid)
{
	unreadable(pid, "drives OpenSSL through memory BIOs and decrypts on another thread "
			"than the one reading the socket, or before reading it: SSL_read and "
			"SSL_write there do not say which socket, and the HTTPS on them is not seen");
}

void tls__stats(struct self_stats *st)
{
	st->tls_libraries = __atomic_load_n(&n_libs, __ATOMIC_RELAXED);
	st->tls_unsupported_processes = __atomic_load_n(&unsupported, __ATOMIC_RELAXED);
}

void tls__cleanup(void)
{
	while (libs) {
		struct tls_lib *l = libs;

		libs = l->next;
		lib_detach(l);
		free(l);
	}
	n_libs = 0;
	n_pending = 0;
}
