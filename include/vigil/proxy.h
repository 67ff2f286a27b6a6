/* SPDX-License-Identifier: MIT */
/*
 * The syscall proxy: an essential service's network system calls are caught with seccomp user
 * notification and executed by an executor process in another network namespace, so the
 * service's communication exists only there.
 *
 *   fd mode    socket() is executed by the executor and the real socket is installed into the
 *              service (SECCOMP_IOCTL_NOTIF_ADDFD); every later call on it runs natively.
 *              Hidden from the service's network namespace (ss, /proc/net, packet captures on
 *              its interfaces); visible in its fd table (lsof, /proc/PID/fd, pidfd_getfd).
 *   data mode  no socket of the service exists in its domain: the service holds an inert
 *              placeholder (a pipe's read end at a number >= VG_PROXY_FD_BASE) and every call
 *              on it, including poll/select/epoll, is emulated by the supervisor, which copies
 *              the data between the service's memory and the executor's real socket.
 *
 * Everything read from the service (pointers, lengths, structures) is hostile: every length is
 * bounded, memory is read with process_vm_readv and the notification is re-validated
 * (SECCOMP_IOCTL_NOTIF_ID_VALID) before anything read from it is trusted. See docs/proxy.md.
 */
#ifndef VIGIL_PROXY_H
#define VIGIL_PROXY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vigil/err.h"

/* Placeholders live at or above this number so the filter catches calls on them by argument
 * alone (the service's ordinary files stay below it and never reach the supervisor). */
#define VG_PROXY_FD_BASE 600
/* The largest byte count one proxied send or receive moves (a larger request is cut short, as
 * a socket may legitimately do). */
#define VG_PROXY_IO_MAX (1u << 20)

enum vg_proxy_mode { VG_PROXY_FD, VG_PROXY_DATA };

struct vg_proxy_opts {
	enum vg_proxy_mode mode;
	char *const *argv;	/* the service: argv[0] is looked up in PATH */
	pid_t domain_pid;	/* > 0: run the service in this process's net, mount, pid ns */
	const char *netns;	/* or: run the service in this network namespace (a path) */
	const char *exec_netns; /* the executor's network namespace (a path); NULL: ours */
	bool sync_wakeup;	/* SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP where the kernel has it */
	unsigned max_restarts;	/* executor restarts allowed after crashes (0: default 16) */
};

struct vg_proxy_stats {
	uint64_t notifications; /* user notifications received */
	uint64_t emulated;	/* answered by the proxy */
	uint64_t continued;	/* not the proxy's business: let the kernel run them */
	uint64_t refused;	/* hostile or impossible arguments answered with an error */
	uint64_t sockets;	/* sockets the executor opened */
	uint64_t bytes_out, bytes_in;
	uint64_t exec_restarts; /* executor crashes survived */
	bool sync_wakeup;	/* the kernel accepted the synchronous wake-up flag */
};

/* Runs the service under the proxy until it and all its descendants have exited. *STATUS gets
 * its wait status. 0 or -errno with ERR set. */
int vg_proxy_run(const struct vg_proxy_opts *o, int *status, struct vg_proxy_stats *st,
		 struct vg_err *err);

/* What the running kernel offers: user notification, ADDFD, synchronous wake-up. */
struct vg_proxy_probe {
	bool unotify, addfd, sync_wakeup;
};
int vg_proxy_probe(struct vg_proxy_probe *p, struct vg_err *err);

#endif
