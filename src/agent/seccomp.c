// SPDX-License-Identifier: MIT
/*
 * The fallback recorder, for machines where eBPF cannot be loaded: the program runs under a
 * seccomp filter (libseccomp) whose every syscall is a user notification to the agent. While
 * the task waits for our answer it is stopped inside the syscall, so /proc/TID/syscall gives
 * its stack pointer, process_vm_readv its stack window and path arguments, /proc/PID/maps
 * its mappings (never stale: the process cannot change them while we look), and every record
 * has the eBPF recorder's layout, so the rest of the agent is the same. The cost is two
 * context switches and a few /proc reads per syscall: tens of microseconds, not a tenth.
 *
 * The listener descriptor is created inside the child (the filter is installed there, before
 * its exec) and fetched with pidfd_getfd while the child waits on its first notification.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "agent_int.h"
#include "vigil/clock.h"

#define MAX_BURST 4096

struct pmap_ent {
	uint64_t start, end, off, ino;
	uint32_t dev; /* kernel encoding, as the eBPF recorder reports it */
	uint8_t kind;
};

struct proc_maps {
	uint32_t tgid;
	bool valid;
	struct pmap_ent *v;
	uint32_t n, cap;
};

struct task {
	uint32_t tid, tgid;
	bool exec_pending;
	uint32_t exe_dev; /* the executable last seen, to tell a failed exec from one that ran */
	uint64_t exe_ino;
	/* the previous syscall, folded as the eBPF recorder folds (sm_sensitive) */
	bool have_last;
	uint32_t last_nr;
	uint64_t last_ip, last_sp, last_args[6];
	struct sm_sys last;
};

struct ag_seccomp {
	int nfd;
	pid_t child;
	struct ag_core *core;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	struct ag_map tasks; /* tid -> index in t */
	struct task *t;
	uint32_t nt, capt;
	struct ag_map pm; /* tgid -> index in maps */
	struct proc_maps *maps;
	uint32_t nmaps, capmaps;
	uint64_t counters[SM_ST_NSTATS];
};

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_getfd_(int pidfd, int fd)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

static void child_main(char *const argv[], int errfd)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_NOTIFY);
	char e;

	if (!ctx || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || seccomp_load(ctx)) {
		e = (char)(errno ? errno : EPERM);
		if (write(errfd, &e, 1) < 0)
			_exit(126);
		_exit(126);
	}
	execvp(argv[0], argv);
	e = (char)errno;
	if (write(errfd, &e, 1) < 0)
		_exit(127);
	_exit(127);
}

/* The child's listener: the descriptor that reads as "anon_inode:seccomp notify". */
static int fetch_listener(pid_t child, struct vg_err *err)
{
	uint64_t end = vg_mono_ms() + 5000;
	int pidfd = pidfd_open_(child), fd = -1;
	char dir[64];

	if (pidfd < 0)
		return vg_errf(err, errno, "pidfd_open: %m");
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)child);
	while (fd < 0 && vg_mono_ms() < end) {
		DIR *d = opendir(dir);
		struct dirent *de;

		while (d && fd < 0 && (de = readdir(d))) {
			char p[320], l[64];
			ssize_t n;

			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			n = readlink(p, l, sizeof(l) - 1);
			if (n <= 0)
				continue;
			l[n] = 0;
			if (!strcmp(l, "anon_inode:seccomp notify"))
				fd = pidfd_getfd_(pidfd, atoi(de->d_name));
		}
		if (d)
			closedir(d);
		if (fd < 0)
			vg_sleep_ms(1);
	}
	close(pidfd);
	if (fd < 0)
		return vg_errf(err, ETIMEDOUT,
			       "the program's seccomp listener did not appear (is seccomp user "
			       "notification available?)");
	return fd;
}

int vg_ag_seccomp_start(struct ag_seccomp **out, char *const argv[], struct ag_core *c, pid_t *child,
		     struct vg_err *err)
{
	struct ag_seccomp *s = calloc(1, sizeof(*s));
	int errp[2], fd;
	pid_t pid;

	*out = NULL;
	if (!s)
		return vg_errf(err, ENOMEM, "out of memory");
	s->nfd = -1;
	s->core = c;
	if (seccomp_notify_alloc(&s->req, &s->resp)) {
		free(s);
		return vg_errf(err, ENOTSUP, "seccomp user notification is not available");
	}
	if (pipe2(errp, O_CLOEXEC)) {
		vg_ag_seccomp_close(s);
		return vg_errf(err, errno, "pipe: %m");
	}
	pid = fork();
	if (pid == 0) {
		close(errp[0]);
		child_main(argv, errp[1]);
	}
	close(errp[1]);
	if (pid < 0) {
		close(errp[0]);
		vg_ag_seccomp_close(s);
		return vg_errf(err, errno, "fork: %m");
	}
	s->child = pid;
	c->root = c->launcher = pid;
	fd = fetch_listener(pid, err);
	if (fd < 0) {
		close(errp[0]);
		vg_ag_seccomp_close(s);
		return fd;
	}
	s->nfd = fd;
	*out = s;
	*child = pid;
	/* exec failures come back on errp; the pipe closes on a successful exec */
	fcntl(errp[0], F_SETFL, O_NONBLOCK);
	for (uint64_t end = vg_mono_ms() + 5000; vg_mono_ms() < end;) {
		char e;
		ssize_t n = read(errp[0], &e, 1);

		if (n == 1) {
			close(errp[0]);
			return vg_errf(err, e, "cannot run %s: %s", argv[0], strerror(e));
		}
		if (n == 0)
			break;
		vg_ag_seccomp_poll(s, 5);
	}
	close(errp[0]);
	return 0;
}

static void exe_of(uint32_t tgid, uint32_t *dev, uint64_t *ino)
{
	char p[64];
	struct stat st;

	snprintf(p, sizeof(p), "/proc/%u/exe", tgid);
	*dev = 0;
	*ino = 0;
	if (!stat(p, &st)) {
		*dev = major(st.st_dev) << 20 | minor(st.st_dev);
		*ino = st.st_ino;
	}
}

static struct task *task_of(struct ag_seccomp *s, uint32_t tid)
{
	uint32_t i = vg_ag_map_get(&s->tasks, tid), tgid = 0, ppid = 0;
	struct sm_fork f = { .type = SM_FORK };
	char path[64], line[256];
	FILE *st;

	if (i != AG_NONE)
		return &s->t[i];
	snprintf(path, sizeof(path), "/proc/%u/status", tid);
	st = fopen(path, "re");
	while (st && fgets(line, sizeof(line), st)) {
		sscanf(line, "Tgid: %u", &tgid);
		sscanf(line, "PPid: %u", &ppid);
	}
	if (st)
		fclose(st);
	if (!tgid)
		tgid = tid;
	if (s->nt == s->capt) {
		uint32_t cap = s->capt ? s->capt * 2 : 16;
		void *p = realloc(s->t, cap * sizeof(*s->t));

		if (!p)
			return NULL;
		s->t = p;
		s->capt = cap;
	}
	if (vg_ag_map_put(&s->tasks, tid, s->nt))
		return NULL;
	s->t[s->nt] = (struct task){ .tid = tid, .tgid = tgid };
	exe_of(tgid, &s->t[s->nt].exe_dev, &s->t[s->nt].exe_ino);
	/* a task we have not seen: report its creation as the eBPF recorder would */
	if (tid != (uint32_t)s->child) {
		f.child_tid = tid;
		f.child_tgid = tgid;
		f.parent_tgid = tid == tgid ? ppid : tgid;
		f.parent_tid = f.parent_tgid;
		vg_ag_core_record(s->core, &f, sizeof(f));
	}
	return &s->t[s->nt++];
}

static struct proc_maps *maps_of(struct ag_seccomp *s, uint32_t tgid)
{
	uint32_t i = vg_ag_map_get(&s->pm, tgid);
	struct proc_maps *m;
	char path[64], line[4096 + 128];
	FILE *f;

	if (i == AG_NONE) {
		if (s->nmaps == s->capmaps) {
			uint32_t cap = s->capmaps ? s->capmaps * 2 : 8;
			void *p = realloc(s->maps, cap * sizeof(*s->maps));

			if (!p)
				return NULL;
			s->maps = p;
			s->capmaps = cap;
		}
		if (vg_ag_map_put(&s->pm, tgid, s->nmaps))
			return NULL;
		s->maps[s->nmaps] = (struct proc_maps){ .tgid = tgid };
		i = s->nmaps++;
	}
	m = &s->maps[i];
	if (m->valid)
		return m;
	m->n = 0;
	snprintf(path, sizeof(path), "/proc/%u/maps", tgid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		struct pmap_ent e = { 0 };
		char perms[8] = "";
		unsigned maj, min;
		int pos = 0;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 " %n",
			   &e.start, &e.end, perms, &e.off, &maj, &min, &e.ino, &pos) < 7)
			continue;
		line[strcspn(line, "\n")] = 0;
		e.dev = maj << 20 | min;
		if (perms[2] != 'x')
			e.kind = SM_K_DATA;
		else if (e.ino)
			e.kind = SM_K_FILE;
		else if (pos && !strcmp(line + pos, "[vdso]"))
			e.kind = SM_K_VDSO;
		else
			e.kind = SM_K_ANON;
		if (e.kind == SM_K_FILE && pos)
			vg_ag_core_module_path(s->core, e.dev, e.ino, line + pos);
		if (m->n == m->cap) {
			uint32_t cap = m->cap ? m->cap * 2 : 64;
			void *p = realloc(m->v, cap * sizeof(*m->v));

			if (!p)
				break;
			m->v = p;
			m->cap = cap;
		}
		m->v[m->n++] = e;
	}
	if (f)
		fclose(f);
	m->valid = true;
	return m;
}

static uint8_t resolve(const struct proc_maps *m, uint64_t addr, struct sm_loc *l)
{
	uint32_t lo = 0, hi = m ? m->n : 0;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct pmap_ent *e = &m->v[mid];

		if (addr < e->start) {
			hi = mid;
		} else if (addr >= e->end) {
			lo = mid + 1;
		} else {
			l->kind = e->kind;
			l->dev = e->dev;
			l->ino = e->ino;
			l->off = e->kind == SM_K_FILE	? addr - e->start + e->off
				 : e->kind == SM_K_VDSO ? addr - e->start
							: addr;
			return e->kind;
		}
	}
	l->kind = SM_K_NOVMA;
	l->off = addr;
	return SM_K_NOVMA;
}

static ssize_t peek(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)addr, len };

	return process_vm_readv(pid, &local, 1, &remote, 1, 0);
}

static uint32_t fd_key(pid_t tid, int pidfd, long fd)
{
	char p[64];
	struct stat st;
	int dup, dom = 0;
	socklen_t sl = sizeof(dom);

	snprintf(p, sizeof(p), "/proc/%d/fd/%ld", (int)tid, fd);
	if (fd < 0 || stat(p, &st))
		return SM_FD_BAD;
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		return SM_FD_REG;
	case S_IFDIR:
		return SM_FD_DIR;
	case S_IFCHR:
		return SM_FD_CHR;
	case S_IFBLK:
		return SM_FD_BLK;
	case S_IFIFO:
		return SM_FD_FIFO;
	case S_IFLNK:
		return SM_FD_LNK;
	case S_IFSOCK:
		dup = pidfd >= 0 ? pidfd_getfd_(pidfd, (int)fd) : -1;
		if (dup >= 0) {
			getsockopt(dup, SOL_SOCKET, SO_DOMAIN, &dom, &sl);
			close(dup);
		}
		return SM_FD_SOCK | (uint32_t)(dom & 0xff) << SM_A_FAMILY_SHIFT;
	default:
		return SM_FD_ANON;
	}
}

/* The eBPF recorder's argkey (sysmon.bpf.c), from /proc and the task's memory. */
static uint32_t argkey(pid_t tid, uint32_t nr, const uint64_t *a)
{
	static const int fdfirst[] = { 0,  1,  3,  5,  8,  16,	17,  18,  19,  20,  42, 43,
				       44, 45, 46, 47, 48, 49,	50,  51,  52,  54,  55, 72,
				       73, 74, 75, 77, 81, 217, 288, 295, 296, 299, 307 };
	int pidfd = -1;
	uint32_t k = 0;
	uint16_t fam;

	for (size_t i = 0; i < sizeof(fdfirst) / sizeof(fdfirst[0]); i++)
		if ((int)nr == fdfirst[i]) {
			if (nr >= 42 && nr <= 55)
				pidfd = pidfd_open_(tid);
			k = fd_key(tid, pidfd, (long)a[0]);
			break;
		}
	if (nr == 9 && (long)a[4] >= 0)
		k = fd_key(tid, -1, (long)a[4]);
	if ((nr == 9 || nr == 10) && (a[2] & 4))
		k |= SM_A_EXEC;
	if (nr == 41)
		k = (uint32_t)(a[0] & 0xff) << SM_A_FAMILY_SHIFT | (uint32_t)(a[1] & 0xf)
									   << SM_A_SOCKTYPE_SHIFT;
	if ((nr == 42 || nr == 49 || (nr == 44 && a[4])) &&
	    peek(tid, nr == 44 ? a[4] : a[1], &fam, sizeof(fam)) == sizeof(fam))
		k = (k & ~SM_A_FAMILY) | (uint32_t)(fam & 0xff) << SM_A_FAMILY_SHIFT;
	if (nr == 56 && (a[0] & 0x10000))
		k |= SM_A_THREAD;
	if (nr == 435) {
		uint64_t fl = 0;

		if (peek(tid, a[0], &fl, sizeof(fl)) == sizeof(fl) && (fl & 0x10000))
			k |= SM_A_THREAD;
	}
	if (pidfd >= 0)
		close(pidfd);
	return k;
}

static int path_arg(uint32_t nr)
{
	static const int a0[] = { 2,  4,  6,  21, 59, 76, 80, 82,  83,
				  84, 85, 86, 87, 89, 90, 92, 161, 165 };
	static const int a1[] = { 88,  257, 258, 262, 263, 264, 267,
				  268, 269, 316, 322, 332, 437, 439 };

	for (size_t i = 0; i < sizeof(a0) / sizeof(a0[0]); i++)
		if ((int)nr == a0[i])
			return 0;
	for (size_t i = 0; i < sizeof(a1) / sizeof(a1[0]); i++)
		if ((int)nr == a1[i])
			return 1;
	return -1;
}

static void on_exec_done(struct ag_seccomp *s, struct task *t)
{
	struct sm_exec e = { .type = SM_EXEC, .tgid = t->tgid, .tid = t->tid };
	char p[64];
	ssize_t n;

	t->exec_pending = false;
	exe_of(t->tgid, &e.dev, &e.ino);
	if (!e.ino || (e.dev == t->exe_dev && e.ino == t->exe_ino))
		return; /* the exec failed (execvp tries each PATH entry) */
	t->exe_dev = e.dev;
	t->exe_ino = e.ino;
	snprintf(p, sizeof(p), "/proc/%u/exe", t->tgid);
	n = readlink(p, e.path, sizeof(e.path) - 1);
	e.pathlen = n > 0 ? (uint32_t)n + 1 : 0;
	if (n > 0)
		vg_ag_core_module_path(s->core, e.dev, e.ino, e.path);
	vg_ag_core_record(s->core, &e, sizeof(e));
}

static void record(struct ag_seccomp *s, const struct seccomp_notif *q)
{
	struct sm_sys r = { .type = SM_SYS };
	uint64_t a[6], sp = 0, win[SM_WINDOW] = { 0 };
	struct proc_maps *m;
	struct task *t = task_of(s, q->pid);
	char line[512];
	int pa, fd, ncand = 0;
	ssize_t n;

	if (!t)
		return;
	s->counters[SM_ST_EVENTS]++;
	if (t->exec_pending)
		on_exec_done(s, t);
	for (int i = 0; i < 6; i++)
		a[i] = q->data.args[i];
	r.tgid = t->tgid;
	r.tid = t->tid;
	r.nr = (uint32_t)q->data.nr;
	snprintf(line, sizeof(line), "/proc/%u/syscall", t->tid);
	fd = open(line, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, line, sizeof(line) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n > 0) {
		line[n] = 0;
		sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %" SCNx64, &sp);
	}
	/* a window running off the stack's end is read as far as it is mapped */
	if (sp && peek((pid_t)t->tid, sp, win, sizeof(win)) < 0)
		memset(win, 0, sizeof(win));
	pa = path_arg(r.nr);
	if (t->have_last && pa < 0 && t->last_nr == r.nr && t->last_sp == sp &&
	    t->last_ip == q->data.instruction_pointer && !memcmp(t->last_args, a, sizeof(a)) &&
	    !sm_sensitive(r.nr)) {
		/* the eBPF recorder would count this without reading the stack: same record */
		vg_ag_core_record(s->core, &t->last, SM_SYS_HDR_LEN);
		return;
	}
	m = maps_of(s, t->tgid);
	r.argkey = argkey((pid_t)t->tid, r.nr, a);
	resolve(m, q->data.instruction_pointer, &r.ip);
	for (int w = 0; w < SM_WINDOW && ncand < SM_NCAND; w++) {
		struct sm_loc l = { 0 };
		uint8_t kind;

		if (win[w] < 0x10000 || win[w] >= 0x800000000000ull)
			continue;
		kind = resolve(m, win[w], &l);
		if (kind != SM_K_FILE && kind != SM_K_ANON && kind != SM_K_VDSO)
			continue;
		l.word = (uint8_t)w;
		r.cand[ncand++] = l;
	}
	if (pa >= 0 && (n = peek((pid_t)t->tid, a[pa], r.path, sizeof(r.path) - 1)) > 0) {
		r.path[n] = 0;
		r.pathlen = (uint16_t)(strnlen(r.path, (size_t)n) + 1);
		r.argkey |= SM_A_PATH;
	}
	vg_ag_core_record(s->core, &r, SM_SYS_HDR_LEN + r.pathlen);
	t->have_last = pa < 0;
	t->last_nr = r.nr;
	t->last_ip = q->data.instruction_pointer;
	t->last_sp = sp;
	memcpy(t->last_args, a, sizeof(a));
	memcpy(&t->last, &r, SM_SYS_HDR_LEN);
	/* what this syscall changes is read again at the task's next one */
	if (r.nr == 9 || r.nr == 10 || r.nr == 11 || r.nr == 25 || r.nr == 59 || r.nr == 322) {
		if (m)
			m->valid = false;
		if (r.nr == 59 || r.nr == 322)
			t->exec_pending = true;
	}
	if (r.nr == 231 || (r.nr == 60 && t->tid == t->tgid)) {
		struct sm_exit e = {
			.type = SM_EXIT, .tgid = t->tgid, .tid = t->tid, .group_dead = r.nr == 231
		};

		vg_ag_core_record(s->core, &e, sizeof(e));
	}
}

int vg_ag_seccomp_poll(struct ag_seccomp *s, int timeout_ms)
{
	struct pollfd p = { .fd = s->nfd, .events = POLLIN };

	for (int k = 0; k < MAX_BURST; k++) {
		int r = poll(&p, 1, k ? 0 : timeout_ms);

		if (r < 0)
			return errno == EINTR ? 0 : -errno;
		if (r == 0)
			return 0;
		if (!(p.revents & POLLIN))
			return (p.revents & (POLLHUP | POLLERR)) ? -ECHILD : 0;
		memset(s->req, 0, sizeof(*s->req));
		if (seccomp_notify_receive(s->nfd, s->req))
			continue; /* the task died meanwhile */
		record(s, s->req);
		s->resp->id = s->req->id;
		s->resp->val = 0;
		s->resp->error = 0;
		s->resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		seccomp_notify_respond(s->nfd, s->resp);
	}
	return 0;
}

void vg_ag_seccomp_counters(struct ag_seccomp *s, uint64_t out[SM_ST_NSTATS])
{
	memcpy(out, s->counters, sizeof(s->counters));
}

void vg_ag_seccomp_close(struct ag_seccomp *s)
{
	if (!s)
		return;
	if (s->nfd >= 0)
		close(s->nfd);
	seccomp_notify_free(s->req, s->resp);
	for (uint32_t i = 0; i < s->nmaps; i++)
		free(s->maps[i].v);
	free(s->maps);
	free(s->t);
	vg_ag_map_free(&s->tasks);
	vg_ag_map_free(&s->pm);
	free(s);
}
