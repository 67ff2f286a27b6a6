/* SPDX-License-Identifier: MIT */
/*
 * The agent's tracer: runs the sample under ptrace, follows every fork/vfork/clone/exec, and
 * writes one "PID NAME(ARGS) = RET" line per system call (strace's notation; ARM EABI numbers
 * named from the cross toolchain's <asm/unistd-eabi.h>, see arm_sysnames.h made by build.sh).
 * The run ends when every traced task is gone or at the deadline, when what is left is killed.
 *
 * Everything here is driven by a hostile program: the task table, every string read from its
 * memory, and the log are bounded; a task born when the table is full is killed at birth.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "agent.h"
#include "arm_sysnames.h" /* static const char *const arm_sysnames[] = { [N] = "name", ... } */

#define MAX_TASKS 512
#define STR_MAX 200   /* bytes of a string argument shown */
#define BUF_SHOW 32   /* bytes of a write/send buffer shown */
#define ARGV_SHOW 8   /* argv entries shown for execve */
#define LINE_MAX_ 768 /* one formatted call */

struct task {
	int pid;
	bool live, in_call, new_stop;
	bool renamed;	/* an argv rename was logged already */
	char argv0[64]; /* argv[0] as exec'd (or inherited), "" when unknown */
	unsigned long nr;
	char line[LINE_MAX_];
};

struct tracer {
	struct task t[MAX_TASKS];
	int live;
	struct buf *log;
	struct trace_result *res;
	int main_pid;
};

static const char *const signames[] = {
	[1] = "SIGHUP",	    [2] = "SIGINT",   [3] = "SIGQUIT",	 [4] = "SIGILL",   [5] = "SIGTRAP",
	[6] = "SIGABRT",    [7] = "SIGBUS",   [8] = "SIGFPE",	 [9] = "SIGKILL",  [10] = "SIGUSR1",
	[11] = "SIGSEGV",   [12] = "SIGUSR2", [13] = "SIGPIPE",	 [14] = "SIGALRM", [15] = "SIGTERM",
	[16] = "SIGSTKFLT", [17] = "SIGCHLD", [18] = "SIGCONT",	 [19] = "SIGSTOP", [20] = "SIGTSTP",
	[21] = "SIGTTIN",   [22] = "SIGTTOU", [23] = "SIGURG",	 [24] = "SIGXCPU", [25] = "SIGXFSZ",
	[26] = "SIGVTALRM", [27] = "SIGPROF", [28] = "SIGWINCH", [29] = "SIGIO",   [30] = "SIGPWR",
	[31] = "SIGSYS",
};

/*
 * Argument formats of the calls worth decoding: d int, x hex, s string, v argv, g signal,
 * b buffer whose length is the next argument, a sockaddr whose length is the next argument,
 * F socket family, T socket type. Anything else prints three arguments in hex.
 */
static const struct {
	const char *name, *fmt;
} fmts[] = {
	{ "execve", "sv" },	   { "execveat", "dsv" },     { "open", "sx" },
	{ "openat", "dsx" },	   { "creat", "sx" },	      { "unlink", "s" },
	{ "unlinkat", "dsx" },	   { "rename", "ss" },	      { "renameat", "dsds" },
	{ "renameat2", "dsdsx" },  { "link", "ss" },	      { "symlink", "ss" },
	{ "symlinkat", "sds" },	   { "chmod", "sx" },	      { "fchmodat", "dsx" },
	{ "mkdir", "sx" },	   { "mkdirat", "dsx" },      { "rmdir", "s" },
	{ "chdir", "s" },	   { "chroot", "s" },	      { "truncate", "sd" },
	{ "mount", "sssx" },	   { "umount2", "sx" },	      { "connect", "da" },
	{ "bind", "da" },	   { "sendto", "dbxa" },      { "send", "dbx" },
	{ "write", "db" },	   { "read", "dxd" },	      { "socket", "FTd" },
	{ "listen", "dd" },	   { "accept", "dxx" },	      { "accept4", "dxxx" },
	{ "kill", "dg" },	   { "tkill", "dg" },	      { "tgkill", "ddg" },
	{ "clone", "x" },	   { "setsid", "" },	      { "fork", "" },
	{ "vfork", "" },	   { "ptrace", "ddxx" },      { "reboot", "xxx" },
	{ "sethostname", "b" },	   { "setuid32", "d" },	      { "access", "sx" },
	{ "faccessat", "dsx" },	   { "readlink", "sxd" },     { "stat64", "sx" },
	{ "lstat64", "sx" },	   { "fstatat64", "dsxx" },   { "statx", "dsxxx" },
	{ "close", "d" },	   { "dup2", "dd" },	      { "ioctl", "dxx" },
	{ "exit", "d" },	   { "exit_group", "d" },     { "nanosleep", "xx" },
	{ "setsockopt", "dddxd" }, { "getsockopt", "dddxx" }, { "wait4", "dxxx" },
};

static const char *sysname(unsigned long nr, char *tmp, size_t n)
{
	static const char *const armnr[] = { NULL,    "breakpoint", "cacheflush", "usr26",
					     "usr32", "set_tls",    "get_tls" };

	if (nr < sizeof(arm_sysnames) / sizeof(arm_sysnames[0]) && arm_sysnames[nr])
		return arm_sysnames[nr];
	if (nr >= 0x0f0001 && nr <= 0x0f0006)
		return armnr[nr - 0x0f0000];
	snprintf(tmp, n, "syscall_%lu", nr);
	return tmp;
}

static const char *fmt_of(const char *name)
{
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++)
		if (!strcmp(fmts[i].name, name))
			return fmts[i].fmt;
	return NULL;
}

/* Reads up to n bytes of the tracee at addr, page by page so that a string that ends before
 * an unmapped page is still read; returns the bytes read. */
static size_t peek(int pid, unsigned long addr, void *dst, size_t n)
{
	size_t got = 0;

	while (got < n) {
		size_t chunk = 4096 - ((addr + got) & 4095);
		if (chunk > n - got)
			chunk = n - got;
		struct iovec l = { (char *)dst + got, chunk }, r = { (void *)(addr + got), chunk };
		ssize_t k = process_vm_readv(pid, &l, 1, &r, 1, 0);
		if (k <= 0)
			break;
		got += (size_t)k;
		if ((size_t)k < chunk)
			break;
	}
	return got;
}

static void emit_str(char *out, size_t *o, size_t cap, int pid, unsigned long addr, size_t lim)
{
	char s[STR_MAX + 1];
	struct buf b;

	if (!addr) {
		*o += (size_t)snprintf(out + *o, cap - *o, "NULL");
		return;
	}
	size_t n = peek(pid, addr, s, lim < STR_MAX ? lim : STR_MAX);
	size_t len = strnlen(s, n);
	buf_init(&b, 4 * STR_MAX + 8);
	buf_quote(&b, s, len, len);
	if (len == n && n == STR_MAX)
		buf_printf(&b, "...");
	if (b.p)
		*o += (size_t)snprintf(out + *o, cap - *o, "%s", b.p);
	buf_free(&b);
}

static void emit_buf(char *out, size_t *o, size_t cap, int pid, unsigned long addr,
		     unsigned long len)
{
	char s[BUF_SHOW];
	struct buf b;
	size_t n = peek(pid, addr, s, len < BUF_SHOW ? len : BUF_SHOW);

	buf_init(&b, 4 * BUF_SHOW + 8);
	buf_quote(&b, s, n, n);
	if (len > n)
		buf_printf(&b, "...");
	*o += (size_t)snprintf(out + *o, cap - *o, "%s, %lu", b.p ? b.p : "\"\"", len);
	buf_free(&b);
}

static void emit_sockaddr(char *out, size_t *o, size_t cap, int pid, unsigned long addr,
			  unsigned long len)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
	} u;
	char a[INET6_ADDRSTRLEN];

	memset(&u, 0, sizeof(u));
	size_t n = peek(pid, addr, &u, len < sizeof(u) ? len : sizeof(u));
	if (!addr || n < sizeof(u.sa.sa_family)) {
		*o += (size_t)snprintf(out + *o, cap - *o, "%#lx, %lu", addr, len);
		return;
	}
	switch (u.sa.sa_family) {
	case AF_INET:
		inet_ntop(AF_INET, &u.in.sin_addr, a, sizeof(a));
		*o += (size_t)snprintf(out + *o, cap - *o,
				       "{sa_family=AF_INET, sin_port=htons(%u), "
				       "sin_addr=inet_addr(\"%s\")}, %lu",
				       ntohs(u.in.sin_port), a, len);
		break;
	case AF_INET6:
		inet_ntop(AF_INET6, &u.in6.sin6_addr, a, sizeof(a));
		*o += (size_t)snprintf(out + *o, cap - *o,
				       "{sa_family=AF_INET6, sin6_port=htons(%u), "
				       "inet_pton(AF_INET6, \"%s\")}, %lu",
				       ntohs(u.in6.sin6_port), a, len);
		break;
	case AF_UNIX:
		u.un.sun_path[sizeof(u.un.sun_path) - 1] = 0;
		*o += (size_t)snprintf(out + *o, cap - *o,
				       "{sa_family=AF_UNIX, sun_path=\"%.64s\"}, %lu",
				       u.un.sun_path, len);
		break;
	default:
		*o += (size_t)snprintf(out + *o, cap - *o, "{sa_family=%u}, %lu", u.sa.sa_family,
				       len);
	}
}

static void emit_argv(char *out, size_t *o, size_t cap, int pid, unsigned long addr)
{
	uint32_t ptrs[ARGV_SHOW + 1];
	size_t n = peek(pid, addr, ptrs, sizeof(ptrs)) / sizeof(ptrs[0]);

	*o += (size_t)snprintf(out + *o, cap - *o, "[");
	for (size_t i = 0; i < n && ptrs[i]; i++) {
		if (i == ARGV_SHOW) {
			*o += (size_t)snprintf(out + *o, cap - *o, ", ...");
			break;
		}
		if (i)
			*o += (size_t)snprintf(out + *o, cap - *o, ", ");
		emit_str(out, o, cap, pid, ptrs[i], 64);
	}
	*o += (size_t)snprintf(out + *o, cap - *o, "]");
}

static const char *family_name(unsigned long f)
{
	switch (f) {
	case AF_UNIX:
		return "AF_UNIX";
	case AF_INET:
		return "AF_INET";
	case AF_INET6:
		return "AF_INET6";
	case AF_NETLINK:
		return "AF_NETLINK";
	case AF_PACKET:
		return "AF_PACKET";
	}
	return NULL;
}

/* Formats "NAME(ARGS" at system call entry, while the arguments' memory is still there. */
static void format_entry(struct task *t, const uint64_t *args)
{
	char tmp[32];
	const char *name = sysname((unsigned long)t->nr, tmp, sizeof(tmp));
	const char *fmt = fmt_of(name);
	size_t cap = sizeof(t->line) - 64, o = 0; /* room for " = RET" */
	char *out = t->line;

	o += (size_t)snprintf(out, cap, "%d %s(", t->pid, name);
	if (!strcmp(name, "prctl")) {
		if (args[0] == PR_SET_NAME) {
			o += (size_t)snprintf(out + o, cap - o, "PR_SET_NAME, ");
			emit_str(out, &o, cap, t->pid, (unsigned long)args[1], 16);
		} else {
			o += (size_t)snprintf(out + o, cap - o, "%lu, %#lx", (unsigned long)args[0],
					      (unsigned long)args[1]);
		}
		fmt = "";
	} else if (!fmt) {
		o += (size_t)snprintf(out + o, cap - o, "%#lx, %#lx, %#lx", (unsigned long)args[0],
				      (unsigned long)args[1], (unsigned long)args[2]);
		fmt = "";
	}
	for (int i = 0; fmt[i] && i < 6 && o < cap - 1; i++) {
		unsigned long a = (unsigned long)args[i];
		const char *nm;
		if (i)
			o += (size_t)snprintf(out + o, cap - o, ", ");
		switch (fmt[i]) {
		case 'd':
			o += (size_t)snprintf(out + o, cap - o, "%ld", (long)(int32_t)a);
			break;
		case 's':
			emit_str(out, &o, cap, t->pid, a, STR_MAX);
			break;
		case 'v':
			emit_argv(out, &o, cap, t->pid, a);
			break;
		case 'g':
			if (a < sizeof(signames) / sizeof(signames[0]) && signames[a])
				o += (size_t)snprintf(out + o, cap - o, "%s", signames[a]);
			else
				o += (size_t)snprintf(out + o, cap - o, "%lu", a);
			break;
		case 'b':
			emit_buf(out, &o, cap, t->pid, a, (unsigned long)args[i + 1]);
			i++; /* the length was printed */
			break;
		case 'a':
			emit_sockaddr(out, &o, cap, t->pid, a, (unsigned long)args[i + 1]);
			i++;
			break;
		case 'F':
			nm = family_name(a);
			o += nm ? (size_t)snprintf(out + o, cap - o, "%s", nm)
				: (size_t)snprintf(out + o, cap - o, "%lu", a);
			break;
		case 'T':
			o += (size_t)snprintf(out + o, cap - o, "%s%s",
					      (a & 0xf) == SOCK_STREAM	? "SOCK_STREAM"
					      : (a & 0xf) == SOCK_DGRAM ? "SOCK_DGRAM"
					      : (a & 0xf) == SOCK_RAW	? "SOCK_RAW"
									: "SOCK_OTHER",
					      a & SOCK_NONBLOCK ? "|SOCK_NONBLOCK" : "");
			break;
		default:
			o += (size_t)snprintf(out + o, cap - o, "%#lx", a);
		}
		if (o >= cap)
			o = cap - 1;
	}
	if (o >= cap)
		o = cap - 1;
	snprintf(out + o, sizeof(t->line) - o, ")");
}

static struct task *task_find(struct tracer *tr, int pid)
{
	for (int i = 0; i < MAX_TASKS; i++)
		if (tr->t[i].live && tr->t[i].pid == pid)
			return &tr->t[i];
	return NULL;
}

static struct task *task_add(struct tracer *tr, int pid)
{
	struct task *t = task_find(tr, pid);

	if (t)
		return t;
	for (int i = 0; i < MAX_TASKS; i++) {
		if (!tr->t[i].live) {
			t = &tr->t[i];
			memset(t, 0, sizeof(*t));
			t->pid = pid;
			t->live = true;
			t->new_stop = true;
			tr->live++;
			return t;
		}
	}
	/* The table is full (a fork bomb): the newcomer does not run. */
	kill(pid, SIGKILL);
	tr->res->tasks_refused++;
	return NULL;
}

/* argv[0] as the process's memory holds it now, from /proc (bounded; "" when unreadable). */
static void read_argv0(int pid, char *out, size_t n)
{
	char p[64];
	ssize_t r;
	int fd;

	out[0] = 0;
	snprintf(p, sizeof(p), "/proc/%d/cmdline", pid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	r = read(fd, out, n - 1);
	close(fd);
	out[r > 0 ? r : 0] = 0;
}

/* Renaming through argv makes no system call: compare argv[0] with what exec set up, at the
 * points where the memory is still there (exit, deadline), and log it in strace notation. */
static void check_argv(struct tracer *tr, struct task *t)
{
	char now[64];

	if (t->renamed || !t->argv0[0])
		return;
	read_argv0(t->pid, now, sizeof(now));
	if (!now[0] || !strcmp(now, t->argv0))
		return;
	t->renamed = true;
	buf_printf(tr->log, "%d argv_rename(\"%.60s\", \"%.60s\") = 0\n", t->pid, now, t->argv0);
}

static void task_gone(struct tracer *tr, struct task *t)
{
	if (t->in_call) /* exit, exit_group, or killed inside a call */
		buf_printf(tr->log, "%s = ?\n", t->line);
	t->live = false;
	tr->live--;
}

static void on_syscall_stop(struct tracer *tr, struct task *t)
{
	struct __ptrace_syscall_info si;

	memset(&si, 0, sizeof(si));
	if (ptrace(PTRACE_GET_SYSCALL_INFO, t->pid, (void *)sizeof(si), &si) <= 0)
		return;
	if (si.op == PTRACE_SYSCALL_INFO_ENTRY) {
		char tmp[32];
		const char *name;

		t->nr = (unsigned long)si.entry.nr;
		t->in_call = true;
		name = sysname(t->nr, tmp, sizeof(tmp));
		if (!strcmp(name, "exit") || !strcmp(name, "exit_group"))
			check_argv(tr, t);
		format_entry(t, si.entry.args);
	} else if (si.op == PTRACE_SYSCALL_INFO_EXIT && t->in_call) {
		t->in_call = false;
		if (si.exit.is_error)
			buf_printf(tr->log, "%s = -1 %s\n", t->line,
				   strerrorname_np((int)-si.exit.rval) ?: "E?");
		else if (si.exit.rval > 0xffff || si.exit.rval < -0xffff)
			buf_printf(tr->log, "%s = %#llx\n", t->line,
				   (unsigned long long)si.exit.rval);
		else
			buf_printf(tr->log, "%s = %lld\n", t->line, (long long)si.exit.rval);
	}
}

static long ms_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

static void on_alarm(int sig)
{
	(void)sig; /* only interrupts waitpid */
}

/* One wait status of a traced task; returns the signal to deliver when resuming, or -1 when
 * the task is gone. */
static int on_status(struct tracer *tr, struct task *t, int st)
{
	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		if (t->pid == tr->main_pid && !tr->res->exited) {
			tr->res->exited = true;
			tr->res->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
			tr->res->signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
		}
		task_gone(tr, t);
		return -1;
	}
	if (!WIFSTOPPED(st))
		return 0;
	int sig = WSTOPSIG(st), ev = st >> 16;
	unsigned long msg = 0;

	if (sig == (SIGTRAP | 0x80)) {
		on_syscall_stop(tr, t);
		return 0;
	}
	if (sig == SIGTRAP && ev) {
		ptrace(PTRACE_GETEVENTMSG, t->pid, NULL, &msg);
		if (ev == PTRACE_EVENT_FORK || ev == PTRACE_EVENT_VFORK ||
		    ev == PTRACE_EVENT_CLONE) {
			struct task *c = task_find(tr, (int)msg) ?: task_add(tr, (int)msg);

			if (c && !c->argv0[0])
				memcpy(c->argv0, t->argv0, sizeof(c->argv0));
		} else if (ev == PTRACE_EVENT_EXEC) {
			/* A non-leader thread's exec took over the leader's pid: its old id
			 * vanishes without an exit report. */
			struct task *old = (int)msg != t->pid ? task_find(tr, (int)msg) : NULL;
			if (old) {
				old->in_call = false;
				task_gone(tr, old);
			}
			if (t->pid == tr->main_pid)
				tr->res->started = true;
			read_argv0(t->pid, t->argv0, sizeof(t->argv0));
			t->renamed = false;
		}
		return 0;
	}
	if (sig == SIGSTOP && t->new_stop) { /* the automatic stop of a new traced task */
		t->new_stop = false;
		return 0;
	}
	return sig;
}

static const char *dirname_of(const char *path)
{
	static char d[256];

	snprintf(d, sizeof(d), "%s", path);
	char *s = strrchr(d, '/');
	if (s && s != d)
		*s = 0;
	return s ? d : "/";
}

static void child_exec(const char *path, int out_fd, int err_fd, int errpipe)
{
	char *const argv[] = { (char *)path, NULL };
	char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "TERM=vt100",
			       NULL };
	sigset_t none;
	int e, nul = open("/dev/null", O_RDONLY);

	int cg = open(SAMPLE_CGROUP "/cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (cg >= 0) {
		ssize_t w = write(cg, "0", 1); /* "0": the writing process itself */
		(void)w; /* without the cgroup the sample runs unlimited but still traced */
		close(cg);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	setsid();
	if (nul >= 0)
		dup2(nul, 0);
	dup2(out_fd, 1);
	dup2(err_fd, 2);
	if (chdir(dirname_of(path)) < 0)
		_exit(126);
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
		_exit(126);
	raise(SIGSTOP);
	execve(path, argv, envp);
	e = errno;
	if (write(errpipe, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

int trace_run(const char *path, unsigned timeout_s, int out_fd, int err_fd, struct buf *log,
	      struct trace_result *res)
{
	static struct tracer tr; /* large; the agent runs one trace at a time */
	struct sigaction sa;
	struct timespec t0;
	int pfd[2], st, e = 0;
	long limit_ms = (long)timeout_s * 1000;

	memset(&tr, 0, sizeof(tr));
	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	tr.log = log;
	tr.res = res;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART: the alarm must interrupt waitpid */
	sigaction(SIGALRM, &sa, NULL);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	int pid = fork();
	if (pid < 0) {
		e = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return e;
	}
	if (pid == 0)
		child_exec(path, out_fd, err_fd, pfd[1]);
	close(pfd[1]);
	tr.main_pid = pid;
	if (waitpid(pid, &st, __WALL) != pid || !WIFSTOPPED(st)) {
		close(pfd[0]);
		return -ECHILD;
	}
	ptrace(PTRACE_SETOPTIONS, pid, NULL,
	       (void *)(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
			PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL));
	task_add(&tr, pid)->new_stop = false;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ptrace(PTRACE_SYSCALL, pid, NULL, NULL);

	while (tr.live > 0) {
		long left = limit_ms - ms_since(&t0);
		if (left <= 0) {
			res->timed_out = true;
			break;
		}
		struct itimerval it = { { 0, 0 }, { left / 1000, (left % 1000) * 1000 + 1 } };
		setitimer(ITIMER_REAL, &it, NULL);
		int w = waitpid(-1, &st, __WALL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: nothing traced is left */
		}
		struct task *t = task_find(&tr, w);
		if (!t) {
			if (!WIFSTOPPED(st))
				continue;     /* an untraced orphan reaped by PID 1 */
			t = task_add(&tr, w); /* stopped before its parent's fork event */
			if (!t)
				continue;
		}
		int sig = on_status(&tr, t, st);
		if (sig >= 0)
			ptrace(PTRACE_SYSCALL, w, NULL, (void *)(long)sig);
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);

	if (tr.live > 0) {
		for (int i = 0; i < MAX_TASKS; i++) {
			if (!tr.t[i].live)
				continue;
			/* threads share a process; count each process once */
			char p[64], l[256];
			snprintf(p, sizeof(p), "/proc/%d/status", tr.t[i].pid);
			FILE *f = fopen(p, "r");
			int tgid = tr.t[i].pid;
			while (f && fgets(l, sizeof(l), f))
				if (sscanf(l, "Tgid: %d", &tgid) == 1)
					break;
			if (f)
				fclose(f);
			if (tgid == tr.t[i].pid)
				res->children_killed++;
			if (tr.t[i].pid == tr.main_pid)
				res->main_killed = true;
			check_argv(&tr, &tr.t[i]);
			kill(tr.t[i].pid, SIGKILL);
		}
		/* reap them; SIGKILL needs no cooperation, so this is quick, but bounded */
		for (int n = 0; tr.live > 0 && n < 100000; n++) {
			struct itimerval it = { { 0, 0 }, { 2, 0 } };
			setitimer(ITIMER_REAL, &it, NULL);
			int w = waitpid(-1, &st, __WALL);
			setitimer(ITIMER_REAL, &off, NULL);
			if (w < 0)
				break;
			struct task *t = task_find(&tr, w);
			if (t && (WIFEXITED(st) || WIFSIGNALED(st)))
				on_status(&tr, t, st);
			else if (t && WIFSTOPPED(st))
				ptrace(PTRACE_CONT, w, NULL, NULL);
		}
	}
	res->duration_ms = ms_since(&t0);
	if (read(pfd[0], &e, sizeof(e)) == sizeof(e) && e > 0) {
		res->exec_errno = e;
		res->started = false;
	}
	close(pfd[0]);
	for (int i = 0; i < MAX_TASKS; i++)
		if (tr.t[i].live && tr.t[i].in_call)
			buf_printf(log, "%s = ?\n", tr.t[i].line);
	return 0;
}
