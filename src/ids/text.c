// SPDX-License-Identifier: MIT
/*
 * Kernel text against a baseline (ids_text.h): keyed per-chunk hashes of _stext.._etext with
 * the kernel's own runtime patch sites masked (text_sites.c), and the comparison that records
 * differing chunks in a snapshot. The reference's JSON form is in text_json.c.
 *
 * Cost: the text (about 15 MiB on Debian 6.1) is read once in 2 MiB runs (the kernel maps it
 * with large pages) and hashed with SipHash; the site tables are a few hundred KiB.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <capstone/capstone.h>
#include <sodium.h>

#include "vigil/ids_text.h"
#include "gather_int.h"
#include "text_int.h"

#define READ_RUN (2u << 20)
#define DECODE_BACK (64u << 10) /* how far before a chunk its function may start */
#define FUNCS_MAX 160		/* of d->funcs, so the evidence stays within a finding's 1 KiB */

/*
 * The text in one piece. The kernel image is physically contiguous, so normally this is a
 * pointer straight into the guest RAM mapping (no copy; *copy stays NULL); otherwise it is
 * copied in 2 MiB runs into *copy. The guest may change the bytes while we look: one look can
 * then be inconsistent, which is why scan confirms findings with a second look.
 */
static int map_text(struct vg_linux *lx, uint64_t start, uint64_t end, const uint8_t **text,
		    uint8_t **copy)
{
	uint64_t pa0, pa;
	uint8_t *b;

	*copy = NULL;
	if (!vg_as_translate(&lx->kas, start, &pa0, NULL)) {
		uint64_t va = start;

		uint64_t ps;

		for (; va < end; va = (va & ~(ps - 1)) + ps)
			if (vg_as_translate(&lx->kas, va, &pa, &ps) || pa != pa0 + (va - start))
				break;
		if (va >= end && (*text = vg_mem_ptr_bulk(lx->mem, pa0, end - start)))
			return 0;
	}
	b = malloc(end - start);
	if (!b)
		return -ENOMEM;
	for (uint64_t va = start; va < end;) {
		uint64_t run = READ_RUN - (va & (READ_RUN - 1));

		if (run > end - va)
			run = end - va;
		if (vg_as_read(&lx->kas, va, b + (va - start), run)) {
			free(b);
			return -EFAULT;
		}
		va += run;
	}
	*text = *copy = b;
	return 0;
}

static int text_bounds(struct vg_linux *lx, uint64_t *start, uint64_t *end)
{
	if (vg_linux_sym(lx, "_stext", start) || vg_linux_sym(lx, "_etext", end))
		return -ENOENT;
	if (*end <= *start || *end - *start > VG_TEXT_MAX_BYTES)
		return -EINVAL;
	return 0;
}

/* Hashes every chunk into HASH with the sites masked (in TMP, one chunk); TEXT itself is left
 * unmasked. */
static void hash_chunks(const struct text_sites *ts, const uint8_t *text, uint64_t start,
			uint64_t end, uint32_t chunk, const uint8_t key[16], uint64_t *hash,
			uint8_t *tmp)
{
	size_t si = 0;

	for (uint64_t va = start, i = 0; va < end; va += chunk, i++) {
		uint64_t len = end - va < chunk ? end - va : chunk;
		unsigned char h[crypto_shorthash_BYTES];

		memcpy(tmp, text + (va - start), len);
		/* a site may begin in the previous chunk and run into this one */
		while (si > 0 && ts->v[si - 1].va + 5 > va)
			si--;
		for (; si < ts->n && ts->v[si].va < va + len; si++) {
			const struct text_site *site = &ts->v[si];
			const char *bad;
			uint64_t t;
			size_t m = vg_text_site_check(ts, site, text, start, end, NULL, &bad, &t);

			/* kprobes come and go: their original bytes are put back rather than
			 * masked, so the hash matches a baseline taken without them */
			for (size_t k = 0; k < m; k++)
				if (site->va + k >= va && site->va + k < va + len)
					tmp[site->va + k - va] =
						site->kind == SITE_KPROBE ? site->orig[k] : 0;
		}
		crypto_shorthash(h, tmp, len, key);
		memcpy(&hash[i], h, 8);
	}
}

int vg_ids_text_hash(struct vg_linux *lx, const uint8_t key[16], struct vg_text_ref *out,
		     struct vg_err *err)
{
	struct text_sites ts;
	const uint8_t *text;
	uint8_t *copy = NULL, *tmp = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	/* the masks below know x86-64's patch sites only; unmasked, AArch64's jump labels,
	 * ftrace sites and kprobes would read as tampering the moment the guest flips one */
	if (lx->arch == VG_ARCH_ARM64)
		return vg_errf(err, ENOTSUP,
			       "kernel text: AArch64's runtime patch sites are not modelled yet, "
			       "so its text is not compared");
	if (sodium_init() < 0)
		return vg_errf(err, EINVAL, "kernel text: libsodium failed to initialise");
	if (vg_linux_load_symbols(lx, err))
		return -err->code;
	ret = text_bounds(lx, &out->start, &out->end);
	if (ret)
		return vg_errf(err, -ret, "kernel text: no usable _stext/_etext in kallsyms");
	ret = map_text(lx, out->start, out->end, &text, &copy);
	if (ret)
		return vg_errf(err, -ret, "kernel text unreadable");
	ret = vg_text_sites_collect(lx, out->start, out->end, &ts);
	if (ret) {
		free(copy);
		return vg_errf(err, -ret, "kernel text: runtime patch sites unreadable (%s)",
			       strerror(-ret));
	}
	memcpy(out->key, key, 16);
	out->chunk = VG_TEXT_CHUNK;
	out->text_va = lx->text_va;
	out->n = (out->end - out->start + out->chunk - 1) / out->chunk;
	out->hash = calloc(out->n, sizeof(*out->hash));
	tmp = malloc(out->chunk);
	if (!out->hash || !tmp) {
		ret = vg_errf(err, ENOMEM, "kernel text: out of memory");
		vg_text_ref_free(out);
	} else {
		out->sites_digest = vg_text_sites_digest(&ts, out->start, key, &out->nsites);
		hash_chunks(&ts, text, out->start, out->end, out->chunk, key, out->hash, tmp);
	}
	free(tmp);
	free(copy);
	vg_text_sites_free(&ts);
	return ret;
}

/* ---- comparison ---------------------------------------------------------------------- */

static struct vg_text_diff *new_diff(struct vg_snapshot *s, const char *kind, uint64_t va,
				     uint64_t len)
{
	struct vg_text_diff *d;

	if (s->ntext_diffs >= VG_IDS_MAX_TEXT_DIFFS)
		return NULL;
	d = &s->text_diffs[s->ntext_diffs++];
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	d->va = va;
	d->len = len;
	return d;
}

static void set_target(struct vg_linux *lx, struct vg_snapshot *s, struct vg_text_diff *d,
		       uint64_t site, uint64_t target)
{
	d->branch = site;
	d->target = target;
	vg_ids_symoff(lx, target, d->target_sym, sizeof(d->target_sym));
	snprintf(d->owner, sizeof(d->owner), "%s", vg_ids_owner(s, target));
}

static bool is_site(const struct text_sites *ts, uint64_t va)
{
	size_t lo = 0, hi = ts->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ts->v[mid].va < va)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ts->n && ts->v[lo].va == va;
}

/* Decodes from the start of the function holding the chunk, so instructions are aligned, and
 * keeps the first direct branch inside the chunk that leaves kernel text (not at a site). */
static void find_branch(struct vg_linux *lx, struct vg_snapshot *s, const struct text_sites *ts,
			const uint8_t *text, uint64_t start, uint64_t end, struct vg_text_diff *d,
			csh h, cs_insn *ci)
{
	const struct vg_ksym *k = vg_kallsyms_near(&lx->ksyms, d->va);
	uint64_t ka = k ? vg_ksym_addr(&lx->ksyms, k) : 0;
	uint64_t from = k && ka >= start && ka <= d->va ? ka : d->va;
	uint64_t addr, stop = d->va + d->len;
	const uint8_t *p;
	size_t left;

	if (d->va - from > DECODE_BACK)
		from = d->va;
	p = text + (from - start);
	left = stop - from;
	addr = from;
	while (left) {
		const cs_x86 *x;
		uint64_t t;

		if (!cs_disasm_iter(h, &p, &left, &addr, ci)) {
			p++;
			left--;
			addr++;
			continue;
		}
		if (ci->address + ci->size <= d->va || is_site(ts, ci->address) ||
		    (!cs_insn_group(h, ci, CS_GRP_JUMP) && !cs_insn_group(h, ci, CS_GRP_CALL)))
			continue;
		x = &ci->detail->x86;
		if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
			continue;
		t = (uint64_t)x->operands[0].imm;
		if (t < start || t >= end) {
			set_target(lx, s, d, ci->address, t);
			/* the patched function says more than the chunk's first symbol */
			vg_ids_symoff(lx, ci->address, d->where, sizeof(d->where));
			return;
		}
	}
}

static void chunk_funcs(struct vg_linux *lx, struct vg_text_diff *d)
{
	const struct vg_kallsyms *ks = &lx->ksyms;
	const struct vg_ksym *k = vg_kallsyms_near(ks, d->va);
	size_t used = 0;

	vg_ids_symoff(lx, d->va, d->where, sizeof(d->where));
	for (int n = 0;
	     k && k < ks->syms + ks->count && vg_ksym_addr(ks, k) < d->va + d->len && n < 64;
	     k++, n++) {
		const char *name = vg_ksym_name(ks, k);

		if (k->type != 'T' && k->type != 't')
			continue;
		if (used + strlen(name) + 2 >= FUNCS_MAX)
			break;
		used += snprintf(d->funcs + used, FUNCS_MAX - used, "%s%s", used ? "," : "", name);
	}
}

static void check_sites(struct vg_linux *lx, struct vg_snapshot *s, const struct text_sites *ts,
			const uint8_t *text, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < ts->n; i++) {
		const char *bad;
		uint64_t t;
		struct vg_text_diff *d;

		vg_text_site_check(ts, &ts->v[i], text, start, end, s, &bad, &t);
		if (!bad ||
		    !(d = new_diff(s, vg_text_site_kind_name(ts->v[i].kind), ts->v[i].va, 5)))
			continue;
		vg_ids_symoff(lx, d->va, d->where, sizeof(d->where));
		snprintf(d->detail, sizeof(d->detail), "%s", bad);
		if (t)
			set_target(lx, s, d, d->va, t);
	}
}

static int compare(struct vg_linux *lx, const struct vg_text_ref *base, struct vg_snapshot *s,
		   const struct text_sites *ts, const uint8_t *text)
{
	uint64_t *now = calloc(base->n, sizeof(*now));
	uint8_t *tmp = malloc(base->chunk);
	uint32_t nsites;
	cs_insn *ci = NULL;
	csh h = 0;
	bool tried = false;

	if (!now || !tmp) {
		free(now);
		free(tmp);
		return -ENOMEM;
	}
	check_sites(lx, s, ts, text, base->start, base->end);
	if (vg_text_sites_digest(ts, base->start, base->key, &nsites) != base->sites_digest ||
	    nsites != base->nsites) {
		struct vg_text_diff *d = new_diff(s, "site-list", base->start, 0);

		if (d)
			snprintf(d->detail, sizeof(d->detail),
				 "runtime patch sites changed: %u at baseline, %u now",
				 base->nsites, nsites);
	}
	hash_chunks(ts, text, base->start, base->end, base->chunk, base->key, now, tmp);
	s->text_chunks = base->n;
	s->text_sites = ts->n;
	for (size_t i = 0; i < base->n; i++) {
		uint64_t va = base->start + i * (uint64_t)base->chunk;
		struct vg_text_diff *d;

		if (now[i] == base->hash[i])
			continue;
		d = new_diff(s, "chunk", va,
			     base->end - va < base->chunk ? base->end - va : base->chunk);
		if (!d)
			break;
		chunk_funcs(lx, d);
		/* the disassembler is opened (and capstone loaded) for a differing chunk only */
		if (!tried) {
			tried = true;
			if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) == CS_ERR_OK) {
				cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
				ci = cs_malloc(h);
			}
		}
		if (ci)
			find_branch(lx, s, ts, text, base->start, base->end, d, h, ci);
	}
	if (ci)
		cs_free(ci, 1);
	if (h)
		cs_close(&h);
	free(now);
	free(tmp);
	return 0;
}

void vg_text_cache_free(struct vg_text_cache *c)
{
	free(c->copy);
	memset(c, 0, sizeof(*c));
}

static bool cache_matches(const struct vg_text_cache *c, const struct vg_text_ref *base,
			  const struct vg_linux *lx, uint64_t start, uint64_t end,
			  const uint8_t *text)
{
	return c && c->copy && c->base == base && c->text_va == lx->text_va && c->start == start &&
	       c->end == end && !memcmp(c->copy, text, end - start);
}

/* A full comparison that found nothing: remember the text it verified. */
static void cache_store(struct vg_text_cache *c, const struct vg_text_ref *base,
			const struct vg_linux *lx, uint64_t start, uint64_t end,
			const uint8_t *text)
{
	uint8_t *p = realloc(c->copy, end - start);

	if (!p)
		return;
	memcpy(p, text, end - start);
	c->copy = p;
	c->start = start;
	c->end = end;
	c->text_va = lx->text_va;
	c->base = base;
}

int vg_ids_gather_text(struct vg_linux *lx, const struct vg_text_ref *base, struct vg_snapshot *s)
{
	return vg_ids_gather_text_cached(lx, base, NULL, s);
}

int vg_ids_gather_text_cached(struct vg_linux *lx, const struct vg_text_ref *base,
			      struct vg_text_cache *cache, struct vg_snapshot *s)
{
	struct text_sites ts;
	uint64_t start, end;
	const uint8_t *text;
	uint8_t *copy;
	bool hit;
	int ret;

	if (base->text_va != lx->text_va) {
		vg_ids_note(s, "kernel text baseline is from another boot (KASLR slide differs): "
			       "text not compared");
		return 0;
	}
	if (text_bounds(lx, &start, &end) || start != base->start || end != base->end ||
	    base->chunk < VG_TEXT_MIN_CHUNK || base->chunk > VG_TEXT_MAX_CHUNK ||
	    base->n != (end - start + base->chunk - 1) / base->chunk) {
		vg_ids_note(s, "kernel text baseline does not match this kernel's text range");
		return 0;
	}
	if (sodium_init() < 0)
		return -EINVAL;
	s->text_diffs = calloc(VG_IDS_MAX_TEXT_DIFFS, sizeof(*s->text_diffs));
	if (!s->text_diffs)
		return -ENOMEM;
	ret = map_text(lx, start, end, &text, &copy);
	if (ret) {
		vg_ids_note(s, "kernel text unreadable");
		return 0;
	}
	hit = cache_matches(cache, base, lx, start, end, text);
	if (hit || vg_text_verdict_clean(lx, base, start, end, text)) {
		/* byte for byte the text a full comparison found clean: nothing to report */
		if (hit)
			cache->fast++;
		else if (cache && cache->full++ > 0)
			/* the remembered verdict maps a 15 MB file per look; a copy in
			 * memory saves that from a watch's second look on */
			cache_store(cache, base, lx, start, end, text);
		s->text_chunks = base->n;
		s->have_text = true;
		free(copy);
		return 0;
	}
	ret = vg_text_sites_collect(lx, start, end, &ts);
	if (ret) {
		free(copy);
		vg_ids_note(s, "kernel text: runtime patch sites unreadable");
		return 0;
	}
	ret = compare(lx, base, s, &ts, text);
	s->have_text = !ret;
	if (!ret && s->ntext_diffs == 0)
		vg_text_verdict_store(lx, base, start, end, text);
	if (cache) {
		/* copying 15 MB costs more than it saves a one-shot scan that looks once: keep the
		 * copy from the second full comparison on (watch, serve, a confirming look) */
		if (!ret && s->ntext_diffs == 0 && cache->full++ > 0) {
			cache_store(cache, base, lx, start, end, text);
		} else if (ret || s->ntext_diffs) {
			free(cache->copy);
			cache->copy = NULL;
		}
	}
	vg_text_sites_free(&ts);
	free(copy);
	return ret;
}
