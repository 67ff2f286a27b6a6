/* SPDX-License-Identifier: MIT */
/*
 * Linux kernel discovery and objects, with no profile: everything is found in guest RAM, on
 * x86-64 and AArch64 guests alike (the architecture is told by content).
 *
 *   banner    "Linux version ..." strings in physical memory (candidates for linux_banner)
 *   pgd       the kernel page tables: CR3 from a dump when it has one, else a page of the kernel
 *             image whose top-level entry maps the banner through the kernel-text window;
 *             AArch64: swapper_pg_dir, a page near the banner that is a kernel level-0 table
 *             mapping it (or the guest's VMCOREINFO as a fast path, verified the same way)
 *   kallsyms  the kernel's compressed symbol tables located by their shape, decoded in full
 *   ksymtab   the exported-symbol table (EXPORT_SYMBOL), found by content: the data symbols a
 *             kernel built without KALLSYMS_ALL (Debian's arm64) keeps nowhere else
 *   btf       the kernel's own BTF (between __start_BTF and __stop_BTF), parsed with libbpf
 *   offsets   the struct member offsets vigil needs, resolved from BTF (or from the cache)
 *   dsyms     data symbols kallsyms lacks: from ksymtab, BTF's per-CPU variables, or the code
 *             that uses them (an AArch64 ADRP/ADD pair), each checked against what it must be
 *
 * Every value read from the guest is hostile: lists are walked with a step bound and cycle
 * detection, strings and lengths are capped, and an inconsistency is an error with context.
 */
#ifndef VIGIL_LINUX_H
#define VIGIL_LINUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/arch.h"
#include "vigil/err.h"
#include "vigil/mem.h"

struct btf;

/* The symbols discovery itself needs (a set per architecture); cached by address so a warm
 * start decodes no kallsyms. */
#define VG_CORE_SYMS 8

#define VG_BANNER_MAX 256
#define VG_COMM_LEN 16
#define VG_MAX_TASKS 65536  /* bound on any task-list walk */
#define VG_MAX_MODULES 4096 /* bound on the module-list walk */
#define VG_CMDLINE_MAX 4096 /* bytes of a process's argv kept */
#define VG_PATH_MAX 1024

struct vg_ksym {
	uint64_t addr;	   /* read through vg_ksym_addr(): relative to bias when slides */
	uint32_t name_off; /* into vg_kallsyms.names */
	char type;	   /* kallsyms type letter: T, t, D, d, R, r, B, b, ... */
	uint8_t slides;	   /* addr is relative to vg_kallsyms.bias (a table cached per build) */
	uint8_t pad[2];
};

struct vg_kallsyms {
	uint32_t count;
	struct vg_ksym *syms; /* in table order (sorted by address) */
	char *names;	      /* all names, NUL-separated */
	size_t names_len;
	uint32_t *hash; /* open-addressed name index: slot -> sym index + 1, 0 empty */
	uint32_t hash_mask;
	uint64_t relative_base;
	bool absolute_percpu;
	uint64_t token_off; /* offset of kallsyms_token_table in the parsed image */
	uint64_t bias;	    /* added to the address of every symbol that slides */
	void *map;	    /* when set, syms, names and hash live in this mapping */
	size_t map_len;
};

/* Struct member offsets (bytes) vigil reads; -1 when the kernel lacks the member. */
struct vg_offsets {
	int32_t task_tasks, task_pid, task_tgid, task_comm, task_real_parent, task_parent,
		task_real_cred, task_cred, task_mm, task_state, task_exit_state, task_flags,
		task_signal, task_thread_node, task_group_leader;
	int32_t task_state_size; /* 4 (__state) or 8 (old long state) */
	int32_t cred_uid, cred_gid, cred_euid, cred_egid;
	int32_t mm_pgd, mm_arg_start, mm_arg_end, mm_exe_file;
	int32_t signal_thread_head;
	int32_t file_f_path, path_mnt, path_dentry;
	int32_t dentry_d_name, dentry_d_parent, dentry_d_hash, qstr_name, qstr_len;
	int32_t file_f_inode, inode_i_mode;
	int32_t mount_mnt, mount_mnt_parent, mount_mnt_mountpoint, vfsmount_mnt_root;
	int32_t module_list, module_name, module_state, module_refcnt;
	int32_t module_name_len;
	int32_t module_base, module_size; /* core_layout.base/size (<6.4) or mem[MOD_TEXT] */
	int32_t module_mem_stride;	  /* 6.4+: sizeof(struct module_memory), else 0 */
	int32_t module_mem_count;	  /* 6.4+: number of module_memory regions summed */
	int32_t e820_nr, e820_entries, e820_entry_size;
};

/* The exported-symbol table (ksymtab.c): names and addresses, indexed by name. */
struct vg_ksymtab {
	uint32_t count;
	uint64_t *addr;
	uint32_t *name_off; /* into names */
	char *names;
	uint32_t *hash; /* slot -> index + 1, 0 empty */
	uint32_t hash_mask;
	uint64_t table_off; /* offset of its first entry in the parsed image */
	uint32_t stride;    /* 12 (value, name, namespace) or 8 bytes per entry */
};

/* What a VMCOREINFO text claims (vmcoreinfo.c); `have` says which fields it had. */
enum {
	VG_VMCI_RELEASE = 1 << 0,
	VG_VMCI_SWAPPER = 1 << 1,
	VG_VMCI_STEXT = 1 << 2,
	VG_VMCI_VA_BITS = 1 << 3,
	VG_VMCI_VOFFSET = 1 << 4,
	VG_VMCI_PHYS_OFFSET = 1 << 5,
	VG_VMCI_KERNELOFFSET = 1 << 6,
	VG_VMCI_UTS = 1 << 7,
	VG_VMCI_PACMASK = 1 << 8,
};

struct vg_vmcoreinfo {
	unsigned int have;
	char release[64];
	uint64_t swapper_pg_dir, stext, init_uts_ns, va_bits, kimage_voffset, phys_offset;
	uint64_t kernel_offset, pac_mask;
};

struct vg_linux_timing {
	double banner_ms, pgd_ms, kallsyms_ms, btf_ms, total_ms;
	bool from_cache;
};

struct vg_linux {
	struct vg_mem *mem;
	struct vg_as kas; /* kernel address space */
	enum vg_arch arch;
	char banner[VG_BANNER_MAX];
	char release[64]; /* "6.1.0-26-amd64" */
	uint64_t banner_pa, banner_va;
	int levels;
	int va_bits;		   /* AArch64: VA_BITS of the kernel half; x86-64: 48 or 57 */
	uint64_t text_va;	   /* runtime _text */
	uint64_t kaslr_slide;	   /* _text - its link address (0xffffffff81000000 on x86) */
	uint64_t page_offset_base; /* direct (linear) map base */
	uint64_t phys_offset;	   /* physical address page_offset_base maps: 0 on x86-64,
				    * memstart_addr (PHYS_OFFSET, KASLR-randomised) on AArch64 */
	uint64_t phys_slide;	   /* physical load address of _text */
	uint64_t kimage_voffset;   /* AArch64: kernel image VA - PA */
	uint64_t kimage_end;	   /* AArch64: end of the image's mapping (_end) */
	uint64_t pac_mask;	   /* AArch64: the bits a pointer-authentication code uses */
	bool ksyms_text_only;	   /* kallsyms has no data symbols (no KALLSYMS_ALL) */
	const char *vmcoreinfo;	   /* AArch64: how the VMCOREINFO hint fared ("used", ...) */
	int layout;		   /* vg_mem layout chosen */
	struct vg_kallsyms ksyms;
	struct btf *btf; /* NULL when offsets came from the cache */
	uint32_t btf_types;
	uint64_t btf_size;
	struct vg_offsets off;
	uint64_t init_task, modules_head;
	struct vg_linux_timing timing;
	/* where the image and its tables are, so symbols and BTF can be loaded lazily when the
	 * cache answered discovery (and so the cache can be written) */
	uint64_t img_va, img_pa, img_len;
	uint64_t ks_token_off; /* kallsyms_token_table offset in the image */
	uint64_t btf_off;      /* BTF offset in the image (0 when from --btf) */
	uint64_t ks_hash;      /* FNV-1a of the token table: a build fingerprint */
	uint64_t kst_off;      /* ksymtab's first entry in the image (0: not found yet) */
	struct vg_ksymtab ksymtab;
	bool ksymtab_loaded;
	struct vg_dsyms *dsyms; /* data symbols resolved so far (dsyms.c) */
	bool ksyms_loaded;
	const char *symbols_file, *btf_file;
	uint64_t core_sym[VG_CORE_SYMS]; /* vg_core_sym_names' addresses, 0 when absent */
	char cache_dir[1024];		 /* where discovery caches live; "" when disabled */
	struct vg_btf_memo *btf_memo;	 /* BTF answers for this build (btfmemo.c) */
};

struct vg_linux_opts {
	const char *symbols_file; /* --symbols: System.map or /proc/kallsyms text */
	const char *btf_file;	  /* --btf: vmlinux ELF or raw BTF */
	const char *cache_dir;	  /* NULL: $XDG_CACHE_HOME/vigil or ~/.cache/vigil; "" disables */
	/* a banner that belongs to a kernel known to have stopped (the guest rebooted and the
	 * old image is still in RAM): skipped, and the cache is not consulted; 0 = none */
	uint64_t stale_banner_pa;
};

int vg_linux_open(struct vg_linux *lx, struct vg_mem *mem, const struct vg_linux_opts *opts,
		  struct vg_err *err);
void vg_linux_close(struct vg_linux *lx);

/* Symbol lookup by exact name; -ENOENT when absent. Decodes kallsyms on first use after a
 * cached discovery. */
int vg_linux_sym(struct vg_linux *lx, const char *name, uint64_t *addr);

/* Files in the discovery cache directory (lxcache.c), for the per-build caches of this and
 * other parts (ksyms, BTF memo, dispatcher memo, text verdict): the path of PREFIX-KEY, or
 * -ENOENT when caching is disabled; and a file written whole from N pieces under a temporary
 * name and renamed into place, so a reader never sees half of it (best effort: a cache that
 * cannot be written is not an error). */
int vg_linux_cache_path(const struct vg_linux *lx, const char *prefix, uint64_t key, char *out,
			size_t len);
struct iovec;
void vg_linux_cache_write(const char *path, int mode, const struct iovec *parts, int n);
/* Nearest symbol at or below addr: returns its name and sets *off, or NULL. */
const char *vg_linux_sym_near(struct vg_linux *lx, uint64_t addr, uint64_t *off);
/* The kernel's BTF, parsed on first use after a cached discovery; NULL on failure. */
struct btf *vg_linux_btf(struct vg_linux *lx, struct vg_err *err);
/* Makes the full symbol table available (count, iteration); 0 or negative errno. */
int vg_linux_load_symbols(struct vg_linux *lx, struct vg_err *err);

/* Member offsets and sizes from the kernel's BTF (as vg_btf_offset/vg_btf_sizeof), memoised
 * per build in the discovery cache so a warm run answers without parsing BTF at all. */
int32_t vg_linux_btf_offset(struct vg_linux *lx, const char *type, const char *path);
int64_t vg_linux_btf_sizeof(struct vg_linux *lx, const char *type, const char *path);
/* Does the memo hold answers for this kernel's BTF (so BTF need not be parsed up front)? */
bool vg_linux_btf_memo_loaded(struct vg_linux *lx);

/* Kernel virtual → physical through the direct map or the page tables. */
int vg_linux_read(struct vg_linux *lx, uint64_t va, void *buf, size_t len);

/* The physical address of a direct-map (linear map) address, e.g. mm->pgd. */
static inline uint64_t vg_linux_pa(const struct vg_linux *lx, uint64_t va)
{
	return va - lx->page_offset_base + lx->phys_offset;
}
/* A process's address space: the user page tables at direct-map address PGD. */
int vg_linux_user_as(struct vg_linux *lx, uint64_t pgd, struct vg_as *out);
/* The area modules live in: [*lo, *hi). On AArch64 it overlaps the kernel image, which
 * vg_linux_in_image tells apart. */
void vg_linux_module_area(struct vg_linux *lx, uint64_t *lo, uint64_t *hi);
bool vg_linux_in_image(const struct vg_linux *lx, uint64_t va);
/* How many exported symbols (ksymtab) the kernel has, read on first use. */
uint32_t vg_linux_exported_count(struct vg_linux *lx);
/* "x86-64 4-level", "AArch64 48-bit 4-level", ... */
const char *vg_linux_paging_name(const struct vg_linux *lx);

/* --- discovery pieces, exposed for unit tests and fuzzing --- */

/* Finds up to max "Linux version " banners in physical memory, the likeliest linux_banner
 * first; returns how many. With max == 1 it stops at the first that ends like linux_banner. */
int vg_banner_find(struct vg_mem *mem, uint64_t *pas, int max);

/* Locates and decodes kallsyms in an image of kernel memory: IMG is len bytes that start at
 * kernel virtual address img_va; the search starts at offset HINT (e.g. the banner). */
int vg_kallsyms_parse(struct vg_kallsyms *ks, const uint8_t *img, size_t len, uint64_t img_va,
		      size_t hint, struct vg_err *err);
int vg_kallsyms_from_text(struct vg_kallsyms *ks, const char *text, size_t len, uint64_t slide,
			  struct vg_err *err);
void vg_kallsyms_free(struct vg_kallsyms *ks);
/* Fingerprint of the symbol table in IMG (names, offsets, count) without decoding it. */
int vg_kallsyms_fingerprint(const uint8_t *img, size_t len, size_t hint, uint64_t *fp);
/* Builds the name index over syms/names (used by both parsers). */
int vg_kallsyms_build_index(struct vg_kallsyms *ks);
const struct vg_ksym *vg_kallsyms_lookup(const struct vg_kallsyms *ks, const char *name);
const struct vg_ksym *vg_kallsyms_near(const struct vg_kallsyms *ks, uint64_t addr);
static inline uint64_t vg_ksym_addr(const struct vg_kallsyms *ks, const struct vg_ksym *s)
{
	return s->slides ? s->addr + ks->bias : s->addr;
}
static inline const char *vg_ksym_name(const struct vg_kallsyms *ks, const struct vg_ksym *s)
{
	return ks->names + s->name_off;
}

/* Locates the exported-symbol table in IMG (kernel memory from IMG_VA) by content, anchored
 * on the string "init_task" which every kernel exports, searching from HINT first. */
int vg_ksymtab_parse(struct vg_ksymtab *kt, const uint8_t *img, size_t len, uint64_t img_va,
		     size_t hint, struct vg_err *err);
int vg_ksymtab_lookup(const struct vg_ksymtab *kt, const char *name, uint64_t *addr);
void vg_ksymtab_free(struct vg_ksymtab *kt);

/* Parses VMCOREINFO text (bounded); -ENOENT when it has no OSRELEASE. */
int vg_vmcoreinfo_parse(struct vg_vmcoreinfo *vi, const char *text, size_t len);

/* Finds a BTF blob (magic, version, header consistent) in IMG; returns its offset or -ENOENT. */
int64_t vg_btf_find(const uint8_t *img, size_t len);
/* Offset of dotted member PATH in struct/union TYPE, or -1; size of TYPE (or of its member
 * PATH), or -ENOENT. For checks that need more than vg_offsets. */
int32_t vg_btf_offset(const struct btf *btf, const char *type, const char *path);
int64_t vg_btf_sizeof(const struct btf *btf, const char *type, const char *path);
/* Resolves struct offsets from BTF; fails naming the first required member missing. */
int vg_offsets_resolve(struct vg_offsets *off, const struct btf *btf, struct vg_err *err);

#endif
