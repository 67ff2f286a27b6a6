// SPDX-License-Identifier: MIT
/*
 * Listening sockets, read from the kernel's own tables rather than /proc/net: TCP listeners
 * from tcp_hashinfo's lhash2 buckets (hlist_nulls of sock_common.skc_nulls_node), bound UDP
 * sockets from udp_table's hash (hlist of skc_node). Owners are found by walking every task's
 * file table for socket files whose struct socket points at the sock; an owner's stdin and
 * stdout, when they are pipes, by looking for the tasks holding the other end. All walks are
 * bounded.
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

/* Where a task's open files are: task->files->fdt->{max_fds, fd}. */
struct fdoff {
	int32_t files, fdt, maxfds, fdarr, fop, priv, sock_sk;
	uint64_t socket_fops, pipe_fops; /* 0 when the kernel's symbol is unknown */
};

/* TASK's file pointer array and its length (bounded), or -1 when it cannot be read. */
static int fd_array(struct vg_linux *lx, const struct fdoff *o, const struct vg_task *t,
		    uint64_t *arr, uint32_t *n)
{
	uint64_t fs, tab;

	if (t->kthread || t->pid != t->tgid || vg_as_read_u64(&lx->kas, t->addr + o->files, &fs) ||
	    !vg_ids_kptr(fs) || vg_as_read_u64(&lx->kas, fs + o->fdt, &tab) || !vg_ids_kptr(tab) ||
	    vg_as_read_u32(&lx->kas, tab + o->maxfds, n) ||
	    vg_as_read_u64(&lx->kas, tab + o->fdarr, arr) || !vg_ids_kptr(*arr))
		return -1;
	if (*n > MAX_FDS)
		*n = MAX_FDS;
	return 0;
}

/* The struct file at FD and its f_op, or -1. */
static int fd_file(struct vg_linux *lx, const struct fdoff *o, uint64_t arr, uint32_t fd,
		   uint64_t *file, uint64_t *op)
{
	if (vg_as_read_u64(&lx->kas, arr + 8ull * fd, file) || !vg_ids_kptr(*file) ||
	    vg_as_read_u64(&lx->kas, *file + o->fop, op))
		return -1;
	return 0;
}

/* Owner: the task whose file table holds a socket file pointing at the sock. */
static void find_owners(struct vg_linux *lx, struct vg_snapshot *s, const struct fdoff *o)
{
	for (size_t i = 0; i < s->tasks.n; i++) {
		const struct vg_task *t = &s->tasks.v[i];
		uint64_t arr;
		uint32_t n;

		if (fd_array(lx, o, t, &arr, &n))
			continue;
		for (uint32_t fd = 0; fd < n; fd++) {
			uint64_t f, op, sock, sk;

			if (fd_file(lx, o, arr, fd, &f, &op) || op != o->socket_fops ||
			    vg_as_read_u64(&lx->kas, f + o->priv, &sock) || !vg_ids_kptr(sock) ||
			    vg_as_read_u64(&lx->kas, sock + o->sock_sk, &sk))
				continue;
			for (size_t k = 0; k < s->nlisten; k++) {
				if (s->listen[k].sock != sk || s->listen[k].owner_pid)
					continue;
				s->listen[k].owner_pid = t->pid;
				s->listen[k].owner = t;
				snprintf(s->listen[k].owner_comm, sizeof(s->listen[k].owner_comm),
					 "%s", t->comm);
			}
		}
	}
}

/* One end of a pipe (or FIFO) that is a listener owner's stdin or stdout. */
struct stdio_pipe {
	uint64_t pipe; /* struct pipe_inode_info, the pipe itself */
	uint64_t file; /* the owner's struct file on it */
	size_t listen;
};

static int cmp_pipe(const void *a, const void *b)
{
	uint64_t x = ((const struct stdio_pipe *)a)->pipe, y = ((const struct stdio_pipe *)b)->pipe;

	return x < y ? -1 : x > y;
}

static void add_peer(struct vg_listen *l, const struct vg_task *t)
{
	for (int i = 0; i < l->npeers; i++)
		if (l->peers[i] == t)
			return;
	if (l->npeers < VG_LISTEN_PEERS)
		l->peers[l->npeers++] = t;
}

/* Peers: the tasks with the other end of an owner's stdio pipe on their own stdin, stdout or
 * stderr (another struct file on the same pipe: a shell that inherited the owner's very file,
 * e.g. the one that started it, is not a peer). A bind shell built from a FIFO (cat f | sh -i
 * | nc -l -p PORT > f) is a shell on the other end of the listener's stdin. */
static void find_peers(struct vg_linux *lx, struct vg_snapshot *s, const struct fdoff *o)
{
	struct stdio_pipe *p = calloc(2 * s->nlisten + 1, sizeof(*p));
	size_t np = 0;

	if (!p || !o->pipe_fops) {
		free(p);
		return;
	}
	for (size_t k = 0; k < s->nlisten; k++) {
		uint64_t arr;
		uint32_t n;

		if (!s->listen[k].owner || fd_array(lx, o, s->listen[k].owner, &arr, &n))
			continue;
		for (uint32_t fd = 0; fd < 2 && fd < n; fd++) {
			uint64_t f, op, pipe;

			if (!fd_file(lx, o, arr, fd, &f, &op) && op == o->pipe_fops &&
			    !vg_as_read_u64(&lx->kas, f + o->priv, &pipe) && vg_ids_kptr(pipe))
				p[np++] = (struct stdio_pipe){ pipe, f, k };
		}
	}
	qsort(p, np, sizeof(*p), cmp_pipe);
	for (size_t i = 0; np && i < s->tasks.n; i++) {
		const struct vg_task *t = &s->tasks.v[i];
		uint64_t arr;
		uint32_t n;

		if (fd_array(lx, o, t, &arr, &n))
			continue;
		for (uint32_t fd = 0; fd < 3 && fd < n; fd++) {
			struct stdio_pipe key, *e;
			uint64_t f, op;

			if (fd_file(lx, o, arr, fd, &f, &op) || op != o->pipe_fops ||
			    vg_as_read_u64(&lx->kas, f + o->priv, &key.pipe))
				continue;
			e = bsearch(&key, p, np, sizeof(*p), cmp_pipe);
			/* equal pipes sit together: walk back to the first, then over all */
			while (e && e > p && e[-1].pipe == key.pipe)
				e--;
			for (; e && e < p + np && e->pipe == key.pipe; e++)
				if (e->file != f && s->listen[e->listen].owner != t)
					add_peer(&s->listen[e->listen], t);
		}
	}
	free(p);
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
	struct fdoff fo = {
		.files = vg_linux_btf_offset(lx, "task_struct", "files"),
		.fdt = vg_linux_btf_offset(lx, "files_struct", "fdt"),
		.maxfds = vg_linux_btf_offset(lx, "fdtable", "max_fds"),
		.fdarr = vg_linux_btf_offset(lx, "fdtable", "fd"),
		.fop = vg_linux_btf_offset(lx, "file", "f_op"),
		.priv = vg_linux_btf_offset(lx, "file", "private_data"),
		.sock_sk = vg_linux_btf_offset(lx, "socket", "sk"),
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
	if (s->nlisten && fo.files >= 0 && fo.fdt >= 0 && fo.maxfds >= 0 && fo.fdarr >= 0 &&
	    fo.fop >= 0 && fo.priv >= 0 && fo.sock_sk >= 0 &&
	    !vg_linux_sym(lx, "socket_file_ops", &fo.socket_fops)) {
		if (vg_linux_sym(lx, "pipefifo_fops", &fo.pipe_fops))
			fo.pipe_fops = 0;
		find_owners(lx, s, &fo);
		find_peers(lx, s, &fo);
	}
	s->have_listen = true;
}
