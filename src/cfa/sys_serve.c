// SPDX-License-Identifier: MIT
/*
 * `vigil cfa serve` (contract in include/vigil/sysserve.h). Handshake threads accept and
 * authenticate connections (the registry decides which keys are served) and hand finished
 * sessions to the event loop through a queue and an eventfd; the loop reads whole messages
 * without blocking, runs the session checks and the engine, acknowledges each accepted batch
 * with its verdict, writes reports and, once a second, looks for silent devices.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "sys_serve_int.h"
#include "vigil/clock.h"
#include "vigil/json.h"

#define TAG_QUEUE (1ull << 40)
#define TAG_TIMER (2ull << 40)
#define HANDSHAKE_MS 3000
#define MAX_THREADS 16

struct session {
	struct vg_wire *w;
	struct sys_device *dev;
	bool hello;
};

struct server {
	const struct vg_sys_serve_opts *o;
	struct vg_sys_serve_stats *st;
	struct sys_registry reg;
	int lfd, ep, qfd, tfd;
	pthread_mutex_t qlock;
	struct vg_wire **queue;
	uint32_t qn, qcap;
	volatile int quit;
	struct session *ses;
	uint32_t nses, capses;
	int64_t start_us;
};

static void note(const struct server *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note(const struct server *s, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (!s->o->note)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	s->o->note(s->o->note_ctx, buf);
}

static int authorize(void *ctx, const uint8_t pk[VG_WIRE_KEY_LEN])
{
	struct server *s = ctx;

	return vg_sys_registry_find(&s->reg, pk) ? 0 : -EACCES;
}

static void *handshaker(void *arg)
{
	struct server *s = arg;
	struct vg_wire_opts wo = { .proto = VG_SB_PROTO, .timeout_ms = HANDSHAKE_MS };

	while (!s->quit) {
		struct vg_err err = { 0 };
		struct vg_wire *w;
		uint64_t one = 1;
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			break; /* the listening socket was shut down */
		}
		if (vg_wire_server(&w, fd, s->o->key, authorize, s, &wo, &err)) {
			__atomic_fetch_add(err.code == EACCES ? &s->st->refused
							      : &s->st->handshake_failures,
					   1, __ATOMIC_RELAXED);
			note(s, "refused a connection: %s", err.msg);
			continue;
		}
		pthread_mutex_lock(&s->qlock);
		if (s->qn == s->qcap) {
			uint32_t cap = s->qcap ? s->qcap * 2 : 64;
			void *p = realloc(s->queue, cap * sizeof(*s->queue));

			if (!p) {
				pthread_mutex_unlock(&s->qlock);
				vg_wire_close(w);
				continue;
			}
			s->queue = p;
			s->qcap = cap;
		}
		s->queue[s->qn++] = w;
		pthread_mutex_unlock(&s->qlock);
		if (write(s->qfd, &one, sizeof(one)) < 0)
			continue;
	}
	return NULL;
}

static void write_report(struct server *s, struct sys_device *d, bool final)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], *txt;
	struct vg_err err = { 0 };
	size_t len;
	FILE *f;

	if (!s->o->sign_sk || !s->o->report_dir || !d->has_stream)
		return;
	if (vg_sys_stream_report(&d->stream, final ? 0 : ++d->checkpoints, s->o->sign_sk, &txt,
				 &len, &err)) {
		note(s, "report for %s: %s", d->id, err.msg);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s.report", s->o->report_dir, d->id);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f || fwrite(txt, 1, len, f) != len || fclose(f) || rename(tmp, path)) {
		note(s, "writing %s: %s", path, strerror(errno));
		if (f)
			unlink(tmp);
	}
	free(txt);
}

static void close_session(struct server *s, uint32_t i, const char *why)
{
	struct session *se = &s->ses[i];

	if (!se->w)
		return;
	epoll_ctl(s->ep, EPOLL_CTL_DEL, vg_wire_fd(se->w), NULL);
	vg_wire_close(se->w);
	se->w = NULL;
	if (se->dev) {
		if (why)
			note(s, "%s: session ended: %s", se->dev->id, why);
		if (se->dev->session == (int)i)
			se->dev->session = -1;
		write_report(s, se->dev, false);
	}
	se->dev = NULL;
}

static int stream_of(struct server *s, struct sys_device *d, struct vg_err *err)
{
	struct vg_sys_stream_opts so = {
		.device = d->id,
		.program = d->program,
		.model = &s->reg.models[d->model].m,
		.alerter = s->o->alerter,
	};

	if (d->has_stream)
		return 0;
	if (vg_sys_stream_init(&d->stream, &so, err))
		return -ENOMEM;
	d->has_stream = true;
	d->stream.last_us = s->start_us;
	return 0;
}

static void on_readable(struct server *s, uint32_t i);

static void adopt(struct server *s, struct vg_wire *w)
{
	struct sys_device *d = vg_sys_registry_find(&s->reg, vg_wire_peer_key(w));
	struct epoll_event ev = { .events = EPOLLIN };
	struct vg_err err = { 0 };
	uint32_t i;

	if (!d || stream_of(s, d, &err)) {
		vg_wire_close(w);
		return;
	}
	if (!d->seen) {
		d->seen = true;
		s->st->seen++;
	}
	if (d->session >= 0)
		close_session(s, (uint32_t)d->session, "the device connected again");
	for (i = 0; i < s->nses && s->ses[i].w; i++)
		;
	if (i == s->nses) {
		if (s->nses == s->capses) {
			uint32_t cap = s->capses ? s->capses * 2 : 256;
			void *p = realloc(s->ses, cap * sizeof(*s->ses));

			if (!p) {
				vg_wire_close(w);
				return;
			}
			s->ses = p;
			s->capses = cap;
		}
		s->nses++;
	}
	s->ses[i] = (struct session){ .w = w, .dev = d };
	d->session = (int)i;
	ev.data.u64 = i;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, vg_wire_fd(w), &ev)) {
		close_session(s, i, "epoll");
		return;
	}
	s->st->sessions++;
	/* the handshake may have read the agent's first messages already: the socket will not
	 * say so again */
	on_readable(s, i);
}

static void log_batch(struct server *s, const struct sys_device *d, const uint8_t *m, size_t len,
		      enum vg_sys_batch_status st, const struct vg_sys_result *res)
{
	static const char *const sn[] = { "accepted", "forged", "replayed", "malformed" };
	struct vg_sb_hdr h = { 0 };
	struct vg_err err = { 0 };
	struct vg_json j;

	if (!s->o->batch_log)
		return;
	vg_sb_parse_hdr(m, len, &h, &err);
	vg_json_init(&j, s->o->batch_log, false);
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "device", d->id);
	vg_json_kuint(&j, "seq", h.seq);
	vg_json_kstr(&j, "status", sn[st]);
	if (st == VG_SYS_B_ACCEPTED) {
		vg_json_kstr(&j, "verdict", vg_sys_verdict_name(res->verdict));
		vg_json_kuint(&j, "syscalls", res->events);
	}
	vg_json_obj_close(&j);
	vg_json_end(&j);
}

static void on_batch(struct server *s, uint32_t i, const uint8_t *m, size_t len)
{
	struct session *se = &s->ses[i];
	struct sys_device *d = se->dev;
	enum vg_sys_batch_status st;
	struct vg_sys_result res;
	struct vg_err err = { 0 };
	uint8_t ack[VG_SB_ACK_LEN];
	uint64_t t0 = vg_thread_cpu_ns();
	int r = vg_sys_stream_batch(&d->stream, m, len, &st, &res, &err);

	s->st->verify_cpu_s += (double)(vg_thread_cpu_ns() - t0) / 1e9;
	if (r) {
		close_session(s, i, err.msg);
		return;
	}
	log_batch(s, d, m, len, st, &res);
	if (st != VG_SYS_B_ACCEPTED) {
		s->st->rejected++;
		return;
	}
	s->st->batches++;
	s->st->syscalls += res.events;
	s->st->verdicts[res.verdict]++;
	vg_sb_ack_pack(ack, d->stream.next_seq - 1, res.verdict);
	if (vg_wire_send(se->w, ack, sizeof(ack), &err)) {
		close_session(s, i, err.msg);
		return;
	}
	if (d->stream.final || (s->o->report_every && d->stream.batches % s->o->report_every == 0))
		write_report(s, d, false);
}

static void on_readable(struct server *s, uint32_t i)
{
	for (int k = 0; k < 64 && s->ses[i].w; k++) {
		struct session *se = &s->ses[i];
		struct vg_err err = { 0 };
		const uint8_t *m;
		size_t len;
		uint32_t magic;
		int r = vg_wire_recv(se->w, &m, &len, 0, &err);

		if (r == -EAGAIN)
			return;
		if (r == -EBADMSG) {
			s->st->channel_errors++;
			vg_sys_stream_session_alert(&se->dev->stream, VG_SYS_S_FORGED, NULL, 0,
						 "a message failed authentication on the secure "
						 "channel (tampered, replayed or injected)");
		}
		if (r) {
			close_session(s, i, err.msg);
			return;
		}
		memcpy(&magic, m, len >= 4 ? 4 : 0);
		if (len < 4)
			magic = 0;
		if (magic == VG_SB_MAGIC_HELLO) {
			struct vg_sb_hello h;
			uint8_t reply[VG_SB_REPLY_LEN];
			uint64_t next;
			bool known;

			if (vg_sb_hello_unpack(m, len, &h) || strcmp(h.device, se->dev->id)) {
				vg_sys_stream_session_alert(&se->dev->stream, VG_SYS_S_FORGED, NULL, 0,
							 "the agent's hello claimed another device "
							 "than its key");
				close_session(s, i, "hello for another device");
				return;
			}
			vg_sys_stream_hello(&se->dev->stream, &h, &known, &next);
			vg_sb_reply_pack(reply, known, next);
			se->hello = true;
			if (vg_wire_send(se->w, reply, sizeof(reply), &err)) {
				close_session(s, i, err.msg);
				return;
			}
		} else if (magic == VG_SB_MAGIC_BATCH && se->hello) {
			on_batch(s, i, m, len);
		} else {
			vg_sys_stream_session_alert(&se->dev->stream, VG_SYS_S_MALFORMED, NULL, 0,
						 "the agent sent a message of no known kind");
			close_session(s, i, "unknown message");
			return;
		}
	}
}

static void tick(struct server *s)
{
	int64_t now = vg_wall_us(),
		limit = (int64_t)(s->o->silent_after_s ? s->o->silent_after_s : 30) * 1000000;

	for (uint32_t i = 0; i < s->reg.ndev; i++) {
		struct sys_device *d = &s->reg.dev[i];
		int64_t last;

		if (stream_of(s, d, &(struct vg_err){ 0 }))
			continue;
		last = d->stream.last_us;
		/* a device whose agent said goodbye (final batch) is not expected to speak */
		if (d->stream.final || now - last < limit || d->stream.silent)
			continue;
		vg_sys_stream_silent(&d->stream, now, last);
		s->st->silent++;
	}
}

static int setup(struct server *s, struct vg_err *err)
{
	char host[256], port[16];
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	struct epoll_event ev = { .events = EPOLLIN };
	struct rlimit rl;
	int r;

	/* every device is a socket: use all the descriptors we may */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((r = vg_sys_registry_load(&s->reg, s->o->registry, err)))
		return r;
	s->st->devices = s->reg.ndev;
	if (vg_wire_split_hostport(s->o->listen, host, sizeof(host), port, sizeof(port)))
		return vg_errf(err, EINVAL, "'%s' is not HOST:PORT", s->o->listen);
	s->lfd = vg_wire_listen(host, port, err);
	if (s->lfd < 0)
		return s->lfd;
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->qfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->ep < 0 || s->qfd < 0 || s->tfd < 0 || timerfd_settime(s->tfd, 0, &its, NULL))
		return vg_errf(err, errno, "event loop: %m");
	ev.data.u64 = TAG_QUEUE;
	epoll_ctl(s->ep, EPOLL_CTL_ADD, s->qfd, &ev);
	ev.data.u64 = TAG_TIMER;
	epoll_ctl(s->ep, EPOLL_CTL_ADD, s->tfd, &ev);
	return 0;
}

static void take_queue(struct server *s)
{
	uint64_t v;

	if (read(s->qfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&s->qlock);
	for (uint32_t i = 0; i < s->qn; i++)
		adopt(s, s->queue[i]);
	s->qn = 0;
	pthread_mutex_unlock(&s->qlock);
}

int vg_sys_serve(const struct vg_sys_serve_opts *o, struct vg_sys_serve_stats *st,
		 struct vg_err *err)
{
	struct server s = { .o = o, .st = st, .lfd = -1, .ep = -1, .qfd = -1, .tfd = -1 };
	uint32_t nthreads = o->handshake_threads ? o->handshake_threads : 2, started = 0;
	pthread_t th[MAX_THREADS];
	uint64_t cpu0 = vg_thread_cpu_ns(), wall0 = vg_mono_ns();
	int r;

	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&s.qlock, NULL);
	s.start_us = vg_wall_us();
	r = setup(&s, err);
	if (nthreads > MAX_THREADS)
		nthreads = MAX_THREADS;
	for (; !r && started < nthreads; started++)
		if (pthread_create(&th[started], NULL, handshaker, &s)) {
			r = vg_errf(err, EAGAIN, "cannot start handshake threads");
			break;
		}
	while (!r && !(o->stop && *o->stop)) {
		struct epoll_event evs[256];
		int n = epoll_wait(s.ep, evs, 256, 500);

		if (n < 0 && errno != EINTR) {
			r = vg_errf(err, errno, "epoll: %m");
			break;
		}
		for (int k = 0; k < n; k++) {
			uint64_t tag = evs[k].data.u64, v;

			if (tag == TAG_QUEUE) {
				take_queue(&s);
			} else if (tag == TAG_TIMER) {
				if (read(s.tfd, &v, sizeof(v)) > 0)
					tick(&s);
			} else if (tag < s.nses) {
				on_readable(&s, (uint32_t)tag);
			}
		}
	}
	/* stop: no new connections, end every session, final reports */
	s.quit = 1;
	if (s.lfd >= 0)
		shutdown(s.lfd, SHUT_RDWR);
	for (uint32_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	take_queue(&s);
	for (uint32_t i = 0; i < s.nses; i++)
		close_session(&s, i, NULL);
	for (uint32_t i = 0; i < s.reg.ndev; i++)
		if (s.reg.dev[i].has_stream && s.reg.dev[i].stream.batches)
			write_report(&s, &s.reg.dev[i], true);
	st->alerts = o->alerter ? o->alerter->sent : 0;
	st->cpu_s = (double)(vg_thread_cpu_ns() - cpu0) / 1e9;
	st->wall_s = (double)(vg_mono_ns() - wall0) / 1e9;
	vg_sys_registry_free(&s.reg);
	free(s.ses);
	free(s.queue);
	if (s.lfd >= 0)
		close(s.lfd);
	if (s.ep >= 0)
		close(s.ep);
	if (s.qfd >= 0)
		close(s.qfd);
	if (s.tfd >= 0)
		close(s.tfd);
	pthread_mutex_destroy(&s.qlock);
	return r;
}
