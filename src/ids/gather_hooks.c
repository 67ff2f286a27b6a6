// SPDX-License-Identifier: MIT
/*
 * Kernel hooks a module can place without touching a table: ftrace callbacks
 * (ftrace_ops_list, each ops' filter hash naming the traced functions) and kprobes
 * (kprobe_table's 64 hash chains; aggregated probes carry their children on ->list). For each
 * hook we keep the callback, the module whose memory holds it, and the hooked functions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gather_int.h"
#include "vigil/ids.h"

#define MAX_OPS 256
#define MAX_HASH_BITS 12
#define MAX_CHAIN 1024
#define KPROBE_TABLE_SIZE 64

static struct vg_hook *new_hook(struct vg_snapshot *s)
{
	if (s->nhooks >= VG_IDS_MAX_HOOKS)
		return NULL;
	memset(&s->hooks[s->nhooks], 0, sizeof(s->hooks[0]));
	return &s->hooks[s->nhooks++];
}

/* Names of the functions in an ftrace filter hash (first few, as evidence). */
static void hash_targets(struct vg_linux *lx, uint64_t hash, char *out, size_t len)
{
	int32_t bits_off = vg_linux_btf_offset(lx, "ftrace_hash", "size_bits");
	int32_t bk_off = vg_linux_btf_offset(lx, "ftrace_hash", "buckets");
	int32_t ip_off = vg_linux_btf_offset(lx, "ftrace_func_entry", "ip");
	uint64_t bits, buckets;
	size_t used = 0;

	out[0] = '\0';
	if (bits_off < 0 || bk_off < 0 || ip_off < 0 || !vg_ids_kptr(hash) ||
	    vg_as_read_u64(&lx->kas, hash + bits_off, &bits) || bits > MAX_HASH_BITS ||
	    vg_as_read_u64(&lx->kas, hash + bk_off, &buckets) || !vg_ids_kptr(buckets))
		return;
	for (uint64_t b = 0; b < (1ull << bits); b++) {
		uint64_t node;
		int n = 0;

		if (vg_as_read_u64(&lx->kas, buckets + 8 * b, &node))
			return;
		while (node && vg_ids_kptr(node) && n++ < MAX_CHAIN) {
			uint64_t ip;
			char name[128];

			if (vg_as_read_u64(&lx->kas, node + ip_off, &ip))
				return;
			vg_ids_symoff(lx, ip, name, sizeof(name));
			if (used + strlen(name) + 2 < len)
				used += snprintf(out + used, len - used, "%s%s", used ? "," : "",
						 name);
			if (vg_as_read_u64(&lx->kas, node, &node))
				return;
		}
	}
}

static void gather_ftrace(struct vg_linux *lx, struct vg_snapshot *s)
{
	int32_t func = vg_linux_btf_offset(lx, "ftrace_ops", "func");
	int32_t next = vg_linux_btf_offset(lx, "ftrace_ops", "next");
	int32_t fhash = vg_linux_btf_offset(lx, "ftrace_ops", "func_hash");
	int32_t filt = vg_linux_btf_offset(lx, "ftrace_ops_hash", "filter_hash");
	uint64_t head, end, ops;

	if (func < 0 || next < 0 || fhash < 0 || filt < 0 ||
	    vg_linux_sym(lx, "ftrace_ops_list", &head) ||
	    vg_linux_sym(lx, "ftrace_list_end", &end) || vg_as_read_u64(&lx->kas, head, &ops))
		return;
	for (int n = 0; ops && ops != end && vg_ids_kptr(ops) && n < MAX_OPS; n++) {
		struct vg_hook *h = new_hook(s);
		uint64_t fh, hash;

		if (!h || vg_as_read_u64(&lx->kas, ops + func, &h->handler))
			return;
		h->kind = "ftrace";
		h->obj = ops;
		vg_ids_symoff(lx, h->handler, h->handler_sym, sizeof(h->handler_sym));
		if (!vg_as_read_u64(&lx->kas, ops + fhash, &fh) && vg_ids_kptr(fh) &&
		    !vg_as_read_u64(&lx->kas, fh + filt, &hash))
			hash_targets(lx, hash, h->target, sizeof(h->target));
		if (vg_as_read_u64(&lx->kas, ops + next, &ops))
			return;
	}
}

static void add_kprobe(struct vg_linux *lx, struct vg_snapshot *s, uint64_t kp, int32_t addr_off,
		       int32_t pre_off, int32_t post_off)
{
	struct vg_hook *h = new_hook(s);
	uint64_t addr = 0, post = 0;

	if (!h)
		return;
	h->kind = "kprobe";
	h->obj = kp;
	if (vg_as_read_u64(&lx->kas, kp + addr_off, &addr) ||
	    vg_as_read_u64(&lx->kas, kp + pre_off, &h->handler) ||
	    vg_as_read_u64(&lx->kas, kp + post_off, &post)) {
		s->nhooks--;
		return;
	}
	if (!h->handler)
		h->handler = post;
	vg_ids_symoff(lx, addr, h->target, sizeof(h->target));
	vg_ids_symoff(lx, h->handler, h->handler_sym, sizeof(h->handler_sym));
}

static void gather_kprobes(struct vg_linux *lx, struct vg_snapshot *s)
{
	int32_t addr = vg_linux_btf_offset(lx, "kprobe", "addr");
	int32_t pre = vg_linux_btf_offset(lx, "kprobe", "pre_handler");
	int32_t post = vg_linux_btf_offset(lx, "kprobe", "post_handler");
	int32_t list = vg_linux_btf_offset(lx, "kprobe", "list");
	uint64_t table, aggr = 0;

	if (addr < 0 || pre < 0 || post < 0 || list < 0 || vg_linux_sym(lx, "kprobe_table", &table))
		return;
	vg_linux_sym(lx, "aggr_pre_handler", &aggr);
	for (int b = 0; b < KPROBE_TABLE_SIZE; b++) {
		uint64_t node;
		int n = 0;

		if (vg_as_read_u64(&lx->kas, table + 8 * b, &node))
			return;
		while (node && vg_ids_kptr(node) && n++ < MAX_CHAIN) {
			uint64_t kp = node, h;

			/* hlist is the first member: the node is the kprobe */
			if (!vg_as_read_u64(&lx->kas, kp + pre, &h) && aggr && h == aggr) {
				uint64_t head = kp + list, cur;
				int k = 0;

				if (!vg_as_read_u64(&lx->kas, head, &cur))
					while (cur != head && vg_ids_kptr(cur) && k++ < MAX_CHAIN) {
						add_kprobe(lx, s, cur - list, addr, pre, post);
						if (vg_as_read_u64(&lx->kas, cur, &cur))
							break;
					}
			} else {
				add_kprobe(lx, s, kp, addr, pre, post);
			}
			if (vg_as_read_u64(&lx->kas, node, &node))
				return;
		}
	}
}

void vg_ids_gather_hooks(struct vg_linux *lx, struct vg_snapshot *s)
{
	s->hooks = calloc(VG_IDS_MAX_HOOKS, sizeof(*s->hooks));
	if (!s->hooks)
		return;
	gather_ftrace(lx, s);
	gather_kprobes(lx, s);
	for (size_t i = 0; i < s->nhooks; i++) {
		struct vg_hook *h = &s->hooks[i];

		for (size_t k = 0; k < s->modules.n; k++) {
			const struct vg_module *m = &s->modules.v[k];

			if (h->handler >= m->base && h->handler < m->base + m->size)
				snprintf(h->owner, sizeof(h->owner), "%s", m->name);
		}
		if (!h->owner[0])
			snprintf(h->owner, sizeof(h->owner), "%s", vg_ids_owner(s, h->handler));
	}
	s->have_hooks = true;
}
