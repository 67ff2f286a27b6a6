// SPDX-License-Identifier: MIT
/*
 * syscalls.log: one system call per line as qemu-user -strace ("PID name(args) = ret") or
 * strace -f ("[pid N] name(args) = ret", "<... name resumed> ...) = ret") write them. Counts
 * per name, the notable calls verbatim (cut), and the facts the behaviours need: forks and
 * their PIDs, exec, kill targets, renames, unlinks of the sample itself, listening sockets,
 * containment-escape attempts, writes to persistence paths. The sample controls what these
 * lines say (its own argument strings) and may interleave its output, so the parser takes
 * nothing on trust: unknown shapes are counted as ignored.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "sbx_int.h"
#include "vigil/sandbox.h"

static bool in(const char *name, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(name, *set))
			return true;
	return false;
}

static const char *const escape_calls[] = {
	"mount",      "umount",		 "umount2",	"pivot_root",	     "chroot",
	"unshare",    "setns",		 "init_module", "finit_module",	     "delete_module",
	"kexec_load", "kexec_file_load", "ptrace",	"open_by_handle_at", "bpf",
	"iopl",	      "ioperm",		 NULL,
};
static const char *const escape_paths[] = {
	"/dev/mem",    "/dev/kmem",	   "/dev/port",	    "/proc/sysrq-trigger", "/proc/kcore",
	"/sys/kernel", "/proc/sys/kernel", "release_agent", "/proc/1/root",	   NULL,
};
static const char *const sleep_calls[] = {
	"nanosleep",
	"clock_nanosleep",
	"clock_nanosleep_time64",
	"pause",
	"select",
	"_newselect",
	"pselect6",
	"poll",
	"ppoll",
	"epoll_wait",
	"epoll_pwait",
	"accept",
	"accept4",
	"wait4",
	"waitpid",
	"recvfrom",
	"read",
	"sigsuspend",
	"rt_sigsuspend",
	"futex",
	NULL,
};
static const char *const notable_calls[] = {
	"execve",  "execveat", "kill",	    "tkill",  "tgkill",	     "prctl",  "unlink", "unlinkat",
	"rename",  "renameat", "renameat2", "bind",   "listen",	     "reboot", "chmod",	 "fchmodat",
	"symlink", "link",     "ioctl",	    "setsid", "argv_rename", NULL,
};

static void add_pid(struct sbx_syscalls *sc, long pid)
{
	if (pid <= 0 || pid > 0x7fffffff)
		return;
	for (uint32_t i = 0; i < sc->npids; i++)
		if (sc->pids[i] == pid)
			return;
	if (sc->npids < SBX_MAX_PIDS)
		sc->pids[sc->npids++] = (int32_t)pid;
}

static bool own_pid(const struct sbx_syscalls *sc, long pid)
{
	for (uint32_t i = 0; i < sc->npids; i++)
		if (sc->pids[i] == pid)
			return true;
	return false;
}

static void count_name(struct sbx_syscalls *sc, const char *name)
{
	for (uint32_t i = 0; i < sc->nnames; i++)
		if (!strcmp(sc->names[i].name, name)) {
			sc->names[i].n++;
			return;
		}
	if (sc->nnames == SBX_MAX_SCNAMES) {
		sc->unnamed++;
		return;
	}
	sbx_copy(sc->names[sc->nnames].name, sizeof(sc->names[0].name), name);
	sc->names[sc->nnames++].n = 1;
}

/* The first quoted string in ARGS (C escapes left as written), or "" */
static void first_string(const char *args, char *out, size_t cap)
{
	const char *q = strchr(args, '"');
	size_t n = 0;

	out[0] = '\0';
	if (!q)
		return;
	for (q++; *q && *q != '"' && n + 1 < cap; q++) {
		if (*q == '\\' && q[1])
			out[n++] = *q++;
		if (n + 1 < cap)
			out[n++] = *q;
	}
	out[n] = '\0';
}

/* Numeric argument I (0-based) of a comma-separated list, or LONG_MIN */
static long arg_num(const char *args, int i)
{
	const char *p = args;
	char *end;
	long v;

	for (; i > 0 && p; i--) {
		p = strchr(p, ',');
		if (p)
			p++;
	}
	if (!p)
		return -0x7fffffffL - 1;
	v = strtol(p, &end, 0);
	return end == p ? -0x7fffffffL - 1 : v;
}

static int signal_arg(const char *args)
{
	const char *p = strchr(args, ',');
	long v;

	if (!p)
		return -1;
	p++;
	while (*p == ' ')
		p++;
	if (!strncmp(p, "SIG", 3))
		return 1; /* a named signal: strace and qemu both name real ones */
	v = strtol(p, NULL, 0);
	return (int)(v < 0 || v > 128 ? -1 : v);
}

static void note(struct sbx_syscalls *sc, const char *line)
{
	if (sc->nnotable < SBX_MAX_NOTABLE)
		sbx_copy(sc->notable[sc->nnotable++], SBX_NOTE, line);
}

static void one_call(struct sbx_syscalls *sc, long pid, const char *name, const char *args,
		     long ret, bool has_ret, const char *sample_name, const char *line)
{
	char s[SBX_NOTE];
	bool notable = in(name, notable_calls);

	sc->total++;
	count_name(sc, name);
	add_pid(sc, pid);
	first_string(args, s, sizeof(s));
	if (!strcmp(name, "fork") || !strcmp(name, "vfork") ||
	    ((!strcmp(name, "clone") || !strcmp(name, "clone3")) &&
	     !strstr(args, "CLONE_THREAD"))) {
		sc->forks++;
		if (has_ret && ret > 0)
			add_pid(sc, ret);
	} else if (!strcmp(name, "execve") || !strcmp(name, "execveat")) {
		/* a tracer (strace -f, the system agent) logs the exec that starts the sample;
		 * that one is the environment's, not the sample's */
		if (!sc->launched && !sc->execs && s[0] && sbx_is_self(s, sample_name)) {
			sc->launched = true;
			notable = false;
		} else {
			sc->execs++;
		}
	} else if (!strcmp(name, "kill") || !strcmp(name, "tkill") || !strcmp(name, "tgkill")) {
		bool tg = !strcmp(name, "tgkill");
		const char *rest = tg ? strchr(args, ',') : args;
		long target = arg_num(args, tg ? 1 : 0);
		int sig = rest ? signal_arg(tg ? rest + 1 : rest) : -1;

		if (sig != 0) { /* signal 0 only probes */
			sc->kills++;
			if (sc->nkill_targets < 32)
				sc->kill_targets[sc->nkill_targets++] = (int32_t)target;
		} else {
			notable = false;
		}
	} else if (!strcmp(name, "prctl")) {
		long opt = arg_num(args, 0);

		if (opt == 15 || !strncmp(args, "PR_SET_NAME", 11)) {
			sc->renames++;
			if (s[0])
				sbx_copy(sc->new_name, sizeof(sc->new_name), s);
		} else {
			notable = false;
		}
	} else if (!strcmp(name, "argv_rename")) {
		/* the system agent's record of argv[0] rewritten in place (no syscall does it) */
		sc->renames++;
		if (s[0])
			sbx_copy(sc->new_name, sizeof(sc->new_name), s);
	} else if (!strcmp(name, "unlink") || !strcmp(name, "unlinkat")) {
		sc->unlinks++;
		if (s[0] && (!has_ret || ret == 0) && sbx_is_self(s, sample_name))
			sbx_copy(sc->self_unlinked, sizeof(sc->self_unlinked), s);
	} else if (!strcmp(name, "listen")) {
		sc->listens++;
	} else if (!strcmp(name, "bind")) {
		const char *h = strstr(args, "htons(");

		if (h) {
			long port = strtol(h + 6, NULL, 10);

			if (port > 0 && port < 65536)
				sc->listen_port = (uint16_t)port;
		}
	} else if (!strcmp(name, "reboot")) {
		sc->reboots++;
	} else if (in(name, escape_calls)) {
		sc->escapes++;
		notable = true;
	} else if (in(name, sleep_calls)) {
		sc->sleeps++;
	}
	if (s[0] && (!strcmp(name, "open") || !strcmp(name, "openat") || !strcmp(name, "creat"))) {
		bool writes = strstr(args, "O_WRONLY") || strstr(args, "O_RDWR") ||
			      strstr(args, "O_CREAT") || !strcmp(name, "creat");

		if (in(s, escape_paths) || strstr(s, "release_agent") ||
		    !strncmp(s, "/proc/sysrq", 11)) {
			sc->escapes++;
			notable = true;
		}
		if (writes && sbx_persist_path(s)) {
			sc->persist_attempts++;
			if (!sc->persist_path[0])
				sbx_copy(sc->persist_path, sizeof(sc->persist_path), s);
			notable = true;
		}
		if (!strcmp(s, "/dev/watchdog") || !strcmp(s, "/dev/misc/watchdog"))
			notable = true;
	}
	if (notable)
		note(sc, line);
}

/* Parses one line; false when it is not a system call line */
static bool parse_line(struct sbx_syscalls *sc, char *line, const char *sample_name)
{
	char *p = line, *name, *args, *close, *eq;
	long pid = 0, ret = 0;
	bool has_ret = false;
	char full[SBX_MAX_LINE];

	sbx_copy(full, sizeof(full), line);
	if (!strncmp(p, "[pid ", 5)) {
		pid = strtol(p + 5, &p, 10);
		if (*p != ']')
			return false;
		p++;
	} else if (isdigit((unsigned char)*p)) {
		pid = strtol(p, &p, 10);
	}
	while (*p == ' ')
		p++;
	if (!strncmp(p, "<... ", 5)) {
		/* strace -f: the end of an interrupted call; only a fork's result matters */
		char *r = strstr(p, "resumed>");

		eq = strrchr(p, '=');
		if (r && eq && strstr(p, "clone") && strtol(eq + 1, NULL, 10) > 0)
			add_pid(sc, strtol(eq + 1, NULL, 10));
		return r != NULL;
	}
	name = p;
	while (*p == '_' || isalnum((unsigned char)*p))
		p++;
	if (p == name || *p != '(' || p - name >= 24)
		return false;
	*p = '\0';
	args = p + 1;
	/* the return value follows the last ") = "; a string argument may contain one too, but
	 * the last is the call's own */
	close = NULL;
	for (char *q = strstr(args, ") = "); q; q = strstr(q + 1, ") = "))
		close = q;
	if (close) {
		*close = '\0';
		eq = close + 4;
		ret = strtol(eq, NULL, 0);
		has_ret = true;
	}
	one_call(sc, pid, name, args, ret, has_ret, sample_name, full);
	return true;
}

void sbx_parse_syscalls(struct sbx_syscalls *sc, const char *buf, size_t len,
			const char *sample_name)
{
	struct sbx_lines it;
	char line[SBX_MAX_LINE];

	memset(sc, 0, sizeof(*sc));
	sbx_lines_init(&it, buf, len);
	while (sbx_next_line(&it, line, sizeof(line)))
		if (line[0] && !parse_line(sc, line, sample_name))
			sc->ignored++;
	/* a kill is of "another" process when its target is not in the sample's own tree: -1
	 * (everything) and foreign PIDs or process groups */
	for (uint32_t i = 0; i < sc->nkill_targets; i++) {
		long t = sc->kill_targets[i];

		if (t == -1 || (t > 0 && !own_pid(sc, t)) || (t < -1 && !own_pid(sc, -t)))
			sc->kills_other++;
	}
}
