// SPDX-License-Identifier: MIT
/*
 * Mapped files -> modules. The eBPF recorder names code by (dev, ino, file offset) and
 * announces each file's name once, as the kernel's dentry components (relative to its file
 * system's root). The file is found again by that name, by the mount points of its file
 * system (/proc/self/mountinfo) or by a traced process's /proc/PID/maps, and only accepted
 * when stat() gives the same device and inode; then its identity (build id or content hash) is
 * what the gateway's model knows it by. A file that cannot be found stays a module without
 * identity: its syscalls reach the gateway, which cannot vouch for them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "agent_int.h"

static uint64_t fkey(uint32_t dev, uint64_t ino)
{
	return ino ^ (uint64_t)dev << 40;
}

static dev_t user_dev(uint32_t kdev)
{
	return makedev(kdev >> 20, kdev & 0xfffff);
}

static bool same_file(const char *path, uint32_t dev, uint64_t ino)
{
	struct stat st;

	return !stat(path, &st) && st.st_dev == user_dev(dev) && (uint64_t)st.st_ino == ino;
}

static bool find_path(struct ag_files *f, uint32_t dev, uint64_t ino, pid_t pid, char *path,
		      size_t n);

/* A module made before its name arrived (the ring does not order them) is identified now;
 * its definition goes out again with the identity. */
static void retry(struct ag_files *f, uint32_t dev, uint64_t ino)
{
	uint32_t idx = vg_ag_map_get(&f->byfile, fkey(dev, ino));
	struct ag_module *md;
	struct vg_err err = { 0 };
	char path[VG_SB_NAME_MAX];

	if (idx == AG_NONE)
		return;
	md = &f->mods[idx];
	if (md->dev != dev || md->ino != ino || md->m.idkind != VG_SB_ID_NONE ||
	    !find_path(f, dev, ino, 0, path, sizeof(path)))
		return;
	if (vg_agent_module_ident(path, &md->m.idkind, md->m.ident, &md->m.idlen, &err))
		return;
	snprintf(md->name, sizeof(md->name), "%s", path);
	md->m.namelen = strlen(md->name);
	md->sent_seq = UINT64_MAX;
	md->used_seq = UINT64_MAX;
}

int vg_ag_files_name(struct ag_files *f, const struct sm_file *rec, size_t len)
{
	const char *starts[64];
	char *out;
	uint32_t n = 0, namelen, idx;
	size_t o = 0;

	if (len < offsetof(struct sm_file, name))
		return -EINVAL;
	namelen = rec->namelen < SM_NAME_MAX ? rec->namelen : SM_NAME_MAX;
	if (offsetof(struct sm_file, name) + namelen > len)
		namelen = (uint32_t)(len - offsetof(struct sm_file, name));
	/* components, leaf first, each NUL-terminated */
	for (uint32_t i = 0; i < namelen && n < 64;) {
		const char *c = rec->name + i;
		size_t l = strnlen(c, namelen - i);

		if (!l || i + l >= namelen)
			break;
		starts[n++] = c;
		i += (uint32_t)l + 1;
	}
	idx = vg_ag_map_get(&f->names, fkey(rec->dev, rec->ino));
	if (idx == AG_NONE) {
		if (f->npending == f->cappending) {
			uint32_t cap = f->cappending ? f->cappending * 2 : 64;
			void *p = realloc(f->pending, cap * sizeof(*f->pending));

			if (!p)
				return -ENOMEM;
			f->pending = p;
			f->cappending = cap;
		}
		idx = f->npending++;
		if (vg_ag_map_put(&f->names, fkey(rec->dev, rec->ino), idx))
			return -ENOMEM;
	}
	out = f->pending[idx];
	out[0] = 0;
	for (uint32_t i = n; i-- > 0;) {
		int w = snprintf(out + o, VG_SB_NAME_MAX - o, "/%s", starts[i]);

		if (w < 0 || (size_t)w >= VG_SB_NAME_MAX - o)
			break;
		o += (size_t)w;
	}
	if (!o)
		snprintf(out, VG_SB_NAME_MAX, "/");
	retry(f, rec->dev, rec->ino);
	return 0;
}

/* Mount points of the file system DEV under which REL (a path from its root) may be seen. */
static bool via_mounts(uint32_t dev, uint64_t ino, const char *rel, char *out, size_t outlen)
{
	FILE *m = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	bool ok = false;

	if (!m)
		return false;
	while (!ok && fgets(line, sizeof(line), m)) {
		unsigned maj, min;
		char root[1024], mp[1024];
		size_t rl;

		if (sscanf(line, "%*u %*u %u:%u %1023s %1023s", &maj, &min, root, mp) != 4 ||
		    makedev(maj, min) != user_dev(dev))
			continue;
		rl = strcmp(root, "/") ? strlen(root) : 0;
		if (rl && (strncmp(rel, root, rl) || (rel[rl] && rel[rl] != '/')))
			continue;
		snprintf(out, outlen, "%s%s", strcmp(mp, "/") ? mp : "", rel + rl);
		ok = same_file(out, dev, ino);
	}
	fclose(m);
	return ok;
}

static bool via_maps(pid_t pid, uint32_t dev, uint64_t ino, char *out, size_t outlen)
{
	char path[64], line[4096 + 128];
	bool ok = false;
	FILE *m;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	m = fopen(path, "re");
	if (!m)
		return false;
	while (!ok && fgets(line, sizeof(line), m)) {
		unsigned maj, min;
		uint64_t i;
		int pos = 0;

		if (sscanf(line, "%*x-%*x %*s %*x %x:%x %" SCNu64 " %n", &maj, &min, &i, &pos) <
			    3 ||
		    !pos || i != ino || makedev(maj, min) != user_dev(dev))
			continue;
		line[strcspn(line, "\n")] = 0;
		snprintf(out, outlen, "%s", line + pos);
		ok = same_file(out, dev, ino);
	}
	fclose(m);
	return ok;
}

static uint32_t add_module(struct ag_files *f, uint32_t dev, uint64_t ino, const char *path,
			   bool found)
{
	struct ag_module *md;
	struct vg_err err = { 0 };

	if (f->nmods == f->capmods) {
		uint32_t cap = f->capmods ? f->capmods * 2 : 32;
		void *p = realloc(f->mods, cap * sizeof(*f->mods));

		if (!p)
			return AG_NONE;
		f->mods = p;
		f->capmods = cap;
	}
	md = &f->mods[f->nmods];
	memset(md, 0, sizeof(*md));
	md->dev = dev;
	md->ino = ino;
	md->sent_seq = md->used_seq = UINT64_MAX;
	snprintf(md->name, sizeof(md->name), "%s", path);
	md->m.id = f->nmods;
	md->m.name = md->name;
	md->m.namelen = strlen(md->name);
	if (!found || vg_agent_module_ident(path, &md->m.idkind, md->m.ident, &md->m.idlen, &err))
		md->m.idkind = VG_SB_ID_NONE;
	if (vg_ag_map_put(&f->byfile, fkey(dev, ino), f->nmods))
		return AG_NONE;
	return f->nmods++;
}

static bool find_path(struct ag_files *f, uint32_t dev, uint64_t ino, pid_t pid, char *path,
		      size_t n)
{
	uint32_t k = vg_ag_map_get(&f->names, fkey(dev, ino));

	if (k != AG_NONE) {
		snprintf(path, n, "%s", f->pending[k]);
		if (same_file(path, dev, ino) || via_mounts(dev, ino, f->pending[k], path, n))
			return true;
	}
	return via_maps(pid, dev, ino, path, n);
}

uint32_t vg_ag_files_module(struct ag_files *f, uint32_t dev, uint64_t ino, pid_t pid)
{
	uint32_t idx = vg_ag_map_get(&f->byfile, fkey(dev, ino)), k;
	char path[VG_SB_NAME_MAX];
	bool found;

	if (idx != AG_NONE && f->mods[idx].dev == dev && f->mods[idx].ino == ino)
		return idx;
	found = find_path(f, dev, ino, pid, path, sizeof(path));
	if (!found) {
		k = vg_ag_map_get(&f->names, fkey(dev, ino));
		snprintf(path, sizeof(path), "%s", k != AG_NONE ? f->pending[k] : "?");
	}
	return add_module(f, dev, ino, path, found);
}

uint32_t vg_ag_files_module_path(struct ag_files *f, uint32_t dev, uint64_t ino, const char *path)
{
	uint32_t idx = vg_ag_map_get(&f->byfile, fkey(dev, ino));

	if (idx != AG_NONE && f->mods[idx].dev == dev && f->mods[idx].ino == ino)
		return idx;
	return add_module(f, dev, ino, path, same_file(path, dev, ino));
}

void vg_ag_files_free(struct ag_files *f)
{
	vg_ag_map_free(&f->byfile);
	vg_ag_map_free(&f->names);
	free(f->pending);
	free(f->mods);
	memset(f, 0, sizeof(*f));
}
