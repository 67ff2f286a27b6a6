// SPDX-License-Identifier: MIT
/*
 * Control groups for the namespace environments (ns_cgroup.h). The worker's group is named
 * vigil-sbx-<vigil's pid>-w<worker>, so parallel campaigns never share one, and a group left by a
 * crashed vigil (its pid gone) is removed by the next sbx_ns_cg_open in the same parent.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ns_cgroup.h"
#include "vigil/clock.h"

static const char *const v1_names[NS_CGC__N] = { "memory", "pids", "cpu" };
static const char *const child_names[NS_CG__N] = { "svc", "sample" };

static int put_at(int dir, const char *file, const char *val)
{
	int fd = openat(dir, file, O_WRONLY | O_CLOEXEC), r = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n != (ssize_t)strlen(val))
		r = n < 0 ? -errno : -EIO;
	close(fd);
	return r;
}

static int put(const char *dir, const char *file, const char *val)
{
	int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (d < 0)
		return -errno;
	r = put_at(d, file, val);
	close(d);
	return r;
}

/* "KEY N" from a flat-keyed file (memory.events, pids.events, memory.oom_control), or the
 * single number of a one-value file when KEY is NULL. */
static uint64_t get_at(int dir, const char *file, const char *key)
{
	char buf[2048], *p;
	int fd = dir < 0 ? -1 : openat(dir, file, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (!key)
		return strtoull(buf, NULL, 10);
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		size_t k = strlen(key);

		if (strncmp(p, key, k) == 0 && p[k] == ' ')
			return strtoull(p + k + 1, NULL, 10);
	}
	return 0;
}

/* This process's group in the hierarchy holding CONTROLLER ("" for the unified one). */
static int own_path(const char *controller, char *out, size_t cap)
{
	char line[1024];
	FILE *f = fopen("/proc/self/cgroup", "re");
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':'), *p = c ? strchr(c + 1, ':') : NULL;

		if (!p)
			continue;
		*p++ = '\0';
		p[strcspn(p, "\n")] = '\0';
		c++;
		bool match = !*controller ? !*c : false;
		for (char *t = *controller ? strtok(c, ",") : NULL; t; t = strtok(NULL, ","))
			if (strcmp(t, controller) == 0)
				match = true;
		if (match) {
			snprintf(out, cap, "%s", strcmp(p, "/") ? p : "");
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

/* Removes groups named vigil-sbx-PID-* in PARENT whose PID no longer runs. */
static void sweep_stale(const char *parent)
{
	DIR *d = opendir(parent);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[1024];
		int pid;

		if (sscanf(e->d_name, "vigil-sbx-%d-", &pid) != 1 || kill(pid, 0) == 0 ||
		    errno != ESRCH)
			continue;
		for (int i = 0; i < NS_CG__N; i++) {
			snprintf(path, sizeof(path), "%s/%s/%s", parent, e->d_name, child_names[i]);
			rmdir(path);
		}
		snprintf(path, sizeof(path), "%s/%s", parent, e->d_name);
		rmdir(path);
	}
	closedir(d);
}

static int make_top(struct ns_cg *cg, int h, const char *mnt, const char *own, int worker,
		    struct vg_err *err)
{
	char parent[480];

	snprintf(parent, sizeof(parent), "%s%s", mnt, own);
	sweep_stale(parent);
	snprintf(cg->top[h], sizeof(cg->top[h]), "%s/vigil-sbx-%d-w%d", parent, (int)getpid(),
		 worker);
	if (mkdir(cg->top[h], 0755) < 0 && errno != EEXIST)
		return vg_errf(err, errno, "cgroup %s: %m", cg->top[h]);
	if (cg->v2 && put(cg->top[h], "cgroup.subtree_control", "+memory +pids +cpu") < 0 &&
	    put(cg->top[h], "cgroup.subtree_control", "+memory +pids") < 0)
		return vg_errf(err, errno, "cgroup %s: enabling controllers: %m", cg->top[h]);
	for (int i = 0; i < NS_CG__N; i++) {
		char path[600];

		snprintf(path, sizeof(path), "%s/%s", cg->top[h], child_names[i]);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return vg_errf(err, errno, "cgroup %s: %m", path);
		cg->dir[i][h] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cg->dir[i][h] < 0)
			return vg_errf(err, errno, "cgroup %s: %m", path);
	}
	return 0;
}

static bool v2_usable(void)
{
	char buf[512];
	int fd = open("/sys/fs/cgroup/cgroup.controllers", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, "memory") && strstr(buf, "pids");
}

static int limits(struct ns_cg *cg, struct vg_err *err)
{
	char mem[32], cpu[48];
	int s = cg->dir[NS_CG_SAMPLE][0], r;

	snprintf(mem, sizeof(mem), "%llu", (unsigned long long)NS_CG_MEM);
	if (cg->v2) {
		snprintf(cpu, sizeof(cpu), "%d 100000", NS_CG_CPU_PCT * 1000);
		if ((r = put_at(s, "memory.max", mem)) || (r = put_at(s, "pids.max", "64")))
			return vg_errf(err, -r, "cgroup limits: %s", strerror(-r));
		put_at(s, "memory.swap.max", "0");
		put_at(s, "cpu.max", cpu);
		return 0;
	}
	_Static_assert(NS_CG_PIDS == 64, "pids.max below");
	if ((r = put_at(s, "memory.limit_in_bytes", mem)) ||
	    (r = put_at(cg->dir[NS_CG_SAMPLE][NS_CGC_PIDS], "pids.max", "64")))
		return vg_errf(err, -r, "cgroup limits: %s", strerror(-r));
	put_at(s, "memory.memsw.limit_in_bytes", mem);
	snprintf(cpu, sizeof(cpu), "%d", NS_CG_CPU_PCT * 1000);
	put_at(cg->dir[NS_CG_SAMPLE][NS_CGC_CPU], "cpu.cfs_period_us", "100000");
	put_at(cg->dir[NS_CG_SAMPLE][NS_CGC_CPU], "cpu.cfs_quota_us", cpu);
	return 0;
}

int sbx_ns_cg_open(struct ns_cg *cg, int worker, struct vg_err *err)
{
	char own[400];
	int r;

	memset(cg, 0, sizeof(*cg));
	for (int i = 0; i < NS_CG__N; i++)
		for (int h = 0; h < NS_CGC__N; h++)
			cg->dir[i][h] = -1;
	cg->v2 = v2_usable();
	if (cg->v2) {
		/* the root group may hold processes and enable controllers for its children; a
		 * group of vigil's own usually may not (no internal processes) */
		put("/sys/fs/cgroup", "cgroup.subtree_control", "+memory +pids +cpu");
		r = make_top(cg, 0, "/sys/fs/cgroup", "", worker, err);
	} else {
		for (int h = 0; h < NS_CGC__N; h++) {
			char mnt[128];

			snprintf(mnt, sizeof(mnt), "/sys/fs/cgroup/%s", v1_names[h]);
			if (own_path(v1_names[h], own, sizeof(own)) < 0 || access(mnt, W_OK) < 0) {
				r = vg_errf(
					err, ENOENT,
					"cgroup: no writable v1 %s hierarchy and no unified one",
					v1_names[h]);
				goto fail;
			}
			if ((r = make_top(cg, h, mnt, own, worker, err)))
				goto fail;
		}
	}
	if (r == 0 && (r = limits(cg, err)) == 0)
		return 0;
fail:
	sbx_ns_cg_close(cg);
	return r;
}

int sbx_ns_cg_attach(const struct ns_cg *cg, int which, pid_t pid)
{
	char v[24];
	int r;

	snprintf(v, sizeof(v), "%d", (int)pid);
	for (int h = 0; h < (cg->v2 ? 1 : NS_CGC__N); h++)
		if ((r = put_at(cg->dir[which][h], "cgroup.procs", v)))
			return r;
	return 0;
}

void sbx_ns_cg_counters(const struct ns_cg *cg, struct ns_cg_hits *h)
{
	int m = cg->dir[NS_CG_SAMPLE][NS_CGC_MEM];

	memset(h, 0, sizeof(*h));
	if (cg->v2) {
		h->pids_max = get_at(m, "pids.events", "max");
		h->mem_max = get_at(m, "memory.events", "max");
		h->oom_kill = get_at(m, "memory.events", "oom_kill");
		h->mem_peak = get_at(m, "memory.peak", NULL);
		return;
	}
	h->pids_max = get_at(cg->dir[NS_CG_SAMPLE][NS_CGC_PIDS], "pids.events", "max");
	h->mem_max = get_at(m, "memory.failcnt", NULL);
	h->oom_kill = get_at(m, "memory.oom_control", "oom_kill");
	h->mem_peak = get_at(m, "memory.max_usage_in_bytes", NULL);
}

static void kill_all(int dir)
{
	char buf[8192];
	int fd;
	ssize_t n;

	if (put_at(dir, "cgroup.kill", "1") == 0)
		return;
	for (int round = 0; round < 16; round++) {
		fd = openat(dir, "cgroup.procs", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			return;
		buf[n] = '\0';
		for (char *p = buf; *p;) {
			long pid = strtol(p, &p, 10);

			if (pid > 1)
				kill((pid_t)pid, SIGKILL);
			while (*p == '\n')
				p++;
		}
		vg_sleep_ms(10);
	}
}

void sbx_ns_cg_close(struct ns_cg *cg)
{
	for (int i = 0; i < NS_CG__N; i++)
		for (int h = 0; h < NS_CGC__N; h++) {
			if (cg->dir[i][h] < 0)
				continue;
			kill_all(cg->dir[i][h]);
			close(cg->dir[i][h]);
			cg->dir[i][h] = -1;
		}
	for (int h = 0; h < NS_CGC__N; h++) {
		char path[600];

		if (!cg->top[h][0])
			continue;
		for (int i = 0; i < NS_CG__N; i++) {
			snprintf(path, sizeof(path), "%s/%s", cg->top[h], child_names[i]);
			for (int k = 0; k < 50 && rmdir(path) < 0 && errno == EBUSY; k++)
				vg_sleep_ms(20);
		}
		rmdir(cg->top[h]);
		cg->top[h][0] = '\0';
	}
}
