// SPDX-License-Identifier: MIT
/*
 * The exported-symbol table (__ksymtab and __ksymtab_gpl, EXPORT_SYMBOL's records), found by
 * content. A kernel built without KALLSYMS_ALL (Debian's arm64) keeps only text symbols in
 * kallsyms, and 6.1 does not even keep the __start___ksymtab bounds there; the exported data
 * symbols (init_task, init_net, tcp_hashinfo, __per_cpu_offset, memstart_addr, ...) are in
 * this table and nowhere else in memory.
 *
 * With PREL32 relocations (arm64, x86-64, since 4.19) an entry is { s32 value, s32 name }, plus
 * { s32 namespace } since 5.4, each relative to its own field; names point into
 * __ksymtab_strings, where the linker merges a name into the tail of a longer one ("init_net"
 * inside "..._init_net"), so a name need not follow a NUL. Every kernel exports init_task, so
 * the table is found by an aligned entry whose name field points at a "init_task" string; from
 * there it extends while entries hold a C identifier (and, in the 5.4+ layout, a namespace that
 * is empty or one) in name order: both sections are sorted, so walking back from init_task the
 * names must fall, and walking on they may restart once, where __ksymtab_gpl begins. Names are
 * copied out: guest memory may change under us.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/linux.h"

#define KST_MAX 200000u
#define KST_NAME_MAX 128
#define KST_ANCHOR "init_task"

static int32_t rd32s(const uint8_t *p)
{
	int32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* The identifier at image offset T, its length, or 0. */
static size_t ident_at(const uint8_t *img, size_t len, int64_t t)
{
	size_t n = 0;

	if (t < 0 || (uint64_t)t >= len)
		return 0;
	for (; (uint64_t)t + n < len && n < KST_NAME_MAX; n++) {
		uint8_t c = img[t + n];

		if (!c)
			return n;
		if (!(c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z')))
			return 0;
	}
	return 0;
}

/* The name offset an entry at P has, or -1 when it is not a plausible entry. */
static int64_t entry_name(const uint8_t *img, size_t len, size_t p, uint32_t stride)
{
	int64_t t;

	if (p + stride > len)
		return -1;
	t = (int64_t)p + 4 + rd32s(img + p + 4);
	if (!ident_at(img, len, t))
		return -1;
	if (stride == 12) {
		int64_t ns = (int64_t)p + 8 + rd32s(img + p + 8);

		/* no namespace: an empty string (or the NUL ending another) */
		if (ns < 0 || (uint64_t)ns >= len || (img[ns] && !ident_at(img, len, ns)))
			return -1;
	}
	return t;
}

/* Does the entry at P come after the one at Q in name order? */
static bool after(const uint8_t *img, size_t len, size_t p, size_t q, uint32_t stride)
{
	int64_t a = entry_name(img, len, p, stride), b = entry_name(img, len, q, stride);

	return strncmp((const char *)img + a, (const char *)img + b, KST_NAME_MAX) > 0;
}

/* An entry at P whose name is exactly the anchor string at S, in either layout. */
static uint32_t anchor_entry(const uint8_t *img, size_t len, size_t lo, size_t hi, size_t s,
			     size_t *at)
{
	for (size_t p = lo & ~(size_t)3; p + 12 <= hi; p += 4) {
		if ((int64_t)p + 4 + rd32s(img + p + 4) != (int64_t)s)
			continue;
		for (uint32_t stride = 12; stride >= 8; stride -= 4) {
			if (entry_name(img, len, p, stride) == (int64_t)s) {
				*at = p;
				return stride;
			}
		}
	}
	return 0;
}

/* The next "init_task" string (NUL-terminated) in IMG from FROM on; 0 when none. memchr on
 * its last letter, rarer in strings than its first. */
static size_t find_anchor(const uint8_t *img, size_t len, size_t from)
{
	const size_t n = sizeof(KST_ANCHOR) - 1;

	for (size_t p = (from ? from : 1) + n - 1; p + 1 < len;) {
		const uint8_t *q = memchr(img + p, KST_ANCHOR[n - 1], len - 1 - p);

		if (!q)
			return 0;
		p = (size_t)(q - img);
		if (!memcmp(q - (n - 1), KST_ANCHOR, n) && q[1] == '\0')
			return p - (n - 1);
		p++;
	}
	return 0;
}

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static int build(struct vg_ksymtab *kt, const uint8_t *img, size_t len, uint64_t img_va,
		 size_t first, size_t count, uint32_t stride)
{
	size_t used = 0, cap = count * 24 + 1;
	uint32_t size = 1;

	kt->addr = calloc(count, sizeof(*kt->addr));
	kt->name_off = calloc(count, sizeof(*kt->name_off));
	kt->names = malloc(cap);
	while (size < count * 2)
		size <<= 1;
	kt->hash = calloc(size, sizeof(*kt->hash));
	if (!kt->addr || !kt->name_off || !kt->names || !kt->hash)
		return -ENOMEM;
	kt->hash_mask = size - 1;
	for (size_t i = 0; i < count; i++) {
		size_t p = first + i * stride;
		int64_t t = entry_name(img, len, p, stride);
		size_t n = ident_at(img, len, t);
		uint32_t h;

		if (used + n + 1 > cap) {
			char *q = realloc(kt->names, cap = cap * 2 + n + 1);

			if (!q)
				return -ENOMEM;
			kt->names = q;
		}
		memcpy(kt->names + used, img + t, n);
		kt->names[used + n] = '\0';
		kt->name_off[i] = (uint32_t)used;
		kt->addr[i] = img_va + p + (uint64_t)(int64_t)rd32s(img + p);
		h = name_hash(kt->names + used) & kt->hash_mask;
		while (kt->hash[h])
			h = (h + 1) & kt->hash_mask;
		kt->hash[h] = (uint32_t)i + 1;
		used += n + 1;
	}
	kt->count = (uint32_t)count;
	kt->table_off = first;
	kt->stride = stride;
	return 0;
}

int vg_ksymtab_parse(struct vg_ksymtab *kt, const uint8_t *img, size_t len, uint64_t img_va,
		     size_t hint, struct vg_err *err)
{
	size_t s, at = 0, first, last;
	uint32_t stride = 0;
	int ret;

	memset(kt, 0, sizeof(*kt));
	if (hint >= len)
		hint = 0;
	/* the entry that names init_task: the table and its strings follow kallsyms in .rodata,
	 * so after the hint first, then anywhere */
	for (s = find_anchor(img, len, hint); s && !stride; s = find_anchor(img, len, s + 1))
		stride = anchor_entry(img, len, hint, len, s, &at);
	for (s = find_anchor(img, len, 1); hint && s && !stride; s = find_anchor(img, len, s + 1))
		stride = anchor_entry(img, len, 0, len, s, &at);
	if (!stride)
		return vg_errf(err, ENOENT,
			       "no exported-symbol table (ksymtab) in the kernel image");
	first = last = at;
	while (first >= stride && (at - first) / stride < KST_MAX &&
	       entry_name(img, len, first - stride, stride) >= 0 &&
	       after(img, len, first, first - stride, stride))
		first -= stride;
	for (int restarts = 0; (last - first) / stride + 1 < KST_MAX &&
			       entry_name(img, len, last + stride, stride) >= 0;
	     last += stride)
		if (!after(img, len, last + stride, last, stride) && ++restarts > 1)
			break;
	ret = build(kt, img, len, img_va, first, (last - first) / stride + 1, stride);
	if (ret) {
		vg_ksymtab_free(kt);
		return vg_errf(err, -ret, "out of memory reading the ksymtab");
	}
	return 0;
}

int vg_ksymtab_lookup(const struct vg_ksymtab *kt, const char *name, uint64_t *addr)
{
	uint32_t h;

	if (!kt->hash)
		return -ENOENT;
	h = name_hash(name) & kt->hash_mask;
	for (uint32_t probes = 0; kt->hash[h] && probes <= kt->hash_mask; probes++) {
		uint32_t i = kt->hash[h] - 1;

		if (!strcmp(kt->names + kt->name_off[i], name)) {
			*addr = kt->addr[i];
			return 0;
		}
		h = (h + 1) & kt->hash_mask;
	}
	return -ENOENT;
}

void vg_ksymtab_free(struct vg_ksymtab *kt)
{
	free(kt->addr);
	free(kt->name_off);
	free(kt->names);
	free(kt->hash);
	memset(kt, 0, sizeof(*kt));
}
