// SPDX-License-Identifier: MIT
/*
 * Leaf helpers every artifact parser shares: the bounded line iterator, the bounded reader of
 * a whole artifact, and small string and path predicates. The artifacts are written by an
 * environment from what a hostile sample did, so nothing here trusts their shape.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sbx_int.h"
#include "vigil/sandbox.h"

bool sbx_next_line(struct sbx_lines *it, char *buf, size_t cap)
{
	const char *nl;
	size_t n, k;

	if (it->p >= it->end || it->n >= SBX_MAX_LINES || cap == 0)
		return false;
	nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
	n = (size_t)((nl ? nl : it->end) - it->p);
	k = n < cap - 1 ? n : cap - 1;
	memcpy(buf, it->p, k);
	buf[k] = '\0';
	if (k && buf[k - 1] == '\r')
		buf[k - 1] = '\0';
	it->p = nl ? nl + 1 : it->end;
	it->n++;
	return true;
}

int sbx_read_artifact(const char *dir, const char *name, char **buf, size_t *len,
		      struct vg_err *err)
{
	char path[4096];
	size_t got = 0;
	struct stat st;
	char *b;
	int fd;

	*buf = NULL;
	*len = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	/* O_NOFOLLOW: the run directory is the sample's; a symlink there is not an artifact */
	/* the run directory may hold what the sample made of it: only a regular file, never
	 * through a symlink, counts as the artifact; anything else is as good as absent */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT || errno == ELOOP)
			return -ENOENT;
		return vg_errf(err, errno, "%s: %m", path);
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOENT;
	}
	b = malloc(SBX_MAX_FILE + 1);
	if (!b) {
		close(fd);
		return vg_errf(err, ENOMEM, "%s: out of memory", path);
	}
	while (got < SBX_MAX_FILE) {
		ssize_t r = read(fd, b + got, SBX_MAX_FILE - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			free(b);
			close(fd);
			return vg_errf(err, e, "reading %s: %s", path, strerror(e));
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	b[got] = '\0';
	*buf = b;
	*len = got;
	return 0;
}

void sbx_copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

const char *sbx_basename(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

void sbx_guest_name(const char *path, char *out, size_t cap)
{
	const char *b = sbx_basename(path);
	size_t n = strlen(b);

	/* kept as is when it is a plain file name, so self-deletion matches by name */
	if (n == 0 || n >= cap || b[0] == '.' ||
	    strspn(b, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
		b = "sample";
	snprintf(out, cap, "%s", b);
}

bool sbx_is_self(const char *path, const char *sample_name)
{
	const char *b = sbx_basename(path);

	return *b &&
	       ((sample_name && !strcmp(b, sbx_basename(sample_name))) || !strcmp(b, "sample"));
}

bool sbx_persist_path(const char *p)
{
	static const char *const prefix[] = {
		"/etc/init.d/",
		"/etc/rc",
		"/etc/inittab",
		"/etc/crontab",
		"/etc/cron.",
		"/var/spool/cron",
		"/etc/systemd/",
		"/lib/systemd/system/",
		"/usr/lib/systemd/system/",
		"/etc/profile",
		"/etc/bash.bashrc",
		"/etc/init/",
	};
	static const char *const suffix[] = { "/.profile", "/.bashrc", "/.bash_profile" };
	size_t n = strlen(p);

	for (size_t i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++)
		if (!strncmp(p, prefix[i], strlen(prefix[i])))
			return true;
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++)
		if (n >= strlen(suffix[i]) && !strcmp(p + n - strlen(suffix[i]), suffix[i]))
			return true;
	return false;
}

double sbx_entropy_bar(uint64_t size)
{
	double bar;

	if (size < 16)
		return 99; /* too small to tell */
	/* random content of n bytes shows about log2(n) - small-sample loss; 0.85 of it is far
	 * above text (about 4.5) and code (about 6) at every size */
	bar = 0.85 * log2((double)(size < 256 ? size : 256));
	if (size >= 256)
		bar = 7.2;
	return bar;
}
