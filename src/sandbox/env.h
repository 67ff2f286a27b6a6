/* SPDX-License-Identifier: MIT */
/*
 * The contract between the sandbox campaign runner and an environment (system, container,
 * minimal). An environment runs one ARM sample from a fresh state and leaves artifacts in
 * the run directory; everything it writes there is derived from the hostile sample, so the
 * analysis that reads it (behaviour.c) bounds every line and length.
 *
 * Network: the runner creates one network namespace per worker holding only the sinkhole
 * (no uplink). It is given as req->netns (a path such as /run/netns/vgsbx-0). The sample's
 * traffic must leave only into that namespace; inside it every IPv4 address is local
 * (route "local 0.0.0.0/0 dev lo"), TCP to any port is redirected to the sink, UDP 53 to the
 * sink's resolver, and ICMP echo is answered by the kernel. The sinkhole writes net.jsonl
 * into the run directory itself. An environment that needs a link (the system guest's NIC)
 * creates it inside that namespace and gives the guest req->guest_addr with gateway and
 * resolver req->sink_addr.
 *
 * Artifacts an environment writes into req->run_dir (all optional except status.json):
 *   status.json    {"started": bool,            the sample's exec happened
 *                   "exec_error": "ENOEXEC"|..|null, why exec failed (errno name)
 *                   "exit_code": int|null, "signal": int|null, "timed_out": bool,
 *                   "duration_ms": int,           sample start to last process gone/killed
 *                   "children_killed": int}       processes left at the deadline
 *   syscalls.log   one system call per line, "PID NAME(ARGS) = RET", as qemu-user -strace or
 *                  strace -f write them; other lines are ignored by the reader
 *   files.tsv      "CHANGE\tPATH\tSIZE\tENTROPY" per changed file relative to the fresh
 *                  state; CHANGE is created|modified|deleted, PATH as seen inside the
 *                  environment, ENTROPY in bits per byte of the new content (0 if deleted)
 *   services.json  {"http": {"before": bool, "after": bool},
 *                   "telnet": {"before": bool, "after": bool}}   (ssh may replace telnet)
 *   stdout, stderr the sample's output, first 64 KiB each
 */
#ifndef VIGIL_SANDBOX_ENV_H
#define VIGIL_SANDBOX_ENV_H

#include <stdbool.h>

#include "vigil/err.h"

struct sbx_env;

struct sbx_env_opts {
	const char *cache_dir; /* built images, cached across campaigns (~/.cache/vigil/...) */
	const char *work_dir;  /* this worker's scratch directory (overlays, snapshots) */
	int worker;	       /* 0..n-1, for unique names */
};

struct sbx_run_req {
	const char *sample;	/* host path of the sample; the environment copies it in */
	const char *run_dir;	/* empty directory this run owns; artifacts go here */
	unsigned timeout_s;	/* the sample's own time limit (default 10) */
	const char *netns;	/* network namespace holding only the sinkhole */
	const char *sink_addr;	/* IPv4: gateway, resolver and sink, e.g. "10.66.0.1" */
	const char *guest_addr; /* IPv4/prefix for the environment's own interface */
};

struct sbx_env_ops {
	const char *name; /* "system", "container", "minimal" */
	int (*open)(struct sbx_env **env, const struct sbx_env_opts *o, struct vg_err *err);
	/* 0 when the run happened, whatever the sample did; negative errno when the
	 * environment itself failed (the runner records that and retries once). */
	int (*run)(struct sbx_env *env, const struct sbx_run_req *r, struct vg_err *err);
	/* Is a program interpreter (PT_INTERP path) present in this environment? */
	bool (*has_interp)(struct sbx_env *env, const char *interp);
	void (*close)(struct sbx_env *env);
};

/*
 * The sinkhole (sinkhole.c): one network namespace per worker with no uplink, holding
 * SBX_SINK_ADDR. It answers every DNS name with SBX_SINK_ADDR, accepts TCP on every port
 * (keeping each session's first bytes), and logs one JSON object per event to the file given
 * to sbx_sink_begin: {"ts_ms","proto":"tcp|udp|dns|icmp","dst","dport","qname","bytes",
 * "first_hex"}.
 */
#define SBX_SINK_ADDR "10.66.0.1"
#define SBX_GUEST_ADDR "10.66.0.2/16"

struct sbx_sink;
int sbx_sink_open(struct sbx_sink **s, int worker, struct vg_err *err);
const char *sbx_sink_netns(const struct sbx_sink *s); /* path usable with setns(2) */
int sbx_sink_begin(struct sbx_sink *s, const char *log_path, struct vg_err *err);
int sbx_sink_end(struct sbx_sink *s);
void sbx_sink_close(struct sbx_sink *s);

extern const struct sbx_env_ops sbx_env_system, sbx_env_container, sbx_env_minimal;

#endif
