/* SPDX-License-Identifier: MIT */
/*
 * Kernel text against a baseline (inline patches). The reference is a keyed hash (SipHash-2-4,
 * libsodium's crypto_shorthash) of every CHUNK bytes of the running kernel's text, _stext to
 * _etext as the guest's kallsyms gives them. The key is random per baseline and stays on the
 * host, so the guest cannot aim a collision at it.
 *
 * The kernel patches its own text after boot. Those sites are masked (their bytes hashed as
 * zeros) and checked on their own instead, against the forms the kernel writes there:
 *   jump labels      __start___jump_table..__stop___jump_table: a 2- or 5-byte nop, or a jmp
 *                    to the entry's own target
 *   static calls     static_call_sites (call sites) and __SCT__* trampolines: a call/jmp into
 *                    kernel text or a listed module, a nop, `xor %eax,%eax` or a return
 *   ftrace sites     every dyn_ftrace record (ftrace_pages_start): a nop, or a call to
 *                    ftrace_caller/ftrace_regs_caller or to a registered ftrace_ops' trampoline;
 *                    ftrace_call/ftrace_regs_call: a call into kernel text or to an ops' func
 *   kprobes          a registered kprobe's address may hold int3 (or an optprobe's jmp); who
 *                    owns the kprobe is the kprobe view's business (kernel-hook)
 * Alternatives, paravirt and retpoline patching happen at boot, before any baseline.
 * __mcount_loc is not used: it is init data, freed after boot; ftrace's records replace it.
 *
 * A baseline is comparable only under the same KASLR slide (relocated displacements differ
 * between boots): vg_ids_gather_text notes a text_va mismatch in gather_errors and compares
 * nothing. The site list (count and a keyed digest) is part of the reference too, so a guest
 * cannot mask a patch by adding a fake site.
 */
#ifndef VIGIL_IDS_TEXT_H
#define VIGIL_IDS_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "vigil/err.h"
#include "vigil/ids.h"
#include "vigil/linux.h"

#define VG_TEXT_CHUNK 1024	      /* default: localises a patch to a function or two */
#define VG_TEXT_MAX_BYTES (64u << 20) /* kernel text larger than this is refused */
#define VG_TEXT_MIN_CHUNK 64
#define VG_TEXT_MAX_CHUNK (1u << 20)

struct vg_text_ref {
	uint8_t key[16];
	uint64_t start, end; /* runtime _stext and _etext */
	uint32_t chunk;
	uint64_t *hash; /* n = ceil((end - start) / chunk) keyed hashes */
	size_t n;
	uint64_t text_va;      /* runtime _text when the reference was taken */
	uint32_t nsites;       /* dynamic patch sites masked inside [start, end) */
	uint64_t sites_digest; /* keyed hash of their kinds and offsets */
};

/* Hashes the running kernel's text with KEY (libsodium must be initialised). */
int vg_ids_text_hash(struct vg_linux *lx, const uint8_t key[16], struct vg_text_ref *out,
		     struct vg_err *err);
/* One JSON object (hashes base64) for a baseline file; NULL on allocation failure. */
json_t *vg_text_ref_to_json(const struct vg_text_ref *r);
/* Parses what vg_text_ref_to_json wrote; every size is checked (the file may be edited). */
int vg_text_ref_from_json(const json_t *j, struct vg_text_ref *out, struct vg_err *err);
void vg_text_ref_free(struct vg_text_ref *r);

/*
 * Repeated looks (watch, serve, scan's confirming look) keep a host-side copy of the text as
 * it was when a full comparison last found it clean. While the guest's text is byte-identical
 * to that copy, nothing can have been patched, so the look costs one memcmp instead of the
 * site walk and the keyed rehash; any difference falls back to the full comparison. The copy
 * is the verifier's own memory, never the guest's.
 */
struct vg_text_cache {
	uint8_t *copy; /* NULL until a full comparison found the text clean */
	uint64_t start, end, text_va;
	const struct vg_text_ref *base; /* the reference the copy was verified against */
	uint64_t fast, full;		/* looks answered from the copy; clean full comparisons */
};
void vg_text_cache_free(struct vg_text_cache *c);

/* Rehashes with BASE's key and records in S the differing chunks (with the functions in them
 * and any branch out of kernel text found there) and the dynamic sites holding something the
 * kernel does not write. Call after vg_ids_gather (it uses the snapshot's module list and
 * hooks). Returns 0 or a negative errno; a slide mismatch is 0 with a gather_errors note. */
int vg_ids_gather_text(struct vg_linux *lx, const struct vg_text_ref *base, struct vg_snapshot *s);
/* The same with CACHE (may be NULL) carried from one look to the next. */
int vg_ids_gather_text_cached(struct vg_linux *lx, const struct vg_text_ref *base,
			      struct vg_text_cache *cache, struct vg_snapshot *s);

#endif
