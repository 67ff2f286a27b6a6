// SPDX-License-Identifier: MIT
/*
 * Listening sockets, read from the kernel's own tables rather than /proc/net: TCP listeners
 * from tcp_hashinfo's lhash2 buckets (hlist_nulls of sock_common.skc_nulls_node), bound UDP
 * sockets from udp_table's hash (hlist of skc_node). Owners are found by walking every task's
 * file table for socket files whose struct socket points at the sock. All walks are bounded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gather_int.h"
#include "vigil/ids.h"

#define MAX_BUCKETS (1u << 20)
#define MAX_CHAIN 4096
#define MAX_FDS 4096
#define AF_INET_ 2
#define AF_INET6_ 10
#define TCP_LISTEN 10

struct skoff {
	int32_t nulls_node, node, num, family, state, rcv_saddr, v6_rcv_saddr;
};

static void add_listen(struct vg_snapshot *s, struct vg_linux *lx, const struct skoff *o,
		       uint64_t sk, const char *proto)
{
	struct vg_listen *l;
	uint16_t num = 0, family = 0;

	if (s->nlisten >= VG_IDS_MAX_LISTEN)
		return;
	if (vg_as_read(&lx->kas, sk + o->num, &num, 2) ||
	    vg_as_read(&lx->kas, sk + o->family, &family, 2))
		return;
	l = &s->listen[s->nlisten++];
	memset(l, 0, sizeof(*l));
	l->sock = sk;
	l->port = num;
	l->family = family;
	snprintf(l->proto, sizeof(l->proto), "%s%s", proto, family == AF_INET6_ ? "6" : "");
	if (family == AF_INET6_) {
		uint8_t a6[16];

		if (!vg_as_read(&lx->kas, sk + o->v6_rcv_saddr, a6, 16))
			inet_ntop(AF_INET6, a6, l->addr, sizeof(l->addr));
	} else {
		uint32_t a4;

		if (!vg_as_read_u32(&lx->kas, sk + o->rcv_saddr, &a4))
			inet_ntop(AF_INET, &a4, l->addr, sizeof(l->addr));
	}
}

static void gather_tcp(struct vg_linux *lx, struct vg_snapshot *s, const struct skoff *o)
{
	int32_t mask_off = vg_linux_btf_offset(lx, "inet_hashinfo", "lhash2_mask");
	int32_t l2_off = vg_linux_btf_offset(lx, "inet_hashinfo", "lhash2");
	int32_t head_off = vg_linux_btf_offset(lx, "inet_listen_hashbucket", "nulls_head");
	int64_t bsz = vg_linux_btf_sizeof(lx, "inet_listen_hashbucket", NULL);
	uint64_t hi, lhash2;
	uint32_t mask;

	if (mask_off < 0 || l2_off < 0 || head_off < 0 || bsz <= 0 ||
	    vg_linux_sym(lx, "tcp_hashinfo", &hi) ||
	    vg_as_read_u32(&lx->kas, hi + mask_off, &mask) || mask >= MAX_BUCKETS ||
	    vg_as_read_u64(&lx->kas, hi + l2_off, &lhash2) || !vg_ids_kptr(lhash2)) {
		strncat(s->gather_errors,
			s->gather_errors[0] ? "; TCP listeners unknown" : "TCP listeners unknown",
			sizeof(s->gather_errors) - strlen(s->gather_errors) - 1);
		return;
	}
	for (uint64_t b = 0; b <= mask; b++) {
		uint64_t node;
		int n = 0;

		if (vg_as_read_u64(&lx->kas, lhash2 + b * bsz + head_off, &node))
			continue;
		/* a nulls list ends in an odd "pointer" */
		while (!(node & 1) && node && n++ < MAX_CHAIN) {
			uint64_t sk = node - o->nulls_node;
			uint8_t st = 0;

			if (!vg_ids_kptr(node) || vg_as_read(&lx->kas, sk + o->state, &st, 1))
				break;
			if (st == TCP_LISTEN)
				add_listen(s, lx, o, sk, "tcp");
			if (vg_as_read_u64(&lx->kas, node, &node))
				break;
		}
	}
}

static void gather_udp(struct vg_linux *lx, struct vg_snapshot *s, const struct skoff *o)
{
	int32_t hash_off = vg_linux_btf_offset(lx, "udp_table", "hash");
	int32_t mask_off = vg_linux_btf_offset(lx, "udp_table", "mask");
	int32_t head_off = vg_linux_btf_offset(lx, "udp_hslot", "head");
	int64_t ssz = vg_linux_btf_sizeof(lx, "udp_hslot", NULL);
	uint64_t t, hash;
	uint32_t mask;

	if (hash_off < 0 || mask_off < 0 || head_off < 0 || ssz <= 0 ||
	    vg_linux_sym(lx, "udp_table", &t) || vg_as_read_u32(&lx->kas, t + mask_off, &mask) ||
	    mask >= MAX_BUCKETS || vg_as_read_u64(&lx->kas, t + hash_off, &hash) ||
	    !vg_ids_kptr(hash))
		return;
	for (uint64_t b = 0; b <= mask; b++) {
		uint64_t node;
		int n = 0;

		if (vg_as_read_u64(&lx->kas, hash + b * ssz + head_off, &node))
			continue;
		while (node && n++ < MAX_CHAIN && vg_ids_kptr(node)) {
			add_listen(s, lx, o, node - o->node, "udp");
			if (vg_as_read_u64(&lx->kas, node, &node))
				break;
		}
	}
}

/* Owner: the task whose file table holds a socket file pointing at the sock. */
static void find_owners(struct vg_linux *lx, struct vg_snapshot *s)
{
	int32_t files = vg_linux_btf_offset(lx, "task_struct", "files");
	int32_t fdt = vg_linux_btf_offset(lx, "files_struct", "fdt");
	int32_t maxfds = vg_linux_btf_offset(lx, "fdtable", "max_fds");
	int32_t fdarr = vg_linux_btf_offset(lx, "fdtable", "fd");
	int32_t fop = vg_linux_btf_offset(lx, "file", "f_op");
	int32_t priv = vg_linux_btf_offset(lx, "file", "private_data");
	int32_t sock_sk = vg_linux_btf_offset(lx, "socket", "sk");
	uint64_t sops;

	if (files < 0 || fdt < 0 || maxfds < 0 || fdarr < 0 || fop < 0 || priv < 0 || sock_sk < 0 ||
	    vg_linux_sym(lx, "socket_file_ops", &sops) || !s->nlisten)
		return;
	for (size_t i = 0; i < s->tasks.n; i++) {
		const struct vg_task *t = &s->tasks.v[i];
		uint64_t fs, tab, arr;
		uint32_t n;

		if (t->kthread || t->pid != t->tgid ||
		    vg_as_read_u64(&lx->kas, t->addr + files, &fs) || !vg_ids_kptr(fs) ||
		    vg_as_read_u64(&lx->kas, fs + fdt, &tab) || !vg_ids_kptr(tab) ||
		    vg_as_read_u32(&lx->kas, tab + maxfds, &n) ||
		    vg_as_read_u64(&lx->kas, tab + fdarr, &arr) || !vg_ids_kptr(arr))
			continue;
		if (n > MAX_FDS)
			n = MAX_FDS;
		for (uint32_t fd = 0; fd < n; fd++) {
			uint64_t f, op, sock, sk;

			if (vg_as_read_u64(&lx->kas, arr + 8ull * fd, &f) || !vg_ids_kptr(f) ||
			    vg_as_read_u64(&lx->kas, f + fop, &op) || op != sops ||
			    vg_as_read_u64(&lx->kas, f + priv, &sock) || !vg_ids_kptr(sock) ||
			    vg_as_read_u64(&lx->kas, sock + sock_sk, &sk))
				continue;
			for (size_t k = 0; k < s->nlisten; k++) {
				if (s->listen[k].sock != sk || s->listen[k].owner_pid)
					continue;
				s->listen[k].owner_pid = t->pid;
				snprintf(s->listen[k].owner_comm, sizeof(s->listen[k].owner_comm),
					 "%s", t->comm);
			}
		}
	}
}

void vg_ids_gather_net(struct vg_linux *lx, struct vg_snapshot *s)
{
	struct skoff o = {
		.nulls_node = vg_linux_btf_offset(lx, "sock_common", "skc_nulls_node"),
		.node = vg_linux_btf_offset(lx, "sock_common", "skc_node"),
		.num = vg_linux_btf_offset(lx, "sock_common", "skc_num"),
		.family = vg_linux_btf_offset(lx, "sock_common", "skc_family"),
		.state = vg_linux_btf_offset(lx, "sock_common", "skc_state"),
		.rcv_saddr = vg_linux_btf_offset(lx, "sock_common", "skc_rcv_saddr"),
		.v6_rcv_saddr = vg_linux_btf_offset(lx, "sock_common", "skc_v6_rcv_saddr"),
	};

	if (o.nulls_node < 0 || o.node < 0 || o.num < 0 || o.family < 0 || o.state < 0 ||
	    o.rcv_saddr < 0)
		return;
	if (o.v6_rcv_saddr < 0)
		o.v6_rcv_saddr = o.rcv_saddr;
	s->listen = calloc(VG_IDS_MAX_LISTEN, sizeof(*s->listen));
	if (!s->listen)
		return;
	gather_tcp(lx, s, &o);
	gather_udp(lx, s, &o);
	find_owners(lx, s);
	s->have_listen = true;
}
