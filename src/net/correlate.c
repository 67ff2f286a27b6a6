// SPDX-License-Identifier: MIT
/*
 * The switch-alert feed of `ids watch` (vigil/net_correlate.h). The switch connects to our
 * socket and writes alert lines; each line is parsed with jansson and only a switch alert with
 * a well-formed flow becomes a pending flow. Connections, line lengths, pending flows and the
 * recently reported set are all bounded: the switch is ours, but what it relays came from a
 * guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vigil/clock.h"
#include "vigil/json.h"
#include "vigil/net_correlate.h"

#define MAX_CONNS 8
#define MAX_LINE (64u << 10)
#define MAX_PENDING 256
#define MAX_RECENT 128
#define TRIES 3
#define RECENT_MS 60000

struct pending {
	struct vg_flow_tuple t;
	char check[48], summary[256], severity[16], attack[64], ts[40];
	int tries;
};

struct conn {
	int fd;
	char *buf;
	size_t len;
};

struct vg_flow_feed {
	int lfd;
	char path[108];
	struct conn c[MAX_CONNS];
	struct pending p[MAX_PENDING];
	int np;
	struct {
		struct vg_flow_tuple t;
		uint64_t at_ms;
	} recent[MAX_RECENT];
	int nrecent;
};

int vg_flow_feed_open(struct vg_flow_feed **out, const char *path, struct vg_err *err)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct vg_flow_feed *f;
	struct stat st;

	if (strlen(path) >= sizeof(a.sun_path))
		return vg_errf(err, ENAMETOOLONG, "switch alert socket path too long: %s", path);
	f = calloc(1, sizeof(*f));
	if (!f)
		return vg_errf(err, ENOMEM, "out of memory");
	for (int i = 0; i < MAX_CONNS; i++)
		f->c[i].fd = -1;
	strcpy(a.sun_path, path);
	snprintf(f->path, sizeof(f->path), "%s", path);
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			free(f);
			return vg_errf(err, EEXIST, "%s exists and is not a socket", path);
		}
		unlink(path);
	}
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) || chmod(path, 0600) ||
	    listen(f->lfd, 4)) {
		int e = errno;

		if (f->lfd >= 0)
			close(f->lfd);
		free(f);
		return vg_errf(err, e, "cannot listen for switch alerts on %s: %s", path,
			       strerror(e));
	}
	*out = f;
	return 0;
}

static bool tuple_eq(const struct vg_flow_tuple *a, const struct vg_flow_tuple *b)
{
	return a->proto == b->proto && a->sport == b->sport && a->dport == b->dport &&
	       !memcmp(&a->src, &b->src, sizeof(a->src)) &&
	       !memcmp(&a->dst, &b->dst, sizeof(a->dst));
}

static bool known(const struct vg_flow_feed *f, const struct vg_flow_tuple *t, uint64_t now)
{
	for (int i = 0; i < f->np; i++)
		if (tuple_eq(&f->p[i].t, t))
			return true;
	for (int i = 0; i < f->nrecent; i++)
		if (now - f->recent[i].at_ms < RECENT_MS && tuple_eq(&f->recent[i].t, t))
			return true;
	return false;
}

static int port_of(json_t *flow, const char *k)
{
	json_int_t v = json_integer_value(json_object_get(flow, k));

	return json_is_integer(json_object_get(flow, k)) && v >= 0 && v <= 65535 ? (int)v : -1;
}

static void copy_str(char *dst, size_t len, json_t *v)
{
	snprintf(dst, len, "%s", json_is_string(v) ? json_string_value(v) : "");
}

/* One alert line: a switch alert with a flow becomes a pending flow. */
static void take_line(struct vg_flow_feed *f, const char *line, size_t len)
{
	json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *flow, *att;
	struct pending p = { 0 };
	const char *proto, *s, *d;
	int sp, dp;

	if (!root)
		return;
	flow = json_object_get(json_object_get(root, "evidence"), "flow");
	proto = json_string_value(json_object_get(flow, "proto"));
	s = json_string_value(json_object_get(flow, "src_ip"));
	d = json_string_value(json_object_get(flow, "dst_ip"));
	sp = port_of(flow, "src_port");
	dp = port_of(flow, "dst_port");
	if (strcmp(json_string_value(json_object_get(root, "source")) ?: "", "switch") || !proto ||
	    !s || !d || sp < 0 || dp < 0 || vg_ip_parse(s, &p.t.src) || vg_ip_parse(d, &p.t.dst))
		goto out;
	p.t.proto = !strcmp(proto, "tcp")    ? VG_IPPROTO_TCP
		    : !strcmp(proto, "udp")  ? VG_IPPROTO_UDP
		    : !strcmp(proto, "icmp") ? VG_IPPROTO_ICMP
					     : (uint8_t)atoi(proto);
	p.t.sport = (uint16_t)sp;
	p.t.dport = (uint16_t)dp;
	copy_str(p.check, sizeof(p.check), json_object_get(root, "check"));
	copy_str(p.summary, sizeof(p.summary), json_object_get(root, "summary"));
	copy_str(p.severity, sizeof(p.severity), json_object_get(root, "severity"));
	copy_str(p.ts, sizeof(p.ts), json_object_get(root, "ts"));
	att = json_object_get(root, "attack");
	if (json_is_array(att) && json_array_size(att))
		copy_str(p.attack, sizeof(p.attack), json_array_get(att, 0));
	if (f->np < MAX_PENDING && !known(f, &p.t, vg_mono_ms()))
		f->p[f->np++] = p;
out:
	json_decref(root);
}

void vg_flow_feed_take(struct vg_flow_feed *f, const char *text, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - text - pos) : len - pos;

		if (n && n <= MAX_LINE)
			take_line(f, text + pos, n);
		pos += n + 1;
	}
}

static void drop_conn(struct conn *c)
{
	close(c->fd);
	free(c->buf);
	c->fd = -1;
	c->buf = NULL;
	c->len = 0;
}

void vg_flow_feed_drain(struct vg_flow_feed *f)
{
	int fd;

	while ((fd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		int i;

		for (i = 0; i < MAX_CONNS && f->c[i].fd >= 0; i++)
			;
		if (i == MAX_CONNS || !(f->c[i].buf = malloc(MAX_LINE + 1))) {
			close(fd);
			continue;
		}
		f->c[i].fd = fd;
		f->c[i].len = 0;
	}
	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &f->c[i];

		while (c->fd >= 0) {
			ssize_t n = read(c->fd, c->buf + c->len, MAX_LINE - c->len);
			char *last;

			if (n <= 0) {
				if (n == 0 || (errno != EAGAIN && errno != EINTR))
					drop_conn(c);
				break;
			}
			c->len += (size_t)n;
			last = memrchr(c->buf, '\n', c->len);
			if (!last) {
				if (c->len == MAX_LINE) /* a line longer than any alert */
					drop_conn(c);
				continue;
			}
			vg_flow_feed_take(f, c->buf, (size_t)(last - c->buf));
			c->len -= (size_t)(last + 1 - c->buf);
			memmove(c->buf, last + 1, c->len);
		}
	}
}

static void emit_owner(const struct pending *p, enum vg_owner_how how,
		       const struct vg_guest_sock *g, vg_feed_emit_fn emit, void *ctx)
{
	static const char *const hows[] = { "none", "connected", "listening", "raw", "foreign" };
	char flow[160], a[64], b[64], summary[512], target[16];
	struct vg_alert al = { .source = "ids", .check = "flow-owner" };
	struct vg_json j;

	snprintf(flow, sizeof(flow), "%s %s:%u -> %s:%u",
		 p->t.proto == VG_IPPROTO_TCP	? "tcp"
		 : p->t.proto == VG_IPPROTO_UDP ? "udp"
						: "ip",
		 vg_ip_str(&p->t.src, a, sizeof(a)), p->t.sport, vg_ip_str(&p->t.dst, b, sizeof(b)),
		 p->t.dport);
	if (how == VG_OWN_CONNECTED)
		snprintf(summary, sizeof(summary),
			 "process %s (pid %d) owns the flow %s that the switch flagged (%s)",
			 g->comm, g->pid, flow, p->check);
	else if (how == VG_OWN_LISTENING)
		snprintf(summary, sizeof(summary),
			 "process %s (pid %d) listens on the port of the flow %s that the "
			 "switch flagged (%s)",
			 g->comm, g->pid, flow, p->check);
	else if (how == VG_OWN_RAW)
		snprintf(summary, sizeof(summary),
			 "no socket has the flow %s that the switch flagged (%s); process %s "
			 "(pid %d) holds a %s socket that can craft it",
			 flow, p->check, g->comm, g->pid,
			 g->kind == VG_GS_PACKET ? "packet" : "raw");
	else
		snprintf(summary, sizeof(summary),
			 "no process in the guest holds the socket of the flow %s that the "
			 "switch flagged (%s) any more",
			 flow, p->check);
	if (vg_json_init_mem(&j, false))
		return;
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "socket", hows[how]);
	if (g) {
		vg_json_kint(&j, "pid", g->pid);
		vg_json_kstr(&j, "comm", g->comm);
		vg_json_kuint(&j, "uid", g->uid);
		vg_json_kint(&j, "fd", g->fd);
		vg_json_khex(&j, "sock", g->sk);
	}
	vg_json_key(&j, "flow");
	vg_json_obj_open(&j);
	vg_json_kuint(&j, "proto", p->t.proto);
	vg_json_kstr(&j, "src_ip", a);
	vg_json_kuint(&j, "src_port", p->t.sport);
	vg_json_kstr(&j, "dst_ip", b);
	vg_json_kuint(&j, "dst_port", p->t.dport);
	vg_json_obj_close(&j);
	vg_json_key(&j, "switch_alert");
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "check", p->check);
	vg_json_kstr(&j, "summary", p->summary);
	vg_json_kstr(&j, "severity", p->severity);
	vg_json_kstr(&j, "ts", p->ts);
	vg_json_obj_close(&j);
	vg_json_obj_close(&j);
	al.evidence = vg_json_mem_take(&j, NULL);
	if (g) {
		snprintf(target, sizeof(target), "%d", g->pid);
		al.target_kind = "process";
		al.target_id = target;
	} else {
		al.target_kind = "flow";
		al.target_id = flow;
	}
	if (how == VG_OWN_NONE || vg_severity_parse(p->severity, &al.severity))
		al.severity = VG_SEV_LOW;
	al.summary = summary;
	al.attack = p->attack[0] ? p->attack : NULL;
	emit(ctx, &al);
	free((char *)al.evidence);
}

void vg_flow_feed_match(struct vg_flow_feed *f, const struct vg_guest_socks *s,
			vg_feed_emit_fn emit, void *ctx)
{
	uint64_t now = vg_mono_ms();
	int k = 0;

	for (int i = 0; i < f->np; i++) {
		struct pending *p = &f->p[i];
		const struct vg_guest_sock *g;
		enum vg_owner_how how = vg_flow_owner(s, &p->t, &g);

		if (how == VG_OWN_NONE && ++p->tries < TRIES) {
			f->p[k++] = *p; /* the socket may not be visible yet: look again */
			continue;
		}
		if (how != VG_OWN_FOREIGN)
			emit_owner(p, how, g, emit, ctx);
		if (how != VG_OWN_FOREIGN) {
			int r = f->nrecent < MAX_RECENT ? f->nrecent++ : (int)(now % MAX_RECENT);

			f->recent[r].t = p->t;
			f->recent[r].at_ms = now;
		}
	}
	f->np = k;
}

int vg_flow_feed_pending(const struct vg_flow_feed *f)
{
	return f->np;
}

int vg_flow_feed_poll(struct vg_flow_feed *f, struct vg_linux *lx, vg_feed_emit_fn emit, void *ctx,
		      struct vg_err *err)
{
	struct vg_guest_socks s;
	int ret;

	vg_flow_feed_drain(f);
	if (!f->np)
		return 0;
	ret = vg_guest_socks_read(lx, &s, err);
	if (ret)
		return ret;
	vg_flow_feed_match(f, &s, emit, ctx);
	vg_guest_socks_free(&s);
	return 0;
}

void vg_flow_feed_close(struct vg_flow_feed *f)
{
	if (!f)
		return;
	for (int i = 0; i < MAX_CONNS; i++)
		if (f->c[i].fd >= 0)
			drop_conn(&f->c[i]);
	close(f->lfd);
	unlink(f->path);
	free(f);
}
