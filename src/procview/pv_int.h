/* SPDX-License-Identifier: MIT */
/*
 * The /proc view's internals: one snapshot of the guest, each part read on first use
 * (view.c), and the renderers that turn it into Linux's file formats (render.c).
 */
#ifndef VIGIL_PV_INT_H
#define VIGIL_PV_INT_H

#include <stdio.h>

#include "vigil/lxproc.h"
#include "vigil/procview.h"

struct pv_task {
	struct vg_task t;
	bool hidden;
	const char *how; /* where a hidden task was found */
	bool have_x;
	struct vg_task_extra x;
	char name[64]; /* as procfs shows it (vg_task_proc_name) */
	bool have_fds;
	struct vg_fd *fds;
	size_t nfds, capfds;
};

/* A file rendered in this snapshot: its size is what getattr reports, so the kernel can serve
 * reads from its page cache (no open/release round trips, see fuse.c). */
struct pv_text {
	char *path, *buf;
	size_t len;
	struct pv_text *next;
};

#define PV_TEXT_BUCKETS 1024

struct pv_snap {
	uint64_t taken_ms;
	uint64_t serial; /* which snapshot: files' mtime, so the kernel drops stale pages */
	struct pv_text *texts[PV_TEXT_BUCKETS];
	bool have_tasks;
	struct pv_task *tasks; /* sorted by pid */
	size_t n;
	size_t nhidden;
	bool have_mods;
	struct vg_module_list mods;
	bool have_socks;
	struct vg_sock_list socks;
	bool have_mounts;
	struct vg_mount_list mounts;
	bool have_kstat;
	struct vg_kstat ks;
};

struct vg_procview {
	struct vg_guest *g;
	struct vg_linux *lx;
	int ttl_ms;
	uint64_t serial;     /* snapshots taken */
	char self_link[64];  /* exec: /self leads to the command's own (host) /proc entry */
	int32_t caller;	     /* exec: the pid of the process asking */
	int32_t root;	     /* exec: the command vigil started */
	int32_t lineage[64]; /* exec: the caller and its parents up to root (host processes) */
	int nlineage;
	int32_t lineage_of;	 /* whose lineage it is */
	uint64_t lineage_serial; /* in which snapshot it was read */
	struct pv_snap s;
};

/* Snapshot parts, read on first use; each returns 0 or -errno. */
int vg_pv_tasks(struct vg_procview *pv);
struct pv_task *vg_pv_task(struct vg_procview *pv, int32_t pid);
const struct vg_task_extra *vg_pv_extra(struct vg_procview *pv, struct pv_task *t);
int vg_pv_fds(struct vg_procview *pv, struct pv_task *t);
int vg_pv_modules(struct vg_procview *pv);
int vg_pv_sockets(struct vg_procview *pv);
int vg_pv_mounts(struct vg_procview *pv);
const struct vg_kstat *vg_pv_kstat(struct vg_procview *pv);

/* Renderers: write the file's text to F. */
void vg_pv_render_stat(struct vg_procview *pv, struct pv_task *t, FILE *f);
void vg_pv_render_status(struct vg_procview *pv, struct pv_task *t, FILE *f);
void vg_pv_render_statm(struct vg_procview *pv, struct pv_task *t, FILE *f);
int vg_pv_render_maps(struct vg_procview *pv, struct pv_task *t, FILE *f);
void vg_pv_render_net(struct vg_procview *pv, const char *proto, FILE *f);
void vg_pv_render_modules(struct vg_procview *pv, FILE *f);
void vg_pv_render_module_file(const struct vg_module *m, const char *name, FILE *f);
void vg_pv_render_mounts(struct vg_procview *pv, FILE *f);
void vg_pv_render_system(struct vg_procview *pv, const char *name, FILE *f);
void vg_pv_render_hidden(struct vg_procview *pv, FILE *f);

#endif
