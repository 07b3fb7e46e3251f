// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel boundary: check the kernel and privileges, open, load and attach the BPF
 * programs, and give the rest of the daemon the maps, ring buffer, counters and
 * uprobes it needs. The only file that includes the skeleton.
 */
#include <elf.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "buf.h"
#include "capture.h"
#include "common.h"
#include "kernel.h"
#include "log.h"
#include "selectors.h"
#include "redscope.skel.h"

#define MIN_KERNEL_MAJOR 5
#define MIN_KERNEL_MINOR 8
#define BTF_PATH "/sys/kernel/btf/vmlinux"
#define TRACEFS_PATH "/sys/kernel/tracing"
#define BPFFS_PATH "/sys/fs/bpf"
#define BPF_FS_MAGIC 0xcafe4a11
#define RS_CAP_PERFMON 38
#define RS_CAP_BPF 39

/* Syscall exits that share the exit_io program (sys_exit_read attaches by section). */
static const char *const io_exits[] = {
	"sys_exit_recvfrom", "sys_exit_readv",	 "sys_exit_recvmsg",    "sys_exit_write",
	"sys_exit_sendto",   "sys_exit_writev", "sys_exit_sendmsg",    "sys_exit_sendfile64",
	"sys_exit_splice",
};
static struct bpf_link *io_exit_links[ARRAY_SIZE(io_exits)];
static struct redscope_bpf *skel;
static bool busy_atomics;    /* targ_atomic_fetch: busy time in the targets map alone */
static uint64_t loaded_ns;   /* CLOCK_MONOTONIC before the programs were loaded */


static bool has_cap(const struct __user_cap_data_struct data[2], int cap)
{
	return data[cap / 32].effective & (1u << (cap % 32));
}

static int check_privileges(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data)) {
		p_err("cannot read the capabilities of redscope: %s", strerror(errno));
		return -errno;
	}
	if (has_cap(data, CAP_SYS_ADMIN) || (has_cap(data, RS_CAP_BPF) && has_cap(data, RS_CAP_PERFMON)))
		return 0;
	p_err("redscope needs root, or the capabilities CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE and "
	      "CAP_DAC_READ_SEARCH: run it with sudo");
	return -EPERM;
}

static int check_kernel(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) == 0 && sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
	    (major < MIN_KERNEL_MAJOR || (major == MIN_KERNEL_MAJOR && minor < MIN_KERNEL_MINOR))) {
		p_err("kernel %s is too old: redscope needs Linux >= %d.%d with BTF", u.release,
		      MIN_KERNEL_MAJOR, MIN_KERNEL_MINOR);
		return -ENOTSUP;
	}
	if (access(BTF_PATH, R_OK)) {
		p_err("kernel has no BTF (%s missing): redscope needs Linux >= %d.%d built with "
		      "CONFIG_DEBUG_INFO_BTF=y",
		      BTF_PATH, MIN_KERNEL_MAJOR, MIN_KERNEL_MINOR);
		return -ENOTSUP;
	}
	return 0;
}

/* Syscall tracepoints are found through tracefs; mount it when nobody did. */
static int ensure_tracefs(void)
{
	if (!access(TRACEFS_PATH "/events", F_OK) || !access("/sys/kernel/debug/tracing/events", F_OK))
		return 0;
	if (mount("tracefs", TRACEFS_PATH, "tracefs", 0, NULL)) {
		p_err("tracefs is not mounted and mounting it on %s failed (%s): mount it with "
		      "'mount -t tracefs tracefs %s' or run redscope as root",
		      TRACEFS_PATH, strerror(errno), TRACEFS_PATH);
		return -errno;
	}
	p_info("mounted tracefs on %s", TRACEFS_PATH);
	return 0;
}

static void ensure_bpffs(void)
{
	struct statfs st;

	if (!statfs(BPFFS_PATH, &st) && st.f_type == BPF_FS_MAGIC)
		return;
	/* redscope pins nothing: a bpffs is a courtesy to bpftool users, not a need */
	if (mount("bpf", BPFFS_PATH, "bpf", 0, NULL))
		p_debug("bpffs is not mounted on %s and mounting it failed: %s", BPFFS_PATH,
			strerror(errno));
	else
		p_info("mounted bpffs on %s", BPFFS_PATH);
}

int kernel__preflight(void)
{
	int err;

	err = check_kernel();
	if (!err)
		err = check_privileges();
	if (!err)
		err = ensure_tracefs();
	if (!err)
		ensure_bpffs();
	return err;
}

/* Entries of the watched byte array: enough for every process id pid_max allows. */
static __u32 tgid_chunks(void)
{
	unsigned long pid_max = 4194304;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
	__u32 n;

	if (f) {
		if (fscanf(f, "%lu", &pid_max) != 1)
			pid_max = 4194304;
		fclose(f);
	}
	n = (pid_max + RS_TGID_CHUNK - 1) / RS_TGID_CHUNK;
	return n < 1 ? 1 : n > RS_MAX_TGID_CHUNKS ? RS_MAX_TGID_CHUNKS : n;
}

static bool tracepoint_exists(const char *category, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), TRACEFS_PATH "/events/%s/%s", category, name);
	if (!access(path, F_OK))
		return true;
	snprintf(path, sizeof(path), "/sys/kernel/debug/tracing/events/%s/%s", category, name);
	return !access(path, F_OK);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && log_level < LOG_DEBUG)
		return 0;
	if (level == LIBBPF_INFO && log_level < LOG_INFO)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static enum capture capture_used;

enum capture kernel__capture(void)
{
	return capture_used;
}

/* Does the kernel's BTF know a type of this name and kind (a tracepoint, a function)? */
static bool kernel_btf_has(const char *name, __u32 kind)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool found;

	if (!btf)
		return false;
	found = btf__find_by_name_kind(btf, name, kind) >= 0;
	btf__free(btf);
	return found;
}

/*
 * Does the verifier take BPF atomics that return the old value (Linux 5.12)? Asked of
 * the kernel itself, by loading the smallest program that uses one, so a backport
 * counts. A kernel without them gets the object without them (elf_without_fetch_atomics).
 */
static bool kernel_has_atomic_fetch(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .imm = 0 },
		{ .code = BPF_STX | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_10, .src_reg = BPF_REG_1, .off = -8 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .imm = 1 },
		{ .code = BPF_STX | BPF_ATOMIC | BPF_DW, .dst_reg = BPF_REG_10, .src_reg = BPF_REG_1,
		  .off = -8, .imm = BPF_ADD | BPF_FETCH },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_0, .src_reg = BPF_REG_1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, NULL, "GPL", insns,
			       sizeof(insns) / sizeof(insns[0]), NULL);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/*
 * The object's ELF with every fetching atomic add (BPF_ADD | BPF_FETCH) made a plain
 * atomic add, for kernels before 5.12: they refuse an instruction they do not know
 * even where the rodata makes it dead code, and target_active_add's branch that uses
 * them never runs there (targ_atomic_fetch is false). Only instructions of executable
 * sections are looked at. NULL when it cannot be copied.
 */
static void *elf_without_fetch_atomics(const void *elf, size_t size, int *patched)
{
	const Elf64_Ehdr *eh = elf;
	unsigned char *copy;

	*patched = 0;
	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    eh->e_shoff > size || (size - eh->e_shoff) / sizeof(Elf64_Shdr) < eh->e_shnum)
		return NULL;
	copy = malloc(size);
	if (!copy)
		return NULL;
	memcpy(copy, elf, size);
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		const Elf64_Shdr *sh = (const Elf64_Shdr *)(copy + eh->e_shoff) + i;
		struct bpf_insn *insn;

		if (sh->sh_type != SHT_PROGBITS || !(sh->sh_flags & SHF_EXECINSTR) ||
		    sh->sh_offset > size || sh->sh_size > size - sh->sh_offset)
			continue;
		insn = (struct bpf_insn *)(copy + sh->sh_offset);
		for (size_t k = 0; k < sh->sh_size / sizeof(*insn); k++) {
			if (BPF_CLASS(insn[k].code) == BPF_STX && BPF_MODE(insn[k].code) == BPF_ATOMIC &&
			    insn[k].imm == (BPF_ADD | BPF_FETCH)) {
				insn[k].imm = BPF_ADD;
				(*patched)++;
			}
		}
	}
	return copy;
}

/*
 * The skeleton, opened from the object as built, or, where the kernel has no fetching
 * atomics, from a copy without them (kept for the life of the process: libbpf reads
 * the ELF until load).
 */
static struct redscope_bpf *open_skeleton(bool atomics)
{
	static void *patched_elf;
	struct redscope_bpf *obj = calloc(1, sizeof(*obj));
	int err, n = 0;

	if (!obj)
		return NULL;
	err = redscope_bpf__create_skeleton(obj);
	if (!err && !atomics) {
		if (!patched_elf)
			patched_elf = elf_without_fetch_atomics(obj->skeleton->data,
								 obj->skeleton->data_sz, &n);
		if (!patched_elf)
			err = -ENOMEM;
		else
			obj->skeleton->data = patched_elf;
		p_debug("no fetching BPF atomics: %d made plain atomic adds", n);
	}
	if (!err)
		err = bpf_object__open_skeleton(obj->skeleton, NULL);
	if (err) {
		redscope_bpf__destroy(obj);
		errno = -err;
		return NULL;
	}
	return obj;
}

/* Does the kernel's BTF enum `type` have a value named `name` (a helper, a flag)? */
static bool kernel_btf_enum_has(const char *type, const char *name)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_enum *e;
	const struct btf_type *t;
	bool found = false;
	int id;

	if (!btf)
		return false;
	id = btf__find_by_name_kind(btf, type, BTF_KIND_ENUM);
	t = id >= 0 ? btf__type_by_id(btf, id) : NULL;
	e = t ? btf_enum(t) : NULL;
	for (int i = 0; e && i < btf_vlen(t) && !found; i++)
		found = !strcmp(btf__name_by_offset(btf, e[i].name_off), name);
	btf__free(btf);
	return found;
}

/*
 * Can BPF trampolines (fentry/fexit) be attached here? Asked with the smallest fexit
 * program on sock_recvmsg: some kernels build them without the support, some forbid
 * them (lockdown, a seccomp or LSM policy), and the answer is EPERM or ENOTSUPP only
 * at attach time.
 */
static bool probe_trampolines(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FEXIT);
	struct btf *btf = btf__load_vmlinux_btf();
	int id, fd, link;

	if (!btf)
		return false;
	id = btf__find_by_name_kind(btf, "sock_recvmsg", BTF_KIND_FUNC);
	btf__free(btf);
	if (id < 0)
		return false;
	opts.attach_btf_id = id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "rs_probe_fexit", "GPL", insns, ARRAY_SIZE(insns),
			   &opts);
	if (fd < 0)
		return false;
	link = bpf_raw_tracepoint_open(NULL, fd);
	close(fd);
	if (link < 0)
		return false;
	close(link);
	return true;
}

/* The backend to use: the one asked for if the kernel has it, else the cheapest. */
static int choose_capture(enum capture want, enum capture *out)
{
	bool sockets = kernel_btf_has("btf_trace_sock_recv_length", BTF_KIND_TYPEDEF) &&
		       kernel_btf_has("btf_trace_sock_send_length", BTF_KIND_TYPEDEF);
	bool fentry = !sockets || want == CAPTURE_FENTRY ? probe_trampolines() : false;

	if (want == CAPTURE_SOCKETS && !sockets) {
		p_err("--capture=sockets: this kernel has no sock_recv_length and sock_send_length "
		      "tracepoints (Linux 6.3 and later have them): use --capture=auto");
		return -ENOTSUP;
	}
	if (want == CAPTURE_FENTRY && !fentry) {
		p_err("--capture=fentry: this kernel cannot attach BPF trampolines (fexit on "
		      "sock_recvmsg failed: not built in, or forbidden): use --capture=auto");
		return -ENOTSUP;
	}
	if (want != CAPTURE_AUTO) {
		*out = want;
		return 0;
	}
	*out = sockets ? CAPTURE_SOCKETS : fentry ? CAPTURE_FENTRY : CAPTURE_SYSCALLS;
	return 0;
}

/* Which backend a program belongs to, by its section; CAPTURE_AUTO: every backend. */
static unsigned int capture_of(const struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog);

	if (!strncmp(sec, "tracepoint/syscalls/", 20))
		return 1u << CAPTURE_SYSCALLS;
	if (!strncmp(sec, "tp_btf/", 7))
		return 1u << CAPTURE_SOCKETS;
	if (!strncmp(sec, "fexit/", 6) || !strncmp(sec, "fentry/", 7))
		return 1u << CAPTURE_FENTRY;
	if (!strcmp(sec, "tracepoint/sock/inet_sock_set_state") ||
	    !strcmp(sec, "tracepoint/tcp/tcp_destroy_sock"))
		return 1u << CAPTURE_SYSCALLS | 1u << CAPTURE_FENTRY;
	return ~0u;
}

/*
 * Does a program of the chosen backend have what it needs here? A trampoline needs
 * its function in the kernel (tcp_sendpage is gone in 6.5); the entries that note an
 * iterator are for kernels without bpf_task_pt_regs only.
 */
static bool program_fits(const struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog);

	if (!strncmp(sec, "fentry/", 7) && skel->rodata->targ_task_pt_regs)
		return false;
	if (!strncmp(sec, "fentry/", 7) || !strncmp(sec, "fexit/", 6))
		return kernel_btf_has(strchr(sec, '/') + 1, BTF_KIND_FUNC);
	return true;
}

static void say_capture(enum capture c, enum capture asked)
{
	static const char *const why[CAPTURE__COUNT] = {
		[CAPTURE_SOCKETS] = "the socket tracepoints sock_recv_length and sock_send_length: "
				    "no syscall tracepoint is on, processes that do no socket I/O "
				    "pay nothing",
		[CAPTURE_FENTRY] = "fexit on the kernel's socket receive and send functions (this "
				   "kernel has no socket tracepoints, Linux 6.3): no syscall "
				   "tracepoint is on",
		[CAPTURE_SYSCALLS] = "syscall tracepoints, which slow every syscall of every "
				     "process on the host (this kernel has neither the socket "
				     "tracepoints of Linux 6.3 nor BPF trampolines)",
	};

	if (c == CAPTURE_SYSCALLS && asked == CAPTURE_SYSCALLS)
		p_info("capture: syscalls, as asked: syscall tracepoints, which slow every syscall "
		       "of every process on the host");
	else if (c == CAPTURE_SYSCALLS)
		p_warn("capture: syscalls: %s", why[c]);
	else
		p_info("capture: %s: %s", capture_names[c], why[c]);
}

static int fill_selectors(const struct selectors *sel)
{
	__u8 one = 1;

	for (size_t i = 0; i < sel->n_comms; i++) {
		char comm[16] = {};

		strncpy(comm, sel->comms[i], sizeof(comm) - 1);
		if (bpf_map__update_elem(skel->maps.sel_comms, comm, sizeof(comm), &one, sizeof(one), 0))
			goto fail;
	}
	for (size_t i = 0; i < sel->n_ports; i++)
		if (bpf_map__update_elem(skel->maps.sel_ports, &sel->ports[i], sizeof(sel->ports[i]),
					 &one, sizeof(one), 0))
			goto fail;
	for (__u32 i = 0; i < sel->n_cgroups; i++) {
		__u32 fd = sel->cgroup_fd[i];

		if (bpf_map__update_elem(skel->maps.sel_cgroups, &i, sizeof(i), &fd, sizeof(fd), 0))
			goto fail;
	}
	return 0;
fail:
	p_err("failed to store the process selectors in the kernel: %s", strerror(errno));
	return -errno;
}

int kernel__open_and_attach(const struct kernel_opts *opts)
{
	struct bpf_program *prog;
	enum capture capture;
	int err;

	libbpf_set_print(libbpf_print);
	err = choose_capture(opts->capture, &capture);
	if (err)
		return err;
	/* kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK */
	setrlimit(RLIMIT_MEMLOCK, &(struct rlimit){ RLIM_INFINITY, RLIM_INFINITY });
	busy_atomics = kernel_has_atomic_fetch();
	skel = open_skeleton(busy_atomics);
	if (!skel) {
		p_err("failed to open the BPF object: %s", strerror(errno));
		return -errno;
	}
	skel->rodata->targ_self_tgid = getpid();
	skel->rodata->targ_auto = !opts->sel->n_pids;
	skel->rodata->targ_sel_comm = opts->sel->n_comms > 0;
	skel->rodata->targ_sel_port = opts->sel->n_ports > 0;
	skel->rodata->targ_sel_cgroups = opts->sel->n_cgroups;
	/* the fentry capture on kernels before 5.15 reads buffers from the iterators */
	skel->rodata->targ_task_pt_regs = kernel_btf_enum_has("bpf_func_id", "BPF_FUNC_task_pt_regs");
	skel->rodata->targ_atomic_fetch = busy_atomics;
	skel->rodata->targ_client = opts->client;
	loaded_ns = mono_ns();
	bpf_object__for_each_program(prog, skel->obj)
		if (!(capture_of(prog) & (1u << capture)) || !program_fits(prog))
			bpf_program__set_autoload(prog, false);
	/*
	 * A syscall the architecture or the kernel does not have has no tracepoint, and
	 * nothing needs its program: dup2(2) on arm64 (its libc calls dup3), close_range(2)
	 * before Linux 5.9.
	 */
	if (!tracepoint_exists("syscalls", "sys_enter_dup2"))
		bpf_program__set_autoload(skel->progs.enter_dup2, false);
	if (!tracepoint_exists("syscalls", "sys_enter_close_range"))
		bpf_program__set_autoload(skel->progs.enter_close_range, false);
	bpf_map__set_max_entries(skel->maps.watched, tgid_chunks());
	if (opts->max_processes) {
		bpf_map__set_max_entries(skel->maps.targets, opts->max_processes);
		bpf_map__set_max_entries(skel->maps.busy_open, opts->max_processes);
	}
	if (busy_atomics)
		bpf_map__set_max_entries(skel->maps.busy_open, 1); /* not used */
	if (opts->max_connections) {
		bpf_map__set_max_entries(skel->maps.conns, opts->max_connections);
		bpf_map__set_max_entries(skel->maps.ssl_socks, opts->max_connections);
	}

	err = redscope_bpf__load(skel);
	if (err) {
		if (err == -EPERM || err == -EACCES)
			p_err("the kernel refused to load the BPF programs (%s): redscope needs "
			      "CAP_BPF and CAP_PERFMON or CAP_SYS_ADMIN; in a container, grant them "
			      "or run privileged",
			      strerror(-err));
		else
			p_err("failed to load the BPF programs: %s (run with --log.level=debug "
			      "for the verifier log)",
			      strerror(-err));
		goto fail;
	}
	/* before attaching: a process accepting meanwhile must meet the selectors */
	err = fill_selectors(opts->sel);
	if (err)
		goto fail;
	err = redscope_bpf__attach(skel);
	if (err) {
		p_err("failed to attach the BPF programs: %s", strerror(-err));
		goto fail;
	}
	for (size_t i = 0; capture == CAPTURE_SYSCALLS && i < ARRAY_SIZE(io_exits); i++) {
		io_exit_links[i] =
			bpf_program__attach_tracepoint(skel->progs.exit_io, "syscalls", io_exits[i]);
		if (!io_exit_links[i]) {
			err = -errno;
			p_err("failed to attach to tracepoint syscalls:%s: %s", io_exits[i],
			      strerror(-err));
			goto fail;
		}
	}
	capture_used = capture;
	say_capture(capture, opts->capture);
	return 0;
fail:
	kernel__destroy();
	return err;
}

/* Keep only the capabilities in mask (two 32-bit words), everywhere. */
static int keep_only(const __u32 mask[2])
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	/* the bounding set first: dropping from it takes CAP_SETPCAP, about to go */
	for (int cap = 0; cap <= 63; cap++)
		if (!(mask[cap / 32] & (1u << (cap % 32))) &&
		    prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
			prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (int i = 0; i < 2; i++) {
		data[i].permitted &= mask[i];
		data[i].effective &= mask[i];
		data[i].inheritable = 0;
	}
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ? -errno : 0;
}

/*
 * Can a process with only mask create a uprobe? Kernels since 5.8 allow it with
 * CAP_PERFMON; some still demand CAP_SYS_ADMIN. Asked of a child that drops its
 * capabilities and opens a uprobe event on its own executable (never enabled).
 */
static bool uprobes_allowed_with(const __u32 mask[2])
{
	struct perf_event_attr attr = { .size = sizeof(attr) };
	char buf[32] = "";
	int status = 0, fd;
	pid_t pid = fork();
	ssize_t n;

	if (pid < 0)
		return false;
	if (pid == 0) {
		fd = open("/sys/bus/event_source/devices/uprobe/type", O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (n <= 0 || keep_only(mask))
			_exit(2);
		attr.type = (__u32)strtoul(buf, NULL, 10);
		attr.config1 = (__u64)(unsigned long)"/proc/self/exe";
		attr.config2 = 0;
		fd = syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
		_exit(fd >= 0 ? 0 : 1);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * Once the programs are attached and the metrics socket is bound, keep only what
 * running needs: CAP_BPF (every bpf() call, with unprivileged BPF disabled),
 * CAP_PERFMON (uprobes on libraries found later), CAP_SYS_PTRACE (other processes'
 * /proc/PID/environ, maps, root) and CAP_DAC_READ_SEARCH (their /proc files and the
 * container runtime's bundles). Everything else goes, from the bounding set too, and
 * no exec can gain privileges back.
 */
int kernel__drop_privileges(void)
{
	static const int keep[] = { RS_CAP_BPF, RS_CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH };
	__u32 mask[2] = {};
	int err;

	for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
		mask[keep[i] / 32] |= 1u << (keep[i] % 32);
	if (!uprobes_allowed_with(mask)) {
		mask[CAP_SYS_ADMIN / 32] |= 1u << (CAP_SYS_ADMIN % 32);
		p_info("this kernel allows uprobes only with CAP_SYS_ADMIN: kept, for HTTPS capture");
	}
	err = keep_only(mask);
	if (err)
		p_warn("cannot drop capabilities: %s", strerror(-err));
	else
		p_debug("capabilities dropped: kept CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, "
			"CAP_DAC_READ_SEARCH%s",
			mask[CAP_SYS_ADMIN / 32] & (1u << (CAP_SYS_ADMIN % 32)) ? ", CAP_SYS_ADMIN" : "");
	return err;
}

void kernel__destroy(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(io_exit_links); i++) {
		bpf_link__destroy(io_exit_links[i]);
		io_exit_links[i] = NULL;
	}
	redscope_bpf__destroy(skel);
	skel = NULL;
}

bool kernel__busy_plausible(uint64_t busy_ns)
{
	return busy_ns <= mono_ns() - loaded_ns;
}

uint64_t kernel__busy_ns(__u32 tgid, struct rs_target *t)
{
	int fd = kernel__map_fd(KMAP_TARGETS);
	uint64_t now, busy;
	__u64 since;

	for (int tries = 0; tries < 4; tries++) {
		now = mono_ns(); /* after the entry was read: no interval opened later */
		if (!busy_atomics) {
			/* a request is still going: since its busy interval's start */
			if (t->active <= 0 ||
			    bpf_map_lookup_elem(kernel__map_fd(KMAP_BUSY_OPEN), &tgid, &since))
				since = 0;
			return rs_busy_ns(t, 0, since, now);
		}
		busy = rs_busy_ns(t, 1, 0, now);
		if (busy <= now - loaded_ns)
			return busy;
		if (bpf_map_lookup_elem(fd, &tgid, t))
			break;
	}
	return 0;
}

int kernel__map_fd(enum kernel_map m)
{
	struct bpf_map *map;

	if (!skel)
		return -1;
	switch (m) {
	case KMAP_TARGETS: map = skel->maps.targets; break;
	case KMAP_WATCHED: map = skel->maps.watched; break;
	case KMAP_BUSY_OPEN: map = skel->maps.busy_open; break;
	case KMAP_CONNS: map = skel->maps.conns; break;
	case KMAP_PIPELINE: map = skel->maps.pipeline; break;
	case KMAP_FDS: map = skel->maps.fds; break;
	case KMAP_SSL_SOCKS: map = skel->maps.ssl_socks; break;
	case KMAP_CONN_PORTS: map = skel->maps.conn_ports; break;
	default: return -1;
	}
	return bpf_map__fd(map);
}

void kernel__stats(uint64_t out[RS_STAT__COUNT])
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;

	memset(out, 0, RS_STAT__COUNT * sizeof(*out));
	if (!skel || ncpu <= 0)
		return;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return;
	for (__u32 i = 0; i < RS_STAT__COUNT; i++) {
		if (bpf_map__lookup_elem(skel->maps.stats, &i, sizeof(i), vals,
					 (size_t)ncpu * sizeof(*vals), 0))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[i] += vals[c];
	}
	free(vals);
}

struct ring_buffer *kernel__ring_buffer(ring_buffer_sample_fn fn, void *ctx)
{
	return skel ? ring_buffer__new(bpf_map__fd(skel->maps.events), fn, ctx, NULL) : NULL;
}

struct bpf_link *kernel__attach_ssl(enum kernel_ssl_probe p, const char *path, const char *func)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = func, .retprobe = p == KSSL_RETURN);
	struct bpf_program *prog;

	if (!skel) {
		errno = ENOENT;
		return NULL;
	}
	switch (p) {
	case KSSL_READ: prog = skel->progs.ssl_read_enter; break;
	case KSSL_WRITE: prog = skel->progs.ssl_write_enter; break;
	case KSSL_READ_EX: prog = skel->progs.ssl_read_ex_enter; break;
	case KSSL_WRITE_EX: prog = skel->progs.ssl_write_ex_enter; break;
	default: prog = skel->progs.ssl_exit; break;
	}
	return bpf_program__attach_uprobe_opts(prog, -1, path, 0, &opts);
}
