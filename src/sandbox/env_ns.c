// SPDX-License-Identifier: MIT
/*
 * The namespace environments' vigil side (env_ns.h): opening an environment (the cached
 * userland that `vigil sandbox prepare` built with src/sandbox/image/build-rootfs.sh;
 * qemu-arm-static; the worker's cgroups), and one run: open the artifacts, fork into the
 * namespaces, wait for the supervisor's report with a hard deadline, write status.json. The
 * supervisor (ns_super.c) does everything inside.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "env_ns.h"
#include "sbx_int.h"
#include "vigil/clock.h"
#include "vigil/util.h"

#define NS_GRACE_S 60 /* beyond the sample's timeout: services, probes, diff, teardown */

int sbx_ns_env_open(struct sbx_env **out, const struct sbx_env_opts *o, const struct ns_profile *p,
		    struct vg_err *err)
{
	char found[4200];
	struct sbx_env *e;
	int r;

	*out = NULL;
	if (!o->cache_dir || !o->work_dir)
		return vg_errf(err, EINVAL, "%s environment: cache and work directories needed",
			       p->name);
	e = calloc(1, sizeof(*e));
	if (!e)
		return vg_errf(err, ENOMEM, "out of memory");
	e->p = p;
	e->worker = o->worker;
	e->rootfs_fd = e->qemu_fd = e->proc_fd = -1;
	for (int i = 0; i < NS_CG__N; i++)
		for (int h = 0; h < NS_CGC__N; h++)
			e->cg.dir[i][h] = -1;
	snprintf(e->rootfs, sizeof(e->rootfs), "%s/%s", o->cache_dir, p->rootfs);
	snprintf(e->work, sizeof(e->work), "%s", o->work_dir);
	/* both go into overlay mount options, where ',' and ':' separate */
	if (strpbrk(e->rootfs, ",:\\") || strpbrk(e->work, ",:\\")) {
		r = vg_errf(err, EINVAL, "%s environment: ',' or ':' in %s or %s", p->name,
			    e->rootfs, e->work);
		goto fail;
	}
	/* never a build here: that needs the network, which a campaign may not have */
	if ((r = sbx_image_find(p->name, o->cache_dir, found, sizeof(found), err)))
		goto fail;
	e->rootfs_fd = open(e->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (e->rootfs_fd < 0) {
		r = vg_errf(err, errno, "%s: %m (run 'vigil sandbox prepare --env %s')", e->rootfs,
			    p->name);
		goto fail;
	}
	e->qemu_fd = open(NS_QEMU, O_PATH | O_CLOEXEC);
	if (e->qemu_fd < 0) {
		r = vg_errf(err, errno, "%s: %m (install qemu-user-static)", NS_QEMU);
		goto fail;
	}
	if ((r = vg_mkdir_p(e->work, 0755)) < 0) {
		r = vg_errf(err, -r, "%s: %s", e->work, strerror(-r));
		goto fail;
	}
	if ((r = sbx_ns_cg_open(&e->cg, o->worker, err)) < 0)
		goto fail;
	*out = e;
	return 0;
fail:
	sbx_ns_env_close(e);
	return r;
}

bool sbx_ns_env_has_interp(struct sbx_env *e, const char *interp)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
	struct stat st;
	int fd;
	bool ok;

	if (!interp || interp[0] != '/' || strlen(interp) >= PATH_MAX)
		return false;
	/* the path is the sample's: resolved inside the userland, symlinks included */
	fd = (int)syscall(SYS_openat2, e->rootfs_fd, interp, &how, sizeof(how));
	if (fd < 0)
		return false;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	close(fd);
	return ok;
}

void sbx_ns_env_close(struct sbx_env *e)
{
	if (!e)
		return;
	sbx_ns_cg_close(&e->cg);
	if (e->rootfs_fd >= 0)
		close(e->rootfs_fd);
	if (e->qemu_fd >= 0)
		close(e->qemu_fd);
	free(e);
}

/* ---- one run ---- */

static int artifact(const char *dir, const char *name, struct vg_err *err)
{
	char p[4200];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return vg_errf(err, errno, "%s: %m", p);
	return fd;
}

static int write_status(const char *dir, const struct ns_status *st, struct vg_err *err)
{
	char buf[1024], ee[40], ec[16], sg[16];
	int fd, n;

	if (st->exec_errno > 0)
		snprintf(ee, sizeof(ee), "\"%s\"",
			 strerrorname_np(st->exec_errno) ? strerrorname_np(st->exec_errno) : "EIO");
	else
		snprintf(ee, sizeof(ee), "null");
	snprintf(ec, sizeof(ec), st->has_exit ? "%d" : "null", st->exit_code);
	snprintf(sg, sizeof(sg), st->signal ? "%d" : "null", st->signal);
	n = snprintf(buf, sizeof(buf),
		     "{\"started\": %s, \"exec_error\": %s, \"exit_code\": %s, \"signal\": %s,\n"
		     " \"timed_out\": %s, \"duration_ms\": %lld, \"children_killed\": %d,\n"
		     " \"limits\": {\"pids_max_hits\": %llu, \"mem_max_hits\": %llu,"
		     " \"oom_kills\": %llu, \"mem_peak\": %llu},\n"
		     " \"produced\": {\"stdout\": %llu, \"stderr\": %llu, \"syscalls\": %llu}}\n",
		     st->started ? "true" : "false", ee, ec, sg, st->timed_out ? "true" : "false",
		     (long long)st->duration_ms, st->children_killed,
		     (unsigned long long)st->hits.pids_max, (unsigned long long)st->hits.mem_max,
		     (unsigned long long)st->hits.oom_kill, (unsigned long long)st->hits.mem_peak,
		     (unsigned long long)st->out_bytes, (unsigned long long)st->err_bytes,
		     (unsigned long long)st->trace_bytes);
	fd = artifact(dir, "status.json", err);
	if (fd < 0)
		return fd;
	if (write(fd, buf, (size_t)n) != n) {
		close(fd);
		return vg_errf(err, EIO, "%s/status.json: short write", dir);
	}
	close(fd);
	return 0;
}

static void __attribute__((noreturn)) middle(struct ns_job *j, int status_r)
{
	int st;
	pid_t p;

	close(status_r);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (setns(j->netns_fd, CLONE_NEWNET) < 0 ||
	    unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC) < 0)
		_exit(3);
	p = fork();
	if (p < 0)
		_exit(3);
	if (p == 0)
		sbx_ns_supervise(j);
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 4);
}

int sbx_ns_env_run(struct sbx_env *e, const struct sbx_run_req *r, struct vg_err *err)
{
	struct ns_job j = { .env = e, .r = r };
	int *fds[] = { &j.sample_fd, &j.netns_fd, &j.out_fd, &j.err_fd,
		       &j.trace_fd,  &j.files_fd, &j.svc_fd, &j.status_w };
	struct ns_status st = { 0 };
	int sp[2] = { -1, -1 }, rc = 0, wst;
	int64_t deadline;
	size_t got = 0;
	pid_t pid;

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		*fds[i] = -1;
	if (!r->run_dir || !r->sample || !r->netns)
		return vg_errf(err, EINVAL, "%s: sample, run directory and netns needed",
			       e->p->name);
	sbx_guest_name(r->sample, j.name, sizeof(j.name));
	j.sample_fd = open(r->sample, O_RDONLY | O_CLOEXEC);
	if (j.sample_fd < 0) {
		rc = vg_errf(err, errno, "%s: %m", r->sample);
		goto out;
	}
	j.netns_fd = open(r->netns, O_RDONLY | O_CLOEXEC);
	if (j.netns_fd < 0) {
		rc = vg_errf(err, errno, "%s: %m", r->netns);
		goto out;
	}
	if ((j.out_fd = rc = artifact(r->run_dir, "stdout", err)) < 0 ||
	    (j.err_fd = rc = artifact(r->run_dir, "stderr", err)) < 0 ||
	    (j.trace_fd = rc = artifact(r->run_dir, "syscalls.log", err)) < 0 ||
	    (j.files_fd = rc = artifact(r->run_dir, "files.tsv", err)) < 0 ||
	    (j.svc_fd = rc = artifact(r->run_dir, "services.json", err)) < 0)
		goto out;
	rc = 0;
	if (pipe2(sp, O_CLOEXEC) < 0) {
		rc = vg_errf(err, errno, "pipe: %m");
		goto out;
	}
	j.status_w = sp[1];
	pid = fork();
	if (pid < 0) {
		rc = vg_errf(err, errno, "fork: %m");
		goto out;
	}
	if (pid == 0)
		middle(&j, sp[0]);
	close(sp[1]);
	sp[1] = j.status_w = -1;
	deadline = (int64_t)vg_mono_ms() +
		   ((int64_t)(r->timeout_s ? r->timeout_s : 10) + NS_GRACE_S) * 1000;
	while (got < sizeof(st)) {
		struct pollfd p = { sp[0], POLLIN, 0 };
		int64_t left = deadline - (int64_t)vg_mono_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) == 0)
			break;
		n = read(sp[0], (char *)&st + got, sizeof(st) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	/* whatever happened, the middle process's death takes the namespace with it */
	if (got < sizeof(st))
		kill(pid, SIGKILL);
	while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
		;
	if (got < sizeof(st)) {
		rc = vg_errf(err, EIO, "%s environment: the supervisor %s", e->p->name,
			     WIFEXITED(wst) && WEXITSTATUS(wst) == 3
				     ? "could not enter the namespaces"
				     : "gave no report before the deadline");
		goto out;
	}
	st.note[sizeof(st.note) - 1] = '\0';
	if (st.exec_errno < 0) {
		rc = vg_errf(err, EIO, "%s environment: %s", e->p->name, st.note);
		goto out;
	}
	rc = write_status(r->run_dir, &st, err);
out:
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	if (sp[0] >= 0)
		close(sp[0]);
	return rc;
}
