/* SPDX-License-Identifier: MIT */
/*
 * Private to the `system` environment: start qemu-system-arm for the sandbox guest with its
 * only NIC on a tap device created inside the sinkhole's network namespace (the QEMU process
 * itself lives there too, so it has no uplink either), talk QMP to it, and stop it.
 */
#ifndef VIGIL_SANDBOX_QEMU_CTL_H
#define VIGIL_SANDBOX_QEMU_CTL_H

#include <sys/types.h>

#include "vigil/err.h"

struct qemu_cfg {
	const char *kernel, *initrd, *append;
	unsigned mem_mb;
	const char *chan_sock;	 /* virtio-serial port "vigil.0": QEMU listens here */
	const char *qmp_sock;	 /* NULL: no QMP */
	const char *incoming;	 /* NULL: boot; else restore this migration file */
	const char *console_log; /* the guest's serial console */
	const char *netns;	 /* path of the namespace the tap (and QEMU) live in */
	const char *guest_ip;	 /* IPv4 address routed to the tap inside netns */
	const char *sink_ip;	 /* the sinkhole's address, also put on the tap */
};

struct qemu_proc {
	pid_t pid;
};

int sbx_qemu_start(struct qemu_proc *q, const struct qemu_cfg *c, struct vg_err *err);
/* Kills QEMU (SIGKILL: its state is disposable) and reaps it. */
void sbx_qemu_stop(struct qemu_proc *q);
/* Did QEMU exit? (reaps it if so) */
int sbx_qemu_exited(struct qemu_proc *q);

/* Connects to a listening unix socket, retrying until timeout_ms (QEMU creates it while it
 * starts); returns the fd or a negative errno. */
int sbx_unix_connect_retry(const char *path, int timeout_ms, const struct qemu_proc *q);

/* QMP: after the greeting and qmp_capabilities; one command at a time, events skipped. */
int sbx_qmp_open(int *fd, const char *path, const struct qemu_proc *q, struct vg_err *err);
int sbx_qmp_exec(int fd, const char *cmd_json, char *ret, size_t ret_len, int timeout_ms,
		 struct vg_err *err);
/* Saves the (stopped) guest's state into path with the migrate command, waiting for it. */
int sbx_qmp_save(int fd, const char *path, int timeout_ms, struct vg_err *err);

#endif
