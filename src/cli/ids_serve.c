// SPDX-License-Identifier: MIT
/*
 * vigil ids serve: the research's command manager, minus telnet. A Unix stream socket (mode
 * 0600, and every peer's uid checked with SO_PEERCRED against ours, so only the socket's
 * owner gets in) takes one command per line and answers in JSON lines:
 *
 *   checks             {"checks":[{"id","summary"}...]}
 *   scan [ID...]       one alert line per confirmed finding (event "finding"), then
 *                      {"done":"scan","findings":N} or {"error":...}
 *   status             {"state","vm","looks","active","subscribed"}
 *   subscribe          {"ok":"subscribe"}, then every watch event as an alert line
 *   unsubscribe, quit
 *
 * Meanwhile it watches like `ids watch` (same interval, policy and sinks). One thread, one
 * poll loop; a client whose socket buffer is full is dropped rather than buffered for, so a
 * stalled subscriber cannot grow our memory.
 */
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

#include "cli.h"
#include "ids_watch_cmd.h"
#include "ids_watcher.h"
#include "vigil/json.h"

#define MAX_CLIENTS 16
#define LINE_MAX_LEN 1024

struct client {
	int fd;
	bool subscribed;
	char buf[LINE_MAX_LEN + 1];
	size_t len;
};

struct server {
	int lfd;
	struct client cl[MAX_CLIENTS];
	struct vg_alerter sinks;
	struct watcher w;
	struct ids_ctx *c;
	const char *vm;
};

static void drop(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
	c->subscribed = false;
}

/* Whole line or nothing; a client that cannot take it now is dropped. */
static void send_line(struct client *c, const char *line, size_t len)
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

static void send_str(struct client *c, const char *s)
{
	send_line(c, s, strlen(s));
}

static void send_finding(struct server *sv, struct client *c, const struct vg_finding *x,
			 const char *event)
{
	size_t len = 0;
	char *line = ids_alert_line(sv->vm, x, event, &len);

	if (line)
		send_line(c, line, len);
	free(line);
}

static void emit(void *ctx, const struct vg_finding *x, const char *event)
{
	struct server *sv = ctx;

	ids_sinks_emit(&sv->sinks, x, event);
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (sv->cl[i].fd >= 0 && sv->cl[i].subscribed)
			send_finding(sv, &sv->cl[i], x, event);
}

static void cmd_checks(struct client *c)
{
	char line[8192], q[512];
	size_t n = 0;

	n += snprintf(line + n, sizeof(line) - n, "{\"checks\":[");
	for (const struct vg_ids_check *k = vg_ids_checks; k->id && n < sizeof(line) - 600; k++) {
		vg_json_quote(q, sizeof(q), k->summary);
		n += snprintf(line + n, sizeof(line) - n, "%s{\"id\":\"%s\",\"summary\":%s}",
			      k == vg_ids_checks ? "" : ",", k->id, q);
	}
	snprintf(line + n, sizeof(line) - n, "]}");
	send_str(c, line);
}

static void cmd_status(struct server *sv, struct client *c)
{
	char line[1024], qv[600];
	int subs = 0;

	for (int i = 0; i < MAX_CLIENTS; i++)
		subs += sv->cl[i].fd >= 0 && sv->cl[i].subscribed;
	vg_json_quote(qv, sizeof(qv), sv->vm);
	snprintf(line, sizeof(line),
		 "{\"state\":\"%s\",\"vm\":%s,\"looks\":%llu,\"active\":%zu,\"subscribed\":%d}",
		 watcher_state_name(sv->w.state), qv, (unsigned long long)sv->w.looks,
		 sv->w.w.active.n, subs);
	send_str(c, line);
}

static void send_error(struct client *c, const char *msg)
{
	char line[700], q[600];

	vg_json_quote(q, sizeof(q), msg);
	snprintf(line, sizeof(line), "{\"error\":%s}", q);
	send_str(c, line);
}

/* Runs the named checks (all when none) now, confirmed by a second look like `ids scan`. */
static void cmd_scan(struct server *sv, struct client *c, char *args)
{
	const char *only[IDS_MAX_ONLY + 1];
	const char *const *saved = sv->c->io.only;
	struct vg_findings a = { 0 }, b = { 0 };
	struct vg_err err = { 0 };
	char warn[1024], line[128], *sp;
	size_t n = 0, found = 0;

	for (char *t = strtok_r(args, " \t", &sp); t; t = strtok_r(NULL, " \t", &sp)) {
		const struct vg_ids_check *k = vg_ids_checks;

		while (k->id && strcmp(k->id, t))
			k++;
		if (!k->id || n == IDS_MAX_ONLY) {
			snprintf(line, sizeof(line), "unknown check '%.64s'", t);
			send_error(c, line);
			return;
		}
		if (vg_policy_check_enabled(&sv->c->policy, k->id))
			only[n++] = k->id;
	}
	only[n] = NULL;
	if (watcher_ensure_open(&sv->w)) {
		send_error(c, "the guest cannot be read now; see status");
		return;
	}
	if (n)
		sv->c->io.only = only;
	vg_as_flush(&sv->w.g.lx.kas);
	if (!ids_look(&sv->w.g, sv->c, &a, warn, sizeof(warn), &err) && a.n) {
		vg_as_flush(&sv->w.g.lx.kas);
		ids_look(&sv->w.g, sv->c, &b, warn, sizeof(warn), &err);
	}
	sv->c->io.only = saved;
	if (err.code) {
		send_error(c, err.msg);
	} else {
		for (size_t i = 0; i < a.n; i++)
			for (size_t k = 0; k < b.n; k++)
				if (vg_finding_same(&a.v[i], &b.v[k])) {
					send_finding(sv, c, &a.v[i], "finding");
					found++;
					break;
				}
		snprintf(line, sizeof(line), "{\"done\":\"scan\",\"findings\":%zu}", found);
		send_str(c, line);
	}
	vg_findings_free(&a);
	vg_findings_free(&b);
}

static void command(struct server *sv, struct client *c, char *line)
{
	char *args = line + strcspn(line, " \t");

	if (*args)
		*args++ = 0;
	if (!strcmp(line, "checks"))
		cmd_checks(c);
	else if (!strcmp(line, "scan"))
		cmd_scan(sv, c, args);
	else if (!strcmp(line, "status"))
		cmd_status(sv, c);
	else if (!strcmp(line, "subscribe") || !strcmp(line, "unsubscribe")) {
		c->subscribed = line[0] == 's';
		send_str(c, c->subscribed ? "{\"ok\":\"subscribe\"}" : "{\"ok\":\"unsubscribe\"}");
	} else if (!strcmp(line, "quit"))
		drop(c);
	else if (line[0]) {
		char msg[128];

		snprintf(msg, sizeof(msg),
			 "unknown command '%.32s'; try checks, scan, status, "
			 "subscribe, unsubscribe, quit",
			 line);
		send_error(c, msg);
	}
}

static void readable(struct server *sv, struct client *c)
{
	ssize_t r = recv(c->fd, c->buf + c->len, LINE_MAX_LEN - c->len, MSG_DONTWAIT);
	char *nl;

	if (r <= 0) {
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			drop(c);
		return;
	}
	c->len += r;
	while (c->fd >= 0 && (nl = memchr(c->buf, '\n', c->len))) {
		size_t n = nl - c->buf + 1;

		*nl = 0;
		if (nl > c->buf && nl[-1] == '\r')
			nl[-1] = 0;
		command(sv, c, c->buf);
		if (c->fd < 0)
			return;
		memmove(c->buf, c->buf + n, c->len - n);
		c->len -= n;
	}
	if (c->fd >= 0 && c->len == LINE_MAX_LEN) {
		send_error(c, "line too long");
		drop(c);
	}
}

static void accept_client(struct server *sv)
{
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	int fd = accept4(sv->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	/* the socket's mode already keeps others out; the peer check holds even if the
	 * directory or mode is later loosened */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) || cr.uid != geteuid()) {
		send(fd, "{\"error\":\"permission denied\"}\n", 30, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
		return;
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (sv->cl[i].fd < 0) {
			sv->cl[i].fd = fd;
			return;
		}
	send(fd, "{\"error\":\"too many clients\"}\n", 29, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
}

/* Binds PATH with mode 0600. A stale socket from a previous run is replaced, but only if it
 * is a socket nobody answers on: never unlink another kind of file. */
static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -!!cli_fail("serve: socket path longer than %zu bytes",
				   sizeof(sa.sun_path) - 1);
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0) {
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool live = probe >= 0 && S_ISSOCK(st.st_mode) &&
			    connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;

		if (probe >= 0)
			close(probe);
		if (!S_ISSOCK(st.st_mode) || live)
			return -!!cli_fail("serve: %s exists and is %s", path,
					   live ? "in use by another server" : "not a socket");
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -!!cli_fail("serve: socket: %s", strerror(errno));
	old = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret || chmod(path, 0600) || listen(fd, 8)) {
		ret = errno;
		close(fd);
		return -!!cli_fail("serve: %s: %s", path, strerror(ret));
	}
	return fd;
}

static void serve_help(void)
{
	printf("Usage: %s ids serve --vm SOURCE --socket PATH [--interval DURATION]\n"
	       "       [--output SINK]... [--baseline FILE] [--policy FILE] [--check ID]...\n\n"
	       "Watches the guest like 'ids watch' and answers on a Unix socket that only its\n"
	       "owner may use (mode 0600, peer uid checked). One command per line:\n"
	       "  checks | scan [ID...] | status | subscribe | unsubscribe | quit\n"
	       "Answers are JSON lines; subscribers receive every watch event as an alert line.\n"
	       "Alerts also go to --output sinks when given. See docs/ids.md.\n",
	       PROG_NAME);
}

static void loop(struct server *sv, uint32_t interval)
{
	uint64_t next = watcher_now_ms();

	while (!ids_stop_requested()) {
		struct pollfd pf[MAX_CLIENTS + 1];
		int idx[MAX_CLIENTS + 1], n = 0;
		uint64_t now = watcher_now_ms();

		if (ids_take_reopen())
			vg_alerter_reopen(&sv->sinks);
		if (now >= next) {
			if (watcher_tick(&sv->w))
				return;
			next += interval;
			if (next <= watcher_now_ms())
				next = watcher_now_ms() + interval;
			continue;
		}
		pf[n] = (struct pollfd){ .fd = sv->lfd, .events = POLLIN };
		idx[n++] = -1;
		for (int i = 0; i < MAX_CLIENTS; i++)
			if (sv->cl[i].fd >= 0) {
				pf[n] = (struct pollfd){ .fd = sv->cl[i].fd, .events = POLLIN };
				idx[n++] = i;
			}
		if (poll(pf, n, (int)(next - now)) <= 0)
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
}

int cmd_ids_serve(int argc, char **argv)
{
	struct server sv = { .lfd = -1 };
	struct ids_args a;
	struct ids_ctx c;
	int rc;

	rc = ids_parse(argc, argv, IDS_OPT_CHECKS | IDS_OPT_WATCH | IDS_OPT_SOCKET, serve_help, &a);
	if (rc || a.help)
		goto out_args;
	rc = ids_ctx_init(&c, &a);
	if (rc)
		goto out_args;
	/* serve's alerts go to subscribers; sinks only when asked for */
	if (a.noutputs && (rc = ids_sinks_open(&sv.sinks, &a)))
		goto out_ctx;
	sv.lfd = listen_on(a.socket);
	if (sv.lfd < 0) {
		rc = EXIT_ERROR;
		goto out_sinks;
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		sv.cl[i].fd = -1;
	sv.c = &c;
	sv.vm = a.vmi.vm;
	ids_install_signals();
	watcher_init(&sv.w, &a, &c, emit, &sv);
	fprintf(stderr, "%s: serving %s on %s\n", PROG_NAME, a.vmi.vm, a.socket);
	loop(&sv, ids_interval_ms(&a, &c));
	for (int i = 0; i < MAX_CLIENTS; i++)
		drop(&sv.cl[i]);
	watcher_free(&sv.w);
	close(sv.lfd);
	unlink(a.socket);
	rc = EXIT_OK;
out_sinks:
	vg_alerter_close(&sv.sinks);
out_ctx:
	ids_ctx_free(&c);
out_args:
	ids_args_free(&a);
	return rc;
}
