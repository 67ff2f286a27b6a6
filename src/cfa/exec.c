// SPDX-License-Identifier: MIT
/*
 * A program linked with libvigil-rt, run under the drainer: the trace region is created, its
 * descriptor passed in VIGIL_CFA_SHM, the program started, and its rings emptied into the
 * caller's sink until it exits, then once more (the region outlives the process, so the last
 * chunk of a killed program is kept). A program that never attached recorded nothing and no
 * verdict can be given about it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vigil/cfa_run.h"

int vg_cfa_resolve(const char *prog, char *out, size_t n)
{
	const char *path = getenv("PATH");

	if (strchr(prog, '/')) {
		if ((size_t)snprintf(out, n, "%s", prog) >= n)
			return -ENAMETOOLONG;
		return access(out, X_OK) ? -ENOENT : 0;
	}
	while (path && *path) {
		const char *c = strchr(path, ':');
		size_t l = c ? (size_t)(c - path) : strlen(path);

		if ((size_t)snprintf(out, n, "%.*s/%s", (int)l, path, prog) < n &&
		    !access(out, X_OK))
			return 0;
		path += l + (c ? 1 : 0);
	}
	return -ENOENT;
}

/* Forks the program; an exec failure comes back through a close-on-exec pipe as its errno. */
static int start(const struct vg_cfa_exec *e, const struct vg_cfa_shm *shm, pid_t *pid,
		 struct vg_err *err)
{
	int p[2], code = 0;
	ssize_t r;

	if (pipe2(p, O_CLOEXEC))
		return vg_errf(err, errno, "pipe: %m");
	*pid = fork();
	if (*pid < 0) {
		close(p[0]);
		close(p[1]);
		return vg_errf(err, errno, "fork: %m");
	}
	if (!*pid) {
		char fdbuf[16];

		close(p[0]);
		snprintf(fdbuf, sizeof(fdbuf), "%d", shm->fd);
		setenv(VG_RT_ENV, fdbuf, 1);
		execv(e->path, e->argv);
		code = errno;
		(void)!write(p[1], &code, sizeof(code));
		_exit(127);
	}
	close(p[1]);
	do
		r = read(p[0], &code, sizeof(code));
	while (r < 0 && errno == EINTR);
	close(p[0]);
	if (r == sizeof(code)) {
		waitpid(*pid, NULL, 0);
		*pid = -1;
		return vg_errf(err, code, "cannot run %s: %s", e->path, strerror(code));
	}
	return 0;
}

static uint64_t ring_waits(const struct vg_cfa_shm *shm)
{
	uint64_t w = 0;

	for (uint32_t i = 0; i < VG_RT_MAX_RINGS; i++)
		w += vg_rt_ring_at(shm->h, i)->waits;
	return w;
}

/* Drains until the program exits, then once more; a failed drain kills it. */
static int pump(const struct vg_cfa_exec *e, struct vg_cfa_shm *shm, pid_t pid, int *status,
		struct vg_err *err)
{
	uint64_t n, waits = 0;
	int rc, exited = 0;

	for (;;) {
		if ((rc = vg_cfa_shm_drain(shm, e->sink, e->ctx, &n, err)))
			break;
		if (exited)
			break;
		if (waitpid(pid, status, WNOHANG) == pid) {
			exited = 1;
			continue;
		}
		/* Pace the drainer: polling a ring the program is writing pulls its cache lines
		 * away on every pass. Sleep 100 us unless the last pass found a quarter-full ring
		 * or a producer waited on a full one since. */
		uint64_t w = ring_waits(shm);

		if (n < shm->h->ring_events / 4 && w == waits) {
			struct timespec ts = { 0, 100000 };

			nanosleep(&ts, NULL);
		}
		waits = w;
	}
	if (!exited) {
		kill(pid, SIGKILL);
		waitpid(pid, status, 0);
	}
	return rc;
}

int vg_cfa_exec_run(const struct vg_cfa_exec *e, struct vg_cfa_exit *x, struct vg_err *err)
{
	struct vg_cfa_shm shm;
	pid_t pid = -1;
	int rc;

	memset(x, 0, sizeof(*x));
	if ((rc = vg_cfa_check_runtime(e->path, err)) ||
	    (rc = vg_cfa_shm_create(&shm, &e->shm, err)))
		return rc;
	if ((rc = start(e, &shm, &pid, err))) {
		vg_cfa_shm_close(&shm);
		return rc;
	}
	if (e->started)
		e->started(e->ctx, pid);
	rc = pump(e, &shm, pid, &x->status, err);
	x->kind = shm.h->kind;
	x->base = shm.h->base;
	x->lost_threads = shm.h->lost_threads;
	for (uint32_t i = 0; i < VG_RT_MAX_RINGS; i++)
		x->lost_events += vg_rt_ring_at(shm.h, i)->lost;
	if (!rc && !shm.h->attached)
		rc = vg_errf(err, ENOEXEC,
			     "%s did not attach to the trace region (not linked with libvigil-rt, "
			     "or it failed to start)",
			     e->path);
	vg_cfa_shm_close(&shm);
	return rc;
}
