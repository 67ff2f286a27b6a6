/* SPDX-License-Identifier: MIT */
/*
 * The namespace environments (container and minimal) share one engine; a profile says what
 * differs. Process layout of one run (docs/sandbox-envs.md):
 *
 *   vigil (host root)                      opens the artifacts, waits with a hard deadline
 *    └─ middle: joins the sinkhole's netns, unshares mount, pid, uts, ipc
 *        └─ supervisor: pid 1 of the run's pid namespace, still host root, trusted: builds the
 *           overlay root and pivots into it, starts the services, probes them, runs the sample,
 *           follows its cgroup until empty or the deadline, diffs the overlay, reports
 *            ├─ services (qemu-arm-static + busybox), cgroup "svc"
 *            └─ sample (qemu-arm-static -strace), cgroup "sample"
 *   Every untrusted process enters its own user namespace mapping root to SBX_UID only, then
 *   drops every capability (bounding set included) and sets no_new_privs before exec: it is
 *   root inside, owns the userland, and is an unprivileged nobody to the host.
 * Not a public API.
 */
#ifndef VIGIL_SBX_ENV_NS_H
#define VIGIL_SBX_ENV_NS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "env.h"
#include "ns_cgroup.h"

#define SBX_UID 1660000		  /* host uid (and gid) of the environment's root */
#define NS_RUN_DIR "/tmp/run"	  /* the sample's directory inside the environment */
#define NS_TMPFS_SIZE "64m"	  /* overlay upper + sample: the disk limit */
#define NS_MAX_SAMPLE (32u << 20) /* larger samples are refused */
#define NS_MAX_OUTPUT (64u << 10) /* stdout, stderr kept */
#define NS_MAX_TRACE (16u << 20)  /* syscalls.log kept */
#define NS_QEMU "/usr/bin/qemu-arm-static"

struct ns_profile {
	const char *name;    /* "container", "minimal" */
	const char *rootfs;  /* directory in the cache */
	bool full_services;  /* httpd, telnetd and a watchdog; else httpd only */
	bool read_only_root; /* only NS_RUN_DIR writable */
};

struct sbx_env {
	const struct ns_profile *p;
	char rootfs[1024], work[1024];
	int worker;
	int rootfs_fd; /* O_PATH, for has_interp */
	int qemu_fd;   /* O_PATH to NS_QEMU, exec'd by fd so it is not in the root */
	struct ns_cg cg;
	int proc_fd; /* inside the supervisor only: its pid namespace's proc, outside the root */
};

/* What the supervisor reports to vigil (over a pipe), written out as status.json. */
struct ns_status {
	int started, exec_errno, has_exit, exit_code, signal, timed_out, children_killed;
	int64_t duration_ms;
	struct ns_cg_hits hits;
	uint64_t out_bytes, err_bytes, trace_bytes; /* produced, before cutting */
	char note[160];				    /* the environment's own failure, if any */
};

/* What the supervisor needs, all opened by vigil before any namespace is entered. */
struct ns_job {
	struct sbx_env *env;
	const struct sbx_run_req *r;
	char name[128]; /* the sample's file name inside NS_RUN_DIR */
	int sample_fd, netns_fd;
	int out_fd, err_fd, trace_fd, files_fd, svc_fd; /* artifacts in the run directory */
	int status_w;					/* struct ns_status to vigil */
};

int sbx_ns_env_open(struct sbx_env **env, const struct sbx_env_opts *o, const struct ns_profile *p,
		    struct vg_err *err);
int sbx_ns_env_run(struct sbx_env *env, const struct sbx_run_req *r, struct vg_err *err);
bool sbx_ns_env_has_interp(struct sbx_env *env, const char *interp);
void sbx_ns_env_close(struct sbx_env *env);

/* ns_super.c: the supervisor, in its namespaces; never returns. */
void sbx_ns_supervise(struct ns_job *j) __attribute__((noreturn));

/* ns_spawn.c: starts an untrusted process (see above) in cgroup WHICH. ARGV goes to qemu
 * (argv[0] is ignored); FDS[0..2] become its stdio, FDS[3] (or -1) its fd 3. Returns its pid
 * or a negative errno; *EXEC_ERR gets a pipe that yields the exec errno or EOF on success. */
pid_t sbx_ns_spawn(struct sbx_env *env, int which, char *const argv[], const int fds[4],
		   bool sample, int *exec_err);

/* ns_files.c: files.tsv from the overlay's upper layer against its lower layers. */
void sbx_ns_files_diff(int upper_fd, const int lower_fds[], int nlower, int out_fd);

#endif
