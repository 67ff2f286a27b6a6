// SPDX-License-Identifier: MIT
/*
 * Data symbols for kernels whose kallsyms holds text only (built without KALLSYMS_ALL, as
 * Debian's arm64 kernel is). What that changes: every variable vigil reads (init_task, the
 * module list, the network tables, the run queues, the syscall table...) has to be found some
 * other way, and here each comes from the first source that has it:
 *
 *   1. discovery's own results: _text (kimage_vaddr) and linux_banner (where the page tables
 *      map the banner);
 *   2. the exported-symbol table (ksymtab.c): init_task, init_net, tcp_hashinfo, udp_table,
 *      init_pid_ns, __per_cpu_offset, __cpu_online_mask, nr_cpu_ids, jiffies, ...;
 *   3. BTF's per-CPU variables (runqueues, ...): the .data..percpu section's offsets, placed by
 *      an exported per-CPU variable whose address and offset are both known;
 *   4. AArch64 code that uses the variable: the ADRP/ADD pairs of a few functions known to
 *      touch it (modules in m_start, sys_call_table in do_el0_svc, ...), each candidate checked
 *      against what the variable must hold (a list of modules that links back, a table of
 *      __arm64_sys_* handlers, a kset named "module", a file_operations whose read_iter is
 *      sock_read_iter...), so a function that changed shape yields nothing rather than a guess.
 *
 * Answers (found or not) are remembered for the handle's life.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "discover_int.h"
#include "kread.h"

#define MEMO_MAX 96
#define CODE_MAX 4096
#define REFS_MAX 64
#define SCT_MIN 256
#define SCT_MAX 1024
#define MODULE_STATE_MAX 3

struct dsym {
	char name[40];
	uint64_t addr;
	int ret;
};

struct vg_dsyms {
	int n;
	struct dsym e[MEMO_MAX];
	uint32_t *by_addr; /* ksymtab indexes in address order, for vg_dsym_near */
};

int vg_linux_ksymtab(struct vg_linux *lx)
{
	struct vg_err e = { 0 };
	const uint8_t *img;

	if (lx->ksymtab_loaded)
		return lx->ksymtab.count ? 0 : -ENOENT;
	lx->ksymtab_loaded = true;
	img = vg_mem_ptr(lx->mem, lx->img_pa, lx->img_len);
	if (!img || vg_ksymtab_parse(&lx->ksymtab, img, lx->img_len, lx->img_va,
				     lx->kst_off ? lx->kst_off : lx->ks_token_off, &e))
		return -ENOENT;
	lx->kst_off = lx->ksymtab.table_off;
	return 0;
}

uint32_t vg_linux_exported_count(struct vg_linux *lx)
{
	return vg_linux_ksymtab(lx) ? 0 : lx->ksymtab.count;
}

/* ---- per-CPU variables from BTF ---- */

static int percpu_var(const struct btf *btf, const char *name, uint32_t *off,
		      const struct btf_type **sec_out)
{
	int32_t sec = btf__find_by_name_kind(btf, ".data..percpu", BTF_KIND_DATASEC);
	const struct btf_type *t;
	const struct btf_var_secinfo *v;

	if (sec < 0)
		return -ENOENT;
	t = btf__type_by_id(btf, (uint32_t)sec);
	*sec_out = t;
	if (!name)
		return 0;
	v = btf_var_secinfos(t);
	for (int i = 0; i < btf_vlen(t); i++, v++) {
		const struct btf_type *var = btf__type_by_id(btf, v->type);

		if (var && btf_is_var(var) &&
		    !strcmp(btf__name_by_offset(btf, var->name_off), name)) {
			*off = v->offset;
			return 0;
		}
	}
	return -ENOENT;
}

/* __per_cpu_start: an exported per-CPU variable's address less its offset in the section,
 * two of them agreeing when there are two. */
static int percpu_base(struct vg_linux *lx, const struct btf *btf, uint64_t *base)
{
	const struct btf_type *t;
	const struct btf_var_secinfo *v;
	uint32_t off;
	int found = 0;

	if (percpu_var(btf, NULL, &off, &t))
		return -ENOENT;
	v = btf_var_secinfos(t);
	for (int i = 0; i < btf_vlen(t) && found < 2; i++, v++) {
		const struct btf_type *var = btf__type_by_id(btf, v->type);
		uint64_t a;

		if (!var || !btf_is_var(var) ||
		    vg_ksymtab_lookup(&lx->ksymtab, btf__name_by_offset(btf, var->name_off), &a))
			continue;
		if (found && a - v->offset != *base)
			return -EINVAL;
		*base = a - v->offset;
		found++;
	}
	return found ? 0 : -ENOENT;
}

static int from_percpu(struct vg_linux *lx, const char *name, uint64_t *addr)
{
	struct vg_err e = { 0 };
	const struct btf_type *t;
	struct btf *btf;
	uint64_t base;
	uint32_t off = 0;

	btf = vg_linux_ksymtab(lx) ? NULL : vg_linux_btf(lx, &e);
	if (!btf || percpu_var(btf, name, &off, &t) || percpu_base(lx, btf, &base))
		return -ENOENT;
	*addr = base + off;
	return 0;
}

/* ---- variables found through the code that uses them ---- */

struct code_ref {
	const char *name;
	const char *funcs[5];
	bool (*valid)(struct vg_linux *lx, uint64_t cand);
};

static int sym(struct vg_linux *lx, const char *name, uint64_t *a)
{
	const struct vg_ksym *s = vg_kallsyms_lookup(&lx->ksyms, name);

	if (!s)
		return -ENOENT;
	*a = vg_ksym_addr(&lx->ksyms, s);
	return 0;
}

/* A variable of the image's data, not its code (the rodata tables included). */
static bool in_data(const struct vg_linux *lx, uint64_t a)
{
	uint64_t etext = 0;

	sym((struct vg_linux *)lx, "_etext", &etext);
	return a >= etext && a < lx->kimage_end && vg_kptr_ok(a);
}

/* The module list head: empty, or linking both ways to a module with a sane state and name. */
static bool valid_modules(struct vg_linux *lx, uint64_t cand)
{
	uint64_t next, prev, back;
	int32_t state;
	char name[8];

	if (!in_data(lx, cand) || vg_kread_ptr(lx, cand, &next) ||
	    vg_kread_ptr(lx, cand + 8, &prev) || !next || !prev)
		return false;
	if (next == cand)
		return prev == cand;
	if (vg_kread_ptr(lx, next + 8, &back) || back != cand || vg_kread_ptr(lx, prev, &back) ||
	    back != cand ||
	    vg_kread_s32(lx, next - lx->off.module_list + lx->off.module_state, &state) ||
	    state < 0 || state > MODULE_STATE_MAX ||
	    vg_as_read(&lx->kas, next - lx->off.module_list + lx->off.module_name, name, 2))
		return false;
	return name[0] > ' ' && name[0] < 0x7f;
}

/* module_kset: a pointer to the kset whose kobject is named "module" (/sys/module). */
static bool valid_module_kset(struct vg_linux *lx, uint64_t cand)
{
	int32_t kobj = vg_linux_btf_offset(lx, "kset", "kobj");
	int32_t name = vg_linux_btf_offset(lx, "kobject", "name");
	uint64_t kset, np;
	char s[8];

	return in_data(lx, cand) && kobj >= 0 && name >= 0 && !vg_kread_ptr(lx, cand, &kset) &&
	       kset && !vg_kread_ptr(lx, kset + kobj + name, &np) && np &&
	       vg_as_read_str(&lx->kas, np, s, sizeof(s)) == 6 && !strcmp(s, "module");
}

/* socket_file_ops: the file_operations whose read_iter is sock_read_iter. */
static bool valid_socket_fops(struct vg_linux *lx, uint64_t cand)
{
	int32_t off = vg_linux_btf_offset(lx, "file_operations", "read_iter");
	uint64_t fn, want;

	return in_data(lx, cand) && off >= 0 && !sym(lx, "sock_read_iter", &want) &&
	       !vg_as_read_u64(&lx->kas, cand + off, &fn) && fn == want;
}

/* kprobe_table: 64 hash heads, each empty or a kernel pointer. */
static bool valid_kprobe_table(struct vg_linux *lx, uint64_t cand)
{
	uint64_t h[64];

	if (!in_data(lx, cand) || vg_as_read(&lx->kas, cand, h, sizeof(h)))
		return false;
	for (int i = 0; i < 64; i++)
		if (h[i] && !vg_kptr_ok(h[i]))
			return false;
	return true;
}

/* ftrace_ops_list: a pointer into a chain of ftrace_ops that ends at ftrace_list_end, the
 * ops whose callback is ftrace_stub and whose next is NULL (remembered as that symbol). */
static bool valid_ftrace_ops_list(struct vg_linux *lx, uint64_t cand)
{
	int32_t next = vg_linux_btf_offset(lx, "ftrace_ops", "next");
	int32_t func = vg_linux_btf_offset(lx, "ftrace_ops", "func");
	uint64_t ops, stub, fn, nx;

	if (!in_data(lx, cand) || next < 0 || func < 0 || sym(lx, "ftrace_stub", &stub) ||
	    vg_kread_ptr(lx, cand, &ops))
		return false;
	for (int i = 0; i < 256 && ops; i++) {
		if (vg_as_read_u64(&lx->kas, ops + func, &fn) || vg_kread_ptr(lx, ops + next, &nx))
			return false;
		if (fn == stub && !nx && in_data(lx, ops)) {
			struct vg_dsyms *m = lx->dsyms;

			if (m->n < MEMO_MAX)
				m->e[m->n++] = (struct dsym){ "ftrace_list_end", ops, 0 };
			return true;
		}
		ops = nx;
	}
	return false;
}

/* vmcoreinfo_note: a pointer to the note buffer, an ELF note named VMCOREINFO. */
static bool valid_vmcoreinfo_note(struct vg_linux *lx, uint64_t cand)
{
	uint64_t p;
	uint32_t h[3];
	char name[12];

	return in_data(lx, cand) && !vg_kread_ptr(lx, cand, &p) && p &&
	       !vg_as_read(&lx->kas, p, h, sizeof(h)) && h[0] == 11 &&
	       !vg_as_read(&lx->kas, p + 12, name, sizeof(name)) && !memcmp(name, "VMCOREINFO", 11);
}

/* A syscall table: most of its first SCT_MIN slots name handlers with PREFIX. */
static bool sct_like(struct vg_linux *lx, uint64_t cand, const char *prefix)
{
	uint64_t v[SCT_MIN];
	int good = 0;

	if (!in_data(lx, cand) || vg_as_read(&lx->kas, cand, v, sizeof(v)))
		return false;
	for (int i = 0; i < SCT_MIN; i++) {
		const struct vg_ksym *s = vg_kallsyms_near(&lx->ksyms, v[i]);
		const char *n;

		if (!s || vg_ksym_addr(&lx->ksyms, s) != v[i])
			continue;
		n = vg_ksym_name(&lx->ksyms, s);
		good += !strncmp(n, prefix, strlen(prefix)) || !strcmp(n, "sys_ni_syscall");
	}
	return good >= SCT_MIN * 9 / 10;
}

static bool valid_sct(struct vg_linux *lx, uint64_t cand)
{
	return sct_like(lx, cand, "__arm64_sys_");
}

static bool valid_compat_sct(struct vg_linux *lx, uint64_t cand)
{
	return sct_like(lx, cand, "__arm64_");
}

static const struct code_ref code_refs[] = {
	{ "modules",
	  { "m_start", "m_next", "print_modules", "module_get_kallsym", NULL },
	  valid_modules },
	{ "module_kset", { "mod_sysfs_setup", NULL }, valid_module_kset },
	{ "socket_file_ops", { "sock_from_file", "sock_alloc_file", NULL }, valid_socket_fops },
	{ "kprobe_table", { "get_kprobe", NULL }, valid_kprobe_table },
	{ "ftrace_ops_list",
	  { "is_ftrace_trampoline", "ftrace_ops_trampoline", "update_ftrace_function", NULL },
	  valid_ftrace_ops_list },
	{ "vmcoreinfo_note", { "paddr_vmcoreinfo_note", NULL }, valid_vmcoreinfo_note },
	{ "sys_call_table", { "do_el0_svc", "el0_svc", NULL }, valid_sct },
	{ "compat_sys_call_table",
	  { "do_el0_svc_compat", "el0_svc_compat", NULL },
	  valid_compat_sct },
};

/* Bytes of the function at FN up to the next symbol, at most CODE_MAX. */
static uint64_t func_len(struct vg_linux *lx, uint64_t fn)
{
	const struct vg_kallsyms *ks = &lx->ksyms;
	const struct vg_ksym *q = vg_kallsyms_near(ks, fn);

	for (; q && q < ks->syms + ks->count; q++) {
		uint64_t a = vg_ksym_addr(ks, q);

		if (a > fn)
			return a - fn < CODE_MAX ? a - fn : CODE_MAX;
	}
	return 0;
}

static int from_code(struct vg_linux *lx, const struct code_ref *c, uint64_t *addr)
{
	uint8_t code[CODE_MAX];
	uint64_t refs[REFS_MAX];

	for (int f = 0; f < 5 && c->funcs[f]; f++) {
		uint64_t fn, len;
		int n;

		if (sym(lx, c->funcs[f], &fn) || !(len = func_len(lx, fn)) ||
		    vg_as_read(&lx->kas, fn, code, len))
			continue;
		n = vg_arm64_code_refs(code, len, fn, refs, REFS_MAX);
		for (int i = 0; i < n; i++)
			if (c->valid(lx, refs[i])) {
				*addr = refs[i];
				return 0;
			}
	}
	return -ENOENT;
}

static int resolve(struct vg_linux *lx, const char *name, uint64_t *addr)
{
	if (!strcmp(name, "_text") && lx->text_va) {
		*addr = lx->text_va;
		return 0;
	}
	if (!strcmp(name, "linux_banner") && lx->banner_va) {
		*addr = lx->banner_va;
		return 0;
	}
	/* found with the list it ends (valid_ftrace_ops_list) */
	if (!strcmp(name, "ftrace_list_end")) {
		uint64_t head;

		if (vg_dsym_lookup(lx, "ftrace_ops_list", &head))
			return -ENOENT;
		for (int i = 0; i < lx->dsyms->n; i++)
			if (!strcmp(lx->dsyms->e[i].name, name) && !lx->dsyms->e[i].ret) {
				*addr = lx->dsyms->e[i].addr;
				return 0;
			}
		return -ENOENT;
	}
	if (!vg_linux_ksymtab(lx) && !vg_ksymtab_lookup(&lx->ksymtab, name, addr))
		return 0;
	if (!from_percpu(lx, name, addr))
		return 0;
	if (lx->arch != VG_ARCH_ARM64)
		return -ENOENT;
	for (size_t i = 0; i < sizeof(code_refs) / sizeof(code_refs[0]); i++)
		if (!strcmp(code_refs[i].name, name))
			return from_code(lx, &code_refs[i], addr);
	return -ENOENT;
}

int vg_dsym_lookup(struct vg_linux *lx, const char *name, uint64_t *addr)
{
	struct vg_dsyms *m = lx->dsyms;
	int ret;

	if (!m && !(m = lx->dsyms = calloc(1, sizeof(*m))))
		return -ENOMEM;
	for (int i = 0; i < m->n; i++)
		if (!strcmp(m->e[i].name, name)) {
			*addr = m->e[i].addr;
			return m->e[i].ret;
		}
	ret = resolve(lx, name, addr);
	if (strlen(name) < sizeof(m->e[0].name) && m->n < MEMO_MAX) {
		struct dsym *d = &m->e[m->n++];

		strcpy(d->name, name);
		d->addr = ret ? 0 : *addr;
		d->ret = ret;
	}
	return ret;
}

void vg_dsyms_free(struct vg_linux *lx)
{
	if (lx->dsyms)
		free(lx->dsyms->by_addr);
	free(lx->dsyms);
	lx->dsyms = NULL;
}

static int cmp_idx(const void *a, const void *b, void *addrs)
{
	const uint64_t *v = addrs;
	uint64_t x = v[*(const uint32_t *)a], y = v[*(const uint32_t *)b];

	return x < y ? -1 : x > y;
}

const char *vg_dsym_near(struct vg_linux *lx, uint64_t addr, uint64_t *off)
{
	const struct vg_ksymtab *kt = &lx->ksymtab;
	struct vg_dsyms *m = lx->dsyms;
	const char *best = NULL;
	uint32_t lo = 0, hi;

	if (vg_linux_ksymtab(lx) || (!m && !(m = lx->dsyms = calloc(1, sizeof(*m)))))
		return NULL;
	if (!m->by_addr) {
		m->by_addr = malloc(kt->count * sizeof(*m->by_addr));
		if (!m->by_addr)
			return NULL;
		for (uint32_t i = 0; i < kt->count; i++)
			m->by_addr[i] = i;
		qsort_r(m->by_addr, kt->count, sizeof(*m->by_addr), cmp_idx, kt->addr);
	}
	for (hi = kt->count; lo < hi;) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (kt->addr[m->by_addr[mid]] <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo) {
		best = kt->names + kt->name_off[m->by_addr[lo - 1]];
		*off = addr - kt->addr[m->by_addr[lo - 1]];
	}
	/* the symbols resolved some other way (discovery's, BTF's, code references) */
	if (lx->banner_va && lx->banner_va <= addr && (!best || addr - lx->banner_va < *off)) {
		best = "linux_banner";
		*off = addr - lx->banner_va;
	}
	for (int i = 0; i < m->n; i++)
		if (!m->e[i].ret && m->e[i].addr <= addr && (!best || addr - m->e[i].addr < *off)) {
			best = m->e[i].name;
			*off = addr - m->e[i].addr;
		}
	return best;
}
