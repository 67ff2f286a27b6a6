// SPDX-License-Identifier: MIT
/*
 * A baseline against the present, AIDE style: both sides sorted by path and merged.
 * file-added and file-removed for paths on one side only; file-changed with the fields that
 * differ (content, type, mode, owner, size, link target, mtime, ctime, creation time, inode
 * number). Severity follows what changed and where: setuid/setgid gained is critical; new
 * content, mode or owner in system directories is high, and so is new content under an
 * unchanged mtime (timestomping); anything else outside system directories is low.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "scan_int.h"

enum {
	F_CONTENT = 1 << 0,
	F_TYPE = 1 << 1,
	F_MODE = 1 << 2,
	F_OWNER = 1 << 3,
	F_SIZE = 1 << 4,
	F_LINK = 1 << 5,
	F_MTIME = 1 << 6,
	F_CTIME = 1 << 7,
	F_CRTIME = 1 << 8,
	F_INODE = 1 << 9,
};

static const char *const field_names[] = { "content", "type",  "mode",	"owner",  "size",
					   "link",    "mtime", "ctime", "crtime", "inode" };

static bool excluded(const char *path, const char *const *ex)
{
	for (const char *const *p = ex; p && *p; p++)
		if (vg_path_under(path, *p))
			return true;
	return false;
}

static void hex(const uint8_t *h, char *out)
{
	for (int k = 0; k < 32; k++)
		snprintf(out + 2 * k, 3, "%02x", h[k]);
}

static void side(struct vg_json *j, const char *key, const struct vg_dbase_file *f)
{
	char mode[16], h[65];

	snprintf(mode, sizeof(mode), "%06o", f->mode);
	vg_json_key(j, key);
	vg_json_obj_open(j);
	vg_json_kstr(j, "mode", mode);
	vg_json_kuint(j, "uid", f->uid);
	vg_json_kuint(j, "gid", f->gid);
	vg_json_kuint(j, "size", f->size);
	vg_json_kuint(j, "inode", f->ino);
	vg_json_kint(j, "mtime", f->mtime);
	vg_json_kint(j, "ctime", f->ctime);
	if (f->link)
		vg_json_kstr(j, "link", f->link);
	if (f->hashed) {
		hex(f->hash, h);
		vg_json_kstr(j, "blake2b", h);
	}
	vg_json_obj_close(j);
}

static unsigned changes(const struct vg_dbase_file *a, const struct vg_dbase_file *b)
{
	unsigned c = 0;

	if (a->hashed && b->hashed && memcmp(a->hash, b->hash, 32))
		c |= F_CONTENT;
	if ((a->mode & S_IFMT) != (b->mode & S_IFMT))
		c |= F_TYPE;
	if ((a->mode & 07777) != (b->mode & 07777))
		c |= F_MODE;
	if (a->uid != b->uid || a->gid != b->gid)
		c |= F_OWNER;
	if (a->size != b->size)
		c |= F_SIZE;
	if ((a->link || b->link) && (!a->link || !b->link || strcmp(a->link, b->link)))
		c |= F_LINK;
	if (a->mtime != b->mtime)
		c |= F_MTIME;
	if (a->ctime != b->ctime)
		c |= F_CTIME;
	if (a->crtime != b->crtime)
		c |= F_CRTIME;
	if (a->ino != b->ino)
		c |= F_INODE;
	return c;
}

static int changed(struct vg_dfindings *out, const struct vg_dbase_file *a,
		   const struct vg_dbase_file *b)
{
	unsigned c = changes(a, b);
	unsigned gained = b->mode & ~a->mode & (S_ISUID | S_ISGID);
	bool sys = vg_path_system(b->path);
	bool timestomp = (c & (F_CONTENT | F_SIZE)) && !(c & F_MTIME);
	enum vg_severity sev = VG_SEV_LOW;
	const char *attack = "T1565.001";
	char fields[160] = "";
	struct vg_json j;

	if (!c)
		return 0;
	for (size_t k = 0; k < sizeof(field_names) / sizeof(field_names[0]); k++)
		if (c & (1u << k))
			snprintf(fields + strlen(fields), sizeof(fields) - strlen(fields), "%s%s",
				 fields[0] ? "," : "", field_names[k]);
	if (gained) {
		sev = VG_SEV_CRITICAL;
		attack = "T1548.001";
	} else if (timestomp) {
		sev = VG_SEV_HIGH;
		attack = "T1070.006";
	} else if (sys && (c & (F_CONTENT | F_TYPE | F_MODE | F_OWNER | F_LINK | F_SIZE))) {
		sev = VG_SEV_HIGH;
		attack = (c & F_CONTENT) && (b->mode & 0111) ? "T1554" : "T1565.001";
	}
	if (vg_ev_open(&j))
		return -ENOMEM;
	vg_json_kstr(&j, "path", b->path);
	vg_json_kstr(&j, "changed", fields);
	if (gained)
		vg_json_kstr(&j, "gained",
			     gained == (S_ISUID | S_ISGID) ? "setuid,setgid"
			     : gained == S_ISUID	   ? "setuid"
							   : "setgid");
	if (timestomp)
		vg_json_kbool(&j, "same_mtime", true);
	side(&j, "was", a);
	side(&j, "now", b);
	return vg_dfindings_add(out, "file-changed", sev, attack, "file", b->path, &j,
				"%s changed: %s%s%s", b->path, fields,
				gained ? " (now setuid/setgid)" : "",
				timestomp ? " (content changed, mtime kept)" : "");
}

static int one_side(struct vg_dfindings *out, const struct vg_dbase_file *f, bool added)
{
	bool sys = vg_path_system(f->path);
	bool suid = S_ISREG(f->mode) && (f->mode & (S_ISUID | S_ISGID));
	bool exe = S_ISREG(f->mode) && (f->mode & 0111);
	enum vg_severity sev = sys ? VG_SEV_MEDIUM : VG_SEV_LOW;
	struct vg_json j;

	if (added && suid)
		sev = VG_SEV_CRITICAL;
	else if (added && sys && exe)
		sev = VG_SEV_HIGH;
	if (vg_ev_open(&j))
		return -ENOMEM;
	vg_json_kstr(&j, "path", f->path);
	side(&j, added ? "now" : "was", f);
	return vg_dfindings_add(out, added ? "file-added" : "file-removed", sev,
				added ? (suid ? "T1548.001" : NULL) : "T1070.004", "file", f->path,
				&j, "%s %s%s", f->path, added ? "is new" : "is gone",
				added && suid ? " (setuid/setgid)" : "");
}

int vg_disk_diff(const struct vg_dbase *was, const struct vg_dbase *now,
		 const char *const *excludes, struct vg_dfindings *out, struct vg_err *err)
{
	size_t i = 0, k = 0;
	int ret = 0;

	while ((i < was->n || k < now->n) && !ret) {
		int c = i >= was->n ? 1 : k >= now->n ? -1 : strcmp(was->v[i].path, now->v[k].path);
		const char *path = c < 0 ? was->v[i].path : now->v[k].path;

		if (!excluded(path, excludes)) {
			if (c < 0)
				ret = one_side(out, &was->v[i], false);
			else if (c > 0)
				ret = one_side(out, &now->v[k], true);
			else
				ret = changed(out, &was->v[i], &now->v[k]);
		}
		i += c <= 0;
		k += c >= 0;
	}
	return ret ? vg_errf(err, -ret, "out of memory") : 0;
}
