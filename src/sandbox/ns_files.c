// SPDX-License-Identifier: MIT
/*
 * files.tsv (env.h) from an overlay: everything the sample changed is in the upper layer; a
 * name there that the lower layers lack was created, one they have was modified (unless the
 * content is the same, as after a chmod), and a whiteout (character device 0:0) is a deletion.
 * The upper layer is the sample's work: every name is opened relative to its parent with
 * O_NOFOLLOW, depth and entries are bounded, and names are made printable for the TSV.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "env_ns.h"

#define DIFF_MAX_DEPTH 24
#define DIFF_MAX_ENTRIES 20000
#define DIFF_READ (1u << 20) /* bytes read per file for entropy and comparison */

struct diff {
	const int *lower;
	int nlower;
	int out;
	unsigned entries;
	uint8_t *a, *b; /* DIFF_READ each */
};

static size_t read_upto(int fd, uint8_t *buf, size_t cap)
{
	size_t got = 0;

	while (got < cap) {
		ssize_t n = read(fd, buf + got, cap - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static double entropy(const uint8_t *p, size_t n)
{
	uint64_t c[256] = { 0 };
	double h = 0;

	for (size_t i = 0; i < n; i++)
		c[p[i]]++;
	for (int i = 0; i < 256; i++)
		if (c[i]) {
			double q = (double)c[i] / (double)n;

			h -= q * log2(q);
		}
	return h;
}

/* Is REL (relative, no leading slash) in a lower layer? Its stat in *ST when so. The lower
 * layers are vigil's (the userland and the sample's layer), so symlinks there are trusted. */
static bool in_lower(struct diff *d, const char *rel, struct stat *st, int *layer)
{
	for (int i = 0; i < d->nlower; i++)
		if (fstatat(d->lower[i], rel, st, AT_SYMLINK_NOFOLLOW) == 0) {
			*layer = i;
			return true;
		}
	return false;
}

static void emit(struct diff *d, const char *change, const char *rel, uint64_t size, double h)
{
	char line[4400], path[4100];
	size_t k = 0;
	int n;

	path[k++] = '/';
	for (const char *p = rel; *p && k < sizeof(path) - 1; p++)
		path[k++] = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
	path[k] = '\0';
	n = snprintf(line, sizeof(line), "%s\t%s\t%llu\t%.3f\n", change, path,
		     (unsigned long long)size, h);
	if (n > 0 && (size_t)n < sizeof(line))
		(void)write(d->out, line, (size_t)n);
}

static void regular(struct diff *d, int dirfd, const char *name, const char *rel,
		    const struct stat *st)
{
	struct stat lst;
	int layer, fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	size_t n = fd >= 0 ? read_upto(fd, d->a, DIFF_READ) : 0;
	bool existed = in_lower(d, rel, &lst, &layer);

	if (fd >= 0)
		close(fd);
	if (existed && S_ISREG(lst.st_mode) && lst.st_size == st->st_size &&
	    (uint64_t)st->st_size <= DIFF_READ) {
		int lfd = openat(d->lower[layer], rel, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		size_t m = lfd >= 0 ? read_upto(lfd, d->b, DIFF_READ) : 0;

		if (lfd >= 0)
			close(lfd);
		if (m == n && memcmp(d->a, d->b, n) == 0)
			return; /* copied up for its metadata only */
	}
	emit(d, existed ? "modified" : "created", rel, (uint64_t)st->st_size, entropy(d->a, n));
}

static void walk(struct diff *d, int dirfd, const char *rel, int depth)
{
	DIR *dir;
	struct dirent *e;

	if (depth > DIFF_MAX_DEPTH)
		return;
	dir = fdopendir(dirfd);
	if (!dir) {
		close(dirfd);
		return;
	}
	while ((e = readdir(dir)) && d->entries < DIFF_MAX_ENTRIES) {
		char sub[4096];
		struct stat st, lst;
		int layer;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		d->entries++;
		if ((size_t)snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", e->d_name) >=
		    sizeof(sub))
			continue;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
			emit(d, "deleted", sub, 0, 0);
		} else if (S_ISDIR(st.st_mode)) {
			if (!in_lower(d, sub, &lst, &layer))
				emit(d, "created", sub, 0, 0);
			int fd = openat(dirfd, e->d_name,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0)
				walk(d, fd, sub, depth + 1);
		} else if (S_ISREG(st.st_mode)) {
			regular(d, dirfd, e->d_name, sub, &st);
		} else {
			emit(d, in_lower(d, sub, &lst, &layer) ? "modified" : "created", sub, 0, 0);
		}
	}
	closedir(dir);
}

void sbx_ns_files_diff(int upper_fd, const int lower_fds[], int nlower, int out_fd)
{
	struct diff d = { .lower = lower_fds, .nlower = nlower, .out = out_fd };
	int fd = openat(upper_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	d.a = malloc(DIFF_READ);
	d.b = malloc(DIFF_READ);
	if (fd >= 0 && d.a && d.b)
		walk(&d, fd, "", 0);
	else if (fd >= 0)
		close(fd);
	free(d.a);
	free(d.b);
}
