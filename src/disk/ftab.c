// SPDX-License-Identifier: MIT
/*
 * The file table: entries in the order a source listed them, their paths and symlink
 * targets in one arena (offsets, so the arena can grow), and a path index built once the
 * listing is complete. Symlinks are resolved inside the table, never on the host.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vigil/disk.h"
#include "vigil/util.h"

#define MAX_HOPS 40

void vg_ftab_init(struct vg_ftab *t)
{
	memset(t, 0, sizeof(*t));
}

void vg_ftab_free(struct vg_ftab *t)
{
	for (size_t i = 0; i < t->nnotes; i++) {
		free(t->notes[i].path);
		free(t->notes[i].what);
	}
	free(t->notes);
	free(t->v);
	free(t->arena);
	free(t->index);
	memset(t, 0, sizeof(*t));
}

static int arena_reserve(struct vg_ftab *t, size_t more)
{
	size_t cap = t->acap ? t->acap : 1 << 16;
	char *p;

	if (t->alen + more <= t->acap)
		return 0;
	while (cap < t->alen + more)
		cap *= 2;
	if (cap > UINT32_MAX)
		return -E2BIG;
	p = realloc(t->arena, cap);
	if (!p)
		return -ENOMEM;
	t->arena = p;
	t->acap = cap;
	return 0;
}

static int push(struct vg_ftab *t, const struct vg_fent *meta, uint32_t *idx, struct vg_err *err)
{
	if (t->n >= VG_FTAB_MAX_ENTRIES)
		return vg_errf(err, E2BIG, "more than %u files: not read further",
			       VG_FTAB_MAX_ENTRIES);
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024;
		void *p = realloc(t->v, cap * sizeof(*t->v));

		if (!p)
			return vg_errf(err, ENOMEM, "out of memory");
		t->v = p;
		t->cap = cap;
	}
	t->v[t->n] = *meta;
	t->v[t->n].link = UINT32_MAX;
	*idx = (uint32_t)t->n++;
	return 0;
}

int vg_ftab_add(struct vg_ftab *t, uint32_t parent, const char *name, size_t nlen,
		const struct vg_fent *meta, uint32_t *idx, struct vg_err *err)
{
	size_t plen = 0, off;
	bool root = parent == UINT32_MAX;
	struct vg_fent *e;
	int ret;

	if (!root) {
		if (parent >= t->n)
			return vg_errf(err, EINVAL, "bad parent entry %u", parent);
		plen = strlen(t->arena + t->v[parent].path);
		if (plen == 1)
			plen = 0; /* the root's "/" */
	}
	if (plen + 1 + nlen + 1 > VG_FTAB_MAX_PATH)
		return vg_errf(err, ENAMETOOLONG, "path under %s longer than %d bytes",
			       t->arena + t->v[parent].path, VG_FTAB_MAX_PATH);
	ret = arena_reserve(t, plen + nlen + 2);
	if (ret)
		return vg_errf(err, -ret, "file table arena full");
	ret = push(t, meta, idx, err);
	if (ret)
		return ret;
	e = &t->v[*idx];
	off = t->alen;
	if (!root)
		memcpy(t->arena + off, t->arena + t->v[parent].path, plen);
	t->arena[off + plen] = '/';
	for (size_t i = 0; i < nlen; i++) {
		char c = name[i];

		/* a hostile directory may hold names no path can express */
		if (c == '/' || c == '\0') {
			c = '?';
			e->flags |= VG_FENT_BADNAME;
		}
		t->arena[off + plen + 1 + i] = c;
	}
	t->arena[off + plen + 1 + nlen] = '\0';
	e->path = (uint32_t)off;
	e->name = (uint32_t)plen + 1;
	e->parent = root ? *idx : parent;
	t->alen += plen + nlen + 2;
	return 0;
}

int vg_ftab_add_path(struct vg_ftab *t, const char *path, const struct vg_fent *meta, uint32_t *idx,
		     struct vg_err *err)
{
	size_t len = strlen(path);
	const char *slash = strrchr(path, '/');
	int ret;

	if (len + 1 > VG_FTAB_MAX_PATH)
		return vg_errf(err, ENAMETOOLONG, "path longer than %d bytes", VG_FTAB_MAX_PATH);
	ret = arena_reserve(t, len + 1);
	if (ret)
		return vg_errf(err, -ret, "file table arena full");
	ret = push(t, meta, idx, err);
	if (ret)
		return ret;
	memcpy(t->arena + t->alen, path, len + 1);
	t->v[*idx].path = (uint32_t)t->alen;
	t->v[*idx].name = slash ? (uint32_t)(slash - path + 1) : 0;
	t->v[*idx].parent = *idx;
	t->alen += len + 1;
	return 0;
}

int vg_ftab_set_link(struct vg_ftab *t, uint32_t idx, const char *target, size_t len)
{
	int ret = arena_reserve(t, len + 1);

	if (ret)
		return ret;
	memcpy(t->arena + t->alen, target, len);
	t->arena[t->alen + len] = '\0';
	/* a NUL inside a hostile target ends it there, as the kernel would read it */
	t->v[idx].link = (uint32_t)t->alen;
	t->alen += len + 1;
	return 0;
}

void vg_ftab_note(struct vg_ftab *t, enum vg_fnote_kind kind, const char *path, const char *fmt,
		  ...)
{
	struct vg_fnote *n;
	va_list ap;
	int r;

	if (t->nnotes >= VG_FTAB_MAX_NOTES) {
		t->notes_dropped++;
		return;
	}
	if (!(t->nnotes & (t->nnotes - 1))) {
		void *p = realloc(t->notes, (t->nnotes ? t->nnotes * 2 : 1) * sizeof(*t->notes));

		if (!p) {
			t->notes_dropped++;
			return;
		}
		t->notes = p;
	}
	n = &t->notes[t->nnotes];
	n->kind = kind;
	n->path = strdup(path);
	va_start(ap, fmt);
	r = vasprintf(&n->what, fmt, ap);
	va_end(ap);
	if (!n->path || r < 0) {
		free(n->path);
		if (r >= 0)
			free(n->what);
		t->notes_dropped++;
		return;
	}
	t->nnotes++;
}

static size_t slot_of(const struct vg_ftab *t, const char *path, size_t len)
{
	return (size_t)vg_fasthash64(path, len, 0x5eed) & t->imask;
}

int vg_ftab_finish(struct vg_ftab *t, struct vg_err *err)
{
	size_t size = 64;

	while (size < t->n * 2)
		size <<= 1;
	free(t->index);
	t->index = calloc(size, sizeof(*t->index));
	if (!t->index)
		return vg_errf(err, ENOMEM, "out of memory");
	t->imask = size - 1;
	for (size_t i = 0; i < t->n; i++)
		t->v[i].nsubdirs = 0;
	for (size_t i = 0; i < t->n; i++) {
		struct vg_fent *e = &t->v[i];
		const char *p = t->arena + e->path;
		size_t len = strlen(p), h;
		bool dup = false;

		if (e->flags & VG_FENT_OFFTREE)
			continue;
		if (S_ISDIR(e->mode) && e->parent != i)
			t->v[e->parent].nsubdirs++;
		/* a hostile directory can list one name twice: the first one is what a lookup
		 * by the kernel finds too */
		for (h = slot_of(t, p, len); t->index[h]; h = (h + 1) & t->imask)
			if (!strcmp(t->arena + t->v[t->index[h] - 1].path, p)) {
				dup = true;
				break;
			}
		if (!dup)
			t->index[h] = (uint32_t)i + 1;
	}
	return 0;
}

long vg_ftab_lookup(const struct vg_ftab *t, const char *path)
{
	size_t len = strlen(path);

	if (!t->index)
		return -1;
	for (size_t h = slot_of(t, path, len); t->index[h]; h = (h + 1) & t->imask)
		if (!strcmp(t->arena + t->v[t->index[h] - 1].path, path))
			return (long)t->index[h] - 1;
	return -1;
}

/* CUR (a resolved directory path) without its last component. */
static void up(char *cur)
{
	char *s = strrchr(cur, '/');

	if (!s || s == cur)
		strcpy(cur, "/");
	else
		*s = '\0';
}

/* OUT = A "/" B[0..BLEN) without doubling the root's slash; -1 when it does not fit. */
static int join(char *out, size_t size, const char *a, const char *b, size_t blen)
{
	size_t alen = strcmp(a, "/") ? strlen(a) : 0;

	if (alen + 1 + blen + 1 > size)
		return -1;
	memmove(out + alen + 1, b, blen);
	memmove(out, a, alen);
	out[alen] = '/';
	out[alen + 1 + blen] = '\0';
	return 0;
}

long vg_ftab_resolve(const struct vg_ftab *t, const char *path)
{
	char cur[VG_FTAB_MAX_PATH], rest[VG_FTAB_MAX_PATH], next[VG_FTAB_MAX_PATH];
	int hops = 0;
	char *p;

	if (strlen(path) >= sizeof(rest))
		return -1;
	strcpy(cur, "/");
	strcpy(rest, path);
	p = rest;
	for (;;) {
		char *comp, *slash;
		long idx;
		size_t clen;
		bool more;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		comp = p;
		slash = strchr(p, '/');
		clen = slash ? (size_t)(slash - p) : strlen(p);
		p = comp + clen;
		if (clen == 1 && comp[0] == '.')
			continue;
		if (clen == 2 && comp[0] == '.' && comp[1] == '.') {
			up(cur);
			continue;
		}
		if (join(next, sizeof(next), cur, comp, clen))
			return -1;
		idx = vg_ftab_lookup(t, next);
		if (idx < 0)
			return -1;
		more = p[strspn(p, "/")] != '\0';
		if (S_ISLNK(t->v[idx].mode) && t->v[idx].link != UINT32_MAX) {
			const char *target = t->arena + t->v[idx].link;
			char tmp[VG_FTAB_MAX_PATH];

			if (++hops > MAX_HOPS)
				return -1;
			if (!more) {
				if (strlen(target) >= sizeof(tmp))
					return -1;
				strcpy(tmp, target);
			} else if (join(tmp, sizeof(tmp), target, p, strlen(p))) {
				return -1;
			}
			strcpy(rest, tmp);
			p = rest;
			if (target[0] == '/')
				strcpy(cur, "/");
			continue;
		}
		if (more && !S_ISDIR(t->v[idx].mode))
			return -1;
		strcpy(cur, next);
	}
	return vg_ftab_lookup(t, cur);
}
