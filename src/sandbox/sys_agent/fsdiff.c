/* SPDX-License-Identifier: MIT */
/*
 * File changes of a run: the guest's root (an initramfs in RAM, restored with the snapshot)
 * is listed before and after the sample, and the two sorted lists are merged into files.tsv
 * lines. A file counts as modified when its inode, size, mtime or ctime moved; ctime cannot be
 * set back by a program, so a rewrite that restores size and mtime is still seen. The "before"
 * list is taken once before the snapshot and lives in the agent's memory, so a run pays only
 * for the walk after it. Walks are bounded (entries, depth, path length); the sample controls
 * what is there.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"

#define MAX_ENTRIES 50000
#define MAX_DEPTH 24
#define ENTROPY_READ (1u << 20)

/* Kernel views and the agent's own output mount are not the sample's file system. */
static const char *const skip[] = { "/proc", "/sys", "/dev", "/run/vigil" };

static bool skipped(const char *path)
{
	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (!strcmp(path, skip[i]))
			return true;
	return false;
}

static int add(struct fs_snap *s, const char *path, const struct stat *st)
{
	if (s->n >= MAX_ENTRIES) {
		s->truncated = true;
		return -ENOSPC;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		struct fs_ent *e = realloc(s->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		s->e = e;
		s->cap = cap;
	}
	struct fs_ent *e = &s->e[s->n];
	e->path = strdup(path);
	if (!e->path)
		return -ENOMEM;
	e->mode = st->st_mode;
	e->ino = st->st_ino;
	e->size = (uint64_t)st->st_size;
	e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	e->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	s->n++;
	return 0;
}

static void walk(struct fs_snap *s, char *path, size_t len, int depth)
{
	DIR *d;
	struct dirent *de;

	if (depth > MAX_DEPTH || skipped(len ? path : "/"))
		return;
	d = opendir(len ? path : "/");
	if (!d)
		return;
	while ((de = readdir(d)) && !s->truncated) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		size_t nl = strlen(de->d_name);
		if (len + 1 + nl >= 4096)
			continue;
		path[len] = '/';
		memcpy(path + len + 1, de->d_name, nl + 1);
		if (lstat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				walk(s, path, len + 1 + nl, depth + 1);
			else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))
				add(s, path, &st);
		}
		path[len] = 0;
	}
	closedir(d);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(((const struct fs_ent *)a)->path, ((const struct fs_ent *)b)->path);
}

int fs_snap_take(struct fs_snap *s)
{
	char path[4096] = "";

	memset(s, 0, sizeof(*s));
	walk(s, path, 0, 0);
	qsort(s->e, s->n, sizeof(*s->e), cmp);
	return 0;
}

int fs_snap_add(struct fs_snap *s, const char *path)
{
	struct stat st;
	int r;

	if (lstat(path, &st) < 0)
		return -errno;
	r = add(s, path, &st);
	if (!r)
		qsort(s->e, s->n, sizeof(*s->e), cmp);
	return r;
}

void fs_snap_free(struct fs_snap *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->e[i].path);
	free(s->e);
	memset(s, 0, sizeof(*s));
}

/* Shannon entropy in bits per byte of the file's first MiB (a symlink: of its target name). */
static double entropy(const struct fs_ent *e)
{
	static unsigned char buf[65536];
	unsigned long cnt[256] = { 0 }, total = 0;
	double h = 0;

	if (S_ISLNK(e->mode)) {
		ssize_t n = readlink(e->path, (char *)buf, sizeof(buf));
		for (ssize_t i = 0; i < n; i++)
			cnt[buf[i]]++;
		total = n > 0 ? (unsigned long)n : 0;
	} else {
		int fd = open(e->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return 0;
		while (total < ENTROPY_READ) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				break;
			for (ssize_t i = 0; i < n; i++)
				cnt[buf[i]]++;
			total += (unsigned long)n;
		}
		close(fd);
	}
	for (int i = 0; i < 256 && total; i++) {
		if (cnt[i]) {
			double p = (double)cnt[i] / (double)total;
			h -= p * log2(p);
		}
	}
	return h;
}

static bool changed(const struct fs_ent *a, const struct fs_ent *b)
{
	return a->ino != b->ino || a->size != b->size || a->mtime_ns != b->mtime_ns ||
	       a->ctime_ns != b->ctime_ns || a->mode != b->mode;
}

static void line(struct buf *out, const char *what, const struct fs_ent *e, bool gone)
{
	buf_printf(out, "%s\t", what);
	/* a path is the sample's choice: tabs and newlines would break the TSV */
	for (const char *p = e->path; *p; p++)
		buf_printf(out, "%c", (*p == '\t' || *p == '\n' || *p == '\r') ? '?' : *p);
	buf_printf(out, "\t%llu\t%.3f\n", gone ? 0ULL : (unsigned long long)e->size,
		   gone ? 0.0 : entropy(e));
}

void fs_diff(const struct fs_snap *before, const struct fs_snap *after, struct buf *out)
{
	size_t i = 0, j = 0;

	while (i < before->n || j < after->n) {
		int c = i == before->n	? 1
			: j == after->n ? -1
					: strcmp(before->e[i].path, after->e[j].path);
		if (c < 0) {
			/* past a truncated walk, "not seen" does not mean deleted */
			if (!after->truncated)
				line(out, "deleted", &before->e[i], true);
			i++;
		} else if (c > 0) {
			line(out, "created", &after->e[j++], false);
		} else {
			if (changed(&before->e[i], &after->e[j]))
				line(out, "modified", &after->e[j], false);
			i++;
			j++;
		}
	}
	if (after->truncated)
		buf_printf(out, "# walk stopped at %d entries\n", MAX_ENTRIES);
}
