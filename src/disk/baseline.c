// SPDX-License-Identifier: MIT
/*
 * AIDE-style baselines of a file tree: for every file in the tree, its type and mode,
 * owner, size, link count, inode number, inode times (mtime, ctime, creation time), symlink
 * target and BLAKE2b-256 of its content. Written with the vg_json writer, created 0600 with
 * O_EXCL; read back with jansson, every field type-checked, the file size capped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "vigil/clock.h"
#include "vigil/disk_scan.h"
#include "vigil/json.h"

#define FORMAT 1
#define MAX_BASELINE (1ull << 30)

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct vg_dbase_file *)a)->path,
		      ((const struct vg_dbase_file *)b)->path);
}

void vg_disk_baseline_free(struct vg_dbase *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->v[i].path);
		free(b->v[i].link);
	}
	free(b->v);
	free(b->label);
	free(b->kind);
	memset(b, 0, sizeof(*b));
}

int vg_disk_baseline_of(const struct vg_disk_scan *s, struct vg_dbase *b, struct vg_err *err)
{
	const struct vg_ftab *t = &s->tab;

	memset(b, 0, sizeof(*b));
	b->v = calloc(t->n ? t->n : 1, sizeof(*b->v));
	b->kind = strdup(s->source_kind);
	if (!b->v || !b->kind) {
		vg_disk_baseline_free(b);
		return vg_errf(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < t->n; i++) {
		const struct vg_fent *e = &t->v[i];
		struct vg_dbase_file *f = &b->v[b->n];
		const char *link = vg_fent_link(t, e);

		if (e->flags & VG_FENT_OFFTREE)
			continue;
		f->path = strdup(vg_fent_path(t, e));
		f->link = link ? strdup(link) : NULL;
		b->n++;
		if (!f->path || (link && !f->link)) {
			vg_disk_baseline_free(b);
			return vg_errf(err, ENOMEM, "out of memory");
		}
		f->mode = e->mode;
		f->uid = e->uid;
		f->gid = e->gid;
		f->nlink = e->nlink;
		f->ino = e->ino;
		f->size = e->size;
		f->mtime = e->mtime;
		f->ctime = e->ctime;
		f->crtime = e->crtime;
		if (s->hashed && s->hashed[i]) {
			f->hashed = true;
			memcpy(f->hash, s->hash[i], 32);
		}
	}
	qsort(b->v, b->n, sizeof(*b->v), cmp_file);
	return 0;
}

static void write_file(struct vg_json *j, const struct vg_dbase_file *f)
{
	char hex[65];

	vg_json_obj_open(j);
	vg_json_kstr(j, "path", f->path);
	vg_json_kuint(j, "mode", f->mode);
	vg_json_kuint(j, "uid", f->uid);
	vg_json_kuint(j, "gid", f->gid);
	vg_json_kuint(j, "nlink", f->nlink);
	vg_json_kuint(j, "inode", f->ino);
	vg_json_kuint(j, "size", f->size);
	vg_json_kint(j, "mtime", f->mtime);
	vg_json_kint(j, "ctime", f->ctime);
	vg_json_kint(j, "crtime", f->crtime);
	if (f->link)
		vg_json_kstr(j, "link", f->link);
	if (f->hashed) {
		for (int k = 0; k < 32; k++)
			snprintf(hex + 2 * k, 3, "%02x", f->hash[k]);
		vg_json_kstr(j, "blake2b", hex);
	}
	vg_json_obj_close(j);
}

int vg_disk_baseline_write(const struct vg_disk_scan *s, const char *label, const char *path,
			   struct vg_err *err)
{
	char ts[VG_RFC3339_LEN];
	struct vg_dbase b;
	struct vg_json j;
	FILE *out;
	int fd, ret;

	ret = vg_disk_baseline_of(s, &b, err);
	if (ret)
		return ret;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = vg_errf(err, errno, "cannot create %s: %s", path,
			      errno == EEXIST ? "it exists (not replaced)" : strerror(errno));
		vg_disk_baseline_free(&b);
		return ret;
	}
	out = fdopen(fd, "w");
	if (!out) {
		close(fd);
		unlink(path);
		vg_disk_baseline_free(&b);
		return vg_errf(err, errno, "cannot write %s", path);
	}
	vg_rfc3339_now(ts, sizeof(ts));
	vg_json_init(&j, out, false);
	vg_json_obj_open(&j);
	vg_json_kint(&j, "vigil_disk_baseline", FORMAT);
	vg_json_kstr(&j, "label", label);
	vg_json_kstr(&j, "kind", s->source_kind);
	vg_json_kstr(&j, "created", ts);
	vg_json_key(&j, "files");
	vg_json_arr_open(&j);
	for (size_t i = 0; i < b.n; i++)
		write_file(&j, &b.v[i]);
	vg_json_arr_close(&j);
	vg_json_obj_close(&j);
	vg_json_end(&j);
	ret = ferror(out) | fflush(out) | fsync(fd);
	if (fclose(out) || ret) {
		unlink(path);
		ret = vg_errf(err, EIO, "cannot write %s", path);
	}
	vg_disk_baseline_free(&b);
	return ret;
}

static bool get_uint(json_t *o, const char *k, uint64_t *v, bool required)
{
	json_t *x = json_object_get(o, k);

	if (!x)
		return !required;
	if (!json_is_integer(x) || json_integer_value(x) < 0)
		return false;
	*v = (uint64_t)json_integer_value(x);
	return true;
}

static bool get_int(json_t *o, const char *k, int64_t *v)
{
	json_t *x = json_object_get(o, k);

	if (!x)
		return true;
	if (!json_is_integer(x))
		return false;
	*v = json_integer_value(x);
	return true;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int parse_hex(const char *s, uint8_t out[32])
{
	if (strlen(s) != 64)
		return -1;
	for (int k = 0; k < 32; k++) {
		int hi = hexval(s[2 * k]), lo = hexval(s[2 * k + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[k] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int parse_file(json_t *o, struct vg_dbase_file *f)
{
	json_t *p = json_object_get(o, "path"), *l = json_object_get(o, "link");
	json_t *h = json_object_get(o, "blake2b");
	uint64_t mode = 0, uid = 0, gid = 0, nlink = 0;

	if (!json_is_object(o) || !json_is_string(p) || (l && !json_is_string(l)) ||
	    (h && !json_is_string(h)) || !get_uint(o, "mode", &mode, true) ||
	    !get_uint(o, "uid", &uid, true) || !get_uint(o, "gid", &gid, true) ||
	    !get_uint(o, "nlink", &nlink, false) || !get_uint(o, "inode", &f->ino, false) ||
	    !get_uint(o, "size", &f->size, true) || !get_int(o, "mtime", &f->mtime) ||
	    !get_int(o, "ctime", &f->ctime) || !get_int(o, "crtime", &f->crtime) ||
	    mode > UINT32_MAX || uid > UINT32_MAX || gid > UINT32_MAX || nlink > UINT32_MAX)
		return -EINVAL;
	f->mode = (uint32_t)mode;
	f->uid = (uint32_t)uid;
	f->gid = (uint32_t)gid;
	f->nlink = (uint32_t)nlink;
	if (h) {
		if (parse_hex(json_string_value(h), f->hash))
			return -EINVAL;
		f->hashed = true;
	}
	f->path = strdup(json_string_value(p));
	f->link = l ? strdup(json_string_value(l)) : NULL;
	return f->path && (!l || f->link) ? 0 : -ENOMEM;
}

static char *read_all(const char *path, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = fd >= 0 ? malloc(len + 1) : NULL;
	size_t got = 0;

	while (buf && got < len) {
		ssize_t r = read(fd, buf + got, len - got);

		if (r <= 0) {
			free(buf);
			buf = NULL;
			break;
		}
		got += (size_t)r;
	}
	if (fd >= 0)
		close(fd);
	return buf;
}

int vg_disk_baseline_read(const char *path, struct vg_dbase *b, struct vg_err *err)
{
	json_error_t je;
	json_t *root, *files, *v, *lbl, *kind;
	struct stat st;
	char *text;
	int ret = 0;

	memset(b, 0, sizeof(*b));
	if (stat(path, &st))
		return vg_errf(err, errno, "cannot read %s: %s", path, strerror(errno));
	if ((uint64_t)st.st_size > MAX_BASELINE)
		return vg_errf(err, EFBIG, "%s is over %llu bytes: not a baseline", path,
			       MAX_BASELINE);
	/* read whole and parsed from memory: json_load_file reads a character at a time */
	text = read_all(path, (size_t)st.st_size);
	if (!text)
		return vg_errf(err, errno ? errno : EIO, "cannot read %s", path);
	root = json_loadb(text, (size_t)st.st_size, JSON_REJECT_DUPLICATES, &je);
	free(text);
	if (!root)
		return vg_errf(err, EINVAL, "%s: not a baseline (line %d: %s)", path, je.line,
			       je.text);
	v = json_object_get(root, "vigil_disk_baseline");
	files = json_object_get(root, "files");
	lbl = json_object_get(root, "label");
	kind = json_object_get(root, "kind");
	if (!json_is_integer(v) || json_integer_value(v) != FORMAT || !json_is_array(files)) {
		json_decref(root);
		return vg_errf(err, EINVAL, "%s is not a vigil disk baseline (format %d)", path,
			       FORMAT);
	}
	b->label = strdup(json_is_string(lbl) ? json_string_value(lbl) : "");
	b->kind = strdup(json_is_string(kind) ? json_string_value(kind) : "");
	b->v = calloc(json_array_size(files) + 1, sizeof(*b->v));
	if (!b->label || !b->kind || !b->v)
		ret = vg_errf(err, ENOMEM, "out of memory");
	for (size_t i = 0; !ret && i < json_array_size(files); i++) {
		int r = parse_file(json_array_get(files, i), &b->v[b->n]);

		b->n++;
		if (r)
			ret = vg_errf(err, -r, "%s: file entry %zu is malformed", path, i);
	}
	json_decref(root);
	if (ret) {
		vg_disk_baseline_free(b);
		return ret;
	}
	qsort(b->v, b->n, sizeof(*b->v), cmp_file);
	for (size_t i = 1; i < b->n; i++)
		if (!strcmp(b->v[i - 1].path, b->v[i].path)) {
			ret = vg_errf(err, EINVAL, "%s lists %s twice", path, b->v[i].path);
			vg_disk_baseline_free(b);
			return ret;
		}
	return 0;
}
