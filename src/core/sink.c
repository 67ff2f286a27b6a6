// SPDX-License-Identifier: MIT
/* Alert sinks: stdout, an appended file, syslog (see sink.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
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
	if (strncmp(spec, "file:", 5) || !spec[5])
		return vg_errf(err, EINVAL, "alert output '%s': use stdout, file:PATH or syslog",
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
	if (s->kind == VG_SINK_SYSLOG)
		closelog();
	s->fd = -1;
}
