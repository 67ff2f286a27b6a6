// SPDX-License-Identifier: MIT
/*
 * The /proc view's tree (procview.h): which paths exist, what they are, and which renderer
 * produces each file from the snapshot (snap.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/clock.h"
#include "vigil/ids.h"
#include "vigil/util.h"
#include "pv_int.h"

/* ---- the tree ---- */

static const char *const pid_files[] = { "stat", "status",  "statm", "cmdline",
					 "comm", "environ", "maps",  NULL };
static const char *const tid_files[] = { "stat", "status", "statm", "cmdline", "comm", NULL };
static const char *const root_files[] = { "modules", "version",	     "uptime", "meminfo",
					  "loadavg", "mounts",	     "stat",   "cpuinfo",
					  "cmdline", "vigil-hidden", NULL };
static const char *const net_files[] = { "tcp", "tcp6", "udp", "udp6", NULL };
static const char *const sysk_files[] = { "pid_max", "osrelease", NULL };

static bool in(const char *const *list, const char *name)
{
	for (; *list; list++)
		if (!strcmp(*list, name))
			return true;
	return false;
}

/* A path split in at most 5 components (copied to BUF). */
static int split(const char *path, char *buf, size_t len, char **c)
{
	int n = 0;
	char *save = NULL;

	if (strlen(path) >= len)
		return -1;
	strcpy(buf, path);
	for (char *p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		if (n == 5)
			return -1;
		c[n++] = p;
	}
	return n;
}

static bool parse_num(const char *s, int32_t *v)
{
	char *end;
	long x;

	if (*s < '0' || *s > '9')
		return false;
	x = strtol(s, &end, 10);
	if (*end || x < 0 || x > 0x7fffffff)
		return false;
	*v = (int32_t)x;
	return true;
}

struct node {
	enum vg_pv_kind kind;
	const struct vg_module *mod; /* /sys/module entries */
	struct pv_task *t;	     /* process or thread the path is about */
	const char *file;	     /* the file's name ("stat", "tcp", ...) */
	int dir;		     /* which directory: see enum */
	int32_t fd;		     /* fd links */
	const struct vg_fd *f;	     /* fd links */
};

enum { D_ROOT = 1, D_PID, D_FD, D_TASK, D_TID, D_NET, D_SYS, D_SYSK, D_MODS, D_MOD, D_HOLDERS };

/* /sys/module/NAME for kmod's lsmod, which reads sizes and use counts there: served under
 * this unlisted name and bound over /sys/module by exec */
#define SYSMOD_DIR ".sys-module"
static const char *const mod_files[] = { "coresize",  "initsize", "refcnt",
					 "initstate", "taint",	  NULL };

static bool same_group(const struct pv_task *leader, const struct pv_task *t)
{
	return t->t.tgid == leader->t.pid;
}

/* exec: the processes of the command itself that lead to the caller (the caller, its parent,
 * ... up to the command vigil started), read from the host's /proc. They are listed as links
 * to their host entries, so a tool sees itself and its parents as on any system (chkproc
 * compares what readdir, stat and ps show), and nothing else of the host. */
static void find_lineage(struct vg_procview *pv)
{
	int32_t pid = pv->caller;

	/* a tool asks many times in a row: its ancestry does not change meanwhile */
	if (pid == pv->lineage_of && pv->lineage_serial == pv->s.serial)
		return;
	pv->lineage_of = pid;
	pv->lineage_serial = pv->s.serial;
	pv->nlineage = 0;
	if (!pv->self_link[0] || pid <= 0)
		return;
	while (pid > 1 && pv->nlineage < 64) {
		char path[64], buf[512], *rp;
		int ppid = 0;
		FILE *f;

		pv->lineage[pv->nlineage++] = pid;
		if (pid == pv->root)
			return;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		f = fopen(path, "re");
		if (!f)
			break;
		rp = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		if (!rp || sscanf(rp + 2, "%*c %d", &ppid) != 1)
			break;
		pid = ppid;
	}
	/* not a descendant of the command: nothing of the host is shown to it */
	pv->nlineage = 0;
}

static bool in_lineage(struct vg_procview *pv, int32_t pid)
{
	for (int i = 0; i < pv->nlineage; i++)
		if (pv->lineage[i] == pid)
			return true;
	return false;
}

static int resolve_module(struct vg_procview *pv, char **c, int n, struct node *nd)
{
	nd->kind = VG_PV_DIR;
	nd->dir = D_MODS;
	if (n == 1)
		return 0;
	if (vg_pv_modules(pv))
		return -EIO;
	for (size_t i = 0; i < pv->s.mods.n; i++)
		if (!strcmp(pv->s.mods.v[i].name, c[1]))
			nd->mod = &pv->s.mods.v[i];
	if (!nd->mod)
		return -ENOENT;
	nd->dir = D_MOD;
	if (n == 2)
		return 0;
	if (!strcmp(c[2], "holders")) {
		nd->dir = D_HOLDERS;
		return n == 3 ? 0 : -ENOENT;
	}
	for (const char *const *f = mod_files; n == 3 && *f; f++)
		if (!strcmp(*f, c[2]))
			nd->file = *f;
	nd->kind = VG_PV_FILE;
	return nd->file ? 0 : -ENOENT;
}

static int resolve(struct vg_procview *pv, const char *path, struct node *nd)
{
	char buf[512], *c[5];

	find_lineage(pv);
	int n = split(path, buf, sizeof(buf), c);
	int32_t pid, num;

	memset(nd, 0, sizeof(*nd));
	if (n < 0)
		return -ENOENT;
	if (n == 0) {
		nd->kind = VG_PV_DIR;
		nd->dir = D_ROOT;
		return 0;
	}
	if (!parse_num(c[0], &pid)) {
		if (n == 1 && pv->self_link[0] &&
		    (!strcmp(c[0], "self") || !strcmp(c[0], "thread-self"))) {
			nd->kind = VG_PV_LINK;
			nd->file = c[0][0] == 's' ? "self" : "thread-self";
			return 0;
		}
		if (n == 1 && in(root_files, c[0])) {
			nd->kind = VG_PV_FILE;
			/* the static name: c[] lives in this frame */
			for (const char *const *f = root_files; *f; f++)
				if (!strcmp(*f, c[0]))
					nd->file = *f;
			return 0;
		}
		if (!strcmp(c[0], SYSMOD_DIR) && n <= 4)
			return resolve_module(pv, c, n, nd);
		if (!strcmp(c[0], "net") && n <= 2) {
			nd->kind = n == 1 ? VG_PV_DIR : VG_PV_FILE;
			nd->dir = D_NET;
			for (const char *const *f = net_files; n == 2 && *f; f++)
				if (!strcmp(*f, c[1]))
					nd->file = *f;
			return n == 1 || nd->file ? 0 : -ENOENT;
		}
		if (!strcmp(c[0], "sys") && n <= 3) {
			if (n >= 2 && strcmp(c[1], "kernel"))
				return -ENOENT;
			nd->kind = n < 3 ? VG_PV_DIR : VG_PV_FILE;
			nd->dir = n == 1 ? D_SYS : D_SYSK;
			for (const char *const *f = sysk_files; n == 3 && *f; f++)
				if (!strcmp(*f, c[2]))
					nd->file = *f;
			return n < 3 || nd->file ? 0 : -ENOENT;
		}
		return -ENOENT;
	}
	nd->t = vg_pv_task(pv, pid);
	if (!nd->t && n == 1 && in_lineage(pv, pid)) {
		/* a tool looking itself up by pid (procps, chkproc do) finds its host entry */
		nd->kind = VG_PV_LINK;
		nd->fd = pid;
		return 0;
	}
	if (!nd->t)
		return -ENOENT;
	if (n == 1) {
		nd->kind = VG_PV_DIR;
		nd->dir = D_PID;
		return 0;
	}
	if (n == 2) {
		if (!strcmp(c[1], "fd") || !strcmp(c[1], "task")) {
			nd->kind = VG_PV_DIR;
			nd->dir = c[1][0] == 'f' ? D_FD : D_TASK;
			return 0;
		}
		if (!strcmp(c[1], "exe")) {
			nd->kind = VG_PV_LINK;
			nd->file = "exe";
			return nd->t->t.exe && nd->t->t.exe[0] ? 0 : -ENOENT;
		}
		for (const char *const *f = pid_files; *f; f++)
			if (!strcmp(*f, c[1]))
				nd->file = *f;
		nd->kind = VG_PV_FILE;
		return nd->file ? 0 : -ENOENT;
	}
	if (n == 3 && !strcmp(c[1], "fd") && parse_num(c[2], &num)) {
		if (vg_pv_fds(pv, nd->t))
			return -EIO;
		for (size_t i = 0; i < nd->t->nfds; i++) {
			if (nd->t->fds[i].fd == num) {
				nd->kind = VG_PV_LINK;
				nd->fd = num;
				nd->f = &nd->t->fds[i];
				return 0;
			}
		}
		return -ENOENT;
	}
	if (!strcmp(c[1], "task") && parse_num(c[2], &num) && n <= 4) {
		struct pv_task *leader = nd->t;

		nd->t = vg_pv_task(pv, num);
		if (!nd->t || !same_group(leader, nd->t))
			return -ENOENT;
		if (n == 3) {
			nd->kind = VG_PV_DIR;
			nd->dir = D_TID;
			return 0;
		}
		for (const char *const *f = tid_files; *f; f++)
			if (!strcmp(*f, c[3]))
				nd->file = *f;
		nd->kind = VG_PV_FILE;
		return nd->file ? 0 : -ENOENT;
	}
	return -ENOENT;
}

int vg_procview_getattr(struct vg_procview *pv, const char *path, struct vg_pv_attr *a)
{
	struct node nd;
	int ret = resolve(pv, path, &nd);

	if (ret)
		return ret;
	memset(a, 0, sizeof(*a));
	a->kind = nd.kind;
	a->mode = nd.kind == VG_PV_DIR ? 0555 : nd.kind == VG_PV_LINK ? 0777 : 0444;
	a->nlink = nd.kind == VG_PV_DIR ? 2 : 1;
	a->time_s = vg_pv_kstat(pv)->boot_time_s;
	a->serial = pv->s.serial;
	if (nd.t) {
		/* like procfs: a process's entries belong to its effective ids */
		a->uid = nd.t->t.euid;
		a->gid = nd.t->t.egid;
	}
	if (nd.kind == VG_PV_FILE) {
		const char *buf;

		ret = vg_procview_read(pv, path, &buf, &a->size);
	}
	return ret;
}

static int fill_tasks(struct vg_procview *pv, const struct pv_task *leader, vg_pv_fill_fn fn,
		      void *ctx)
{
	char name[16];
	int ret = vg_pv_tasks(pv);

	/* the command's own processes, linked to the host (find_lineage) */
	for (int i = 0; !ret && !leader && i < pv->nlineage; i++) {
		if (vg_pv_task(pv, pv->lineage[i]))
			continue;
		snprintf(name, sizeof(name), "%d", pv->lineage[i]);
		ret = fn(ctx, name, VG_PV_LINK);
	}
	for (size_t i = 0; !ret && i < pv->s.n; i++) {
		const struct pv_task *t = &pv->s.tasks[i];

		/* the root lists thread-group leaders; a task directory its group's threads */
		if (leader ? !same_group(leader, t) : t->t.pid != t->t.tgid)
			continue;
		snprintf(name, sizeof(name), "%d", t->t.pid);
		ret = fn(ctx, name, VG_PV_DIR);
	}
	return ret;
}

static int fill_list(const char *const *list, enum vg_pv_kind kind, vg_pv_fill_fn fn, void *ctx)
{
	int ret = 0;

	for (; *list && !ret; list++)
		ret = fn(ctx, *list, kind);
	return ret;
}

int vg_procview_readdir(struct vg_procview *pv, const char *path, vg_pv_fill_fn fn, void *ctx)
{
	struct node nd;
	char name[16];
	int ret = resolve(pv, path, &nd);

	if (ret)
		return ret;
	if (nd.kind != VG_PV_DIR)
		return -ENOTDIR;
	switch (nd.dir) {
	case D_ROOT:
		ret = fill_list(root_files, VG_PV_FILE, fn, ctx);
		if (!ret && pv->self_link[0])
			ret = fn(ctx, "self", VG_PV_LINK) ?: fn(ctx, "thread-self", VG_PV_LINK);
		if (!ret)
			ret = fn(ctx, "net", VG_PV_DIR) ?: fn(ctx, "sys", VG_PV_DIR);
		return ret ?: fill_tasks(pv, NULL, fn, ctx);
	case D_PID:
		ret = fill_list(pid_files, VG_PV_FILE, fn, ctx);
		if (!ret && nd.t->t.exe && nd.t->t.exe[0])
			ret = fn(ctx, "exe", VG_PV_LINK);
		return ret ?: fn(ctx, "fd", VG_PV_DIR) ?: fn(ctx, "task", VG_PV_DIR);
	case D_TID:
		return fill_list(tid_files, VG_PV_FILE, fn, ctx);
	case D_TASK:
		return fill_tasks(pv, nd.t, fn, ctx);
	case D_FD:
		if (vg_pv_fds(pv, nd.t))
			return -EIO;
		for (size_t i = 0; !ret && i < nd.t->nfds; i++) {
			snprintf(name, sizeof(name), "%d", nd.t->fds[i].fd);
			ret = fn(ctx, name, VG_PV_LINK);
		}
		return ret;
	case D_NET:
		return fill_list(net_files, VG_PV_FILE, fn, ctx);
	case D_SYS:
		return fn(ctx, "kernel", VG_PV_DIR);
	case D_SYSK:
		return fill_list(sysk_files, VG_PV_FILE, fn, ctx);
	case D_MODS:
		if (vg_pv_modules(pv))
			return -EIO;
		for (size_t i = 0; !ret && i < pv->s.mods.n; i++)
			ret = fn(ctx, pv->s.mods.v[i].name, VG_PV_DIR);
		return ret;
	case D_MOD:
		return fill_list(mod_files, VG_PV_FILE, fn, ctx) ?: fn(ctx, "holders", VG_PV_DIR);
	case D_HOLDERS:
		return 0; /* who uses a module is not read: none listed */
	default:
		return -ENOENT;
	}
}

int vg_procview_readlink(struct vg_procview *pv, const char *path, char *buf, size_t len)
{
	struct node nd;
	int ret = resolve(pv, path, &nd);
	const char *target;

	if (ret)
		return ret;
	if (nd.kind != VG_PV_LINK)
		return -EINVAL;
	if (!nd.t && nd.file) {
		/* the command's own entry is on the host: it is not the guest's */
		snprintf(buf, len, "%s/%s", pv->self_link, nd.file);
		return 0;
	}
	if (!nd.t) {
		snprintf(buf, len, "%s/%d", pv->self_link, nd.fd);
		return 0;
	}
	if (nd.f)
		target = nd.f->target;
	else
		target = nd.t->t.exe;
	if (!nd.f && nd.t->t.exe_deleted)
		snprintf(buf, len, "%s (deleted)", target);
	else
		snprintf(buf, len, "%s", target);
	return 0;
}

static void render_task_file(struct vg_procview *pv, struct pv_task *t, const char *file, FILE *f)
{
	if (!strcmp(file, "stat")) {
		vg_pv_render_stat(pv, t, f);
	} else if (!strcmp(file, "status")) {
		vg_pv_render_status(pv, t, f);
	} else if (!strcmp(file, "statm")) {
		vg_pv_render_statm(pv, t, f);
	} else if (!strcmp(file, "comm")) {
		vg_pv_extra(pv, t);
		fprintf(f, "%s\n", t->name);
	} else if (!strcmp(file, "cmdline")) {
		char *argv = malloc(VG_CMDLINE_MAX);
		int n = argv ? vg_task_argv(pv->lx, &t->t, argv, VG_CMDLINE_MAX) : 0;

		if (n > 0)
			fwrite(argv, 1, (size_t)n, f);
		free(argv);
	} else if (!strcmp(file, "maps")) {
		vg_pv_render_maps(pv, t, f);
	}
}

static int render(struct vg_procview *pv, const struct node *nd, struct pv_text *x)
{
	FILE *f = open_memstream(&x->buf, &x->len);

	if (!f)
		return -ENOMEM;
	if (nd->t)
		render_task_file(pv, nd->t, nd->file, f);
	else if (nd->mod)
		vg_pv_render_module_file(nd->mod, nd->file, f);
	else if (nd->dir == D_NET)
		vg_pv_render_net(pv, nd->file, f);
	else if (!strcmp(nd->file, "modules"))
		vg_pv_render_modules(pv, f);
	else if (!strcmp(nd->file, "mounts"))
		vg_pv_render_mounts(pv, f);
	else if (!strcmp(nd->file, "vigil-hidden"))
		vg_pv_render_hidden(pv, f);
	else
		vg_pv_render_system(pv, nd->file, f);
	return fclose(f) ? -ENOMEM : 0;
}

int vg_procview_read(struct vg_procview *pv, const char *path, const char **buf, size_t *len)
{
	struct node nd;
	struct pv_text *x;
	uint32_t b;
	int ret = resolve(pv, path, &nd);

	if (ret)
		return ret;
	if (nd.kind != VG_PV_FILE)
		return -EISDIR;
	/* one rendering per file and snapshot: getattr's size and read's bytes agree */
	b = (uint32_t)vg_fnv64(path, strlen(path), VG_FNV64_INIT) % PV_TEXT_BUCKETS;
	for (x = pv->s.texts[b]; x; x = x->next) {
		if (!strcmp(x->path, path)) {
			*buf = x->buf;
			*len = x->len;
			return 0;
		}
	}
	x = calloc(1, sizeof(*x));
	if (!x || !(x->path = strdup(path))) {
		free(x);
		return -ENOMEM;
	}
	ret = render(pv, &nd, x);
	if (ret) {
		free(x->path);
		free(x->buf);
		free(x);
		return ret;
	}
	x->next = pv->s.texts[b];
	pv->s.texts[b] = x;
	*buf = x->buf;
	*len = x->len;
	return 0;
}
