// SPDX-License-Identifier: MIT
/*
 * The kernel's TCP and UDP sockets (lxproc.h), read from its own hash tables as
 * /proc/net/{tcp,tcp6,udp,udp6} do: listening TCP sockets from tcp_hashinfo.lhash2,
 * established and time-wait ones from tcp_hashinfo.ehash (hlist_nulls of
 * sock_common.skc_nulls_node; a time-wait sock shares sock_common), bound UDP sockets from
 * udp_table.hash (hlist of skc_node). A sock's inode is its socket's, found through
 * sk_socket and struct socket_alloc, so it matches the socket:[INODE] links of /proc/PID/fd.
 *
 * Bounded: buckets (1 << 20), chain length, and VG_LXP_MAX_SOCKETS in all; a socket seen
 * twice (a chain aliased into another) is kept once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/lxproc.h"
#include "kread.h"

#define MAX_BUCKETS (1u << 20)
#define MAX_CHAIN 4096
#define AF_INET_ 2
#define AF_INET6_ 10
#define TCP_LISTEN 10
#define TCP_TIME_WAIT 6
#define BUCKET_BATCH 512

struct so {
	int32_t nulls_node, node, num, dport, family, state, rcv_saddr, daddr, v6_rcv_saddr,
		v6_daddr, sk_uid, sk_socket, ack_backlog;
	int32_t sa_socket, sa_inode, i_ino;
};

static bool resolve(struct vg_linux *lx, struct so *o)
{
	o->nulls_node = vg_linux_btf_offset(lx, "sock_common", "skc_nulls_node");
	o->node = vg_linux_btf_offset(lx, "sock_common", "skc_node");
	o->num = vg_linux_btf_offset(lx, "sock_common", "skc_num");
	o->dport = vg_linux_btf_offset(lx, "sock_common", "skc_dport");
	o->family = vg_linux_btf_offset(lx, "sock_common", "skc_family");
	o->state = vg_linux_btf_offset(lx, "sock_common", "skc_state");
	o->rcv_saddr = vg_linux_btf_offset(lx, "sock_common", "skc_rcv_saddr");
	o->daddr = vg_linux_btf_offset(lx, "sock_common", "skc_daddr");
	o->v6_rcv_saddr = vg_linux_btf_offset(lx, "sock_common", "skc_v6_rcv_saddr");
	o->v6_daddr = vg_linux_btf_offset(lx, "sock_common", "skc_v6_daddr");
	o->sk_uid = vg_linux_btf_offset(lx, "sock", "sk_uid");
	o->sk_socket = vg_linux_btf_offset(lx, "sock", "sk_socket");
	o->ack_backlog = vg_linux_btf_offset(lx, "sock", "sk_ack_backlog");
	o->sa_socket = vg_linux_btf_offset(lx, "socket_alloc", "socket");
	o->sa_inode = vg_linux_btf_offset(lx, "socket_alloc", "vfs_inode");
	o->i_ino = vg_linux_btf_offset(lx, "inode", "i_ino");
	return o->nulls_node >= 0 && o->node >= 0 && o->num >= 0 && o->dport >= 0 &&
	       o->family >= 0 && o->state >= 0 && o->rcv_saddr >= 0 && o->daddr >= 0;
}

struct walk {
	struct vg_linux *lx;
	const struct so *o;
	struct vg_sock_list *out;
	bool full;
};

static bool seen(const struct vg_sock_list *l, uint64_t sk)
{
	/* chains are short and lists small; a hostile guest is bounded by MAX_SOCKETS */
	for (size_t i = l->n; i-- > 0 && i + 64 >= l->n;)
		if (l->v[i].sk == sk)
			return true;
	return false;
}

static void add(struct walk *w, uint64_t sk, const char *proto)
{
	struct vg_linux *lx = w->lx;
	const struct so *o = w->o;
	struct vg_sock s = { .sk = sk };
	uint16_t dport = 0;
	uint64_t sock = 0;

	if (w->full || seen(w->out, sk))
		return;
	if (vg_as_read(&lx->kas, sk + (uint64_t)o->family, &s.family, 2) ||
	    vg_as_read(&lx->kas, sk + (uint64_t)o->state, &s.state, 1) ||
	    vg_as_read(&lx->kas, sk + (uint64_t)o->num, &s.lport, 2) ||
	    vg_as_read(&lx->kas, sk + (uint64_t)o->dport, &dport, 2))
		return;
	if (s.family != AF_INET_ && s.family != AF_INET6_)
		return;
	s.rport = (uint16_t)(dport >> 8 | dport << 8);
	if (s.family == AF_INET6_ && o->v6_rcv_saddr >= 0 && o->v6_daddr >= 0) {
		vg_as_read(&lx->kas, sk + (uint64_t)o->v6_rcv_saddr, s.laddr, 16);
		vg_as_read(&lx->kas, sk + (uint64_t)o->v6_daddr, s.raddr, 16);
	} else {
		vg_as_read(&lx->kas, sk + (uint64_t)o->rcv_saddr, s.laddr, 4);
		vg_as_read(&lx->kas, sk + (uint64_t)o->daddr, s.raddr, 4);
	}
	snprintf(s.proto, sizeof(s.proto), "%s%s", proto, s.family == AF_INET6_ ? "6" : "");
	/* a time-wait sock is only a sock_common: no owner, no file */
	if (s.state != TCP_TIME_WAIT || proto[0] != 't') {
		if (o->sk_uid >= 0)
			vg_as_read_u32(&lx->kas, sk + (uint64_t)o->sk_uid, &s.uid);
		if (o->sk_socket >= 0 && o->sa_socket >= 0 && o->sa_inode >= 0 && o->i_ino >= 0 &&
		    !vg_kread_ptr(lx, sk + (uint64_t)o->sk_socket, &sock) && sock)
			vg_as_read_u64(&lx->kas,
				       sock - (uint64_t)o->sa_socket + (uint64_t)o->sa_inode +
					       (uint64_t)o->i_ino,
				       &s.ino);
		/* a listener's receive queue is its accept backlog; its send queue is 0 */
		if (s.state == TCP_LISTEN && proto[0] == 't' && o->ack_backlog >= 0)
			vg_as_read_u32(&lx->kas, sk + (uint64_t)o->ack_backlog, &s.rx_queue);
	}
	if (w->out->n == w->out->cap) {
		size_t cap = w->out->cap ? w->out->cap * 2 : 64;
		struct vg_sock *p = realloc(w->out->v, cap * sizeof(*p));

		if (!p) {
			w->full = true;
			return;
		}
		w->out->v = p;
		w->out->cap = cap;
	}
	w->out->v[w->out->n++] = s;
	w->full = w->out->n >= VG_LXP_MAX_SOCKETS;
}

/* Walks one chain from NODE; NODE_OFF is where the list node sits in the sock. A nulls list
 * ends in an odd value, a plain hlist in NULL. */
static void chain(struct walk *w, uint64_t node, int32_t node_off, const char *proto)
{
	for (int n = 0; node && !(node & 1) && n < MAX_CHAIN && !w->full; n++) {
		if (!vg_kptr_ok(node))
			return;
		add(w, node - (uint64_t)node_off, proto);
		if (vg_as_read_u64(&w->lx->kas, node, &node))
			return;
	}
}

/* Buckets of NB entries, STRIDE bytes apart, the chain head HEAD_OFF into each. */
static void buckets(struct walk *w, uint64_t base, uint64_t nb, int64_t stride, int32_t head_off,
		    int32_t node_off, const char *proto)
{
	uint64_t heads[BUCKET_BATCH];

	for (uint64_t b = 0; b < nb && !w->full; b += BUCKET_BATCH) {
		uint64_t n = nb - b < BUCKET_BATCH ? nb - b : BUCKET_BATCH;

		/* a dense table (stride 8) is read in one piece per batch */
		if (stride == 8 && head_off == 0) {
			if (vg_as_read(&w->lx->kas, base + 8 * b, heads, 8 * n))
				continue;
		} else {
			for (uint64_t i = 0; i < n; i++)
				if (vg_as_read_u64(&w->lx->kas,
						   base + (b + i) * (uint64_t)stride +
							   (uint64_t)head_off,
						   &heads[i]))
					heads[i] = 0;
		}
		for (uint64_t i = 0; i < n; i++)
			chain(w, heads[i], node_off, proto);
	}
}

static void tcp(struct walk *w)
{
	struct vg_linux *lx = w->lx;
	int32_t l2 = vg_linux_btf_offset(lx, "inet_hashinfo", "lhash2");
	int32_t l2mask = vg_linux_btf_offset(lx, "inet_hashinfo", "lhash2_mask");
	int32_t lhead = vg_linux_btf_offset(lx, "inet_listen_hashbucket", "nulls_head");
	int64_t lsz = vg_linux_btf_sizeof(lx, "inet_listen_hashbucket", NULL);
	int32_t eh = vg_linux_btf_offset(lx, "inet_hashinfo", "ehash");
	int32_t ehmask = vg_linux_btf_offset(lx, "inet_hashinfo", "ehash_mask");
	int64_t esz = vg_linux_btf_sizeof(lx, "inet_ehash_bucket", NULL);
	uint64_t hi, tab;
	uint32_t mask;

	if (vg_linux_sym(lx, "tcp_hashinfo", &hi))
		return;
	if (l2 >= 0 && l2mask >= 0 && lhead >= 0 && lsz > 0 &&
	    !vg_as_read_u32(&lx->kas, hi + (uint64_t)l2mask, &mask) && mask < MAX_BUCKETS &&
	    !vg_kread_ptr(lx, hi + (uint64_t)l2, &tab) && tab)
		buckets(w, tab, (uint64_t)mask + 1, lsz, lhead, w->o->nulls_node, "tcp");
	if (eh >= 0 && ehmask >= 0 && esz > 0 &&
	    !vg_as_read_u32(&lx->kas, hi + (uint64_t)ehmask, &mask) && mask < MAX_BUCKETS &&
	    !vg_kread_ptr(lx, hi + (uint64_t)eh, &tab) && tab)
		buckets(w, tab, (uint64_t)mask + 1, esz, 0, w->o->nulls_node, "tcp");
}

static void udp(struct walk *w)
{
	struct vg_linux *lx = w->lx;
	int32_t hash = vg_linux_btf_offset(lx, "udp_table", "hash");
	int32_t mask_off = vg_linux_btf_offset(lx, "udp_table", "mask");
	int32_t head = vg_linux_btf_offset(lx, "udp_hslot", "head");
	int64_t ssz = vg_linux_btf_sizeof(lx, "udp_hslot", NULL);
	uint64_t t, tab;
	uint32_t mask;

	if (hash < 0 || mask_off < 0 || head < 0 || ssz <= 0 || vg_linux_sym(lx, "udp_table", &t) ||
	    vg_as_read_u32(&lx->kas, t + (uint64_t)mask_off, &mask) || mask >= MAX_BUCKETS ||
	    vg_kread_ptr(lx, t + (uint64_t)hash, &tab) || !tab)
		return;
	buckets(w, tab, (uint64_t)mask + 1, ssz, head, w->o->node, "udp");
}

int vg_sockets_list(struct vg_linux *lx, struct vg_sock_list *out, struct vg_err *err)
{
	struct so o;
	struct walk w = { .lx = lx, .o = &o, .out = out };

	memset(out, 0, sizeof(*out));
	if (!resolve(lx, &o))
		return vg_errf(err, ENOTSUP, "this kernel's socket layout is unknown");
	tcp(&w);
	udp(&w);
	return 0;
}

void vg_sockets_free(struct vg_sock_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}
