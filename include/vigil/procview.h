/* SPDX-License-Identifier: MIT */
/*
 * A /proc of the guest, generated from introspection (vigil/lxobj.h, vigil/lxproc.h), so
 * unmodified tools (procps ps and top, net-tools netstat, kmod lsmod, psmisc pstree) can be
 * pointed at a guest they cannot run in. What the files say is what the guest's kernel holds,
 * including processes hidden from its task list: a task found only through the PID allocator
 * or a run queue is listed like the others and marked in its status ("VigilHidden:") and in
 * /vigil-hidden.
 *
 * The tree (docs/procview.md lists every file): PID/{stat,status,statm,cmdline,comm,environ,
 * exe,fd/,maps,task/TID/...}, net/{tcp,tcp6,udp,udp6}, modules, version, uptime, meminfo,
 * loadavg, mounts, stat, cpuinfo, cmdline, sys/kernel/{pid_max,osrelease}, vigil-hidden.
 *
 * Every file of one snapshot comes from one look at the guest; a snapshot lives TTL_MS and the
 * next request after that takes a new one (vg_as_flush in between, so a remote source fetches
 * afresh). Not thread-safe: one front end thread at a time.
 */
#ifndef VIGIL_PROCVIEW_H
#define VIGIL_PROCVIEW_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/err.h"
#include "vigil/guest.h"

struct vg_procview;

struct vg_procview_opts {
	int ttl_ms; /* snapshot lifetime; 0 = 1000 ms */
};

int vg_procview_new(struct vg_procview **out, struct vg_guest *g, const struct vg_procview_opts *o,
		    struct vg_err *err);
void vg_procview_free(struct vg_procview *pv);

enum vg_pv_kind { VG_PV_DIR = 1, VG_PV_FILE, VG_PV_LINK };

struct vg_pv_attr {
	enum vg_pv_kind kind;
	uint32_t uid, gid, mode, nlink;
	uint64_t size;	 /* a file's length in this snapshot */
	int64_t time_s;	 /* the guest's boot time */
	uint64_t serial; /* the snapshot's number: changes when the contents may */
};

/* PATH is absolute inside the view ("/", "/1/stat"). 0 or -ENOENT (or -errno). */
int vg_procview_getattr(struct vg_procview *pv, const char *path, struct vg_pv_attr *a);
typedef int (*vg_pv_fill_fn)(void *ctx, const char *name, enum vg_pv_kind kind);
int vg_procview_readdir(struct vg_procview *pv, const char *path, vg_pv_fill_fn fn, void *ctx);
/* A file's whole text: *BUF belongs to the snapshot, valid until the next call on PV. */
int vg_procview_read(struct vg_procview *pv, const char *path, const char **buf, size_t *len);
int vg_procview_readlink(struct vg_procview *pv, const char *path, char *buf, size_t len);

/* ---- front ends (fuse.c, libfuse3) ---- */

/* Mounts the view at DIR and serves it until *STOP is set (checked on each request and once a
 * second) or DIR is unmounted. ALLOW_OTHER lets other users read it (root only). */
int vg_procview_mount(struct vg_procview *pv, const char *dir, bool allow_other,
		      volatile sig_atomic_t *stop, struct vg_err *err);
/* Runs ARGV in a private mount namespace whose /proc is the view, serving it meanwhile; the
 * command's wait status in *STATUS. Needs CAP_SYS_ADMIN (mount namespaces). */
int vg_procview_exec(struct vg_procview *pv, char *const argv[], int *status, struct vg_err *err);

#endif
