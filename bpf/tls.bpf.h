/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * TLS plaintext: uprobes on SSL_read, SSL_read_ex, SSL_write and SSL_write_ex of each
 * libssl that targets map (attached by the daemon, once per library file, for every
 * process: the target check comes first). The entry remembers the call; the socket
 * I/O made inside it moves ciphertext and names the SSL object's socket (the capture
 * backend calls ssl_nested); the return feeds the plaintext to that socket's
 * connection as if a read or a write had moved it.
 */
#ifndef REDSCOPE_TLS_BPF_H
#define REDSCOPE_TLS_BPF_H

#include "capture.bpf.h"

#define RS_E2BIG 7 /* errno of a full map */

/*
 * Socket I/O made inside an SSL_read or SSL_write of this thread (id) moves ciphertext:
 * it tells the socket of the SSL object (sk, 0 when unknown) and is not parsed itself.
 * The caller knows the call is in progress (ssl_calls).
 */
static __always_inline void ssl_nested(__u64 id, __u64 sk)
{
	struct rs_ssl_call *call = bpf_map_lookup_elem(&ssl_calls, &id);
	struct rs_ssl_key key;

	if (!call || !sk || call->sk == sk)
		return;
	call->sk = sk;
	key.tgid = id >> 32;
	key.pad = 0;
	key.ssl = call->ssl;
	bpf_map_update_elem(&ssl_socks, &key, &sk, BPF_ANY);
}

/*
 * The socket of an SSL object on a memory BIO, whose calls name none, at an SSL_read of
 * this thread (id) that returned plaintext: the TLS connection the thread read
 * ciphertext from last outside any SSL call, if no SSL object has it yet and it is
 * this process's (an event loop reads a socket, then decrypts what it read, before it
 * reads another). Kept for the SSL object's later calls. 0 when there is none.
 */
static __always_inline __u64 membio_socket(__u64 id, __u64 ssl)
{
	struct rs_ssl_key key = { .tgid = id >> 32, .ssl = ssl };
	__u64 *last = bpf_map_lookup_elem(&membio_reads, &id), sk;
	struct rs_conn *c;

	if (!last)
		return 0;
	sk = *last;
	bpf_map_delete_elem(&membio_reads, &id);
	c = conn_get((struct sock *)sk);
	if (!c || c->ssl || c->tgid != key.tgid || !(c->flags & RS_CONN_TLS))
		return 0;
	bpf_map_update_elem(&ssl_socks, &key, &sk, BPF_ANY);
	return sk;
}

static __always_inline int ssl_enter(__u64 ssl, __u64 buf, __u64 out, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct rs_ssl_key key = { .tgid = id >> 32, .ssl = ssl };
	struct rs_ssl_call call = { .ssl = ssl, .buf = buf, .out = out, .dir = dir };
	struct rs_target *t = target_of(key.tgid);
	__u64 *sk;

	if (!t)
		return 0;
	if (!(t->flags & RS_TARGET_SSL)) {
		target_flags_set(t, RS_TARGET_SSL);
		tgid_watch(key.tgid, RS_WATCHED | RS_WATCHED_SSL);
	}
	sk = bpf_map_lookup_elem(&ssl_socks, &key);
	if (sk)
		call.sk = *sk;
	/* the outer call of any nesting is the one that counts */
	if (bpf_map_update_elem(&ssl_calls, &id, &call, BPF_NOEXIST) == -RS_E2BIG)
		stat_inc(RS_STAT_INFLIGHT_FULL);
	return 0;
}

/*
 * The probes take their arguments through libbpf's BPF_KPROBE and BPF_KRETPROBE, whose
 * PT_REGS_PARM and PT_REGS_RC name each architecture's registers (uprobes see the
 * registers of the function called, as kprobes do). They hand each program its raw
 * context too, unused here, and the arguments before the last one used.
 */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-parameter"

/* SSL_read(ssl, buf, num) */
SEC("uprobe")
int BPF_KPROBE(ssl_read_enter, __u64 ssl, __u64 buf)
{
	return ssl_enter(ssl, buf, 0, RS_DIR_REQ);
}

/* SSL_read_ex(ssl, buf, num, size_t *readbytes) */
SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter, __u64 ssl, __u64 buf, __u64 num, __u64 readbytes)
{
	return ssl_enter(ssl, buf, readbytes, RS_DIR_REQ);
}

/* SSL_write(ssl, buf, num) */
SEC("uprobe")
int BPF_KPROBE(ssl_write_enter, __u64 ssl, __u64 buf)
{
	return ssl_enter(ssl, buf, 0, RS_DIR_RESP);
}

/* SSL_write_ex(ssl, buf, num, size_t *written) */
SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter, __u64 ssl, __u64 buf, __u64 num, __u64 written)
{
	return ssl_enter(ssl, buf, written, RS_DIR_RESP);
}

/*
 * Return of all four: one program, attached to each by the daemon. All four return int:
 * the upper half of the return register is not theirs, and ret leaves it out.
 */
SEC("uretprobe")
int BPF_KRETPROBE(ssl_exit, int ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct rs_ssl_call *callp = bpf_map_lookup_elem(&ssl_calls, &id);
	struct rs_ssl_call call;
	__u64 n = 0;

	if (!callp)
		return 0;
	call = *callp;
	bpf_map_delete_elem(&ssl_calls, &id);
	if (call.out) {
		/* SSL_read_ex, SSL_write_ex: 1 on success, the count through a pointer */
		if (ret != 1 || bpf_probe_read_user(&n, sizeof(n), (void *)call.out))
			return 0;
	} else if (ret > 0) {
		n = ret;
	}
	if (!n)
		return 0;
	if (!call.sk && call.dir == RS_DIR_REQ)
		call.sk = membio_socket(id, call.ssl);
	if (!call.sk) {
		/* a memory BIO: the application moves the ciphertext itself, later */
		stat_inc(RS_STAT_TLS_NO_SOCKET);
		membio_seen(id >> 32);
		return 0;
	}
	conn_io_of((struct sock *)call.sk, id >> 32, call.dir, RS_IO_BUF, call.buf, 0, n, call.ssl);
	return 0;
}

#pragma clang diagnostic pop

#endif /* REDSCOPE_TLS_BPF_H */
