// SPDX-License-Identifier: MIT
/*
 * The supervisor of one run (env_ns.h): pid 1 of the run's pid namespace, in the sinkhole's
 * network namespace and a private mount namespace, still host root. It builds the root (a
 * size-limited tmpfs holding the overlay's upper layer and the sample's own lower layer over
 * the cached userland), pivots into it, starts the services, probes them, runs the sample and
 * follows the sample's cgroup (which its forks cannot leave) until it is empty or the deadline
 * passes, kills what is left, probes again and diffs the overlay. Its exit tears the whole
 * namespace down. Everything it reads from the sample's side (pipes, the upper layer, service
 * answers) is bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "env_ns.h"
#include "vigil/clock.h"
#include "vigil/sandbox.h"

#define SVC_READY_MS 8000 /* services' start under qemu-user on a loaded machine */
#define KILL_ROUNDS 200

struct super {
	struct ns_job *j;
	struct ns_status st;
	int upper_fd, lower_fd[2];
	int trace_fd; /* the FIFO qemu writes its system call log into */
	char why[160];
};

static void __attribute__((noreturn)) die(struct super *s, const char *what, int e)
{
	snprintf(s->st.note, sizeof(s->st.note), "%s: %s", what, strerror(e));
	s->st.exec_errno = -1;
	(void)write(s->j->status_w, &s->st, sizeof(s->st));
	_exit(1);
}

static void mkdir_own(struct super *s, const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		die(s, path, errno);
	if (chown(path, SBX_UID, SBX_UID) < 0 || chmod(path, mode) < 0)
		die(s, path, errno);
}

/* The sample's file inside its own lower layer, owned by the environment's root. */
static void place_sample(struct super *s, const char *layer)
{
	char path[1400];
	int out;
	off_t off = 0;
	struct stat st;

	snprintf(path, sizeof(path), "%s/tmp", layer);
	mkdir_own(s, path, 01777);
	snprintf(path, sizeof(path), "%s%s", layer, NS_RUN_DIR);
	mkdir_own(s, path, 0755);
	if (fstat(s->j->sample_fd, &st) < 0)
		die(s, "sample", errno);
	if ((uint64_t)st.st_size > NS_MAX_SAMPLE)
		die(s, "sample larger than the environment takes", EFBIG);
	snprintf(path, sizeof(path), "%s%s/%s", layer, NS_RUN_DIR, s->j->name);
	out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	if (out < 0)
		die(s, "placing the sample", errno);
	while (off < st.st_size) {
		ssize_t n = sendfile(out, s->j->sample_fd, &off, (size_t)(st.st_size - off));

		if (n <= 0)
			die(s, "copying the sample", n < 0 ? errno : EIO);
	}
	if (fchown(out, SBX_UID, SBX_UID) < 0 || fchmod(out, 0755) < 0)
		die(s, "sample owner", errno);
	close(out);
}

static void bind_dev(struct super *s, const char *root, const char *dev)
{
	char dst[1200];

	snprintf(dst, sizeof(dst), "%s%s", root, dev);
	if (access(dst, F_OK) < 0)
		return; /* the profile's root has no such node */
	if (mount(dev, dst, NULL, MS_BIND, NULL) < 0)
		die(s, dst, errno);
}

static void build_root(struct super *s)
{
	const char *w = s->j->env->work;
	char up[1100], wk[1100], lo[1100], root[1100], opts[4600], p[1200], tp[1200];

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die(s, "making mounts private", errno);
	if (mount("vigil-sbx", w, "tmpfs", MS_NOSUID | MS_NODEV,
		  "size=" NS_TMPFS_SIZE ",mode=0755") < 0)
		die(s, "tmpfs on the work directory", errno);
	snprintf(up, sizeof(up), "%s/upper", w);
	snprintf(wk, sizeof(wk), "%s/work", w);
	snprintf(lo, sizeof(lo), "%s/lower", w);
	snprintf(root, sizeof(root), "%s/root", w);
	/* the upper layer's top directory is the root directory the sample sees */
	mkdir_own(s, up, 0755);
	mkdir_own(s, lo, 0755);
	if (mkdir(wk, 0700) < 0 || mkdir(root, 0755) < 0)
		die(s, "overlay directories", errno);
	place_sample(s, lo);
	/* a proc of this pid namespace for the supervisor alone (user maps, the sample's
	 * sysctl), reachable through its descriptor once the host's root is gone */
	snprintf(p, sizeof(p), "%s/proc", w);
	if (mkdir(p, 0700) < 0 ||
	    mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ||
	    (s->j->env->proc_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die(s, "proc for the supervisor", errno);
	snprintf(opts, sizeof(opts),
		 "lowerdir=%s:%s,upperdir=%s,workdir=%s,redirect_dir=off,index=off,metacopy=off",
		 lo, s->j->env->rootfs, up, wk);
	if (mount("vigil-sbx", root, "overlay", MS_NOSUID | MS_NODEV, opts) < 0)
		die(s, "overlay root", errno);
	s->upper_fd = open(up, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	s->lower_fd[0] = open(lo, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	s->lower_fd[1] = open(s->j->env->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->upper_fd < 0 || s->lower_fd[0] < 0 || s->lower_fd[1] < 0)
		die(s, "overlay layers", errno);
	bind_dev(s, root, "/dev/null");
	bind_dev(s, root, "/dev/zero");
	bind_dev(s, root, "/dev/random");
	bind_dev(s, root, "/dev/urandom");
	bind_dev(s, root, "/dev/tty");
	/* qemu-user opens its log by path; a FIFO bound into /dev keeps it off the disk. The
	 * supervisor holds it open for writing too, so qemu's open never blocks. */
	snprintf(p, sizeof(p), "%s/trace", w);
	if (mkfifo(p, 0600) < 0 || chown(p, SBX_UID, SBX_UID) < 0 ||
	    (s->trace_fd = open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0)
		die(s, "trace FIFO", errno);
	snprintf(tp, sizeof(tp), "%s/dev/.trace", root);
	if (mount(p, tp, NULL, MS_BIND, NULL) < 0)
		die(s, "trace FIFO mount", errno);
	snprintf(p, sizeof(p), "%s/dev/pts", root);
	if (access(p, F_OK) == 0 && mount("devpts", p, "devpts", MS_NOSUID | MS_NOEXEC,
					  "newinstance,ptmxmode=0666,mode=0620") < 0)
		die(s, "devpts", errno);
	snprintf(p, sizeof(p), "%s/proc", root);
	if (access(p, F_OK) == 0 &&
	    mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		die(s, "proc", errno);
	if (s->j->env->p->read_only_root) {
		snprintf(p, sizeof(p), "%s%s", root, NS_RUN_DIR);
		if (mount(p, p, NULL, MS_BIND, NULL) < 0 ||
		    mount(NULL, root, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
			  NULL) < 0)
			die(s, "read-only root", errno);
	}
	/* the old root goes away entirely: nothing of the host is reachable by path */
	if (chdir(root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		die(s, "pivot_root", errno);
	sethostname("raspberrypi", 11);
}

/* ---- service probes, from inside the network namespace on loopback ---- */

static int connect_lo(uint16_t port, int ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), e = 0;
	socklen_t el = sizeof(e);
	struct pollfd p = { fd, POLLOUT, 0 };

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS)
		goto fail;
	if (poll(&p, 1, ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* Reads until NEED bytes or the time is up; returns what arrived. */
static size_t recv_some(int fd, char *buf, size_t cap, size_t need, int ms)
{
	size_t got = 0;
	int64_t end = (int64_t)vg_mono_ms() + ms;

	while (got < need && got < cap - 1) {
		struct pollfd p = { fd, POLLIN, 0 };
		int left = (int)(end - (int64_t)vg_mono_ms());
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) != 1)
			break;
		n = recv(fd, buf + got, cap - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return got;
}

static bool probe_http(int ms)
{
	static const char req[] = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
	char buf[64];
	int fd = connect_lo(80, ms);
	bool ok;

	if (fd < 0)
		return false;
	ok = send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) == sizeof(req) - 1 &&
	     recv_some(fd, buf, sizeof(buf), 12, ms) >= 5 && memcmp(buf, "HTTP/", 5) == 0;
	close(fd);
	return ok;
}

/* busybox telnetd sends its option negotiation (IAC ...) on accept */
static bool probe_telnet(int ms)
{
	char buf[16];
	int fd = connect_lo(23, ms);
	bool ok;

	if (fd < 0)
		return false;
	ok = recv_some(fd, buf, sizeof(buf), 1, ms) >= 1 && (unsigned char)buf[0] == 0xff;
	close(fd);
	return ok;
}

static void probe(const struct super *s, bool *http, bool *telnet, int wait_ms)
{
	int64_t end = (int64_t)vg_mono_ms() + wait_ms;

	*http = *telnet = false;
	for (;;) {
		if (!*http)
			*http = probe_http(1000);
		if (!*telnet && s->j->env->p->full_services)
			*telnet = probe_telnet(1000);
		if ((*http && (*telnet || !s->j->env->p->full_services)) ||
		    (int64_t)vg_mono_ms() >= end)
			return;
		vg_sleep_ms(20);
	}
}

static void start_services(struct super *s, int devnull)
{
	char *httpd[] = {
		"qemu",	    "-0", "/usr/sbin/httpd", "/bin/busybox", "-f", "-p", "80", "-h",
		"/var/www", NULL
	};
	char *min_httpd[] = { "qemu", "-0", "httpd", "/bin/httpd", "-f",
			      "-p",   "80", "-h",    "/var/www",   NULL };
	char *telnetd[] = {
		"qemu",	   "-0", "/usr/sbin/telnetd", "/bin/busybox", "-F", "-p", "23", "-l",
		"/bin/sh", NULL
	};
	char *watchdog[] = { "qemu", "-0",	  "watchdog", "/bin/busybox", "-F", "-t",
			     "5",    "/dev/null", NULL };
	int fds[4] = { devnull, devnull, devnull, -1 }, ee;
	bool full = s->j->env->p->full_services;
	char *const *list[] = { full ? httpd : min_httpd, telnetd, watchdog };

	for (int i = 0; i < (full ? 3 : 1); i++) {
		pid_t p = sbx_ns_spawn(s->j->env, NS_CG_SVC, list[i], fds, false, &ee);

		if (p < 0)
			die(s, "starting a service", -p);
		close(ee);
	}
}

/* ---- the sample ---- */

/* Can the sample be exec'd here? The errno an ARM kernel's execve would give, or 0. */
static int precheck(struct super *s)
{
	struct sbx_ident id;
	char path[300];
	struct vg_err e = { 0 };

	snprintf(path, sizeof(path), "%s/%s", NS_RUN_DIR, s->j->name);
	if (sbx_identify_file(&id, path, &e) < 0)
		return e.code ? e.code : EIO;
	if (!id.is_elf || id.malformed || id.machine != 40 || id.bits != 32 || id.big_endian)
		return ENOEXEC;
	/* resolved inside the environment's root: the supervisor has pivoted into it */
	if (id.dynamic && access(id.interp, X_OK) < 0)
		return ENOENT;
	return 0;
}

struct pipe_sink {
	int rd, out;
	uint64_t total, cap;
	char last; /* last byte kept */
};

static void drain(struct pipe_sink *p)
{
	char buf[16384];

	for (int k = 0; p->rd >= 0 && k < 64; k++) {
		ssize_t n = read(p->rd, buf, sizeof(buf));

		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close(p->rd);
			p->rd = -1;
			return;
		}
		if (p->total < p->cap) {
			uint64_t keep =
				p->cap - p->total < (uint64_t)n ? p->cap - p->total : (uint64_t)n;
			(void)write(p->out, buf, (size_t)keep);
			if (keep)
				p->last = buf[keep - 1];
		}
		p->total += (uint64_t)n;
	}
}

static bool cgroup_empty(const struct super *s)
{
	char buf[16];
	int dir = s->j->env->cg.dir[NS_CG_SAMPLE][s->j->env->cg.v2 ? 0 : NS_CGC_PIDS];
	int fd = openat(dir, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return true;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n <= 0;
}

/* SIGKILLs every process in the sample's cgroup until none is left; returns how many. */
static int kill_sample_tree(const struct super *s)
{
	int dir = s->j->env->cg.dir[NS_CG_SAMPLE][s->j->env->cg.v2 ? 0 : NS_CGC_PIDS];
	int killed = 0;

	for (int round = 0; round < KILL_ROUNDS; round++) {
		char buf[8192];
		int fd = openat(dir, "cgroup.procs", O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

		if (fd >= 0)
			close(fd);
		if (n <= 0)
			break;
		buf[n] = '\0';
		for (char *p = buf; *p;) {
			long pid = strtol(p, &p, 10);

			if (pid > 1 && kill((pid_t)pid, SIGKILL) == 0)
				killed++;
			while (*p == '\n')
				p++;
		}
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		vg_sleep_ms(5);
	}
	return killed;
}

static void run_sample(struct super *s, int devnull)
{
	char path[300], argv0[140];
	char *argv[] = { "qemu", "-strace", "-D", "/dev/.trace", "-0", argv0, path, NULL };
	int out[2], err[2], ee = -1, sfd, e;
	struct pipe_sink ps[3];
	int64_t start, deadline;
	struct ns_cg_hits h0, h1;
	pid_t main_pid;
	sigset_t mask;
	bool main_done = false;

	snprintf(path, sizeof(path), "%s/%s", NS_RUN_DIR, s->j->name);
	snprintf(argv0, sizeof(argv0), "./%s", s->j->name);
	if ((e = precheck(s))) {
		s->st.exec_errno = e;
		return;
	}
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		die(s, "pipes", errno);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	sbx_ns_cg_counters(&s->j->env->cg, &h0);
	start = (int64_t)vg_mono_ms();
	deadline = start + (int64_t)(s->j->r->timeout_s ? s->j->r->timeout_s : 10) * 1000;
	main_pid = sbx_ns_spawn(s->j->env, NS_CG_SAMPLE, argv,
				(int[4]){ devnull, out[1], err[1], -1 }, true, &ee);
	close(out[1]);
	close(err[1]);
	if (main_pid < 0)
		die(s, "starting the sample", -main_pid);
	ps[0] = (struct pipe_sink){ out[0], s->j->out_fd, 0, NS_MAX_OUTPUT, 0 };
	ps[1] = (struct pipe_sink){ err[0], s->j->err_fd, 0, NS_MAX_OUTPUT, 0 };
	ps[2] = (struct pipe_sink){ s->trace_fd, s->j->trace_fd, 0, NS_MAX_TRACE, 0 };
	for (int i = 0; i < 3; i++)
		fcntl(ps[i].rd, F_SETFL, O_NONBLOCK);
	s->st.started = 1;
	for (;;) {
		struct pollfd pf[5] = { { sfd, POLLIN, 0 }, { ee, POLLIN, 0 } };
		int64_t now = (int64_t)vg_mono_ms();
		int status;
		pid_t p;

		for (int i = 0; i < 3; i++)
			pf[2 + i] = (struct pollfd){ ps[i].rd, POLLIN, 0 };
		if (now >= deadline) {
			s->st.timed_out = 1;
			s->st.children_killed = kill_sample_tree(s);
			break;
		}
		poll(pf, 5, (int)(deadline - now < 50 ? deadline - now : 50));
		if (pf[1].revents) {
			int x = 0;

			if (read(ee, &x, sizeof(x)) == sizeof(x)) {
				s->st.started = 0;
				s->st.exec_errno = x;
			}
			close(ee);
			ee = -1;
		}
		for (int i = 0; i < 3; i++)
			if (pf[2 + i].revents)
				drain(&ps[i]);
		if (pf[0].revents) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) > 0)
				;
		}
		/* the supervisor is the namespace's init: every orphan ends up here */
		while ((p = waitpid(-1, &status, WNOHANG)) > 0)
			if (p == main_pid) {
				main_done = true;
				s->st.has_exit = WIFEXITED(status);
				s->st.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
				s->st.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
			}
		if (main_done && cgroup_empty(s))
			break;
	}
	s->st.duration_ms = (int64_t)vg_mono_ms() - start;
	if (ee >= 0)
		close(ee);
	/* the writers are gone: what is left in the pipes is bounded by their size */
	for (int i = 0; i < 3; i++) {
		drain(&ps[i]);
		if (ps[i].rd >= 0)
			close(ps[i].rd);
	}
	/* a call blocked at the deadline is logged without its result: end its line */
	if (ps[2].total && ps[2].last != '\n')
		(void)write(s->j->trace_fd, "\n", 1);
	s->st.out_bytes = ps[0].total;
	s->st.err_bytes = ps[1].total;
	s->st.trace_bytes = ps[2].total;
	sbx_ns_cg_counters(&s->j->env->cg, &h1);
	s->st.hits.pids_max = h1.pids_max - h0.pids_max;
	s->st.hits.mem_max = h1.mem_max - h0.mem_max;
	s->st.hits.oom_kill = h1.oom_kill - h0.oom_kill;
	s->st.hits.mem_peak = h1.mem_peak;
	close(sfd);
}

static void write_services(struct super *s, bool hb, bool tb, bool ha, bool ta)
{
	char buf[200];
	int n = snprintf(buf, sizeof(buf),
			 "{\"http\": {\"before\": %s, \"after\": %s},\n"
			 " \"telnet\": {\"before\": %s, \"after\": %s}}\n",
			 hb ? "true" : "false", ha ? "true" : "false", tb ? "true" : "false",
			 ta ? "true" : "false");

	(void)write(s->j->svc_fd, buf, (size_t)n);
}

void sbx_ns_supervise(struct ns_job *j)
{
	struct super s = { .j = j, .upper_fd = -1, .trace_fd = -1 };
	bool hb, tb, ha, ta;
	int devnull;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_DUMPABLE, 0);
	signal(SIGPIPE, SIG_IGN);
	build_root(&s);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		die(&s, "/dev/null", errno);
	start_services(&s, devnull);
	probe(&s, &hb, &tb, SVC_READY_MS);
	run_sample(&s, devnull);
	/* the services had the sample's whole run to fail; a short look tells if they answer */
	probe(&s, &ha, &ta, 0);
	write_services(&s, hb, tb, ha, ta);
	sbx_ns_files_diff(s.upper_fd, s.lower_fd, 2, j->files_fd);
	(void)write(j->status_w, &s.st, sizeof(s.st));
	_exit(0);
}
