/* SPDX-License-Identifier: MIT */
/*
 * vigil-sysagent: the in-guest agent of the `system` sandbox environment (PID 1 of the ARM
 * guest, built statically with arm-linux-gnueabi-gcc by src/sandbox/image/system/build.sh).
 * It runs one sample per restored snapshot under a ptrace tracer and sends the artifacts
 * back over the virtio-serial port (sys_proto.h). Internal interfaces of its three parts:
 * agent.c (channel, services, status), trace.c (the tracer), fsdiff.c (file changes) and
 * buf.c (bounded output buffers).
 */
#ifndef VIGIL_SYS_AGENT_H
#define VIGIL_SYS_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A bounded output buffer: appends past max are dropped and counted. */
struct buf {
	char *p;
	size_t len, cap, max;
	unsigned long dropped;
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s (n bytes) C-escaped inside double quotes, at most lim bytes of it. */
void buf_quote(struct buf *b, const char *s, size_t n, size_t lim);

/* cgroup v2 directory every sample starts in (memory and pids limits, agent.c) */
#define SAMPLE_CGROUP "/sys/fs/cgroup/sample"

struct trace_result {
	bool started;	  /* the sample's execve succeeded */
	int exec_errno;	  /* why it failed, 0 when it did not */
	bool exited;	  /* the first process exited (exit_code) or was signalled */
	int exit_code;	  /* valid when exited */
	int signal;	  /* terminating signal of the first process, 0 if none */
	bool timed_out;	  /* processes were still alive at the deadline */
	bool main_killed; /* the first process was among them */
	long duration_ms;
	int children_killed; /* processes killed at the deadline */
	int tasks_refused;   /* tasks killed at birth because the task table was full */
};

/*
 * Runs path as root in its own session with stdout/stderr on out_fd/err_fd and follows every
 * process it creates until all are gone or timeout_s passed, then kills what is left.
 * System calls go to log as "PID NAME(ARGS) = RET" lines.
 */
int trace_run(const char *path, unsigned timeout_s, int out_fd, int err_fd, struct buf *log,
	      struct trace_result *res);

/* Regular files and symlinks of the guest's writable root, bounded. */
struct fs_ent {
	char *path;
	uint32_t mode;
	uint64_t ino, size;
	int64_t mtime_ns, ctime_ns;
};

struct fs_snap {
	struct fs_ent *e;
	size_t n, cap;
	bool truncated;
};

int fs_snap_take(struct fs_snap *s);
int fs_snap_add(struct fs_snap *s, const char *path); /* one more entry, kept sorted */
void fs_snap_free(struct fs_snap *s);
/* "CHANGE\tPATH\tSIZE\tENTROPY" lines of files.tsv (env.h). */
void fs_diff(const struct fs_snap *before, const struct fs_snap *after, struct buf *out);

#endif
