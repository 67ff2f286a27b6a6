/* SPDX-License-Identifier: MIT */
/*
 * Out-of-VM intrusion detection. Two halves, kept apart on purpose (DESIGN.md §2):
 *   gather  reads one snapshot of guest state through introspection (all guest I/O is here)
 *   checks  pure functions of a snapshot (and an optional baseline) that append findings;
 *           they do no I/O, so they can run in an isolated process
 * A finding carries a stable check id, a severity, a target, a one-sentence summary, evidence
 * as a JSON object, and the ATT&CK technique where one fits (DESIGN.md §6).
 */
#ifndef VIGIL_IDS_H
#define VIGIL_IDS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vigil/alert.h"
#include "vigil/json.h"
#include "vigil/linux.h"
#include "vigil/lxobj.h"

#define VG_IDS_MAX_PIDS 65536
#define VG_IDS_MAX_NETDEVS 1024
#define VG_IDS_MAX_SYSCALLS 1024
#define VG_IDS_MAX_LISTEN 4096
#define VG_IDS_MAX_HOOKS 1024

struct vg_pid_entry {
	int32_t nr;		    /* pid number in the initial namespace */
	uint64_t task;		    /* the task that owns it (PIDTYPE_PID), 0 if none */
	char comm[VG_COMM_LEN + 1]; /* that task's comm, read through the allocator's pointer */
};

struct vg_kobj_module {
	char name[64];
	uint64_t mod; /* struct module the sysfs kobject points to */
};

struct vg_netdev {
	char name[16];
	uint32_t flags;
	uint32_t promiscuity;
};

struct vg_sct_entry {
	int nr;
	uint64_t target;
	char sym[96];	/* symbol exactly at target, "" when none */
	char owner[64]; /* module whose memory holds target, "" for kernel text */
};

struct vg_sct {
	const char *name;   /* "sys_call_table", "ia32_sys_call_table", "x32_sys_call_table" */
	const char *prefix; /* expected handler prefix: "__x64_sys_", "__ia32_", "__x32_" */
	int n;
	struct vg_sct_entry *e;
};

#define VG_LISTEN_PEERS 4

struct vg_listen {
	char proto[8]; /* tcp, tcp6, udp, udp6 */
	uint16_t family, port;
	char addr[48];
	uint64_t sock;
	int32_t owner_pid; /* 0 when no task holds it */
	char owner_comm[VG_COMM_LEN + 1];
	const struct vg_task
		*owner; /* that task in the snapshot's task list (exe, argv), or NULL */
	/* processes holding the other end of a pipe that is the owner's stdin or stdout (a shell
	 * there is fed by, or feeds, the connection: mkfifo bind shells) */
	const struct vg_task *peers[VG_LISTEN_PEERS];
	int npeers;
};

struct vg_hook {
	const char *kind; /* "ftrace" or "kprobe" */
	uint64_t obj;	  /* struct ftrace_ops / struct kprobe */
	uint64_t handler; /* callback address */
	char handler_sym[128];
	char owner[64];	  /* module whose memory holds the handler, "" for kernel text */
	char target[256]; /* hooked function(s) */
};

/* ---- the deeper views' records (text.c, gather_dispatch.c, gather_sched.c,
 * gather_modscan.c); see docs/checks.md ---- */

#define VG_IDS_MAX_TEXT_DIFFS 256
#define VG_IDS_MAX_DISPATCH 256
#define VG_IDS_MAX_SCHED 65536
#define VG_IDS_MAX_MODIMG 1024

/* Kernel text that differs from the baseline: a chunk whose keyed hash changed, or a dynamic
 * patch site (jump label, static call, ftrace site, kprobe) holding an instruction the kernel
 * never writes there. */
struct vg_text_diff {
	const char *kind; /* "chunk" or the site kind: "jump-label", "static-call", ... */
	uint64_t va, len; /* the chunk or the site */
	char where[128];  /* symbol+offset at va */
	char funcs[256];  /* functions overlapping the chunk (first few) */
	uint64_t branch;  /* a jmp/call in it that leaves kernel text, 0 if none seen */
	uint64_t target;  /* where that branch goes */
	char target_sym[128];
	char owner[64];	 /* module whose memory holds target, "(unlisted module memory)", "" */
	char detail[96]; /* why a site is wrong, e.g. "jmp to a target the kernel did not set" */
};

/* A direct branch in the syscall dispatcher (x64_sys_call, ...) that does not go to a syscall
 * handler. */
struct vg_dispatch_edge {
	const char *func; /* "x64_sys_call", "x32_sys_call", "ia32_sys_call" */
	uint64_t site, target;
	char insn[16]; /* "jmp", "call", "je", ... */
	char sym[128]; /* symbol at target ("" when none) */
	char owner[64];
};

/* A task seen by the scheduler: a CPU's current task or one queued on its run queue. */
struct vg_sched_task {
	uint64_t task;
	int32_t pid, tgid, cpu;
	const char *where; /* "curr", "cfs", "rt" */
	char comm[VG_COMM_LEN + 1];
};

/* A struct module image found by scanning the module area's mapped pages. */
struct vg_mod_image {
	uint64_t mod;
	char name[64];
	int32_t state;
	uint64_t base, size;
};

/* One consistent look at the guest; every array is owned by the snapshot. */
struct vg_snapshot {
	struct vg_task_list tasks; /* task list view, with threads */
	struct vg_module_list modules;
	struct vg_pid_entry *pids; /* PID allocator view (init_pid_ns IDR) */
	size_t npids;
	bool have_pids;
	struct vg_kobj_module *kobjs; /* sysfs view of modules (module_kset) */
	size_t nkobjs;
	bool have_kobjs;
	struct vg_netdev *netdevs;
	size_t nnetdevs;
	struct vg_listen *listen; /* listening TCP and bound UDP sockets */
	size_t nlisten;
	bool have_listen;
	struct vg_hook *hooks; /* ftrace ops and kprobes */
	size_t nhooks;
	bool have_hooks;
	struct vg_sct sct[3];
	int nsct;
	uint64_t mod_lo, mod_hi; /* module area, for "is this address in a module" */
	char release[64];
	char gather_errors[512]; /* views that could not be read, for the report */

	/* ---- deeper views (text.c, gather_dispatch.c, gather_sched.c, gather_modscan.c) ---- */
	struct vg_text_diff *text_diffs; /* vs the baseline's text ref (vg_ids_gather_text) */
	size_t ntext_diffs;
	bool have_text;
	size_t text_chunks, text_sites;	   /* chunks compared, dynamic sites masked */
	struct vg_dispatch_edge *dispatch; /* foreign branches of the syscall dispatchers */
	size_t ndispatch;
	bool have_dispatch;
	size_t dispatch_branches;    /* direct branches examined */
	struct vg_sched_task *sched; /* run queues: each CPU's curr and queued tasks */
	size_t nsched;
	bool have_sched;
	struct vg_mod_image *modimg; /* struct module images found in module memory */
	size_t nmodimg;
	bool have_modscan;
};

int vg_ids_gather(struct vg_linux *lx, struct vg_snapshot *s, struct vg_err *err);
/* The socket part of gathering (gather_net.c). */
void vg_ids_gather_net(struct vg_linux *lx, struct vg_snapshot *s);
/* Ftrace ops and kprobes (gather_hooks.c); needs the module list gathered first. */
void vg_ids_gather_hooks(struct vg_linux *lx, struct vg_snapshot *s);
void vg_ids_snapshot_free(struct vg_snapshot *s);
/* The deeper views, called by vg_ids_gather (the module list and hooks gathered first). */
void vg_ids_gather_dispatch(struct vg_linux *lx, struct vg_snapshot *s);
void vg_ids_gather_sched(struct vg_linux *lx, struct vg_snapshot *s);
void vg_ids_gather_modscan(struct vg_linux *lx, struct vg_snapshot *s);

struct vg_finding {
	const char *check; /* stable id, e.g. "hidden-process" */
	enum vg_severity severity;
	char target_kind[16]; /* "process", "module", "interface", "syscall" */
	char target_id[96];
	char summary[256];
	const char *attack;  /* ATT&CK technique id or NULL */
	char evidence[1024]; /* a JSON object */
};

/* A hostile guest can fake many objects; past VG_MAX_FINDINGS, findings are counted in
 * `dropped` rather than kept, so one look stays bounded in memory and in compare time. */
#define VG_MAX_FINDINGS 4096

struct vg_findings {
	struct vg_finding *v;
	size_t n, cap;
	size_t dropped;
	struct vg_json ev; /* the evidence of the finding being built (vg_finding_begin) */
};

void vg_findings_free(struct vg_findings *f);

/* A listener the operator accepts (docs/policy.md): its port and the executable of the process
 * holding it and, for one recorded in a baseline, that process's argv too. backdoor-port does
 * not report it unless it runs a shell for each connection. */
struct vg_listener_rule {
	uint16_t port;
	const char *exe;     /* absolute path */
	const char *cmdline; /* argv joined by spaces; NULL: any */
};

/* Options for the checks: which to run (NULL = all) and the policy's allowlists. */
struct vg_ids_opts {
	const char *const *only;	    /* NULL-terminated check ids, or NULL */
	const char *const *allowed_modules; /* NULL = any module is known */
	const uint16_t *allowed_ports;	    /* listening ports allowed; NULL = only the
					     * built-in bindshell heuristics apply */
	size_t nallowed_ports;
	const struct vg_listener_rule *allowed_listeners; /* vg_policy_listener_opts */
	size_t nallowed_listeners;
};

/* A check appends its findings to F; 0, or -errno (out of memory) with ERR saying where. */
struct vg_ids_check {
	const char *id;
	const char *summary;
	int (*run)(const struct vg_snapshot *s, const struct vg_ids_opts *o, struct vg_findings *f,
		   struct vg_err *err);
};

extern const struct vg_ids_check vg_ids_checks[];
int vg_ids_run(const struct vg_snapshot *s, const struct vg_ids_opts *o, struct vg_findings *f,
	       struct vg_err *err);

/*
 * Building a finding: vg_finding_begin records its head and returns the writer of its evidence,
 * an open JSON object the caller adds members to (NULL and ERR set when out of memory);
 * vg_finding_end closes it, gives it its one-sentence summary and appends it. One finding is
 * built at a time. Past VG_MAX_FINDINGS the finding is counted in `dropped` instead; evidence
 * longer than vg_finding.evidence is replaced by {"truncated":true} rather than cut.
 */
struct vg_json *vg_finding_begin(struct vg_findings *f, const char *check, enum vg_severity sev,
				 const char *attack, const char *kind, const char *id,
				 struct vg_err *err);
int vg_finding_end(struct vg_findings *f, struct vg_err *err, const char *summary_fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The alert that reports X (source "ids"; EVENT "alert", "resolved" or NULL for a scan); A
 * borrows X's strings. */
void vg_finding_alert(const struct vg_finding *x, const char *event, struct vg_alert *a);

#endif
