// SPDX-License-Identifier: MIT
/* The IDS control socket (see ids_serve.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vigil/clock.h"
#include "vigil/ids_serve.h"
#include "vigil/json.h"

static void drop(struct vg_serve_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
	c->subscribed = false;
}

/* Whole line or nothing; a client that cannot take it now is dropped. */
static void send_line(struct vg_serve_client *c, const char *line, size_t len)
{
	struct iovec iov[2] = { { (void *)line, len }, { "\n", 1 } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t w;

	if (c->fd < 0)
		return;
	w = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (w != (ssize_t)len + 1)
		drop(c);
}

/* Sends the object J built (a memory writer) and ends it. */
static void send_json(struct vg_serve_client *c, struct vg_json *j)
{
	size_t len = 0;
	char *line = vg_json_mem_take(j, &len);

	if (line)
		send_line(c, line, len);
	else
		drop(c); /* out of memory: a client missing an answer must not wait for it */
	free(line);
}

static void send_finding(struct vg_ids_server *sv, struct vg_serve_client *c,
			 const struct vg_finding *x, const char *event)
{
	struct vg_alert al;
	size_t len = 0;
	char *line;

	vg_finding_alert(x, event, &al);
	line = vg_alert_format(sv->vm, &al, &len);
	if (line)
		send_line(c, line, len);
	free(line);
}

static void emit(void *ctx, const struct vg_finding *x, const char *event)
{
	struct vg_ids_server *sv = ctx;

	if (sv->sinks)
		vg_watcher_emit_alert(sv->sinks, x, event);
	for (int i = 0; i < VG_SERVE_MAX_CLIENTS; i++)
		if (sv->cl[i].fd >= 0 && sv->cl[i].subscribed)
			send_finding(sv, &sv->cl[i], x, event);
}

static void send_error(struct vg_serve_client *c, const char *msg)
{
	struct vg_json j;

	if (vg_json_init_mem(&j, false))
		return drop(c);
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "error", msg);
	vg_json_obj_close(&j);
	send_json(c, &j);
}

static void cmd_checks(struct vg_serve_client *c)
{
	struct vg_json j;

	if (vg_json_init_mem(&j, false))
		return drop(c);
	vg_json_obj_open(&j);
	vg_json_key(&j, "checks");
	vg_json_arr_open(&j);
	for (const struct vg_ids_check *k = vg_ids_checks; k->id; k++) {
		vg_json_obj_open(&j);
		vg_json_kstr(&j, "id", k->id);
		vg_json_kstr(&j, "summary", k->summary);
		vg_json_obj_close(&j);
	}
	vg_json_arr_close(&j);
	vg_json_obj_close(&j);
	send_json(c, &j);
}

static void cmd_status(struct vg_ids_server *sv, struct vg_serve_client *c)
{
	struct vg_json j;
	int subs = 0;

	for (int i = 0; i < VG_SERVE_MAX_CLIENTS; i++)
		subs += sv->cl[i].fd >= 0 && sv->cl[i].subscribed;
	if (vg_json_init_mem(&j, false))
		return drop(c);
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "state", vg_watcher_state_name(sv->w.state));
	vg_json_kstr(&j, "vm", sv->vm);
	vg_json_kuint(&j, "looks", sv->w.looks);
	vg_json_kuint(&j, "active", sv->w.w.active.n);
	vg_json_kint(&j, "subscribed", subs);
	vg_json_obj_close(&j);
	send_json(c, &j);
}

/* Runs the named checks (all when none) now, confirmed by a second look like `ids scan`. */
static void cmd_scan(struct vg_ids_server *sv, struct vg_serve_client *c, char *args)
{
	const char *names[VG_IDS_MAX_ONLY + 1], *only[VG_IDS_MAX_ONLY + 1];
	const char *const *saved = sv->c->io.only;
	struct vg_findings f = { 0 };
	struct vg_err err = { 0 };
	struct vg_json j;
	char warn[1024], *sp;
	size_t n = 0;
	int ret;

	for (char *t = strtok_r(args, " \t", &sp); t; t = strtok_r(NULL, " \t", &sp)) {
		if (n == VG_IDS_MAX_ONLY) {
			send_error(c, "too many checks named");
			return;
		}
		names[n++] = t;
	}
	if (vg_ids_select(sv->c, names, n, only, VG_IDS_MAX_ONLY + 1, &err)) {
		send_error(c, err.msg);
		return;
	}
	if (vg_watcher_ensure_open(&sv->w)) {
		send_error(c, "the guest cannot be read now; see status");
		return;
	}
	if (n)
		sv->c->io.only = only;
	ret = vg_ids_scan(&sv->w.g, sv->c, &f, warn, sizeof(warn), &err);
	sv->c->io.only = saved;
	if (ret) {
		send_error(c, err.msg);
	} else {
		for (size_t i = 0; i < f.n; i++)
			send_finding(sv, c, &f.v[i], "finding");
		if (vg_json_init_mem(&j, false)) {
			drop(c);
		} else {
			vg_json_obj_open(&j);
			vg_json_kstr(&j, "done", "scan");
			vg_json_kuint(&j, "findings", f.n);
			vg_json_obj_close(&j);
			send_json(c, &j);
		}
	}
	vg_findings_free(&f);
}

static void command(struct vg_ids_server *sv, struct vg_serve_client *c, char *line)
{
	char *args = line + strcspn(line, " \t");

	if (*args)
		*args++ = 0;
	if (!strcmp(line, "checks")) {
		cmd_checks(c);
	} else if (!strcmp(line, "scan")) {
		cmd_scan(sv, c, args);
	} else if (!strcmp(line, "status")) {
		cmd_status(sv, c);
	} else if (!strcmp(line, "subscribe") || !strcmp(line, "unsubscribe")) {
		c->subscribed = line[0] == 's';
		send_line(c, c->subscribed ? "{\"ok\":\"subscribe\"}" : "{\"ok\":\"unsubscribe\"}",
			  c->subscribed ? 18 : 20);
	} else if (!strcmp(line, "quit")) {
		drop(c);
	} else if (line[0]) {
		char msg[128];

		snprintf(msg, sizeof(msg),
			 "unknown command '%.32s'; try checks, scan, status, "
			 "subscribe, unsubscribe, quit",
			 line);
		send_error(c, msg);
	}
}

static void readable(struct vg_ids_server *sv, struct vg_serve_client *c)
{
	ssize_t r = recv(c->fd, c->buf + c->len, VG_SERVE_LINE_MAX - c->len, MSG_DONTWAIT);
	char *nl;

	if (r <= 0) {
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			drop(c);
		return;
	}
	c->len += (size_t)r;
	while (c->fd >= 0 && (nl = memchr(c->buf, '\n', c->len))) {
		size_t n = (size_t)(nl - c->buf) + 1;

		*nl = 0;
		if (nl > c->buf && nl[-1] == '\r')
			nl[-1] = 0;
		command(sv, c, c->buf);
		if (c->fd < 0)
			return;
		memmove(c->buf, c->buf + n, c->len - n);
		c->len -= n;
	}
	if (c->fd >= 0 && c->len == VG_SERVE_LINE_MAX) {
		send_error(c, "line too long");
		drop(c);
	}
}

static void accept_client(struct vg_ids_server *sv)
{
	static const char denied[] = "{\"error\":\"permission denied\"}\n";
	static const char full[] = "{\"error\":\"too many clients\"}\n";
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	int fd = accept4(sv->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	/* the socket's mode already keeps others out; the peer check holds even if the
	 * directory or mode is later loosened */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) || cr.uid != geteuid()) {
		send(fd, denied, sizeof(denied) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
		return;
	}
	for (int i = 0; i < VG_SERVE_MAX_CLIENTS; i++)
		if (sv->cl[i].fd < 0) {
			sv->cl[i].fd = fd;
			return;
		}
	send(fd, full, sizeof(full) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
}

static int listen_on(const char *path, struct vg_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return vg_errf(err, ENAMETOOLONG, "socket path longer than %zu bytes",
			       sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool live = probe >= 0 && S_ISSOCK(st.st_mode) &&
			    connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;

		if (probe >= 0)
			close(probe);
		if (!S_ISSOCK(st.st_mode) || live)
			return vg_errf(err, EEXIST, "%s exists and is %s", path,
				       live ? "in use by another server" : "not a socket");
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return vg_errf(err, errno, "socket: %s", strerror(errno));
	old = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret || chmod(path, 0600) || listen(fd, 8)) {
		ret = errno;
		close(fd);
		return vg_errf(err, ret, "%s: %s", path, strerror(ret));
	}
	return fd;
}

int vg_ids_server_open(struct vg_ids_server *sv, const char *path, const struct vg_guest_opts *go,
		       struct vg_ids_config *c, struct vg_alerter *sinks, struct vg_err *err)
{
	memset(sv, 0, sizeof(*sv));
	for (int i = 0; i < VG_SERVE_MAX_CLIENTS; i++)
		sv->cl[i].fd = -1;
	sv->lfd = listen_on(path, err);
	if (sv->lfd < 0)
		return sv->lfd;
	snprintf(sv->path, sizeof(sv->path), "%s", path);
	sv->c = c;
	sv->vm = go->source;
	sv->sinks = sinks;
	vg_watcher_init(&sv->w, go, c, emit, sv);
	return 0;
}

int vg_ids_server_run(struct vg_ids_server *sv, uint32_t interval_ms, const struct vg_loop_ctl *ctl)
{
	uint64_t next = vg_mono_ms();

	while (!ctl->stop(ctl->ctx)) {
		struct pollfd pf[VG_SERVE_MAX_CLIENTS + 1];
		int idx[VG_SERVE_MAX_CLIENTS + 1], n = 0;
		uint64_t now = vg_mono_ms();

		if (ctl->reopen(ctl->ctx) && sv->sinks)
			vg_alerter_reopen(sv->sinks);
		if (now >= next) {
			int t = vg_watcher_tick(&sv->w);

			if (t)
				return t < 0 ? t : 0;
			next += interval_ms;
			if (next <= vg_mono_ms())
				next = vg_mono_ms() + interval_ms;
			continue;
		}
		pf[n] = (struct pollfd){ .fd = sv->lfd, .events = POLLIN };
		idx[n++] = -1;
		for (int i = 0; i < VG_SERVE_MAX_CLIENTS; i++)
			if (sv->cl[i].fd >= 0) {
				pf[n] = (struct pollfd){ .fd = sv->cl[i].fd, .events = POLLIN };
				idx[n++] = i;
			}
		if (poll(pf, (nfds_t)n, (int)(next - now)) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			if (!pf[i].revents)
				continue;
			if (idx[i] < 0)
				accept_client(sv);
			else
				readable(sv, &sv->cl[idx[i]]);
		}
	}
	return 0;
}

void vg_ids_server_close(struct vg_ids_server *sv)
{
	for (int i = 0; i < VG_SERVE_MAX_CLIENTS; i++)
		drop(&sv->cl[i]);
	vg_watcher_free(&sv->w);
	if (sv->lfd >= 0) {
		close(sv->lfd);
		unlink(sv->path);
	}
	sv->lfd = -1;
}
