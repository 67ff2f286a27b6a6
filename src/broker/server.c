// SPDX-License-Identifier: MIT
/*
 * Serving clients. Each connection is served by a child process of its own, which runs the
 * handshake, authorises the client's key for the one guest it asks for, opens that guest's
 * memory file read-only and answers its requests. A rogue or broken client can then at worst
 * end its own session: it shares no memory with the others and cannot stall anyone (the
 * handshake, which waits on the peer, happens in the child). The parent keeps a few children
 * forked in advance, blocked in accept, so a connection does not wait for a fork.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "vigil/broker.h"
#include "vigil/guest.h"

#define DEFAULT_CLIENTS 64
#define DEFAULT_SPARE 2 /* children waiting for a connection */
#define DEFAULT_IDLE_MS (3600 * 1000)

struct session {
	const struct vg_broker_opts *o;
	struct vg_wire *w;
	struct vg_mem *m;
	const struct vg_broker_vm *vm;
	char peer[96]; /* address and key, for the log */
	struct vg_broker_extent *ext;
	struct vg_bbuf out;
};

static void logf_(const struct vg_broker_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void logf_(const struct vg_broker_opts *o, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	if (!o->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o->log(o->log_ctx, msg);
}

static int authorize(void *ctx, const uint8_t pk[VG_WIRE_KEY_LEN])
{
	const struct vg_broker_opts *o = ctx;

	return vg_broker_config_knows(o->cfg, pk) ? 0 : -EACCES;
}

static void peer_name(int fd, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[64] = "?";
	int port = 0;

	if (!getpeername(fd, (struct sockaddr *)&ss, &sl)) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
			port = ntohs(a->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
			port = ntohs(a->sin6_port);
		}
	}
	snprintf(out, len, "%s:%d", host, port);
}

/* OPEN: the guest must exist and allow this key; both failures read the same to the client,
 * so a key cannot learn the names of guests it may not read. */
static int do_open(struct session *s, const struct vg_broker_req *req)
{
	const struct vg_broker_vm *vm = vg_broker_config_vm(s->o->cfg, req->name);
	enum vg_mem_kind kind;
	struct vg_err err = { 0 };
	char msg[160];

	if (s->m) {
		vg_broker_reply_err(&s->out, VG_BR_OPEN, EPROTO, "a session opens one guest");
		return -EPROTO;
	}
	if (!vm || !vg_broker_vm_allows(vm, vg_wire_peer_key(s->w))) {
		logf_(s->o, "%s: refused guest '%s' (%s)", s->peer, req->name,
		      vm ? "key not allowed for it" : "no such guest");
		snprintf(msg, sizeof(msg), "no guest '%s' for this client's key", req->name);
		vg_broker_reply_err(&s->out, VG_BR_OPEN, ENOENT, msg);
		return -ENOENT;
	}
	if (vg_guest_source_kind(vm->memory, vm->format, &kind, &err) ||
	    vg_mem_open_kind(&s->m, vm->memory, kind, &err)) {
		logf_(s->o, "%s: guest '%s' cannot be opened: %s", s->peer, vm->name, err.msg);
		/* the broker's own paths stay on the broker: the client learns only that it failed
		 */
		snprintf(msg, sizeof(msg), "guest '%s' is not available (%s)", vm->name,
			 err.code == ENOENT ? "its memory file is gone"
					    : "its memory is unreadable");
		vg_broker_reply_err(&s->out, VG_BR_OPEN, err.code == ENOENT ? ENOENT : EIO, msg);
		return 0;
	}
	s->vm = vm;
	logf_(s->o, "%s: serving guest '%s'", s->peer, vm->name);
	vg_broker_info_encode(&s->out, s->m);
	return 0;
}

static int do_read(struct session *s, const struct vg_broker_req *req)
{
	uint64_t size = vg_mem_size(s->m);
	uint8_t *d;

	for (uint32_t i = 0; i < req->n; i++) {
		if (s->ext[i].off > size || s->ext[i].len > size - s->ext[i].off) {
			vg_broker_reply_err(&s->out, VG_BR_READ, EFAULT,
					    "read past the end of the guest's memory");
			return 0;
		}
	}
	vg_bbuf_u8(&s->out, VG_BR_READ);
	vg_bbuf_u32(&s->out, 0);
	d = vg_bbuf_grow(&s->out, req->total);
	for (uint32_t i = 0; d && i < req->n; i++) {
		int r = vg_mem_read_raw(s->m, s->ext[i].off, d, s->ext[i].len);

		if (r) {
			s->out.len = 0;
			vg_broker_reply_err(&s->out, VG_BR_READ, -r,
					    "the memory file cannot be read");
			return 0;
		}
		d += s->ext[i].len;
	}
	return s->out.err;
}

static int handle(struct session *s, const uint8_t *msg, size_t len, struct vg_err *err)
{
	struct vg_broker_req req;
	int r;

	s->out.len = 0;
	r = vg_broker_req_decode(msg, len, &req, s->ext, err);
	if (r)
		return r;
	if (req.op != VG_BR_OPEN && !s->m) {
		vg_broker_reply_err(&s->out, req.op, EBADF, "no guest opened");
		return 0;
	}
	switch (req.op) {
	case VG_BR_OPEN:
		r = do_open(s, &req);
		break;
	case VG_BR_READ:
		r = do_read(s, &req);
		break;
	case VG_BR_CHECK:
	case VG_BR_LIVE:
		r = req.op == VG_BR_CHECK ? vg_mem_check(s->m) : vg_mem_live(s->m);
		vg_bbuf_u8(&s->out, req.op);
		vg_bbuf_u32(&s->out, (uint32_t)r);
		if (r < 0)
			vg_bbuf_u16(&s->out, 0);
		r = 0;
		break;
	}
	if (s->out.err)
		return vg_errf(err, ENOMEM, "out of memory");
	if (vg_wire_send(s->w, s->out.p, s->out.len, err))
		return -err->code;
	return r;
}

int vg_broker_session(int fd, const struct vg_broker_opts *o, struct vg_err *err)
{
	struct vg_wire_opts wo = { .proto = VG_BROKER_PROTO };
	struct session s = { .o = o };
	int idle = o->idle_timeout_ms > 0 ? o->idle_timeout_ms : DEFAULT_IDLE_MS;
	char b64[VG_WIRE_KEY_B64_LEN];
	int r;

	peer_name(fd, s.peer, sizeof(s.peer));
	r = vg_wire_server(&s.w, fd, o->kp, authorize, (void *)o, &wo, err);
	if (r) {
		logf_(o, "%s: handshake failed: %s", s.peer, err->msg);
		return r;
	}
	vg_wire_key_encode(vg_wire_peer_key(s.w), b64);
	snprintf(s.peer + strlen(s.peer), sizeof(s.peer) - strlen(s.peer), " key %.12s...", b64);
	s.ext = calloc(VG_BROKER_MAX_EXTENTS, sizeof(*s.ext));
	if (!s.ext) {
		vg_wire_close(s.w);
		return vg_errf(err, ENOMEM, "out of memory");
	}
	for (;;) {
		const uint8_t *msg;
		size_t len;

		r = vg_wire_recv(s.w, &msg, &len, idle, err);
		if (r) {
			if (r == -ECONNRESET) {
				vg_err_clear(err);
				r = 0;
			}
			break;
		}
		r = handle(&s, msg, len, err);
		if (r)
			break;
	}
	logf_(o, "%s: session ended%s%s", s.peer, r ? ": " : "", r ? err->msg : "");
	vg_wire_close(s.w);
	vg_mem_close(s.m);
	vg_bbuf_free(&s.out);
	free(s.ext);
	return r;
}

/* A child waiting for a connection: accepts one, tells the parent (its pid on NOTIFY), serves
 * it and exits. Forked before the client arrives, so a connection does not wait for a fork. */
static void child_main(int listen_fd, int notify, const struct vg_broker_opts *o)
{
	struct vg_err e = { 0 };
	pid_t self = getpid();
	int fd;

	do {
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	} while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
	if (write(notify, &self, sizeof(self)) != sizeof(self) || fd < 0)
		_exit(fd < 0 ? 1 : 0);
	close(notify);
	close(listen_fd);
	_exit(vg_broker_session(fd, o, &e) ? 1 : 0);
}

struct pool {
	pid_t idle[DEFAULT_SPARE];
	int nidle, nchild;
};

static void forget_idle(struct pool *p, pid_t pid)
{
	for (int i = 0; i < p->nidle; i++) {
		if (p->idle[i] == pid) {
			p->idle[i] = p->idle[--p->nidle];
			return;
		}
	}
}

static void reap(struct pool *p)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		forget_idle(p, pid);
		p->nchild--;
	}
}

int vg_broker_serve(int listen_fd, const struct vg_broker_opts *o, struct vg_err *err)
{
	int max = o->max_clients > 0 ? o->max_clients : DEFAULT_CLIENTS;
	struct pool p = { 0 };
	int notify[2];

	if (pipe2(notify, O_CLOEXEC | O_NONBLOCK))
		return vg_errf(err, errno, "pipe: %s", strerror(errno));
	/* children accept; the parent keeps DEFAULT_SPARE of them waiting, at most MAX in all
	 * (further clients wait in the listen queue until a session ends) */
	while (!o->stop || !*o->stop) {
		struct pollfd pf = { .fd = notify[0], .events = POLLIN };
		pid_t pid;

		reap(&p);
		while (p.nidle < DEFAULT_SPARE && p.nchild < max) {
			pid = fork();
			if (pid < 0) {
				logf_(o, "cannot fork: %s", strerror(errno));
				break;
			}
			if (pid == 0) {
				close(notify[0]);
				child_main(listen_fd, notify[1], o);
			}
			p.idle[p.nidle++] = pid;
			p.nchild++;
		}
		if (poll(&pf, 1, 250) > 0)
			while (read(notify[0], &pid, sizeof(pid)) == sizeof(pid))
				forget_idle(&p, pid); /* it took a connection */
	}
	/* the waiting children go with the parent; sessions in progress finish */
	for (int i = 0; i < p.nidle; i++)
		kill(p.idle[i], SIGKILL); /* they hold nothing yet */
	close(notify[0]);
	close(notify[1]);
	return 0;
}
