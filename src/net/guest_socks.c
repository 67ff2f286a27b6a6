// SPDX-License-Identifier: MIT
/*
 * A guest's sockets from its memory (vigil/net_correlate.h). Every process's file table is
 * walked for socket files (f_op == socket_file_ops), the way the IDS finds listeners' owners,
 * and each socket's sock_common gives its family, state, addresses and ports; the interfaces'
 * in_device and inet6_dev lists give the guest's own addresses. Everything is read through
 * vg_linux_read and every walk is bounded: the guest is hostile.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/lxobj.h"
#include "vigil/net_correlate.h"

#define MAX_FDS 4096
#define MAX_DEVS 64
#define MAX_IFA 16
#define AF_INET_ 2
#define AF_INET6_ 10
#define AF_PACKET_ 17
#define SOCK_RAW_ 3

struct offs {
	int32_t files, fdt, max_fds, fd, f_op, priv, sock_sk, sock_type;
	int32_t family, state, num, dport, rcv4, dst4, rcv6, dst6, protocol;
	uint64_t sops;
};

static bool kptr(uint64_t p)
{
	return p >= 0xff00000000000000ull;
}

static int rd64(struct vg_linux *lx, uint64_t va, uint64_t *v)
{
	return vg_linux_read(lx, va, v, 8);
}

static int offsets(struct vg_linux *lx, struct offs *o)
{
	o->files = vg_linux_btf_offset(lx, "task_struct", "files");
	o->fdt = vg_linux_btf_offset(lx, "files_struct", "fdt");
	o->max_fds = vg_linux_btf_offset(lx, "fdtable", "max_fds");
	o->fd = vg_linux_btf_offset(lx, "fdtable", "fd");
	o->f_op = vg_linux_btf_offset(lx, "file", "f_op");
	o->priv = vg_linux_btf_offset(lx, "file", "private_data");
	o->sock_sk = vg_linux_btf_offset(lx, "socket", "sk");
	o->sock_type = vg_linux_btf_offset(lx, "socket", "type");
	o->family = vg_linux_btf_offset(lx, "sock_common", "skc_family");
	o->state = vg_linux_btf_offset(lx, "sock_common", "skc_state");
	o->num = vg_linux_btf_offset(lx, "sock_common", "skc_num");
	o->dport = vg_linux_btf_offset(lx, "sock_common", "skc_dport");
	o->rcv4 = vg_linux_btf_offset(lx, "sock_common", "skc_rcv_saddr");
	o->dst4 = vg_linux_btf_offset(lx, "sock_common", "skc_daddr");
	o->rcv6 = vg_linux_btf_offset(lx, "sock_common", "skc_v6_rcv_saddr");
	o->dst6 = vg_linux_btf_offset(lx, "sock_common", "skc_v6_daddr");
	o->protocol = vg_linux_btf_offset(lx, "sock", "sk_protocol");
	if (o->files < 0 || o->fdt < 0 || o->max_fds < 0 || o->fd < 0 || o->f_op < 0 ||
	    o->priv < 0 || o->sock_sk < 0 || o->sock_type < 0 || o->family < 0 || o->state < 0 ||
	    o->num < 0 || o->dport < 0 || o->rcv4 < 0 || o->dst4 < 0 ||
	    vg_linux_sym(lx, "socket_file_ops", &o->sops))
		return -ENOENT;
	return 0;
}

static void read_inet(struct vg_linux *lx, const struct offs *o, uint64_t sk, uint16_t family,
		      struct vg_guest_sock *g)
{
	uint16_t num = 0, dport = 0, proto = 0;

	vg_linux_read(lx, sk + o->state, &g->state, 1);
	vg_linux_read(lx, sk + o->num, &num, 2);
	vg_linux_read(lx, sk + o->dport, &dport, 2);
	if (o->protocol >= 0)
		vg_linux_read(lx, sk + o->protocol, &proto, 2);
	g->proto = (uint8_t)proto;
	g->lport = num;					/* host order in the kernel */
	g->rport = (uint16_t)(dport >> 8 | dport << 8); /* network order */
	if (family == AF_INET6_ && o->rcv6 >= 0 && o->dst6 >= 0) {
		vg_linux_read(lx, sk + o->rcv6, g->laddr.b, 16);
		vg_linux_read(lx, sk + o->dst6, g->raddr.b, 16);
	} else {
		uint8_t a[4] = { 0 };

		vg_linux_read(lx, sk + o->rcv4, a, 4);
		vg_ip_from4(&g->laddr, a);
		memset(a, 0, 4);
		vg_linux_read(lx, sk + o->dst4, a, 4);
		vg_ip_from4(&g->raddr, a);
	}
}

/* One file: a socket file becomes an entry. */
static void one_file(struct vg_linux *lx, const struct offs *o, uint64_t f, const struct vg_task *t,
		     int fd, struct vg_guest_socks *out)
{
	uint64_t op, sock, sk;
	uint16_t family = 0;
	int16_t type = 0;
	struct vg_guest_sock *g;

	if (rd64(lx, f + o->f_op, &op) || op != o->sops || rd64(lx, f + o->priv, &sock) ||
	    !kptr(sock) || rd64(lx, sock + o->sock_sk, &sk) || !kptr(sk) ||
	    vg_linux_read(lx, sock + o->sock_type, &type, 2) ||
	    vg_linux_read(lx, sk + o->family, &family, 2))
		return;
	if (family != AF_INET_ && family != AF_INET6_ && family != AF_PACKET_)
		return;
	if (out->n == VG_GUEST_MAX_SOCKS) {
		out->truncated = true;
		return;
	}
	g = &out->v[out->n++];
	memset(g, 0, sizeof(*g));
	g->sk = sk;
	g->type = (uint16_t)type;
	g->pid = t->pid;
	g->fd = fd;
	g->uid = t->uid;
	memcpy(g->comm, t->comm, sizeof(g->comm) - 1);
	if (family == AF_PACKET_) {
		g->kind = VG_GS_PACKET;
		return;
	}
	g->kind = type == SOCK_RAW_ ? VG_GS_RAW : VG_GS_INET;
	read_inet(lx, o, sk, family, g);
}

static void task_files(struct vg_linux *lx, const struct offs *o, const struct vg_task *t,
		       struct vg_guest_socks *out)
{
	uint64_t fs, tab, arr;
	uint32_t n;

	if (t->kthread || t->pid != t->tgid || rd64(lx, t->addr + o->files, &fs) || !kptr(fs) ||
	    rd64(lx, fs + o->fdt, &tab) || !kptr(tab) ||
	    vg_linux_read(lx, tab + o->max_fds, &n, 4) || rd64(lx, tab + o->fd, &arr) || !kptr(arr))
		return;
	if (n > MAX_FDS)
		n = MAX_FDS;
	for (uint32_t fd = 0; fd < n; fd++) {
		uint64_t f;

		if (!rd64(lx, arr + 8ull * fd, &f) && kptr(f))
			one_file(lx, o, f, t, (int)fd, out);
	}
}

static void add_addr(struct vg_guest_socks *out, const struct vg_ip *a)
{
	for (int i = 0; i < out->naddrs; i++)
		if (!memcmp(&out->addrs[i], a, sizeof(*a)))
			return;
	if (out->naddrs < VG_GUEST_MAX_ADDRS)
		out->addrs[out->naddrs++] = *a;
}

static void dev_addrs(struct vg_linux *lx, uint64_t dev, struct vg_guest_socks *out)
{
	int32_t ip4 = vg_linux_btf_offset(lx, "net_device", "ip_ptr");
	int32_t ip6 = vg_linux_btf_offset(lx, "net_device", "ip6_ptr");
	int32_t ifa_list = vg_linux_btf_offset(lx, "in_device", "ifa_list");
	int32_t ifa_next = vg_linux_btf_offset(lx, "in_ifaddr", "ifa_next");
	int32_t ifa_local = vg_linux_btf_offset(lx, "in_ifaddr", "ifa_local");
	int32_t addr_list = vg_linux_btf_offset(lx, "inet6_dev", "addr_list");
	int32_t if_list = vg_linux_btf_offset(lx, "inet6_ifaddr", "if_list");
	int32_t addr6 = vg_linux_btf_offset(lx, "inet6_ifaddr", "addr");
	uint64_t in, ifa, i6, head, cur;
	int n = 0;

	if (ip4 >= 0 && ifa_list >= 0 && ifa_next >= 0 && ifa_local >= 0 &&
	    !rd64(lx, dev + ip4, &in) && kptr(in) && !rd64(lx, in + ifa_list, &ifa)) {
		while (kptr(ifa) && n++ < MAX_IFA) {
			uint8_t a[4];
			struct vg_ip ip;

			if (vg_linux_read(lx, ifa + ifa_local, a, 4))
				break;
			vg_ip_from4(&ip, a);
			add_addr(out, &ip);
			if (rd64(lx, ifa + ifa_next, &ifa))
				break;
		}
	}
	if (ip6 < 0 || addr_list < 0 || if_list < 0 || addr6 < 0 || rd64(lx, dev + ip6, &i6) ||
	    !kptr(i6))
		return;
	head = i6 + addr_list;
	if (rd64(lx, head, &cur))
		return;
	for (n = 0; cur != head && kptr(cur) && n < MAX_IFA; n++) {
		struct vg_ip ip;

		if (vg_linux_read(lx, cur - if_list + addr6, ip.b, 16))
			break;
		add_addr(out, &ip);
		if (rd64(lx, cur, &cur))
			break;
	}
}

static void guest_addrs(struct vg_linux *lx, struct vg_guest_socks *out)
{
	int32_t head_off = vg_linux_btf_offset(lx, "net", "dev_base_head");
	int32_t list_off = vg_linux_btf_offset(lx, "net_device", "dev_list");
	uint64_t net, head, cur;

	if (head_off < 0 || list_off < 0 || vg_linux_sym(lx, "init_net", &net))
		return;
	head = net + head_off;
	if (rd64(lx, head, &cur))
		return;
	for (int n = 0; cur != head && kptr(cur) && n < MAX_DEVS; n++) {
		dev_addrs(lx, cur - list_off, out);
		if (rd64(lx, cur, &cur))
			return;
	}
}

int vg_guest_socks_read(struct vg_linux *lx, struct vg_guest_socks *out, struct vg_err *err)
{
	struct vg_task_opts topts = { .no_cmdline = true };
	struct vg_task_list tl;
	struct offs o;
	int ret;

	memset(out, 0, sizeof(*out));
	if (offsets(lx, &o))
		return vg_errf(err, ENOENT, "the guest kernel's socket layout is unknown (BTF)");
	ret = vg_tasks_list(lx, &topts, &tl, err);
	if (ret)
		return ret;
	out->v = calloc(VG_GUEST_MAX_SOCKS, sizeof(*out->v));
	if (!out->v) {
		vg_tasks_free(&tl);
		return vg_errf(err, ENOMEM, "out of memory for the guest's sockets");
	}
	for (size_t i = 0; i < tl.n; i++)
		task_files(lx, &o, &tl.v[i], out);
	vg_tasks_free(&tl);
	guest_addrs(lx, out);
	return 0;
}

void vg_guest_socks_free(struct vg_guest_socks *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}
