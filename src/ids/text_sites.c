// SPDX-License-Identifier: MIT
/*
 * The kernel's runtime patch sites in its own text, read from the guest's tables, and the
 * instruction forms the kernel writes at each (text_int.h). Everything here is guest data:
 * table sizes, record counts, list lengths and chain lengths are all capped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gather_int.h"
#include "text_int.h"

#define MAX_TABLE_BYTES (16u << 20)
#define MAX_SITES (1u << 21)
#define MAX_FTRACE_PAGES 65536
#define MAX_RECS_PER_PAGE (1u << 18) /* a 4 MiB ftrace page of 16-byte records */
#define MAX_RECS (1u << 22)
#define MAX_OPS 256
#define KPROBE_TABLE_SIZE 64
#define MAX_CHAIN 1024

static const uint8_t nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
static const uint8_t xor5rax[] = { 0x2e, 0x2e, 0x2e, 0x31, 0xc0 };
static const uint8_t ret5[] = { 0xc3, 0xcc, 0xcc, 0xcc, 0xcc };

const char *vg_text_site_kind_name(uint8_t kind)
{
	static const char *const names[] = { "jump-label",  "static-call", "static-call-trampoline",
					     "ftrace-site", "ftrace-call", "kprobe" };

	return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "site";
}

/* Room for `more` sites in one step. Each table says how many entries it holds before they
 * are read, and growing by doubling would touch (and copy) twice the memory: fresh pages are
 * what a one-shot scan pays most for. */
static int reserve(struct text_sites *ts, size_t more)
{
	size_t cap = ts->n + more;
	void *p;

	if (cap <= ts->cap)
		return 0;
	if (cap > MAX_SITES)
		return -E2BIG;
	p = realloc(ts->v, cap * sizeof(*ts->v));
	if (!p)
		return -ENOMEM;
	ts->v = p;
	ts->cap = cap;
	return 0;
}

static int add(struct text_sites *ts, uint64_t va, uint64_t target, uint8_t kind)
{
	if (ts->n == ts->cap) {
		int ret = reserve(ts, ts->cap / 4 + 1024);

		if (ret)
			return ret;
	}
	ts->v[ts->n++] = (struct text_site){ .va = va, .target = target, .kind = kind };
	return 0;
}

static int add_u64(uint64_t **v, size_t *n, uint64_t x)
{
	uint64_t *p = realloc(*v, (*n + 1) * sizeof(**v));

	if (!p)
		return -ENOMEM;
	*v = p;
	p[(*n)++] = x;
	return 0;
}

/* Reads [lo, hi) named by two symbols into a fresh buffer. */
static int read_table(struct vg_linux *lx, const char *lo_name, const char *hi_name, uint64_t *lo,
		      uint8_t **buf, size_t *len)
{
	uint64_t hi;

	if (vg_linux_sym(lx, lo_name, lo) || vg_linux_sym(lx, hi_name, &hi))
		return -ENOENT;
	if (hi < *lo || hi - *lo > MAX_TABLE_BYTES)
		return -EINVAL;
	*len = hi - *lo;
	*buf = malloc(*len ? *len : 1);
	if (!*buf)
		return -ENOMEM;
	if (vg_as_read(&lx->kas, *lo, *buf, *len)) {
		free(*buf);
		return -EFAULT;
	}
	return 0;
}

/* struct jump_entry { s32 code; s32 target; long key; }: both relative to their own field. */
static int jump_labels(struct vg_linux *lx, uint64_t start, uint64_t end, struct text_sites *ts)
{
	uint64_t tab;
	uint8_t *b;
	size_t len;
	int ret = read_table(lx, "__start___jump_table", "__stop___jump_table", &tab, &b, &len);

	if (ret)
		return ret == -ENOENT ? 0 : ret; /* a kernel without jump labels */
	ret = reserve(ts, len / 16);
	for (size_t o = 0; o + 16 <= len && !ret; o += 16) {
		int32_t code, target;
		uint64_t va;

		memcpy(&code, b + o, 4);
		memcpy(&target, b + o + 4, 4);
		va = tab + o + (int64_t)code;
		if (va >= start && va < end)
			ret = add(ts, va, tab + o + 4 + (int64_t)target, SITE_JUMP);
	}
	free(b);
	return ret;
}

/* struct static_call_site { s32 addr; s32 key; }, addr relative to itself; plus the
 * trampolines, which kallsyms names __SCT__<call>. */
static int static_calls(struct vg_linux *lx, uint64_t start, uint64_t end, struct text_sites *ts)
{
	const struct vg_kallsyms *ks = &lx->ksyms;
	uint64_t tab;
	uint8_t *b = NULL;
	size_t len = 0;
	int ret = read_table(lx, "__start_static_call_sites", "__stop_static_call_sites", &tab, &b,
			     &len);

	if (ret && ret != -ENOENT)
		return ret; /* -ENOENT: no static call sites, there may still be trampolines */
	if (!ret)
		ret = reserve(ts, len / 8 + 1024);
	for (size_t o = 0; !ret && o + 8 <= len; o += 8) {
		int32_t addr;
		uint64_t va;

		memcpy(&addr, b + o, 4);
		va = tab + o + (int64_t)addr;
		if (va >= start && va < end)
			ret = add(ts, va, 0, SITE_SCALL);
	}
	free(b);
	if (ret && ret != -ENOENT)
		return ret;
	for (uint32_t i = 0; i < ks->count; i++) {
		const struct vg_ksym *k = &ks->syms[i];
		uint64_t a = vg_ksym_addr(ks, k);

		if (a >= start && a < end && (k->type == 'T' || k->type == 't') &&
		    !strncmp(vg_ksym_name(ks, k), "__SCT__", 7) && add(ts, a, 0, SITE_STRAMP))
			return -ENOMEM;
	}
	return 0;
}

/* ftrace's records of every patchable call site: ftrace_pages_start -> struct ftrace_page
 * {next, records, index, ...}, records being `index` struct dyn_ftrace {ip, ...}. */
static int ftrace_sites(struct vg_linux *lx, uint64_t start, uint64_t end, struct text_sites *ts)
{
	int32_t next = vg_linux_btf_offset(lx, "ftrace_page", "next");
	int32_t recs = vg_linux_btf_offset(lx, "ftrace_page", "records");
	int32_t index = vg_linux_btf_offset(lx, "ftrace_page", "index");
	int32_t ip = vg_linux_btf_offset(lx, "dyn_ftrace", "ip");
	int64_t rsz = vg_linux_btf_sizeof(lx, "dyn_ftrace", NULL);
	uint64_t pg, first, caller, total = 0;
	uint32_t cnt;
	int ret = 0, n = 0;

	if (vg_linux_sym(lx, "ftrace_pages_start", &pg))
		return 0; /* no dynamic ftrace */
	if (next < 0 || recs < 0 || index < 0 || ip < 0 || ip + 8 > rsz || rsz > 64 ||
	    vg_as_read_u64(&lx->kas, pg, &pg))
		return -EINVAL;
	/* a first pass for the count alone (two reads a page), so the sites are stored once */
	for (first = pg; pg; n++) {
		if (n >= MAX_FTRACE_PAGES || !vg_ids_kptr(pg) ||
		    vg_as_read_u32(&lx->kas, pg + index, &cnt) || cnt > MAX_RECS_PER_PAGE ||
		    (total += cnt) > MAX_RECS || vg_as_read_u64(&lx->kas, pg + next, &pg))
			return -EFAULT;
	}
	ret = reserve(ts, total + 2);
	total = 0;
	n = 0;
	for (pg = first; pg && !ret; n++) {
		uint64_t rec;
		uint8_t *b;

		if (n >= MAX_FTRACE_PAGES || !vg_ids_kptr(pg) ||
		    vg_as_read_u64(&lx->kas, pg + recs, &rec) ||
		    vg_as_read_u32(&lx->kas, pg + index, &cnt) || cnt > MAX_RECS_PER_PAGE ||
		    (total += cnt) > MAX_RECS)
			return -EFAULT;
		b = malloc(cnt * (size_t)rsz + 1);
		if (!b)
			return -ENOMEM;
		if (cnt && vg_as_read(&lx->kas, rec, b, cnt * (size_t)rsz)) {
			free(b);
			return -EFAULT;
		}
		for (uint32_t i = 0; i < cnt && !ret; i++) {
			uint64_t va;

			memcpy(&va, b + i * rsz + ip, 8);
			if (va >= start && va < end)
				ret = add(ts, va, 0, SITE_FTRACE);
		}
		free(b);
		if (!ret && vg_as_read_u64(&lx->kas, pg + next, &pg))
			return -EFAULT;
	}
	for (int i = 0; !ret && i < 2; i++)
		if (!vg_linux_sym(lx, i ? "ftrace_regs_caller" : "ftrace_caller", &caller))
			ret = add_u64(&ts->ftrace_ok, &ts->nftrace_ok, caller);
	for (int i = 0; !ret && i < 2; i++)
		if (!vg_linux_sym(lx, i ? "ftrace_regs_call" : "ftrace_call", &caller) &&
		    caller >= start && caller < end)
			ret = add(ts, caller, 0, SITE_FCALL);
	return ret;
}

/* Registered ftrace_ops: their trampolines may be called from ftrace sites, their funcs from
 * ftrace_call. Whether an ops belongs to a module is the hook view's question. */
static int ftrace_ops(struct vg_linux *lx, struct text_sites *ts)
{
	int32_t func = vg_linux_btf_offset(lx, "ftrace_ops", "func");
	int32_t next = vg_linux_btf_offset(lx, "ftrace_ops", "next");
	int32_t tramp = vg_linux_btf_offset(lx, "ftrace_ops", "trampoline");
	uint64_t head, end, ops;
	int ret = 0;

	if (vg_linux_sym(lx, "ftrace_ops_list", &head) || vg_linux_sym(lx, "ftrace_list_end", &end))
		return 0;
	if (func < 0 || next < 0 || vg_as_read_u64(&lx->kas, head, &ops))
		return -EINVAL;
	for (int n = 0; ops && ops != end && !ret; n++) {
		uint64_t f, t = 0;

		if (n >= MAX_OPS || !vg_ids_kptr(ops) || vg_as_read_u64(&lx->kas, ops + func, &f) ||
		    (tramp >= 0 && vg_as_read_u64(&lx->kas, ops + tramp, &t)))
			return -EFAULT;
		ret = add_u64(&ts->ops_funcs, &ts->nops_funcs, f);
		if (!ret && t)
			ret = add_u64(&ts->ftrace_ok, &ts->nftrace_ok, t);
		if (!ret && vg_as_read_u64(&lx->kas, ops + next, &ops))
			return -EFAULT;
	}
	return ret;
}

/* kprobe_table: 64 hlist chains of struct kprobe (hlist first), each with its addr and the
 * original first byte (opcode); an optimized one (KPROBE_FLAG_OPTIMIZED) is the kp at the
 * start of a struct optimized_kprobe whose optinsn.copied_insn holds the next four bytes. */
#define KPROBE_FLAG_OPTIMIZED 4

static int kprobes(struct vg_linux *lx, uint64_t start, uint64_t end, struct text_sites *ts)
{
	int32_t addr_off = vg_linux_btf_offset(lx, "kprobe", "addr");
	int32_t opcode_off = vg_linux_btf_offset(lx, "kprobe", "opcode");
	int32_t flags_off = vg_linux_btf_offset(lx, "kprobe", "flags");
	int32_t copied_off = vg_linux_btf_offset(lx, "optimized_kprobe", "optinsn.copied_insn");
	uint64_t table;

	if (vg_linux_sym(lx, "kprobe_table", &table))
		return 0;
	if (addr_off < 0 || opcode_off < 0 || flags_off < 0)
		return -EINVAL;
	for (int b = 0; b < KPROBE_TABLE_SIZE; b++) {
		uint64_t node;
		int n = 0;

		if (vg_as_read_u64(&lx->kas, table + 8 * b, &node))
			return -EFAULT;
		while (node) {
			struct text_site *site;
			uint32_t flags;
			uint64_t a;

			if (n++ >= MAX_CHAIN || !vg_ids_kptr(node) ||
			    vg_as_read_u64(&lx->kas, node + addr_off, &a) ||
			    vg_as_read_u32(&lx->kas, node + flags_off, &flags))
				return -EFAULT;
			if (a >= start && a < end) {
				if (add(ts, a, 0, SITE_KPROBE))
					return -ENOMEM;
				site = &ts->v[ts->n - 1];
				site->norig = 1;
				if (vg_as_read(&lx->kas, node + opcode_off, site->orig, 1))
					return -EFAULT;
				if ((flags & KPROBE_FLAG_OPTIMIZED) && copied_off >= 0 &&
				    !vg_as_read(&lx->kas, node + copied_off, site->orig + 1, 4))
					site->norig = 5;
			}
			if (vg_as_read_u64(&lx->kas, node, &node))
				return -EFAULT;
		}
	}
	return 0;
}

static int cmp_site(const void *a, const void *b)
{
	const struct text_site *x = a, *y = b;

	if (x->va != y->va)
		return x->va < y->va ? -1 : 1;
	return (int)x->kind - (int)y->kind;
}

void vg_text_sites_free(struct text_sites *ts)
{
	free(ts->v);
	free(ts->ftrace_ok);
	free(ts->ops_funcs);
	memset(ts, 0, sizeof(*ts));
}

int vg_text_sites_collect(struct vg_linux *lx, uint64_t start, uint64_t end, struct text_sites *ts)
{
	struct vg_err err = { 0 };
	int ret;

	memset(ts, 0, sizeof(*ts));
	if (vg_linux_load_symbols(lx, &err))
		return -ENOENT;
	ret = jump_labels(lx, start, end, ts);
	if (!ret)
		ret = static_calls(lx, start, end, ts);
	if (!ret)
		ret = ftrace_sites(lx, start, end, ts);
	if (!ret)
		ret = ftrace_ops(lx, ts);
	if (!ret)
		ret = kprobes(lx, start, end, ts);
	if (ret) {
		vg_text_sites_free(ts);
		return ret;
	}
	qsort(ts->v, ts->n, sizeof(*ts->v), cmp_site);
	return 0;
}

static int32_t rel32(const uint8_t *p)
{
	int32_t v;

	memcpy(&v, p, 4);
	return v;
}

static bool in_list(const uint64_t *v, size_t n, uint64_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* Static call targets: kernel text, or a listed module's memory (static_call_update from a
 * module such as kvm_intel is legitimate; a hidden module's is not). */
static bool scall_target_ok(const struct vg_snapshot *s, uint64_t t, uint64_t start, uint64_t end)
{
	const char *owner;

	if (t >= start && t < end)
		return true;
	if (!s)
		return true;
	owner = vg_ids_owner(s, t);
	return owner[0] && owner[0] != '(';
}

size_t vg_text_site_check(const struct text_sites *ts, const struct text_site *site,
			  const uint8_t *text, uint64_t start, uint64_t end,
			  const struct vg_snapshot *s, const char **bad, uint64_t *target)
{
	const uint8_t *p = text + (site->va - start);
	size_t room = end - site->va;

	*bad = NULL;
	*target = 0;
	if (site->kind == SITE_KPROBE) {
		/* armed: int3, or an optimized probe's jmp; disarmed: the original bytes */
		if (p[0] == 0xcc)
			return 1;
		return p[0] == 0xe9 && site->norig == 5 && room >= 5 ? 5 : 0;
	}
	if (site->kind == SITE_JUMP && room >= 2) {
		if (p[0] == 0x66 && p[1] == 0x90)
			return 2;
		if (p[0] == 0xeb) {
			*target = site->va + 2 + (int8_t)p[1];
			if (*target != site->target)
				*bad = "jmp to a target the jump label does not have";
			return 2;
		}
	}
	if (room < 5) {
		*bad = "site at the end of the text";
		return room;
	}
	if (!memcmp(p, nop5, 5))
		return 5;
	if (p[0] == 0xe8 || p[0] == 0xe9)
		*target = site->va + 5 + (int64_t)rel32(p + 1);
	switch (site->kind) {
	case SITE_JUMP:
		if (p[0] != 0xe9)
			*bad = "not a nop or jmp at a jump label";
		else if (*target != site->target)
			*bad = "jmp to a target the jump label does not have";
		break;
	case SITE_FTRACE:
		if (p[0] != 0xe8)
			*bad = "not a nop or call at an ftrace site";
		else if (!in_list(ts->ftrace_ok, ts->nftrace_ok, *target))
			*bad = "call to something other than an ftrace trampoline";
		break;
	case SITE_FCALL:
		if (p[0] != 0xe8)
			*bad = "not a call in the ftrace trampoline";
		else if (!(*target >= start && *target < end) &&
			 !in_list(ts->ops_funcs, ts->nops_funcs, *target))
			*bad = "call to something other than an ftrace_ops function";
		break;
	default: /* static call site or trampoline */
		if (!memcmp(p, xor5rax, 5) || !memcmp(p, ret5, 5))
			break;
		if (p[0] != 0xe8 && p[0] != 0xe9)
			*bad = "not a call, jmp, nop or return at a static call";
		else if (!scall_target_ok(s, *target, start, end))
			*bad = "static call into memory no listed module owns";
		break;
	}
	return 5;
}

uint64_t vg_text_sites_digest(const struct text_sites *ts, uint64_t start, const uint8_t key[16],
			      uint32_t *count)
{
	crypto_generichash_state st;
	uint8_t out[crypto_generichash_BYTES_MIN];
	uint64_t d;

	*count = 0;
	crypto_generichash_init(&st, key, 16, sizeof(out));
	for (size_t i = 0; i < ts->n; i++) {
		uint8_t rec[9];
		uint64_t off = ts->v[i].va - start;

		if (ts->v[i].kind == SITE_KPROBE)
			continue;
		memcpy(rec, &off, 8);
		rec[8] = ts->v[i].kind;
		crypto_generichash_update(&st, rec, sizeof(rec));
		(*count)++;
	}
	crypto_generichash_final(&st, out, sizeof(out));
	memcpy(&d, out, 8);
	return d;
}
