// SPDX-License-Identifier: MIT
/*
 * The minimal environment (env.h, docs/sandbox-envs.md), the unikernel-like case: one service
 * (busybox httpd, installed and started as /bin/httpd), no shell, no utilities, no libc, a
 * read-only root but for the sample's directory, no /proc; the same namespaces, limits,
 * sinkhole and artifacts as the container. The engine is env_ns.c; this file is the profile.
 */
#include "env_ns.h"

static const struct ns_profile minimal = {
	.name = "minimal",
	.rootfs = "rootfs-minimal",
	.full_services = false,
	.read_only_root = true,
};

static int open_minimal(struct sbx_env **env, const struct sbx_env_opts *o, struct vg_err *err)
{
	return sbx_ns_env_open(env, o, &minimal, err);
}

const struct sbx_env_ops sbx_env_minimal = {
	.name = "minimal",
	.open = open_minimal,
	.run = sbx_ns_env_run,
	.has_interp = sbx_ns_env_has_interp,
	.close = sbx_ns_env_close,
};
