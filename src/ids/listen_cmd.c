// SPDX-License-Identifier: MIT
/*
 * What a listening process runs for each connection, judged from argv (checks_int.h). The
 * argv is the guest's (hostile): it arrives as the task list keeps it, arguments joined by
 * spaces and at most VG_CMDLINE_MAX bytes, and is read as at most MAX_WORDS words. Where a
 * boundary between arguments is lost, the reading errs towards "a shell": every exec option is
 * looked at, and any of them naming a shell is enough.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "checks_int.h"

#define MAX_WORDS 256
#define MAX_DEPTH 4 /* wrappers inside wrappers ("env nohup sh") */

struct word {
	const char *p;
	size_t n;
};

struct words {
	struct word w[MAX_WORDS];
	int n;
};

static void split(const char *s, struct words *w)
{
	w->n = 0;
	while (*s && w->n < MAX_WORDS) {
		size_t n;

		while (*s == ' ')
			s++;
		n = strcspn(s, " ");
		if (n)
			w->w[w->n++] = (struct word){ s, n };
		s += n;
	}
}

static bool weq(struct word w, const char *lit)
{
	return w.n == strlen(lit) && !memcmp(w.p, lit, w.n);
}

/* The program name in a word: its basename, without the '-' a login shell's argv[0] has. */
static struct word prog_name(struct word w)
{
	const char *slash = memrchr(w.p, '/', w.n);

	if (slash) {
		w.n -= (size_t)(slash + 1 - w.p);
		w.p = slash + 1;
	}
	if (w.n > 1 && w.p[0] == '-') {
		w.p++;
		w.n--;
	}
	return w;
}

static bool in_set(struct word w, const char *const *set)
{
	for (; *set; set++)
		if (weq(w, *set))
			return true;
	return false;
}

static const char *const shells[] = { "sh",    "ash",  "bash", "dash",	"zsh",	"ksh", "mksh",
				      "pdksh", "lksh", "oksh", "yash",	"posh", "csh", "tcsh",
				      "fish",  "hush", "msh",  "rbash", NULL };

/* Interpreters that read a program from stdin when given no script: python3.11, lua5.4 ... */
static bool interpreter(struct word w)
{
	static const char *const names[] = { "python", "perl", "ruby",	 "lua",	  "luajit",
					     "php",    "node", "nodejs", "tclsh", "wish",
					     "expect", "irb",  "pwsh",	 NULL };

	for (const char *const *p = names; *p; p++) {
		size_t l = strlen(*p), i;

		if (w.n < l || memcmp(w.p, *p, l))
			continue;
		for (i = l; i < w.n && (isdigit((unsigned char)w.p[i]) || w.p[i] == '.'); i++)
			;
		if (i == w.n)
			return true;
	}
	return false;
}

/* Programs that run another program named later in their argv. */
static const char *const wrappers[] = { "env",	   "nohup",    "setsid",  "nice",   "ionice",
					"timeout", "stdbuf",   "chroot",  "sudo",   "doas",
					"su",	   "runuser",  "setpriv", "exec",   "script",
					"rlwrap",  "unbuffer", "taskset", "chrt",   "busybox",
					"toybox",  "chpst",    "flock",	  "strace", "ltrace",
					"nsenter", "unshare",  "newgrp",  "sg",	    NULL };

bool vg_ids_shell_name(const char *name)
{
	struct word w = prog_name((struct word){ name, strlen(name) });

	return in_set(w, shells);
}

static bool netcat_name(struct word w)
{
	static const char *const names[] = { "nc", "ncat", "netcat", "socat", NULL };

	/* Debian's alternatives: nc.traditional, nc.openbsd */
	return in_set(w, names) || (w.n > 3 && !memcmp(w.p, "nc.", 3));
}

static bool is_option(struct word w)
{
	return w.n > 1 && w.p[0] == '-';
}

/* A short-option word ("-ec") holding letter C (not "--long"). */
static bool short_has(struct word w, char c)
{
	return is_option(w) && w.p[1] != '-' && memchr(w.p + 1, c, w.n - 1);
}

/* A wrapper that starts a shell when no command is given to it. */
static bool wrapper_default_shell(const struct words *w, int at)
{
	struct word b = prog_name(w->w[at]);
	int positional = 0;

	for (int i = at + 1; i < w->n; i++) {
		if (weq(w->w[i], "-c") || weq(w->w[i], "--command"))
			return false;
		positional += !is_option(w->w[i]);
	}
	if (weq(b, "su") || weq(b, "script") || weq(b, "newgrp"))
		return true;
	/* chroot NEWROOT [COMMAND] */
	return weq(b, "chroot") && positional <= 1;
}

/* Whether the program named at word AT runs a shell or an interpreter. Its arguments are not
 * trusted to be its own (nc -e /bin/sh -lp 2001 gives nc's options after the program). */
static bool prog_shell(const struct words *w, int at, int depth)
{
	struct word b;

	if (at >= w->n || depth > MAX_DEPTH)
		return false;
	b = prog_name(w->w[at]);
	if (in_set(b, shells) || interpreter(b))
		return true;
	if (!in_set(b, wrappers))
		return false;
	for (int i = at + 1; i < w->n; i++) {
		struct word n = prog_name(w->w[i]);

		if (in_set(n, shells) || interpreter(n) || in_set(n, wrappers))
			return prog_shell(w, i, depth + 1);
	}
	return wrapper_default_shell(w, at);
}

/* A command line a shell will interpret (nc -c, ncat --sh-exec, socat SYSTEM:): any syntax
 * beyond a plain command can start anything, so it counts as a shell. */
static bool shell_cmd_shell(const struct words *w, int at)
{
	for (int i = at; i < w->n; i++)
		for (size_t k = 0; k < w->w[i].n; k++)
			if (strchr(";&|`$()<>\n", w->w[i].p[k]))
				return true;
	return prog_shell(w, at, 0);
}

static void set_prog(struct vg_listen_exec *x, struct word w)
{
	size_t n = w.n < sizeof(x->prog) - 1 ? w.n : sizeof(x->prog) - 1;

	x->found = true;
	if (x->prog[0])
		return; /* the first exec option is the one reported */
	memcpy(x->prog, w.p, n);
	x->prog[n] = '\0';
}

/* The value of an option: the rest of word AT from OFF, then the words after it. */
static void value_words(const struct words *w, int at, size_t off, struct words *v)
{
	v->n = 0;
	if (off < w->w[at].n)
		v->w[v->n++] = (struct word){ w->w[at].p + off, w->w[at].n - off };
	for (int i = at + 1; i < w->n && v->n < MAX_WORDS; i++)
		v->w[v->n++] = w->w[i];
}

static void exec_value(struct vg_listen_exec *x, const struct words *v, bool via_shell)
{
	if (!v->n)
		return;
	set_prog(x, v->w[0]);
	if (via_shell ? shell_cmd_shell(v, 0) : prog_shell(v, 0, 0))
		x->shell = true;
}

/* netcat's -e PROG and -c CMD (also bundled, "-lve/bin/sh"), ncat's --exec, --sh-exec and
 * --lua-exec (a Lua script: a program, not a shell). */
static void netcat_exec(const struct words *w, int at, struct vg_listen_exec *x)
{
	struct words v;

	for (int i = at + 1; i < w->n; i++) {
		struct word a = w->w[i];

		if (a.n > 2 && a.p[0] == '-' && a.p[1] == '-') {
			const char *eq = memchr(a.p, '=', a.n);
			struct word name = { a.p + 2, (eq ? (size_t)(eq - a.p) : a.n) - 2 };
			bool sh = weq(name, "sh-exec");

			if (!sh && !weq(name, "exec") && !weq(name, "lua-exec"))
				continue;
			value_words(w, i, eq ? (size_t)(eq + 1 - a.p) : a.n, &v);
			if (weq(name, "lua-exec")) {
				if (v.n)
					set_prog(x, v.w[0]);
				continue;
			}
			exec_value(x, &v, sh);
			continue;
		}
		if (!is_option(a) || a.p[1] == '-')
			continue;
		for (size_t k = 1; k < a.n; k++) {
			if (a.p[k] != 'e' && a.p[k] != 'c')
				continue;
			value_words(w, i, k + 1, &v);
			exec_value(x, &v, a.p[k] == 'c');
			break;
		}
	}
}

/* socat's EXEC:cmdline and SYSTEM:shell-command addresses (options follow a comma). */
static void socat_exec(const struct words *w, int at, struct vg_listen_exec *x)
{
	struct words v;

	for (int i = at + 1; i < w->n; i++) {
		struct word a = w->w[i];
		const char *colon = memchr(a.p, ':', a.n);
		size_t kl = colon ? (size_t)(colon - a.p) : 0;
		bool sys;

		if (!colon)
			continue;
		sys = (kl == 6 && !strncasecmp(a.p, "system", 6)) ||
		      (kl == 5 && !strncasecmp(a.p, "shell", 5));
		if (!sys && !(kl == 4 && !strncasecmp(a.p, "exec", 4)))
			continue;
		value_words(w, i, kl + 1, &v);
		/* the command line ends at the first comma; address options follow it */
		for (int k = 0; k < v.n; k++) {
			const char *comma = memchr(v.w[k].p, ',', v.w[k].n);

			if (comma) {
				v.w[k].n = (size_t)(comma - v.w[k].p);
				v.n = v.w[k].n ? k + 1 : k;
				break;
			}
		}
		exec_value(x, &v, sys);
	}
}

void vg_ids_listen_exec(const char *comm, const char *cmdline, struct vg_listen_exec *x)
{
	struct word tool = { comm, strlen(comm) };
	struct words w;
	int at = 0;

	memset(x, 0, sizeof(*x));
	split(cmdline ? cmdline : "", &w);
	/* "busybox nc ..." keeps comm "busybox": the applet is argv[1] */
	if ((weq(tool, "busybox") || weq(tool, "toybox")) && w.n > 1) {
		tool = prog_name(w.w[1]);
		at = 1;
	}
	x->netcat = netcat_name(tool);
	if (!x->netcat)
		return;
	if (weq(tool, "socat"))
		socat_exec(&w, at, x);
	else
		netcat_exec(&w, at, x);
}

/* The stricter question for a process that already runs (a listener's child, or the process
 * at the other end of its stdio pipe): does it read commands from its stdin? A shell does
 * unless given a script or -c; an interpreter unless given a script. */
static bool reads_commands(const struct words *w, int at, int depth)
{
	struct word b;

	if (at >= w->n || depth > MAX_DEPTH)
		return false;
	b = prog_name(w->w[at]);
	if (in_set(b, shells)) {
		for (int i = at + 1; i < w->n; i++) {
			if (short_has(w->w[i], 'c'))
				return reads_commands(w, i + 1, depth + 1);
			if (short_has(w->w[i], 's') || short_has(w->w[i], 'i'))
				return true;
			if (!is_option(w->w[i]))
				return false; /* a script */
		}
		return true;
	}
	if (interpreter(b)) {
		for (int i = at + 1; i < w->n; i++) {
			/* inline code (-c, -e, -E, -r) can be anything: counted as a shell */
			if (short_has(w->w[i], 'c') || short_has(w->w[i], 'e') ||
			    short_has(w->w[i], 'E') || short_has(w->w[i], 'r'))
				return true;
			if (!is_option(w->w[i]))
				return false;
		}
		return true;
	}
	if (!in_set(b, wrappers))
		return false;
	for (int i = at + 1; i < w->n; i++) {
		struct word n = prog_name(w->w[i]);

		if (in_set(n, shells) || interpreter(n) || in_set(n, wrappers))
			return reads_commands(w, i, depth + 1);
	}
	return wrapper_default_shell(w, at);
}

bool vg_ids_stdin_shell(const char *comm, const char *cmdline)
{
	struct words w;

	if (!cmdline || !cmdline[0])
		return vg_ids_shell_name(comm);
	split(cmdline, &w);
	return reads_commands(&w, 0, 0);
}
