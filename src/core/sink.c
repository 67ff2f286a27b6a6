// SPDX-License-Identifier: MIT
/* Alert sinks: stdout, an appended file, syslog (see sink.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "vigil/sink.h"

static int open_file(struct vg_sink *s, struct vg_err *err)
{
	/* 0600: alerts carry evidence about the guest an operator may not want world-readable */
	s->fd = open(s->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (s->fd < 0)
		return vg_errf(err, errno, "alert file %s: %s", s->path, strerror(errno));
	return 0;
}

static int connect_unix(struct vg_sink *s, struct vg_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(s->path) >= sizeof(sa.sun_path))
		return vg_errf(err, ENAMETOOLONG, "alert socket path too long: %s", s->path);
	memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return vg_errf(err, errno, "alert socket: %s", strerror(errno));
	if (connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(s->fd);
		s->fd = -1;
		return vg_errf(err, e, "alert socket %s: %s", s->path, strerror(e));
	}
	return 0;
}

static int write_unix(struct vg_sink *s, const char *line, size_t len)
{
	struct iovec iov[2] = { { (void *)line, len }, { "\n", 1 } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

	/* a listener that went away and came back is tried again once per alert */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (s->fd < 0 && connect_unix(s, NULL))
			continue;
		if (sendmsg(s->fd, &mh, MSG_NOSIGNAL) == (ssize_t)len + 1)
			return 0;
		close(s->fd);
		s->fd = -1;
	}
	s->failed = s->failed ?: EPIPE;
	return -s->failed;
}

int vg_sink_open(struct vg_sink *s, const char *spec, struct vg_err *err)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (!strcmp(spec, "-") || !strcmp(spec, "stdout")) {
		s->kind = VG_SINK_STDOUT;
		return 0;
	}
	if (!strcmp(spec, "syslog")) {
		s->kind = VG_SINK_SYSLOG;
		openlog("vigil", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		return 0;
	}
	if (!strncmp(spec, "unix:", 5) && spec[5]) {
		if (strlen(spec + 5) >= sizeof(s->path))
			return vg_errf(err, ENAMETOOLONG, "alert socket path too long");
		s->kind = VG_SINK_UNIX;
		snprintf(s->path, sizeof(s->path), "%s", spec + 5);
		return connect_unix(s, err);
	}
	if (strncmp(spec, "file:", 5) || !spec[5])
		return vg_errf(err, EINVAL,
			       "alert output '%s': use stdout, file:PATH, syslog or unix:PATH",
			       spec);
	if (strlen(spec + 5) >= sizeof(s->path))
		return vg_errf(err, ENAMETOOLONG, "alert file path too long");
	s->kind = VG_SINK_FILE;
	snprintf(s->path, sizeof(s->path), "%s", spec + 5);
	return open_file(s, err);
}

static int syslog_priority(const char *sev)
{
	if (!sev)
		return LOG_INFO;
	if (!strcmp(sev, "critical"))
		return LOG_CRIT;
	if (!strcmp(sev, "high"))
		return LOG_ERR;
	if (!strcmp(sev, "medium"))
		return LOG_WARNING;
	if (!strcmp(sev, "low"))
		return LOG_NOTICE;
	return LOG_INFO;
}

int vg_sink_write(struct vg_sink *s, const char *line, size_t len, const char *severity)
{
	struct iovec iov[2] = { { (void *)line, len }, { "\n", 1 } };
	ssize_t w;

	switch (s->kind) {
	case VG_SINK_STDOUT:
		if (fwrite(line, 1, len, stdout) != len || putchar('\n') == EOF || fflush(stdout)) {
			s->failed = s->failed ?: errno ?: EIO;
			return -s->failed;
		}
		return 0;
	case VG_SINK_SYSLOG:
		syslog(syslog_priority(severity), "%.*s", (int)len, line);
		return 0;
	case VG_SINK_UNIX:
		return write_unix(s, line, len);
	case VG_SINK_FILE:
		if (s->fd < 0)
			return -EBADF;
		w = writev(s->fd, iov, 2);
		if (w != (ssize_t)len + 1) {
			s->failed = s->failed ?: (w < 0 ? errno : ENOSPC);
			return -s->failed;
		}
		return 0;
	}
	return -EINVAL;
}

int vg_sink_reopen(struct vg_sink *s, struct vg_err *err)
{
	if (s->kind == VG_SINK_UNIX) {
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		s->failed = 0;
		return connect_unix(s, err);
	}
	if (s->kind != VG_SINK_FILE)
		return 0;
	if (s->fd >= 0) {
		fsync(s->fd);
		close(s->fd);
	}
	s->failed = 0;
	return open_file(s, err);
}

void vg_sink_close(struct vg_sink *s)
{
	if (s->kind == VG_SINK_FILE && s->fd >= 0) {
		fsync(s->fd);
		close(s->fd);
	}
	if (s->kind == VG_SINK_UNIX && s->fd >= 0)
		close(s->fd);
	if (s->kind == VG_SINK_SYSLOG)
		closelog();
	s->fd = -1;
}

const char *vg_sink_name(const struct vg_sink *s)
{
	switch (s->kind) {
	case VG_SINK_STDOUT:
		return "stdout";
	case VG_SINK_SYSLOG:
		return "syslog";
	default:
		return s->path;
	}
}
