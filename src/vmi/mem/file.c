// SPDX-License-Identifier: MIT
/*
 * The file driver: a RAM file or dump mapped read-only and MAP_SHARED, so a live QEMU
 * memory-backend file (share=on) is seen as the guest changes it. The whole file is the
 * driver's address space; the parsers (raw.c, elfcore.c, lime.c) say where RAM lies in it.
 *
 * Besides the mapping it keeps the file open: one-pass scans pread from the page cache, which
 * is several times cheaper than faulting in every page of the mapping, and the file's identity
 * (device and inode) tells watch whether the file it reads is still the one QEMU uses.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "vmi/mem/mem_impl.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif

/* /proc is read for at most this many processes and map lines each (a bound, not a limit any
 * real host reaches). */
#define LIVE_MAX_PROCS 65536
#define LIVE_MAX_LINES 100000

struct file_src {
	int fd;
	const uint8_t *map;
	size_t len;
	dev_t dev;
	ino_t ino;
	char *path;
};

static int file_pread(void *priv, uint64_t off, void *buf, size_t len)
{
	struct file_src *f = priv;
	uint8_t *out = buf;

	if (off > f->len || len > f->len - off)
		return -EFAULT;
	while (len) {
		ssize_t n = pread(f->fd, out, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO; /* a file truncated under us */
		out += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static const uint8_t *file_map(void *priv, uint64_t off, size_t len, bool bulk)
{
	struct file_src *f = priv;
	const uint8_t *p;
	uintptr_t lo, hi;

	if (off > f->len || len > f->len - off)
		return NULL;
	p = f->map + off;
	if (bulk && len) {
		lo = (uintptr_t)p & ~(uintptr_t)4095;
		hi = ((uintptr_t)p + len + 4095) & ~(uintptr_t)4095;
		/* one call instead of a fault per few pages; advice only: an older kernel (EINVAL)
		 * or a hole (EFAULT) leaves ordinary faults */
		(void)madvise((void *)lo, hi - lo, MADV_POPULATE_READ);
	}
	return p;
}

static int file_check(void *priv)
{
	struct file_src *f = priv;
	struct stat st;

	if (stat(f->path, &st))
		return -ENOENT;
	if (st.st_dev != f->dev || st.st_ino != f->ino)
		return -ESTALE;
	return 0;
}

/* Does any process map the file? QEMU maps a memory-backend file for as long as it runs, so a
 * live RAM file nobody maps any more belongs to a QEMU that exited. Reads /proc/PID/maps,
 * bounded; callers ask only when the guest's memory stands still. */
static int file_live(void *priv)
{
	struct file_src *f = priv;
	DIR *d = opendir("/proc");
	struct dirent *e;
	bool found = false;
	int procs = 0;

	if (!d)
		return -errno;
	while (!found && (e = readdir(d)) && procs < LIVE_MAX_PROCS) {
		char path[64], line[512];
		FILE *mf;
		int lines = 0;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		procs++;
		snprintf(path, sizeof(path), "/proc/%.20s/maps", e->d_name);
		mf = fopen(path, "re");
		if (!mf)
			continue;
		while (!found && lines++ < LIVE_MAX_LINES && fgets(line, sizeof(line), mf)) {
			unsigned maj, min;
			unsigned long long in;

			if (sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &in) == 3 &&
			    in == (unsigned long long)f->ino && makedev(maj, min) == f->dev)
				found = true;
		}
		fclose(mf);
	}
	closedir(d);
	return found;
}

static int file_ident(void *priv, char *buf, size_t len)
{
	struct file_src *f = priv;
	char real[PATH_MAX];

	if (!realpath(f->path, real))
		return -errno;
	if ((size_t)snprintf(buf, len, "file:%s", real) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static void file_close(void *priv)
{
	struct file_src *f = priv;

	if (f->map)
		munmap((void *)f->map, f->len);
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	free(f);
}

static const struct vg_mem_ops file_ops = {
	.name = "file",
	.pread = file_pread,
	.map = file_map,
	.check = file_check,
	.live = file_live,
	.ident = file_ident,
	.close = file_close,
};

static int open_err(const char *path, int e, struct vg_err *err)
{
	if (e == ENOENT)
		return vg_errf(err, e, "%s: no such file", path);
	if (e == EACCES)
		return vg_errf(err, e, "%s: permission denied", path);
	return vg_errf(err, e, "%s: cannot open: %s", path, strerror(e));
}

int vg_mem_file_open(struct vg_mem **out, const char *path, enum vg_mem_kind kind,
		     struct vg_err *err)
{
	struct file_src *f;
	struct vg_mem *m;
	struct stat st;
	void *p;

	f = calloc(1, sizeof(*f));
	if (!f || !(f->path = strdup(path))) {
		free(f);
		return vg_errf(err, ENOMEM, "out of memory");
	}
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		int e = errno;

		file_close(f);
		return open_err(path, e, err);
	}
	if (fstat(f->fd, &st) < 0) {
		int e = errno;

		file_close(f);
		return vg_errf(err, e, "%s: cannot stat: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		file_close(f);
		if (S_ISDIR(st.st_mode))
			return vg_errf(err, EISDIR, "%s: is a directory, not a memory file", path);
		return vg_errf(err, EINVAL, "%s: %s", path,
			       S_ISREG(st.st_mode) ? "is empty" : "not a regular file");
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, f->fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;

		file_close(f);
		return vg_errf(err, e, "%s: cannot map: %s", path, strerror(e));
	}
	f->map = p;
	f->len = (size_t)st.st_size;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	m = vg_mem_new(&file_ops, f, path, f->len);
	if (!m)
		return vg_errf(err, ENOMEM, "out of memory");
	m->base = f->map;
	m->len = f->len;
	return vg_mem_parse_image(out, m, kind, err);
}
