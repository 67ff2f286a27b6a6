// SPDX-License-Identifier: MIT
/* Leaf helpers the check files share: adding findings, evidence, path classes. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "scan_int.h"

int vg_ev_open(struct vg_json *j)
{
	if (vg_json_init_mem(j, false))
		return -ENOMEM;
	vg_json_obj_open(j);
	return 0;
}

/* OWNED: ATTACK was malloc'd and the finding takes it (freed here when dropped). */
__attribute__((format(printf, 9, 0))) static int vadd(struct vg_dfindings *f, const char *check,
						      enum vg_severity sev, const char *attack,
						      bool owned, const char *kind,
						      const char *target, struct vg_json *ev,
						      const char *fmt, va_list ap)
{
	struct vg_dfinding *x;
	char *evidence = NULL;
	int ret = 0;

	if (ev) {
		vg_json_obj_close(ev);
		evidence = vg_json_mem_take(ev, NULL);
		if (!evidence) {
			if (owned)
				free((char *)attack);
			return -ENOMEM;
		}
	}
	if (f->n >= VG_DISK_MAX_FINDINGS) {
		f->dropped++;
		goto out;
	}
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 32;
		void *p = realloc(f->v, cap * sizeof(*f->v));

		if (!p) {
			ret = -ENOMEM;
			goto out;
		}
		f->v = p;
		f->cap = cap;
	}
	x = &f->v[f->n];
	memset(x, 0, sizeof(*x));
	x->check = check;
	x->severity = sev;
	x->attack = attack;
	if (owned)
		x->attack_owned = (char *)attack;
	owned = false;
	x->target = strdup(target);
	x->kind = strdup(kind ? kind : "file");
	if (vasprintf(&x->summary, fmt, ap) < 0)
		x->summary = NULL;
	x->evidence = evidence;
	evidence = NULL;
	f->n++;
	if (!x->target || !x->kind || !x->summary)
		ret = -ENOMEM;
out:
	free(evidence);
	if (owned)
		free((char *)attack);
	return ret;
}

int vg_dfindings_add(struct vg_dfindings *f, const char *check, enum vg_severity sev,
		     const char *attack, const char *kind, const char *target, struct vg_json *ev,
		     const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vadd(f, check, sev, attack, false, kind, target, ev, fmt, ap);
	va_end(ap);
	return ret;
}

static bool excluded(const struct vg_scan *c, const char *target)
{
	if (!c->o->excludes)
		return false;
	for (const char *const *p = c->o->excludes; *p; p++)
		if (vg_path_under(target, *p))
			return true;
	return false;
}

__attribute__((format(printf, 9, 0))) static void
scan_vadd(struct vg_scan *c, const char *check, enum vg_severity sev, const char *attack,
	  bool owned, const char *kind, const char *target, struct vg_json *ev, const char *fmt,
	  va_list ap)
{
	if (!vg_scan_on(c, check) || excluded(c, target)) {
		if (ev)
			vg_json_mem_free(ev);
		if (owned)
			free((char *)attack);
		return;
	}
	if (c->lock)
		pthread_mutex_lock(c->lock);
	if (vadd(&c->out->findings, check, sev, attack, owned, kind, target, ev, fmt, ap))
		c->ret = -ENOMEM;
	if (c->lock)
		pthread_mutex_unlock(c->lock);
}

void vg_scan_add(struct vg_scan *c, const char *check, enum vg_severity sev, const char *attack,
		 const char *kind, const char *target, struct vg_json *ev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	scan_vadd(c, check, sev, attack, false, kind, target, ev, fmt, ap);
	va_end(ap);
}

void vg_scan_add_owned(struct vg_scan *c, const char *check, enum vg_severity sev, char *attack,
		       const char *kind, const char *target, struct vg_json *ev, const char *fmt,
		       ...)
{
	va_list ap;

	va_start(ap, fmt);
	scan_vadd(c, check, sev, attack, true, kind, target, ev, fmt, ap);
	va_end(ap);
}

int vg_scan_slurp(struct vg_scan *c, const char *path, size_t max, uint8_t **data, size_t *len)
{
	long idx = vg_ftab_resolve(c->t, path);
	const struct vg_fent *e;
	struct vg_err err = { 0 };

	*data = NULL;
	*len = 0;
	if (idx < 0 || !S_ISREG(c->t->v[idx].mode))
		return -ENOENT;
	e = &c->t->v[idx];
	*len = e->size < max ? (size_t)e->size : max;
	*data = malloc(*len + 1);
	if (!*data)
		return -ENOMEM;
	if (vg_fsrc_read(c->src, e, *data, *len, &err)) {
		free(*data);
		*data = NULL;
		*len = 0;
		return -EIO;
	}
	return 0;
}

bool vg_lines(const uint8_t *data, size_t len, bool (*fn)(void *ctx, const char *line), void *ctx)
{
	char line[4096];
	size_t i = 0;

	while (i < len) {
		const uint8_t *nl = memchr(data + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (data + i)) : len - i;
		size_t m = n < sizeof(line) - 1 ? n : sizeof(line) - 1;

		memcpy(line, data + i, m);
		line[m] = '\0';
		if (fn(ctx, line))
			return true;
		i += n + 1;
	}
	return false;
}

void vg_ev_entry(struct vg_json *j, const struct vg_ftab *t, const struct vg_fent *e)
{
	char mode[16];

	snprintf(mode, sizeof(mode), "%06o", e->mode);
	vg_json_kstr(j, "path", vg_fent_path(t, e));
	vg_json_kuint(j, "inode", e->ino);
	vg_json_kstr(j, "mode", mode);
	vg_json_kuint(j, "uid", e->uid);
	vg_json_kuint(j, "gid", e->gid);
	vg_json_kuint(j, "size", e->size);
	vg_json_kint(j, "mtime", e->mtime);
}

bool vg_path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

bool vg_path_system(const char *path)
{
	static const char *const dirs[] = { "/bin",    "/sbin", "/lib", "/lib32", "/lib64",
					    "/libx32", "/usr",	"/etc", "/boot",  NULL };

	for (const char *const *d = dirs; *d; d++)
		if (vg_path_under(path, *d))
			return true;
	return false;
}
