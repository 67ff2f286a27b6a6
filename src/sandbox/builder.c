// SPDX-License-Identifier: MIT
/*
 * The environments' images and their builders (src/sandbox/image): where the cache is, which
 * script builds which environment, and running one. A run never builds: it asks the builder's
 * --check mode, which needs neither apt nor the network, and a missing or stale image is an
 * error that names `vigil sandbox prepare`, the one step that downloads (prepare.c). So a
 * campaign inside a network namespace without an uplink works whenever the cache is there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sbx_ns_paths.h"     /* SBX_ROOTFS_BUILDER, made by meson */
#include "sandbox/sbx_system_paths.h" /* SBX_SYSTEM_BUILDER, made by meson */
#include "sbx_int.h"

#define BUILDER_LINE 4200 /* a path fits */

int sbx_cache_dir(char *out, size_t n)
{
	const char *cache = getenv("VIGIL_CACHE"), *home = getenv("HOME");
	int k;

	if (cache && cache[0])
		k = snprintf(out, n, "%s/sandbox", cache);
	else
		k = snprintf(out, n, "%s/.cache/vigil/sandbox", home && home[0] ? home : "/tmp");
	return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

const char *sbx_builder_script(const char *env)
{
	const char *ns = getenv("VIGIL_SANDBOX_BUILDER");

	if (!strcmp(env, "system"))
		return SBX_SYSTEM_BUILDER;
	return ns && ns[0] ? ns : SBX_ROOTFS_BUILDER;
}

/* Hands LINE to the step callback when it is a "step: " line; keeps the last line. */
static void line(const struct sbx_builder_opts *b, const char *l, char *last, size_t n)
{
	if (!strncmp(l, "step: ", 6)) {
		if (b->step)
			b->step(b->ctx, l + 6);
		return;
	}
	if (l[0])
		snprintf(last, n, "%s", l);
}

int sbx_builder_run(const struct sbx_builder_opts *b, char *last, size_t n, int *status,
		    struct vg_err *err)
{
	char buf[BUILDER_LINE];
	int p[2], log = -1, st = 0;
	pid_t pid;
	FILE *in;

	last[0] = 0;
	if (access(b->script, R_OK) < 0)
		return vg_errf(err, errno, "image builder %s: %m", b->script);
	if (b->log && (log = open(b->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return vg_errf(err, errno, "%s: %m", b->log);
	if (pipe2(p, O_CLOEXEC) < 0) {
		if (log >= 0)
			close(log);
		return vg_errf(err, errno, "pipe: %m");
	}
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		if (log >= 0)
			close(log);
		return vg_errf(err, errno, "fork: %m");
	}
	if (!pid) {
		/* stdout and stderr in one pipe: the order of steps and errors is kept */
		dup2(p[1], 1);
		dup2(p[1], 2);
		if (b->check)
			execl("/bin/bash", "bash", b->script, "--check", b->cache_dir,
			      (char *)NULL);
		else
			execl("/bin/bash", "bash", b->script, b->cache_dir, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	in = fdopen(p[0], "r");
	/* a line longer than the buffer comes in pieces, each taken as a line */
	while (in && fgets(buf, sizeof(buf), in)) {
		buf[strcspn(buf, "\n")] = 0;
		if (log >= 0)
			dprintf(log, "%s\n", buf);
		line(b, buf, last, n);
	}
	if (in)
		fclose(in);
	else
		close(p[0]);
	if (log >= 0)
		close(log);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 0;
}

int sbx_image_find(const char *env, const char *cache_dir, char *path, size_t n, struct vg_err *err)
{
	struct sbx_builder_opts b = { .script = sbx_builder_script(env),
				      .check = true,
				      .cache_dir = cache_dir };
	int st, rc = sbx_builder_run(&b, path, n, &st, err);

	if (rc)
		return rc;
	if (st == 0 && path[0] == '/')
		return 0;
	if (st == 3 || st == 4)
		return vg_errf(err, ENOENT,
			       "%s in %s: run 'vigil sandbox prepare --env %s' once with network "
			       "access (it downloads Debian's armhf packages; runs then need none)",
			       st == 3 ? "not prepared" : "prepared by another version of vigil",
			       cache_dir, env);
	return vg_errf(err, EIO, "checking the %s image with %s failed (exit %d): %s", env,
		       b.script, st, path[0] ? path : "no output");
}
