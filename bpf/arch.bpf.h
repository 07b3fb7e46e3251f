/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What differs between architectures: the syscall in progress and its arguments as
 * the saved user registers hold them (bpf_task_pt_regs: a pointer the verifier
 * trusts, read directly), and the syscall numbers.
 */
#ifndef REDSCOPE_ARCH_BPF_H
#define REDSCOPE_ARCH_BPF_H

#if defined(__TARGET_ARCH_x86)
#define RS_SYSCALL_NR(regs) ((regs)->orig_ax)
#define RS_SYSCALL_ARG1(regs) ((regs)->si)
#define RS_SYSCALL_ARG2(regs) ((regs)->dx)
#define RS_NR_READ 0
#define RS_NR_WRITE 1
#define RS_NR_READV 19
#define RS_NR_WRITEV 20
#define RS_NR_SENDFILE 40
#define RS_NR_SENDTO 44
#define RS_NR_RECVFROM 45
#define RS_NR_SENDMSG 46
#define RS_NR_RECVMSG 47
#define RS_NR_SPLICE 275
#elif defined(__TARGET_ARCH_arm64)
/* x0 is the first argument until the syscall returns; the others are x1, x2 */
#define RS_SYSCALL_NR(regs) ((regs)->syscallno)
#define RS_SYSCALL_ARG1(regs) ((regs)->regs[1])
#define RS_SYSCALL_ARG2(regs) ((regs)->regs[2])
#define RS_NR_READ 63
#define RS_NR_WRITE 64
#define RS_NR_READV 65
#define RS_NR_WRITEV 66
#define RS_NR_SENDFILE 71
#define RS_NR_SPLICE 76
#define RS_NR_SENDTO 206
#define RS_NR_RECVFROM 207
#define RS_NR_SENDMSG 211
#define RS_NR_RECVMSG 212
#else
#error "redscope's BPF programs know x86 and arm64 only"
#endif

#endif /* REDSCOPE_ARCH_BPF_H */
