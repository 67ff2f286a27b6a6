// SPDX-License-Identifier: MIT
/*
 * The kernel's compressed symbol table, found by its shape in kernel memory and decoded.
 *
 * scripts/kallsyms emits, each table 8-byte aligned:
 *   kallsyms_offsets[n] (s32), kallsyms_relative_base (u64), kallsyms_num_syms (u32),
 *   kallsyms_names (len-prefixed token strings), kallsyms_markers[(n+255)/256] (u32),
 *   kallsyms_token_table (256 NUL-terminated strings), kallsyms_token_index[256] (u16)
 * (Linux 4.6-6.1). From 6.4 the offsets and relative base follow the token index instead; we
 * accept both. The token table and index are found first — 256 ascending u16 offsets that land
 * just after NULs of a printable string table — and the rest is walked back from there, then
 * every marker is checked against the decoded stream, so a false match cannot survive.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vigil/util.h"
#include "vigil/linux.h"

#define KS_MAX_SYMS 2000000u
#define KS_MAX_TOKEN 64
#define KS_MAX_NAME 512
#define KS_TOKEN_TABLE_MAX 8192
#define KS_MAX_CANDIDATES 32

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static size_t align8(size_t x)
{
	return (x + 7) & ~(size_t)7;
}

struct ks_loc {
	size_t token_table, token_index, markers, names, num_syms, offsets, relative_base;
	uint32_t n, nmarkers;
};

/* Is IMG[x..x+512) a token index whose table ends (8-aligned) at x? Sets *table. */
static bool check_token_index(const uint8_t *img, size_t len, size_t x, size_t *table)
{
	uint16_t idx[256];
	size_t last, lo;

	if (x + 512 > len)
		return false;
	for (int i = 0; i < 256; i++) {
		idx[i] = rd16(img + x + 2 * i);
		if (i == 0 ? idx[0] != 0 : idx[i] <= idx[i - 1])
			return false;
	}
	if (idx[255] >= KS_TOKEN_TABLE_MAX || (size_t)idx[255] + 2 > x)
		return false;
	/* The table's last string ends in its NUL, then zero padding up to x. */
	lo = x > (size_t)idx[255] + KS_MAX_TOKEN + 8 ? x - idx[255] - KS_MAX_TOKEN - 8 : 0;
	for (size_t t = (x - idx[255] - 2) & ~(size_t)7; t >= lo && t + idx[255] < x; t -= 8) {
		bool ok = true;

		last = t + idx[255];
		for (int i = 1; i < 256 && ok; i++) {
			const uint8_t *s = img + t + idx[i - 1];
			size_t slen = idx[i] - idx[i - 1];

			/* each token: non-empty printable run ending in exactly one NUL */
			if (slen < 2 || s[slen - 1] != 0)
				ok = false;
			for (size_t k = 0; ok && k + 1 < slen; k++)
				if (s[k] < 0x20 || s[k] > 0x7e)
					ok = false;
		}
		if (ok) {
			size_t e = last;

			while (e < x && img[e] >= 0x20 && img[e] <= 0x7e)
				e++;
			if (e < x && img[e] == 0 && e > last && align8(e + 1) == x) {
				*table = t;
				return true;
			}
		}
		if (t < 8)
			break;
	}
	return false;
}

/* Decodes one entry's length prefix (one byte, or two when the high bit is set: 6.1+). */
static bool entry_len(const uint8_t *img, size_t end, size_t *pos, size_t *elen)
{
	size_t l;

	if (*pos >= end)
		return false;
	l = img[*pos];
	(*pos)++;
	if (l & 0x80) {
		if (*pos >= end)
			return false;
		l = (l & 0x7f) | ((size_t)img[*pos] << 7);
		(*pos)++;
	}
	if (l == 0 || *pos + l > end)
		return false;
	*elen = l;
	return true;
}

/* Walks n entries from names; checks every marker; returns the end offset or 0. */
static size_t walk_names(const uint8_t *img, size_t len, size_t names, uint32_t n, size_t markers,
			 uint32_t nmarkers)
{
	size_t pos = names, elen, limit = markers;

	for (uint32_t i = 0; i < n; i++) {
		if ((i & 0xff) == 0 && rd32(img + markers + 4 * (i >> 8)) != pos - names)
			return 0;
		if (!entry_len(img, limit, &pos, &elen))
			return 0;
		pos += elen;
	}
	(void)len;
	(void)nmarkers;
	return pos;
}

/* Given markers at m with k entries, finds names start S (num_syms at S-8) and validates. */
/* N_HINT, when not 0, is the symbol count implied by the seqs_of_names table's size. */
static bool find_names(const uint8_t *img, size_t len, size_t m, uint32_t k, uint32_t n_hint,
		       struct ks_loc *loc)
{
	uint32_t lastm = rd32(img + m + 4 * (k - 1));
	size_t hi, lo;

	if (lastm >= m)
		return false;
	hi = (m - lastm) & ~(size_t)7;
	lo = hi > 256 * (KS_MAX_NAME + 2) ? hi - 256 * (KS_MAX_NAME + 2) : 8;
	for (size_t s = hi; s >= lo && s >= 8; s -= 8) {
		uint32_t n = rd32(img + s - 8);
		size_t end;

		if (n == 0 || n > KS_MAX_SYMS || (n + 255) / 256 != k || rd32(img + s - 4) != 0 ||
		    (n_hint && n != n_hint))
			continue;
		end = walk_names(img, len, s, n, m, k);
		if (end && align8(end) == m) {
			loc->names = s;
			loc->num_syms = s - 8;
			loc->n = n;
			loc->markers = m;
			loc->nmarkers = k;
			return true;
		}
	}
	return false;
}

/* Counts the strictly increasing u32 run starting with 0 at m (the markers), at most max. */
static uint32_t marker_run(const uint8_t *img, size_t end, size_t m, uint32_t max)
{
	uint32_t k = 1, prev = 0;

	if (rd32(img + m) != 0)
		return 0;
	while (k < max && m + 4 * (k + 1) <= end) {
		uint32_t v = rd32(img + m + 4 * k);

		if (v <= prev)
			break;
		prev = v;
		k++;
	}
	return k;
}

/*
 * Markers end (8-aligned) right before the token table in 4.6-6.1 and 6.4+; walk back to
 * their zero entry. Kernels with kallsyms_seqs_of_names (6.2, 6.3 and backports such as
 * Debian's 6.1) put 3 bytes per symbol between the markers and the token table instead.
 */
static bool find_markers(const uint8_t *img, size_t len, struct ks_loc *loc)
{
	size_t p = loc->token_table, lo;
	uint32_t prev = UINT32_MAX, k = 0;

	if (p < 8)
		return false;
	p -= 4;
	if (rd32(img + p) == 0)
		p -= 4; /* alignment padding */
	for (; p >= 4; p -= 4) {
		uint32_t v = rd32(img + p);

		if (v >= prev || k > KS_MAX_SYMS / 256)
			break;
		k++;
		if (v == 0) {
			if ((p & 7) == 0 && find_names(img, len, p, k, 0, loc))
				return true;
			break;
		}
		prev = v;
	}
	/* seqs_of_names layout: search further back for markers that fit */
	lo = loc->token_table > 3 * (size_t)KS_MAX_SYMS + 8 * (KS_MAX_SYMS / 256) + 64
		     ? loc->token_table - 3 * (size_t)KS_MAX_SYMS - 8 * (KS_MAX_SYMS / 256) - 64
		     : 8;
	for (size_t m = (loc->token_table - 8) & ~(size_t)7; m >= lo; m -= 8) {
		size_t mend, seqs;
		uint32_t n;

		if (rd32(img + m) != 0 || rd32(img + m + 4) < 256 ||
		    rd32(img + m + 4) > 256 * (KS_MAX_NAME + 2))
			continue;
		k = marker_run(img, loc->token_table, m, KS_MAX_SYMS / 256 + 1);
		mend = align8(m + 4 * (size_t)k);
		if (k < 2 || mend > loc->token_table)
			continue;
		seqs = loc->token_table - mend;
		/* align8(3n) == seqs, n within the last marker block */
		for (n = (uint32_t)(seqs >= 7 ? (seqs - 7) / 3 : 0); n <= seqs / 3; n++) {
			if (align8(3 * (size_t)n) != seqs || n <= (k - 1) * 256 || n > k * 256)
				continue;
			if (find_names(img, len, m, k, n, loc))
				return true;
		}
	}
	return false;
}

/* Both known places for offsets + relative base; picks the one where _text == base. */
static bool find_offsets(const uint8_t *img, size_t len, struct ks_loc *loc)
{
	size_t tabsz = align8((size_t)loc->n * 4);
	size_t cand[2][2];
	int nc = 0;

	if (loc->num_syms >= 8 + tabsz) {
		cand[nc][1] = loc->num_syms - 8;
		cand[nc][0] = cand[nc][1] - tabsz;
		nc++;
	}
	if (align8(loc->token_index + 512) + tabsz + 8 <= len) {
		cand[nc][0] = align8(loc->token_index + 512);
		cand[nc][1] = cand[nc][0] + tabsz;
		nc++;
	}
	for (int c = 0; c < nc; c++) {
		uint64_t base = rd64(img + cand[c][1]);

		/* relative_base is a kernel address (top bits set) */
		if ((base >> 47) != 0x1ffff)
			continue;
		loc->offsets = cand[c][0];
		loc->relative_base = cand[c][1];
		return true;
	}
	return false;
}

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

int vg_kallsyms_build_index(struct vg_kallsyms *ks)
{
	uint32_t size = 1;

	while (size < ks->count * 2)
		size <<= 1;
	ks->hash = calloc(size, sizeof(*ks->hash));
	if (!ks->hash)
		return -ENOMEM;
	ks->hash_mask = size - 1;
	for (uint32_t i = 0; i < ks->count; i++) {
		uint32_t h = name_hash(ks->names + ks->syms[i].name_off) & ks->hash_mask;

		/* first occurrence wins: keep probing past an equal name */
		while (ks->hash[h])
			h = (h + 1) & ks->hash_mask;
		ks->hash[h] = i + 1;
	}
	return 0;
}

static int decode(struct vg_kallsyms *ks, const uint8_t *img, const struct ks_loc *loc)
{
	const uint8_t *tt = img + loc->token_table, *ti = img + loc->token_index;
	size_t pos = loc->names, cap = (size_t)loc->n * 24, used = 0, elen;
	uint32_t nneg = 0;

	ks->syms = calloc(loc->n, sizeof(*ks->syms));
	ks->names = malloc(cap);
	if (!ks->syms || !ks->names)
		return -ENOMEM;
	for (uint32_t i = 0; i < loc->n; i++) {
		char buf[KS_MAX_NAME + KS_MAX_TOKEN];
		size_t bl = 0;

		if (!entry_len(img, loc->markers, &pos, &elen))
			return -EINVAL;
		for (size_t k = 0; k < elen; k++) {
			const char *tok = (const char *)tt + rd16(ti + 2 * img[pos + k]);

			for (int c = 0; tok[c] && c < KS_MAX_TOKEN && bl < KS_MAX_NAME; c++)
				buf[bl++] = tok[c];
		}
		pos += elen;
		if (bl == 0)
			return -EINVAL;
		if (used + bl + 1 > cap) {
			char *nn;

			cap = cap * 2 + bl + 1;
			nn = realloc(ks->names, cap);
			if (!nn)
				return -ENOMEM;
			ks->names = nn;
		}
		/* first decoded char is the type letter */
		ks->syms[i].type = buf[0];
		ks->syms[i].name_off = used;
		memcpy(ks->names + used, buf + 1, bl - 1);
		ks->names[used + bl - 1] = '\0';
		used += bl;
		if ((int32_t)rd32(img + loc->offsets + 4 * i) < 0)
			nneg++;
	}
	ks->names_len = used;
	ks->count = loc->n;
	ks->relative_base = rd64(img + loc->relative_base);
	/* x86-64 SMP uses absolute per-cpu: text symbols are stored as negative offsets */
	ks->absolute_percpu = nneg > loc->n / 2;
	for (uint32_t i = 0; i < loc->n; i++) {
		int32_t o = (int32_t)rd32(img + loc->offsets + 4 * i);

		if (!ks->absolute_percpu)
			ks->syms[i].addr = ks->relative_base + (uint32_t)o;
		else if (o >= 0)
			ks->syms[i].addr = (uint64_t)o;
		else
			ks->syms[i].addr = ks->relative_base - 1 - o;
	}
	return vg_kallsyms_build_index(ks);
}

void vg_kallsyms_free(struct vg_kallsyms *ks)
{
	if (ks->map) {
		munmap(ks->map, ks->map_len);
	} else {
		free(ks->syms);
		free(ks->names);
		free(ks->hash);
	}
	memset(ks, 0, sizeof(*ks));
}

int vg_kallsyms_parse(struct vg_kallsyms *ks, const uint8_t *img, size_t len, uint64_t img_va,
		      size_t hint, struct vg_err *err)
{
	int tried = 0, ret;

	memset(ks, 0, sizeof(*ks));
	if (len < 8 + 512)
		return vg_errf(err, ENOENT, "kernel image too small for kallsyms (%zu bytes)", len);
	/* the tables sit in .rodata, usually after linux_banner: start there, then wrap */
	hint &= ~(size_t)7;
	if (hint < 8 || hint + 512 > len)
		hint = 8;
	for (size_t i = 0, x = hint; i < len / 8; i++, x += 8) {
		if (x + 512 > len)
			x = 8; /* wrap: len >= 520, so offset 8 always fits */
		struct ks_loc loc = { 0 };
		const struct vg_ksym *t;

		/* cheap filter: idx[0] == 0, idx[1] small, idx[2] > idx[1] */
		if (rd16(img + x) != 0 || rd16(img + x + 2) == 0 ||
		    rd16(img + x + 2) > KS_MAX_TOKEN || rd16(img + x + 4) <= rd16(img + x + 2))
			continue;
		if (!check_token_index(img, len, x, &loc.token_table))
			continue;
		if (++tried > KS_MAX_CANDIDATES)
			break;
		loc.token_index = x;
		if (!find_markers(img, len, &loc) || !find_offsets(img, len, &loc))
			continue;
		ret = decode(ks, img, &loc);
		if (ret == -ENOMEM)
			return vg_errf(err, ENOMEM, "out of memory decoding kallsyms");
		/* the relative base is _text, or _stext where kallsyms keeps no _text (text-only
		 * AArch64 tables start there) */
		t = ret ? NULL : vg_kallsyms_lookup(ks, "_text");
		if (!ret && !t)
			t = vg_kallsyms_lookup(ks, "_stext");
		if (t && vg_ksym_addr(ks, t) == ks->relative_base) {
			ks->token_off = loc.token_table;
			return 0;
		}
		vg_kallsyms_free(ks);
	}
	return vg_errf(err, ENOENT,
		       "no kallsyms tables found in the kernel image (%zu bytes searched); "
		       "give --symbols FILE",
		       len);
}

const struct vg_ksym *vg_kallsyms_lookup(const struct vg_kallsyms *ks, const char *name)
{
	uint32_t h;

	if (!ks->hash)
		return NULL;
	h = name_hash(name) & ks->hash_mask;
	for (uint32_t probes = 0; ks->hash[h] && probes <= ks->hash_mask; probes++) {
		const struct vg_ksym *s = &ks->syms[ks->hash[h] - 1];

		if (!strcmp(ks->names + s->name_off, name))
			return s;
		h = (h + 1) & ks->hash_mask;
	}
	return NULL;
}

const struct vg_ksym *vg_kallsyms_near(const struct vg_kallsyms *ks, uint64_t addr)
{
	uint32_t lo = 0, hi = ks->count;

	/* table order is address order for everything but absolute per-cpu symbols */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (vg_ksym_addr(ks, &ks->syms[mid]) <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &ks->syms[lo - 1] : NULL;
}

/*
 * A fingerprint of the whole symbol table without decoding it: a hash of the compressed
 * names, the offsets and the count, located the way vg_kallsyms_parse locates them. Two
 * builds that share a token table still differ here, so a cached decode (ksymcache.c) is only
 * reused for the very table in guest memory.
 */
int vg_kallsyms_fingerprint(const uint8_t *img, size_t len, size_t hint, uint64_t *fp)
{
	int tried = 0;

	if (len < 8 + 512)
		return -ENOENT;
	hint &= ~(size_t)7;
	if (hint < 8 || hint + 512 > len)
		hint = 8;
	for (size_t i = 0, x = hint; i < len / 8; i++, x += 8) {
		struct ks_loc loc = { 0 };
		uint64_t h;

		if (x + 512 > len)
			x = 8;
		if (rd16(img + x) != 0 || rd16(img + x + 2) == 0 ||
		    rd16(img + x + 2) > KS_MAX_TOKEN || rd16(img + x + 4) <= rd16(img + x + 2))
			continue;
		if (!check_token_index(img, len, x, &loc.token_table))
			continue;
		if (++tried > KS_MAX_CANDIDATES)
			break;
		loc.token_index = x;
		if (!find_markers(img, len, &loc) || !find_offsets(img, len, &loc) ||
		    loc.markers <= loc.names || loc.offsets + (size_t)loc.n * 4 > len)
			continue;
		h = vg_fasthash64(img + loc.names, loc.markers - loc.names, loc.n);
		*fp = vg_fasthash64(img + loc.offsets, (size_t)loc.n * 4, h);
		return 0;
	}
	return -ENOENT;
}
