// SPDX-License-Identifier: MIT
/*
 * The container environment (env.h, docs/sandbox-envs.md): a Debian armhf busybox userland with
 * glibc, run through qemu-user inside user, pid, network (the sinkhole's), mount, uts and ipc
 * namespaces and cgroup limits, with busybox httpd on 80, busybox telnetd on 23 and a process
 * named watchdog, as IoT bots find them. Fresh for every sample: an overlay on a size-limited
 * tmpfs over the cached userland. The engine is env_ns.c; this file is the profile.
 */
#include "env_ns.h"

static const struct ns_profile container = {
	.name = "container",
	.rootfs = "rootfs-armhf",
	.full_services = true,
	.read_only_root = false,
};

static int open_container(struct sbx_env **env, const struct sbx_env_opts *o, struct vg_err *err)
{
	return sbx_ns_env_open(env, o, &container, err);
}

const struct sbx_env_ops sbx_env_container = {
	.name = "container",
	.open = open_container,
	.run = sbx_ns_env_run,
	.has_interp = sbx_ns_env_has_interp,
	.close = sbx_ns_env_close,
};
