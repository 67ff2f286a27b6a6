// SPDX-License-Identifier: MIT
/*
 * backdoor-port: listening sockets on chkrootkit's bindshell ports, listeners that run a shell
 * for each connection, netcat-like listeners that serve something else, and ports the policy
 * does not allow. What a listener runs is read from the snapshot alone, like every check: a
 * netcat's argv (-e, -c, socat's EXEC), its children (what it started for a connection open
 * now), and the processes at the other end of pipes on its stdin and stdout (the mkfifo bind
 * shell, which needs no -e).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "checks_int.h"

/* chkrootkit's bindshell list: ports classic backdoors and trojans listen on */
static const uint16_t bindshell_ports[] = {
	114,   145,   465,   511,   600,   1008,  1524,	 1999,	1978,  2881,  3049,
	3133,  3879,  4000,  4369,  5190,  5665,  6667,	 7222,	10008, 12321, 23132,
	27374, 29364, 30999, 31336, 31337, 37998, 45454, 47017, 47889, 60001
};

#define MEMO_NONE UINT32_MAX /* the owner has no shell below it */

/* What the check builds once per snapshot to look below owners: user processes sorted by
 * parent ((ppid << 32) | task index), and per task index the shell found below it. */
struct below {
	const struct vg_snapshot *s;
	uint64_t *by_ppid;
	size_t n;
	uint32_t *memo; /* 0 not looked yet, MEMO_NONE, or task index + 1 */
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int below_init(struct below *b, const struct vg_snapshot *s)
{
	b->s = s;
	b->n = 0;
	b->by_ppid = malloc((s->tasks.n ? s->tasks.n : 1) * sizeof(*b->by_ppid));
	b->memo = calloc(s->tasks.n ? s->tasks.n : 1, sizeof(*b->memo));
	if (!b->by_ppid || !b->memo)
		return -ENOMEM;
	for (size_t i = 0; i < s->tasks.n; i++) {
		const struct vg_task *t = &s->tasks.v[i];

		if (!t->kthread && t->pid == t->tgid)
			b->by_ppid[b->n++] = ((uint64_t)(uint32_t)t->ppid << 32) | i;
	}
	qsort(b->by_ppid, b->n, sizeof(*b->by_ppid), cmp_u64);
	return 0;
}

static void below_free(struct below *b)
{
	free(b->by_ppid);
	free(b->memo);
}

/* The first of PID's children in by_ppid. */
static size_t first_child(const struct below *b, int32_t pid)
{
	uint64_t want = (uint64_t)(uint32_t)pid << 32;
	size_t lo = 0, hi = b->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->by_ppid[mid] < want)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool is_shell(const struct vg_task *t)
{
	return vg_ids_stdin_shell(t->comm, t->cmdline);
}

/* A child or grandchild of OWNER (socat forks, then execs) that reads commands from its stdin:
 * the shell a connection open now was given. Each task has one parent, so one owner's search
 * visits each task at most once; the memo makes that once per owner. */
static const struct vg_task *shell_below(struct below *b, const struct vg_task *owner)
{
	const struct vg_task *v = b->s->tasks.v, *found = NULL;
	size_t oi = (size_t)(owner - v);
	bool memo = owner >= v && oi < b->s->tasks.n;

	if (memo && b->memo[oi])
		return b->memo[oi] == MEMO_NONE ? NULL : &v[b->memo[oi] - 1];
	for (size_t c = first_child(b, owner->pid);
	     !found && c < b->n && b->by_ppid[c] >> 32 == (uint32_t)owner->pid; c++) {
		const struct vg_task *kid = &v[(uint32_t)b->by_ppid[c]];

		if (is_shell(kid)) {
			found = kid;
			break;
		}
		for (size_t g = first_child(b, kid->pid);
		     g < b->n && b->by_ppid[g] >> 32 == (uint32_t)kid->pid; g++)
			if (is_shell(&v[(uint32_t)b->by_ppid[g]])) {
				found = &v[(uint32_t)b->by_ppid[g]];
				break;
			}
	}
	if (memo)
		b->memo[oi] = found ? (uint32_t)(found - v) + 1 : MEMO_NONE;
	return found;
}

static const struct vg_task *shell_peer(const struct vg_listen *l)
{
	for (int i = 0; i < l->npeers && i < VG_LISTEN_PEERS; i++)
		if (l->peers[i] && is_shell(l->peers[i]))
			return l->peers[i];
	return NULL;
}

static bool port_in(const uint16_t *v, size_t n, uint16_t p)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == p)
			return true;
	return false;
}

/* An operator's [listeners] entry or a baseline listener with this port, executable and
 * (for the baseline's) argv. */
static bool accepted(const struct vg_ids_opts *o, const struct vg_listen *l)
{
	const char *exe, *cmdline;

	if (!o || !l->owner)
		return false;
	exe = l->owner->exe ? l->owner->exe : "";
	cmdline = l->owner->cmdline ? l->owner->cmdline : "";
	for (size_t i = 0; i < o->nallowed_listeners; i++) {
		const struct vg_listener_rule *r = &o->allowed_listeners[i];

		if (r->port == l->port && r->exe && !strcmp(r->exe, exe) &&
		    (!r->cmdline || !strcmp(r->cmdline, cmdline)))
			return true;
	}
	return false;
}

/* What one listener runs for each connection. */
struct runs {
	struct vg_listen_exec exec;
	const char *via; /* why it is a shell listener: owner, argv, child, pipe; or NULL */
	const struct vg_task *shell; /* the shell process for child and pipe */
};

static void judge(struct below *b, const struct vg_listen *l, struct runs *r)
{
	memset(r, 0, sizeof(*r));
	if (!l->owner_pid || !strncmp(l->proto, "udp", 3))
		return;
	if (vg_ids_shell_name(l->owner_comm)) {
		r->via = "owner";
		return;
	}
	vg_ids_listen_exec(l->owner_comm, l->owner ? l->owner->cmdline : NULL, &r->exec);
	if (!r->exec.netcat)
		return;
	if (r->exec.shell)
		r->via = "argv";
	else if (l->owner && (r->shell = shell_below(b, l->owner)))
		r->via = "child";
	else if ((r->shell = shell_peer(l)))
		r->via = "pipe";
}

static int report(struct vg_findings *f, const struct vg_listen *l, const struct runs *r,
		  const char *reason, enum vg_severity sev, struct vg_err *err)
{
	struct vg_json *j;
	char id[64];

	snprintf(id, sizeof(id), "%s/%u", l->proto, l->port);
	j = vg_finding_begin(f, "backdoor-port", sev, "T1571", "socket", id, err);
	if (!j)
		return -ENOMEM;
	vg_json_kstr(j, "reason", reason);
	vg_json_kstr(j, "proto", l->proto);
	vg_json_kuint(j, "port", l->port);
	vg_json_kstr(j, "addr", l->addr);
	vg_json_key(j, "owner");
	vg_json_obj_open(j);
	vg_json_kint(j, "pid", l->owner_pid);
	vg_json_kstr(j, "comm", l->owner_comm);
	vg_json_obj_close(j);
	if (l->owner) {
		vg_json_kstr(j, "exe", l->owner->exe ? l->owner->exe : "");
		vg_json_kstr(j, "cmdline", l->owner->cmdline ? l->owner->cmdline : "");
	}
	if (r->exec.found)
		vg_json_kstr(j, "exec", r->exec.prog);
	if (r->via)
		vg_json_kstr(j, "shell_via", r->via);
	if (r->shell) {
		vg_json_key(j, "shell");
		vg_json_obj_open(j);
		vg_json_kint(j, "pid", r->shell->pid);
		vg_json_kstr(j, "comm", r->shell->comm);
		vg_json_kstr(j, "cmdline", r->shell->cmdline ? r->shell->cmdline : "");
		vg_json_obj_close(j);
	}
	if (l->owner_pid)
		return vg_finding_end(f, err, "%s port %u is open (%s), held by %s (pid %d)",
				      l->proto, l->port, reason, l->owner_comm, l->owner_pid);
	return vg_finding_end(f, err, "%s port %u is open (%s), held by no process", l->proto,
			      l->port, reason);
}

int vg_ids_check_listen(const struct vg_snapshot *s, const struct vg_ids_opts *o,
			struct vg_findings *f, struct vg_err *err)
{
	struct below b = { 0 };
	int ret = 0;

	if (s->nlisten && below_init(&b, s)) {
		below_free(&b);
		return vg_errf(err, ENOMEM, "out of memory indexing %zu processes by parent",
			       s->tasks.n);
	}
	for (size_t i = 0; i < s->nlisten && !ret; i++) {
		const struct vg_listen *l = &s->listen[i];
		enum vg_severity sev = VG_SEV_MEDIUM;
		const char *reason = NULL;
		struct runs r;
		bool ok;

		judge(&b, l, &r);
		/* an accepted listener stays reported while it runs a shell */
		ok = accepted(o, l) && !r.via;
		if (!ok && port_in(bindshell_ports,
				   sizeof(bindshell_ports) / sizeof(bindshell_ports[0]), l->port)) {
			reason = "bindshell-port";
			sev = VG_SEV_CRITICAL;
		} else if (r.via) {
			reason = "shell-listener";
			sev = VG_SEV_HIGH;
		} else if (ok) {
			continue;
		} else if (r.exec.netcat) {
			reason = r.exec.found ? "netcat-exec" : "netcat-listener";
		} else if (o && o->allowed_ports &&
			   !port_in(o->allowed_ports, o->nallowed_ports, l->port)) {
			reason = "not-allowed";
		}
		if (reason)
			ret = report(f, l, &r, reason, sev, err);
	}
	below_free(&b);
	return ret;
}
