/* SPDX-License-Identifier: MIT */
/*
 * Records the eBPF program (sysmon.bpf.c) writes into its ring buffer, shared with the agent
 * that drains it (drain.c). Every record starts with a u32 type. Layouts are fixed-width and
 * identical for the BPF target and x86-64.
 *
 * A syscall record names the code that issued it exactly: the kernel resolves the user
 * instruction pointer to (device, inode, file offset) with bpf_find_vma, so a process that has
 * already exited is still mapped correctly. The call site is looked for in the first
 * SM_WINDOW words at the user stack pointer: the first SM_NCAND words that point into an
 * executable file mapping are reported with their word index (the gateway knows, from the
 * binary's unwind tables, at which index the wrapper's return address must be).
 */
#ifndef VIGIL_AGENT_SYSMON_H
#define VIGIL_AGENT_SYSMON_H

#ifdef __bpf__
typedef unsigned char sm_u8;
typedef unsigned short sm_u16;
typedef unsigned int sm_u32;
typedef unsigned long long sm_u64;
#else
#include <stdint.h>
typedef uint8_t sm_u8;
typedef uint16_t sm_u16;
typedef uint32_t sm_u32;
typedef uint64_t sm_u64;
#endif

#define SM_WINDOW 32	     /* user stack words examined for call-site candidates */
#define SM_NCAND 4	     /* candidates reported */
#define SM_PATH_MAX 256	     /* path argument bytes copied (open, exec, stat, ...) */
#define SM_NAME_MAX 512	     /* a mapped file's name: NUL-separated components, leaf first */
#define SM_REPEAT_MAX 65535u /* folded repeats emitted at the latest after this many */
#define SM_REPEAT_JIFFIES 5  /* ... or after this many jiffies (5 to 50 ms) */

enum sm_type {
	SM_SYS = 1, /* struct sm_sys */
	SM_REPEAT,  /* struct sm_repeat: the thread's previous syscall happened COUNT more times */
	SM_FILE,    /* struct sm_file: a mapped file seen for the first time */
	SM_FORK,    /* struct sm_fork: a traced task made a process or a thread */
	SM_EXEC,    /* struct sm_exec */
	SM_EXIT,    /* struct sm_exit */
};

/* Where an address points. */
enum sm_kind {
	SM_K_FILE = 1, /* executable file mapping: dev, ino, off (file offset) valid */
	SM_K_ANON,     /* executable memory without a file (injected or JIT code) */
	SM_K_VDSO,     /* the vDSO */
	SM_K_NOVMA,    /* no mapping at all */
	SM_K_DATA,     /* a mapping that is not executable */
};

struct sm_loc {
	sm_u64 ino;
	sm_u64 off; /* file offset (SM_K_FILE), offset in the vDSO, else the raw address */
	sm_u32 dev; /* kernel dev_t (major << 20 | minor) */
	sm_u8 kind; /* enum sm_kind; 0 = no candidate */
	sm_u8 word; /* candidates: index of the stack word it came from */
	sm_u16 pad;
};

/* argkey: what the arguments say, in a form stable between runs. */
#define SM_A_FDKIND 0x0000000fu	  /* enum sm_fdkind of the fd argument */
#define SM_A_FAMILY 0x00000ff0u	  /* address family (socket, sockaddr or the socket's) << 4 */
#define SM_A_EXEC 0x00001000u	  /* mmap/mprotect asks for PROT_EXEC */
#define SM_A_THREAD 0x00002000u	  /* clone/clone3 makes a thread, not a process */
#define SM_A_PATH 0x00004000u	  /* the record carries a path */
#define SM_A_SOCKTYPE 0x000f0000u /* socket(): type & 0xf << 16 */
#define SM_A_FAMILY_SHIFT 4
#define SM_A_SOCKTYPE_SHIFT 16

enum sm_fdkind {
	SM_FD_NONE = 0,
	SM_FD_REG,
	SM_FD_DIR,
	SM_FD_CHR,
	SM_FD_BLK,
	SM_FD_FIFO,
	SM_FD_SOCK,
	SM_FD_LNK,
	SM_FD_ANON, /* eventfd, epoll, timerfd, memfd-less anon inodes */
	SM_FD_BAD = 15,
};

#define SM_F_LOST 1u /* records of this thread were dropped (ring full) before this one */

struct sm_sys {
	sm_u32 type;
	sm_u32 tgid, tid;
	sm_u32 nr;
	sm_u32 argkey;
	sm_u16 pathlen; /* bytes of path[] used, including the NUL; 0 = none */
	sm_u16 flags;
	sm_u32 unres; /* stack words that could not be looked up (lookup budget spent) */
	sm_u32 pad;
	struct sm_loc ip; /* the user instruction pointer: just after the syscall instruction */
	struct sm_loc cand[SM_NCAND];
	char path[SM_PATH_MAX]; /* only pathlen bytes are sent (the record is cut there) */
};
#define SM_SYS_HDR_LEN ((unsigned long)&((struct sm_sys *)0)->path)

struct sm_repeat {
	sm_u32 type;
	sm_u32 tgid, tid;
	sm_u32 count;
};

struct sm_file {
	sm_u32 type;
	sm_u32 dev;
	sm_u64 ino;
	sm_u32 namelen;
	sm_u32 pad;
	char name[SM_NAME_MAX];
};

struct sm_fork {
	sm_u32 type;
	sm_u32 parent_tgid, parent_tid;
	sm_u32 child_tgid, child_tid;
	sm_u32 pad;
};

struct sm_exec {
	sm_u32 type;
	sm_u32 tgid, tid;
	sm_u32 dev;
	sm_u64 ino;
	sm_u32 pathlen;
	sm_u32 pad;
	char path[SM_PATH_MAX];
};

struct sm_exit {
	sm_u32 type;
	sm_u32 tgid, tid;
	sm_u32 group_dead;
};

/*
 * Syscalls never counted as a repeat on the recorder's fast path (same instruction, arguments
 * and stack pointer as the thread's previous syscall): each is examined in full. Both
 * recorders use this list, so their recordings fold alike.
 */
static inline int sm_sensitive(sm_u32 nr)
{
	switch (nr) {
	case 9 ... 11:	  /* mmap mprotect munmap */
	case 25:	  /* mremap */
	case 41 ... 43:	  /* socket connect accept */
	case 49 ... 50:	  /* bind listen */
	case 56 ... 59:	  /* clone fork vfork execve */
	case 101:	  /* ptrace */
	case 175 ... 176: /* init_module delete_module */
	case 288:	  /* accept4 */
	case 310 ... 311: /* process_vm_readv/writev */
	case 313:	  /* finit_module */
	case 319:	  /* memfd_create */
	case 322:	  /* execveat */
	case 435:	  /* clone3 */
		return 1;
	}
	return 0;
}

/* Per-CPU counters (map "stats"). */
enum sm_stat {
	SM_ST_EVENTS,  /* syscalls of traced tasks */
	SM_ST_FOLDED,  /* ... counted in a repeat instead of a record */
	SM_ST_DROPPED, /* records lost to a full ring */
	SM_ST_VMA,     /* bpf_find_vma lookups */
	SM_ST_NSTATS
};

#endif
