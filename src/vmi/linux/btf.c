// SPDX-License-Identifier: MIT
/*
 * The kernel's own BTF: found in the image (between __start_BTF and __stop_BTF, or by its
 * header), parsed with libbpf, and queried for the member offsets vigil reads. Member paths
 * are dotted ("core_layout.base") and descend through anonymous structs and unions, which is
 * how recent kernels wrap task_struct and mm_struct fields (randomized-layout blocks).
 */
#include <errno.h>
#include <string.h>

#include <bpf/btf.h>

#include "vigil/linux.h"

#define BTF_MAGIC_LE 0xeb9f
#define BTF_HDR_LEN 24
#define BTF_MAX_SIZE (256u << 20)

int64_t vg_btf_find(const uint8_t *img, size_t len)
{
	for (size_t off = 0; off + BTF_HDR_LEN <= len; off += 4) {
		uint32_t h[6];

		if (img[off] != 0x9f || img[off + 1] != 0xeb || img[off + 2] != 1 || img[off + 3])
			continue;
		memcpy(h, img + off, sizeof(h));
		/* h[1] hdr_len, h[2] type_off, h[3] type_len, h[4] str_off, h[5] str_len */
		if (h[1] != BTF_HDR_LEN || h[2] != 0 || h[4] != h[3] || h[3] == 0 || h[5] == 0)
			continue;
		if ((uint64_t)h[3] + h[5] + BTF_HDR_LEN > len - off ||
		    (uint64_t)h[3] + h[5] > BTF_MAX_SIZE)
			continue;
		return (int64_t)off;
	}
	return -ENOENT;
}

static const struct btf_type *skip_mods(const struct btf *btf, uint32_t *id)
{
	const struct btf_type *t = btf__type_by_id(btf, *id);

	for (int depth = 0; t && depth < 16; depth++) {
		if (!btf_is_mod(t) && !btf_is_typedef(t))
			return t;
		*id = t->type;
		t = btf__type_by_id(btf, *id);
	}
	return NULL;
}

/* Finds NAME in composite type ID (descending into anonymous members); bit offset in *bits. */
static int member_in(const struct btf *btf, uint32_t id, const char *name, int depth,
		     uint32_t *bits, uint32_t *mtype)
{
	const struct btf_type *t = skip_mods(btf, &id);
	const struct btf_member *m;

	if (!t || !btf_is_composite(t) || depth > 8)
		return -ENOENT;
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++) {
		const char *mn = btf__name_by_offset(btf, m->name_off);
		uint32_t off = btf_member_bit_offset(t, i);

		if (mn && mn[0]) {
			if (!strcmp(mn, name)) {
				*bits = off;
				*mtype = m->type;
				return 0;
			}
			continue;
		}
		if (member_in(btf, m->type, name, depth + 1, bits, mtype) == 0) {
			*bits += off;
			return 0;
		}
	}
	return -ENOENT;
}

/* Offset in bytes of dotted PATH inside struct/union SNAME; -1 when absent. */
static int32_t offset_of(const struct btf *btf, const char *sname, const char *path,
			 uint32_t *type_out)
{
	char part[64];
	const char *p = path;
	uint32_t total = 0, mtype = 0;
	int32_t id = btf__find_by_name_kind(btf, sname, BTF_KIND_STRUCT);

	if (id < 0)
		id = btf__find_by_name_kind(btf, sname, BTF_KIND_UNION);
	if (id < 0)
		return -1;
	while (*p) {
		size_t l = strcspn(p, ".");
		uint32_t bits;

		if (l >= sizeof(part))
			return -1;
		memcpy(part, p, l);
		part[l] = '\0';
		if (member_in(btf, (uint32_t)id, part, 0, &bits, &mtype))
			return -1;
		if (bits % 8)
			return -1; /* a bitfield: vigil never reads those by offset */
		total += bits / 8;
		id = (int32_t)mtype;
		p += l;
		if (*p == '.')
			p++;
	}
	if (type_out)
		*type_out = mtype;
	return (int32_t)total;
}

int32_t vg_btf_offset(const struct btf *btf, const char *type, const char *path)
{
	return offset_of(btf, type, path, NULL);
}

int64_t vg_btf_sizeof(const struct btf *btf, const char *type, const char *path)
{
	uint32_t tid;
	int32_t id;

	if (path) {
		if (offset_of(btf, type, path, &tid) < 0)
			return -ENOENT;
		return btf__resolve_size(btf, tid);
	}
	id = btf__find_by_name_kind(btf, type, BTF_KIND_STRUCT);
	if (id < 0)
		id = btf__find_by_name_kind(btf, type, BTF_KIND_UNION);
	return id < 0 ? -ENOENT : btf__resolve_size(btf, (uint32_t)id);
}

struct want {
	int32_t *dst;
	const char *type, *path;
	bool required;
};

int vg_offsets_resolve(struct vg_offsets *o, const struct btf *btf, struct vg_err *err)
{
	const struct want w[] = {
		{ &o->task_tasks, "task_struct", "tasks", true },
		{ &o->task_pid, "task_struct", "pid", true },
		{ &o->task_tgid, "task_struct", "tgid", true },
		{ &o->task_comm, "task_struct", "comm", true },
		{ &o->task_real_parent, "task_struct", "real_parent", true },
		{ &o->task_parent, "task_struct", "parent", true },
		{ &o->task_real_cred, "task_struct", "real_cred", true },
		{ &o->task_cred, "task_struct", "cred", true },
		{ &o->task_mm, "task_struct", "mm", true },
		{ &o->task_exit_state, "task_struct", "exit_state", true },
		{ &o->task_flags, "task_struct", "flags", true },
		{ &o->task_signal, "task_struct", "signal", true },
		{ &o->task_thread_node, "task_struct", "thread_node", false },
		{ &o->task_group_leader, "task_struct", "group_leader", true },
		{ &o->cred_uid, "cred", "uid", true },
		{ &o->cred_gid, "cred", "gid", true },
		{ &o->cred_euid, "cred", "euid", true },
		{ &o->cred_egid, "cred", "egid", true },
		{ &o->mm_pgd, "mm_struct", "pgd", true },
		{ &o->mm_arg_start, "mm_struct", "arg_start", true },
		{ &o->mm_arg_end, "mm_struct", "arg_end", true },
		{ &o->mm_exe_file, "mm_struct", "exe_file", false },
		{ &o->signal_thread_head, "signal_struct", "thread_head", false },
		{ &o->file_f_path, "file", "f_path", true },
		{ &o->path_mnt, "path", "mnt", true },
		{ &o->path_dentry, "path", "dentry", true },
		{ &o->dentry_d_name, "dentry", "d_name", true },
		{ &o->dentry_d_parent, "dentry", "d_parent", true },
		{ &o->dentry_d_hash, "dentry", "d_hash", false },
		{ &o->file_f_inode, "file", "f_inode", false },
		{ &o->inode_i_mode, "inode", "i_mode", false },
		{ &o->qstr_name, "qstr", "name", true },
		{ &o->qstr_len, "qstr", "len", true },
		{ &o->mount_mnt, "mount", "mnt", true },
		{ &o->mount_mnt_parent, "mount", "mnt_parent", true },
		{ &o->mount_mnt_mountpoint, "mount", "mnt_mountpoint", true },
		{ &o->vfsmount_mnt_root, "vfsmount", "mnt_root", true },
		{ &o->module_list, "module", "list", true },
		{ &o->module_name, "module", "name", true },
		{ &o->module_state, "module", "state", true },
		{ &o->module_refcnt, "module", "refcnt", false },
		{ &o->e820_nr, "e820_table", "nr_entries", false },
		{ &o->e820_entries, "e820_table", "entries", false },
	};
	uint32_t tid;
	int32_t id;

	memset(o, 0xff, sizeof(*o)); /* every field -1 until found */
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		*w[i].dst = offset_of(btf, w[i].type, w[i].path, NULL);
		if (*w[i].dst < 0 && w[i].required)
			return vg_errf(err, ENOENT, "kernel BTF has no %s.%s", w[i].type,
				       w[i].path);
	}
	/* task state: unsigned int __state since 5.14, long state before */
	o->task_state = offset_of(btf, "task_struct", "__state", &tid);
	if (o->task_state < 0)
		o->task_state = offset_of(btf, "task_struct", "state", &tid);
	if (o->task_state < 0)
		return vg_errf(err, ENOENT, "kernel BTF has no task_struct.__state or .state");
	o->task_state_size = (int32_t)btf__resolve_size(btf, tid);
	o->module_name_len = -1;
	if (offset_of(btf, "module", "name", &tid) >= 0)
		o->module_name_len = (int32_t)btf__resolve_size(btf, tid);
	/* module memory: core_layout (<6.4) or mem[MOD_TEXT..] (6.4+) */
	o->module_base = offset_of(btf, "module", "core_layout.base", NULL);
	o->module_size = offset_of(btf, "module", "core_layout.size", NULL);
	o->module_mem_stride = 0;
	o->module_mem_count = 1;
	if (o->module_base < 0) {
		int32_t mem = offset_of(btf, "module", "mem", NULL);

		id = btf__find_by_name_kind(btf, "module_memory", BTF_KIND_STRUCT);
		if (mem < 0 || id < 0)
			return vg_errf(err, ENOENT, "kernel BTF has no module memory layout");
		o->module_base = mem + offset_of(btf, "module_memory", "base", NULL);
		o->module_size = mem + offset_of(btf, "module_memory", "size", NULL);
		o->module_mem_stride = (int32_t)btf__resolve_size(btf, (uint32_t)id);
		o->module_mem_count = 7; /* MOD_MEM_NUM_TYPES in 6.4 */
	}
	if (o->module_size < 0)
		return vg_errf(err, ENOENT, "kernel BTF has no module size");
	o->e820_entry_size = -1;
	id = btf__find_by_name_kind(btf, "e820_entry", BTF_KIND_STRUCT);
	if (id >= 0)
		o->e820_entry_size = (int32_t)btf__resolve_size(btf, (uint32_t)id);
	return 0;
}
