/* SPDX-License-Identifier: MIT */
/*
 * The deeper views' parts of the checks (checks_deep.c), called from checks.c's hidden-process,
 * hidden-module, syscall-hook and kernel-hook. Pure functions of the snapshot.
 */
#ifndef VIGIL_IDS_CHECKS_INT_H
#define VIGIL_IDS_CHECKS_INT_H

#include "vigil/ids.h"

/* Scheduler tasks sorted by address (NULL on allocation failure; empty without the view). */
uint64_t *vg_ids_sched_sorted(const struct vg_snapshot *s);
bool vg_ids_sched_has(const struct vg_snapshot *s, const uint64_t *sched_sorted, uint64_t task);
/* Whether the module scan found the struct module at MOD. */
bool vg_ids_modimg_has(const struct vg_snapshot *s, uint64_t mod);

/* Each appends its findings to F: 0, or -ENOMEM with ERR saying what could not be built. */
int vg_ids_check_sched(const struct vg_snapshot *s, struct vg_findings *f, struct vg_err *err);
int vg_ids_check_modimg(const struct vg_snapshot *s, struct vg_findings *f, struct vg_err *err);
int vg_ids_check_dispatch(const struct vg_snapshot *s, struct vg_findings *f, struct vg_err *err);
int vg_ids_check_text(const struct vg_snapshot *s, struct vg_findings *f, struct vg_err *err);

/* What a netcat-like listener runs for each connection, judged from its argv (listen_cmd.c). */
struct vg_listen_exec {
	bool netcat;	/* nc, ncat, netcat, nc.traditional, nc.openbsd, socat (also as a
			 * busybox or toybox applet) */
	bool found;	/* it names a program: -e, -c, --exec, --sh-exec, EXEC:, SYSTEM: */
	bool shell;	/* one of them is a shell, an interpreter or a shell command line */
	char prog[128]; /* the program the first of them names ("/bin/cat"), "" when none */
};
/* A shell's name: sh, ash, bash, dash, ... (a path's basename; a login shell's "-sh"). */
bool vg_ids_shell_name(const char *name);
/* Parses CMDLINE (argv joined by spaces, may be NULL) of a process named COMM: whether it is a
 * netcat-like tool, and what it runs for each connection. */
void vg_ids_listen_exec(const char *comm, const char *cmdline, struct vg_listen_exec *x);
/* Whether a running process reads commands from its stdin: a shell without a script or -c, an
 * interpreter without a script, possibly behind env, nohup and the like. By COMM alone when its
 * argv is unknown (""). */
bool vg_ids_stdin_shell(const char *comm, const char *cmdline);

/* backdoor-port (checks_listen.c). */
int vg_ids_check_listen(const struct vg_snapshot *s, const struct vg_ids_opts *o,
			struct vg_findings *f, struct vg_err *err);

#endif
