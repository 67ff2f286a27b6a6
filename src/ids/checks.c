// SPDX-License-Identifier: MIT
/*
 * The IDS checks: pure functions of a snapshot (no guest I/O), each comparing views a rootkit
 * has to keep consistent by hand, or holding state against what is known good.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checks_int.h"
#include "vigil/ids.h"
#include "vigil/json.h"

#define IFF_PROMISC 0x100

/*
 * Sorted views for lookups: a hostile guest controls how many tasks there are (up to
 * VG_MAX_TASKS), so every cross-view lookup is a binary search, never a scan per task.
 */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Keys sorted, with the task index in the low 32 bits where a key is an address or pid. */
static uint64_t *sorted_keys(const struct vg_snapshot *s, bool by_pid)
{
	uint64_t *k = malloc((s->tasks.n ? s->tasks.n : 1) * sizeof(*k));

	if (!k)
		return NULL;
	for (size_t i = 0; i < s->tasks.n; i++)
		k[i] = by_pid ? ((uint64_t)(uint32_t)s->tasks.v[i].pid << 32) | i
			      : s->tasks.v[i].addr;
	qsort(k, s->tasks.n, sizeof(*k), cmp_u64);
	return k;
}

static bool has_addr(const uint64_t *keys, size_t n, uint64_t a)
{
	return bsearch(&a, keys, n, sizeof(*keys), cmp_u64) != NULL;
}

/* First task (lowest index) with PID, like the linear scan it replaces. */
static const struct vg_task *task_by_pid(const struct vg_snapshot *s, const uint64_t *keys,
					 int32_t pid)
{
	uint64_t want = (uint64_t)(uint32_t)pid << 32;
	size_t lo = 0, hi = s->tasks.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (keys[mid] < want)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->tasks.n && keys[lo] >> 32 == (uint32_t)pid)
		return &s->tasks.v[(uint32_t)keys[lo]];
	return NULL;
}

static int hidden_process(const struct vg_snapshot *s, const struct vg_ids_opts *o,
			  struct vg_findings *f)
{
	char q[64], id[32], sum[256];
	uint64_t *addrs, *pids, *sched = NULL;
	int ret = -1;

	if (!s->have_pids)
		return vg_ids_check_sched(s, f);
	addrs = sorted_keys(s, false);
	pids = malloc((s->npids ? s->npids : 1) * sizeof(*pids));
	sched = vg_ids_sched_sorted(s);
	if (!addrs || !pids || !sched)
		goto out;
	for (size_t i = 0; i < s->npids; i++)
		pids[i] = (uint64_t)(uint32_t)s->pids[i].nr;
	qsort(pids, s->npids, sizeof(*pids), cmp_u64);
	for (size_t i = 0; i < s->npids; i++) {
		const struct vg_pid_entry *p = &s->pids[i];

		if (!p->task || has_addr(addrs, s->tasks.n, p->task))
			continue;
		vg_json_quote(q, sizeof(q), p->comm);
		snprintf(id, sizeof(id), "%d", p->nr);
		snprintf(sum, sizeof(sum),
			 "pid %d (%s) is allocated and owned by a task that is missing from the "
			 "task "
			 "list",
			 p->nr, p->comm);
		/* a hidden task that runs is on a run queue too */
		if (vg_finding_add(
			    f, "hidden-process", VG_SEV_CRITICAL, "T1014", "process", id, sum,
			    "\"pid\":%d,\"comm\":%s,\"task\":\"0x%" PRIx64 "\","
			    "\"seen_in\":[\"pid_allocator\"%s],\"missing_from\":[\"task_list\"]",
			    p->nr, q, p->task,
			    vg_ids_sched_has(s, sched, p->task) ? ",\"scheduler\"" : ""))
			goto out;
	}
	/* the other direction: on the task list but unknown to the allocator */
	for (size_t i = 0; i < s->tasks.n; i++) {
		const struct vg_task *t = &s->tasks.v[i];

		if (has_addr(pids, s->npids, (uint64_t)(uint32_t)t->pid))
			continue;
		vg_json_quote(q, sizeof(q), t->comm);
		snprintf(id, sizeof(id), "%d", t->pid);
		snprintf(sum, sizeof(sum),
			 "task %d (%s) is on the task list but not in the PID "
			 "allocator",
			 t->pid, t->comm);
		if (vg_finding_add(
			    f, "hidden-process", VG_SEV_HIGH, "T1014", "process", id, sum,
			    "\"pid\":%d,\"comm\":%s,\"task\":\"0x%" PRIx64 "\","
			    "\"seen_in\":[\"task_list\"],\"missing_from\":[\"pid_allocator\"]",
			    t->pid, q, t->addr))
			goto out;
	}
	ret = vg_ids_check_sched(s, f);
out:
	free(addrs);
	free(pids);
	free(sched);
	return ret;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* comm is at most 15 bytes of the name the process was exec'ed or renamed to */
static bool comm_matches(const char *comm, const char *name)
{
	return name[0] && !strncmp(comm, name, VG_COMM_LEN - 1);
}

static bool multi_call(const char *exe)
{
	const char *b = base_name(exe);

	return !strcmp(b, "busybox") || !strcmp(b, "toybox");
}

static bool world_writable_dir(const char *exe)
{
	static const char *const dirs[] = { "/tmp/", "/dev/shm/", "/var/tmp/", "/run/shm/",
					    "/dev/mqueue/" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (!strncmp(exe, dirs[i], strlen(dirs[i])))
			return true;
	return false;
}

static int suspicious_process(const struct vg_snapshot *s, const struct vg_ids_opts *o,
			      struct vg_findings *f)
{
	uint64_t *by_pid = sorted_keys(s, true);
	int ret = -1;

	if (!by_pid)
		return -1;
	for (size_t i = 0; i < s->tasks.n; i++) {
		const struct vg_task *t = &s->tasks.v[i], *parent;
		char qc[64], qe[VG_PATH_MAX * 2], qa[512], id[32], sum[256], argv0[256], argv1[256];
		size_t a0, a1;

		if (t->kthread || t->pid != t->tgid)
			continue;
		vg_json_quote(qc, sizeof(qc), t->comm);
		vg_json_quote(qe, sizeof(qe), t->exe);
		snprintf(id, sizeof(id), "%d", t->pid);
		a0 = strcspn(t->cmdline, " ");
		snprintf(argv0, sizeof(argv0), "%.*s", (int)(a0 < 255 ? a0 : 255), t->cmdline);
		/* for a script, comm is the script's name: argv[1] after the interpreter */
		a1 = t->cmdline[a0] ? strcspn(t->cmdline + a0 + 1, " ") : 0;
		snprintf(argv1, sizeof(argv1), "%.*s", (int)(a1 < 255 ? a1 : 255),
			 t->cmdline[a0] ? t->cmdline + a0 + 1 : "");
		vg_json_quote(qa, sizeof(qa), argv0);
		if (t->exe_deleted) {
			snprintf(sum, sizeof(sum),
				 "process %d (%s) runs an executable that was "
				 "deleted: %s",
				 t->pid, t->comm, t->exe);
			if (vg_finding_add(
				    f, "suspicious-process", VG_SEV_HIGH, "T1070.004", "process",
				    id, sum,
				    "\"reason\":\"deleted-executable\",\"pid\":%d,\"comm\":%s,"
				    "\"exe\":%s,\"uid\":%u",
				    t->pid, qc, qe, t->uid))
				goto out;
		}
		if (t->exe[0] && world_writable_dir(t->exe)) {
			snprintf(sum, sizeof(sum),
				 "process %d (%s) runs from a world-writable "
				 "directory: %s",
				 t->pid, t->comm, t->exe);
			if (vg_finding_add(
				    f, "suspicious-process", VG_SEV_MEDIUM, "T1036.005", "process",
				    id, sum,
				    "\"reason\":\"world-writable-path\",\"pid\":%d,\"comm\":%s,"
				    "\"exe\":%s,\"uid\":%u",
				    t->pid, qc, qe, t->uid))
				goto out;
		}
		/* masquerade: the name matches neither the executable nor argv[0] (or a script).
		 * Multi-call binaries are exempt: busybox names forked applets with prctl (sh's
		 * argv, comm "ls") and re-execs through /proc/self/exe (comm "exe"), so their
		 * names say nothing about pretence; their code is the multi-call binary's own. */
		if (t->exe[0] && !multi_call(t->exe) && !comm_matches(t->comm, base_name(t->exe)) &&
		    !comm_matches(t->comm, base_name(argv0)) &&
		    !comm_matches(t->comm, base_name(argv1))) {
			snprintf(sum, sizeof(sum), "process %d calls itself '%s' but runs %s",
				 t->pid, t->comm, t->exe);
			if (vg_finding_add(f, "suspicious-process", VG_SEV_MEDIUM, "T1036.004",
					   "process", id, sum,
					   "\"reason\":\"name-mismatch\",\"pid\":%d,\"comm\":%s,"
					   "\"exe\":%s,\"argv0\":%s",
					   t->pid, qc, qe, qa))
				goto out;
		}
		/* privilege escalation: root child of an unprivileged parent, no setuid binary */
		parent = task_by_pid(s, by_pid, t->ppid);
		if (t->euid == 0 && parent && !parent->kthread && parent->euid != 0 &&
		    !(t->exe_mode & S_ISUID)) {
			char qp[64];

			vg_json_quote(qp, sizeof(qp), parent->comm);
			snprintf(sum, sizeof(sum),
				 "process %d (%s) runs as root below unprivileged "
				 "parent %d (uid %u) without a setuid executable",
				 t->pid, t->comm, parent->pid, parent->euid);
			if (vg_finding_add(
				    f, "suspicious-process", VG_SEV_CRITICAL, "T1068", "process",
				    id, sum,
				    "\"reason\":\"privilege-escalation\",\"pid\":%d,\"comm\":%s,"
				    "\"exe\":%s,\"euid\":%u,\"parent\":{\"pid\":%d,\"comm\":%s,"
				    "\"euid\":%u}",
				    t->pid, qc, qe, t->euid, parent->pid, qp, parent->euid))
				goto out;
		}
	}
	ret = 0;
out:
	free(by_pid);
	return ret;
}

static bool module_listed(const struct vg_snapshot *s, uint64_t mod)
{
	for (size_t i = 0; i < s->modules.n; i++)
		if (s->modules.v[i].addr == mod)
			return true;
	return false;
}

static int hidden_module(const struct vg_snapshot *s, const struct vg_ids_opts *o,
			 struct vg_findings *f)
{
	char q[128], sum[256];

	if (!s->have_kobjs)
		return vg_ids_check_modimg(s, f) ?: vg_ids_check_stacks(s, f);
	for (size_t i = 0; i < s->nkobjs; i++) {
		const struct vg_kobj_module *k = &s->kobjs[i];

		if (module_listed(s, k->mod))
			continue;
		vg_json_quote(q, sizeof(q), k->name);
		snprintf(sum, sizeof(sum),
			 "module %s is in sysfs (/sys/module) but missing from the "
			 "kernel's module list",
			 k->name);
		if (vg_finding_add(f, "hidden-module", VG_SEV_CRITICAL, "T1014", "module", k->name,
				   sum,
				   "\"module\":%s,\"struct_module\":\"0x%" PRIx64 "\","
				   "\"seen_in\":[\"sysfs\"%s],\"missing_from\":[\"module_list\"]",
				   q, k->mod, vg_ids_modimg_has(s, k->mod) ? ",\"memory\"" : ""))
			return -1;
	}
	for (size_t i = 0; i < s->modules.n; i++) {
		const struct vg_module *m = &s->modules.v[i];
		bool found = false;

		for (size_t k = 0; k < s->nkobjs && !found; k++)
			found = s->kobjs[k].mod == m->addr;
		if (found)
			continue;
		vg_json_quote(q, sizeof(q), m->name);
		snprintf(sum, sizeof(sum), "module %s is loaded but hidden from sysfs", m->name);
		if (vg_finding_add(f, "hidden-module", VG_SEV_HIGH, "T1014", "module", m->name, sum,
				   "\"module\":%s,\"struct_module\":\"0x%" PRIx64
				   "\",\"base\":\"0x%" PRIx64
				   "\",\"seen_in\":[\"module_list\"],\"missing_from\":[\"sysfs\"]",
				   q, m->addr, m->base))
			return -1;
	}
	return vg_ids_check_modimg(s, f) ?: vg_ids_check_stacks(s, f);
}

static int unknown_module(const struct vg_snapshot *s, const struct vg_ids_opts *o,
			  struct vg_findings *f)
{
	char q[128], sum[256];

	if (!o || !o->allowed_modules)
		return 0;
	for (size_t i = 0; i < s->modules.n; i++) {
		const struct vg_module *m = &s->modules.v[i];
		bool known = false;

		for (const char *const *a = o->allowed_modules; *a && !known; a++)
			known = !strcmp(*a, m->name);
		if (known)
			continue;
		vg_json_quote(q, sizeof(q), m->name);
		snprintf(sum, sizeof(sum), "module %s is not in the baseline or allowlist",
			 m->name);
		if (vg_finding_add(f, "unknown-module", VG_SEV_MEDIUM, "T1547.006", "module",
				   m->name, sum,
				   "\"module\":%s,\"base\":\"0x%" PRIx64 "\",\"size\":%" PRIu64, q,
				   m->base, m->size))
			return -1;
	}
	return 0;
}

static int promisc_interface(const struct vg_snapshot *s, const struct vg_ids_opts *o,
			     struct vg_findings *f)
{
	char q[64], sum[256];

	for (size_t i = 0; i < s->nnetdevs; i++) {
		const struct vg_netdev *d = &s->netdevs[i];

		if (!(d->flags & IFF_PROMISC) && !d->promiscuity)
			continue;
		vg_json_quote(q, sizeof(q), d->name);
		snprintf(sum, sizeof(sum), "interface %s is in promiscuous mode (a sniffer)",
			 d->name);
		if (vg_finding_add(f, "promisc-interface", VG_SEV_MEDIUM, "T1040", "interface",
				   d->name, sum,
				   "\"interface\":%s,\"flags\":\"0x%x\",\"promiscuity\":%u", q,
				   d->flags, d->promiscuity))
			return -1;
	}
	return 0;
}

static bool handler_ok(const struct vg_sct *t, const char *sym)
{
	static const char *const ok[] = { "__x64_sys_",		"__ia32_sys_",
					  "__ia32_compat_sys_", "__x32_compat_sys_",
					  "sys_ni_syscall",	"__x64_sys_ni",
					  "__arm64_sys_",	"__arm64_compat_sys_" };

	if (!sym[0])
		return false;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strncmp(sym, ok[i], strlen(ok[i])))
			return true;
	return false;
}

static int syscall_hook(const struct vg_snapshot *s, const struct vg_ids_opts *o,
			struct vg_findings *f)
{
	for (int k = 0; k < s->nsct; k++) {
		const struct vg_sct *t = &s->sct[k];

		for (int i = 0; i < t->n; i++) {
			const struct vg_sct_entry *e = &t->e[i];
			char qs[128], qo[96], id[64], sum[256];

			if (handler_ok(t, e->sym))
				continue;
			vg_json_quote(qs, sizeof(qs), e->sym);
			vg_json_quote(qo, sizeof(qo), e->owner);
			snprintf(id, sizeof(id), "%s[%d]", t->name, e->nr);
			snprintf(sum, sizeof(sum),
				 "%s[%d] points to %s%s%s instead of a syscall "
				 "handler",
				 t->name, e->nr, e->sym[0] ? e->sym : "unnamed code",
				 e->owner[0] ? " in module " : "", e->owner);
			if (vg_finding_add(
				    f, "syscall-hook", VG_SEV_CRITICAL, "T1014", "syscall", id, sum,
				    "\"table\":\"%s\",\"nr\":%d,\"target\":\"0x%" PRIx64 "\","
				    "\"symbol\":%s,\"owner\":%s",
				    t->name, e->nr, e->target, qs, qo))
				return -1;
		}
	}
	return vg_ids_check_dispatch(s, f);
}

/* chkrootkit's bindshell list: ports classic backdoors and trojans listen on */
static const uint16_t bindshell_ports[] = {
	114,   145,   465,   511,   600,   1008,  1524,	 1999,	1978,  2881,  3049,
	3133,  3879,  4000,  4369,  5190,  5665,  6667,	 7222,	10008, 12321, 23132,
	27374, 29364, 30999, 31336, 31337, 37998, 45454, 47017, 47889, 60001
};

static bool shell_like(const char *comm)
{
	static const char *const names[] = { "sh",  "bash", "dash", "ash",    "zsh",
					     "ksh", "nc",   "ncat", "netcat", "socat" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(comm, names[i]))
			return true;
	return false;
}

static bool port_in(const uint16_t *v, size_t n, uint16_t p)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == p)
			return true;
	return false;
}

static int backdoor_port(const struct vg_snapshot *s, const struct vg_ids_opts *o,
			 struct vg_findings *f)
{
	for (size_t i = 0; i < s->nlisten; i++) {
		const struct vg_listen *l = &s->listen[i];
		const char *reason = NULL;
		enum vg_severity sev = VG_SEV_MEDIUM;
		char qo[64], qa[64], id[64], sum[256];

		if (port_in(bindshell_ports, sizeof(bindshell_ports) / sizeof(bindshell_ports[0]),
			    l->port)) {
			reason = "bindshell-port";
			sev = VG_SEV_CRITICAL;
		} else if (l->owner_pid && shell_like(l->owner_comm) &&
			   strncmp(l->proto, "udp", 3)) {
			reason = "shell-listener";
			sev = VG_SEV_HIGH;
		} else if (o && o->allowed_ports &&
			   !port_in(o->allowed_ports, o->nallowed_ports, l->port)) {
			reason = "not-allowed";
		}
		if (!reason)
			continue;
		vg_json_quote(qo, sizeof(qo), l->owner_comm);
		vg_json_quote(qa, sizeof(qa), l->addr);
		snprintf(id, sizeof(id), "%s/%u", l->proto, l->port);
		if (l->owner_pid)
			snprintf(sum, sizeof(sum), "%s port %u is open (%s), held by %s (pid %d)",
				 l->proto, l->port, reason, l->owner_comm, l->owner_pid);
		else
			snprintf(sum, sizeof(sum), "%s port %u is open (%s), held by no process",
				 l->proto, l->port, reason);
		if (vg_finding_add(f, "backdoor-port", sev, "T1571", "socket", id, sum,
				   "\"reason\":\"%s\",\"proto\":\"%s\",\"port\":%u,\"addr\":%s,"
				   "\"owner\":{\"pid\":%d,\"comm\":%s}",
				   reason, l->proto, l->port, qa, l->owner_pid, qo))
			return -1;
	}
	return 0;
}

/* A callback in module memory on a kernel function is how rootkits hook without tables. */
static int kernel_hook(const struct vg_snapshot *s, const struct vg_ids_opts *o,
		       struct vg_findings *f)
{
	for (size_t i = 0; i < s->nhooks; i++) {
		const struct vg_hook *h = &s->hooks[i];
		char qt[320], qh[160], qo[96], id[64], sum[256];

		if (!h->owner[0])
			continue;
		vg_json_quote(qt, sizeof(qt), h->target);
		vg_json_quote(qh, sizeof(qh), h->handler_sym);
		vg_json_quote(qo, sizeof(qo), h->owner);
		snprintf(id, sizeof(id), "%s@0x%" PRIx64, h->kind, h->obj);
		snprintf(sum, sizeof(sum), "%s hook on %.160s by module %s", h->kind,
			 h->target[0] ? h->target : "(unknown function)", h->owner);
		if (vg_finding_add(f, "kernel-hook", VG_SEV_HIGH, "T1014", "hook", id, sum,
				   "\"kind\":\"%s\",\"hooked\":%s,\"handler\":\"0x%" PRIx64
				   "\",\"handler_symbol\":%s,\"module\":%s,\"object\":\"0x%" PRIx64
				   "\"",
				   h->kind, qt, h->handler, qh, qo, h->obj))
			return -1;
	}
	return vg_ids_check_text(s, f);
}

const struct vg_ids_check vg_ids_checks[] = {
	{ "hidden-process", "task list cross-checked against the PID allocator and run queues",
	  hidden_process },
	{ "hidden-module", "module list cross-checked against sysfs and a module-memory scan",
	  hidden_module },
	{ "syscall-hook", "syscall tables and the dispatcher's branches that are not handlers",
	  syscall_hook },
	{ "kernel-hook", "ftrace/kprobe handlers in module memory; text differing from baseline",
	  kernel_hook },
	{ "promisc-interface", "network devices in promiscuous mode", promisc_interface },
	{ "backdoor-port", "listening sockets on bindshell ports, held by shells, or not allowed",
	  backdoor_port },
	{ "suspicious-process",
	  "deleted or world-writable executables, name masquerade, "
	  "privilege escalation",
	  suspicious_process },
	{ "unknown-module", "modules not in the baseline or allowlist", unknown_module },
	{ NULL, NULL, NULL },
};

static bool selected(const struct vg_ids_opts *o, const char *id)
{
	if (!o || !o->only)
		return true;
	for (const char *const *p = o->only; *p; p++)
		if (!strcmp(*p, id))
			return true;
	return false;
}

int vg_ids_run(const struct vg_snapshot *s, const struct vg_ids_opts *o, struct vg_findings *f)
{
	for (const struct vg_ids_check *c = vg_ids_checks; c->id; c++)
		if (selected(o, c->id) && c->run(s, o, f))
			return -1;
	return 0;
}
