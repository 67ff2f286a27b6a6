// SPDX-License-Identifier: MIT
/*
 * The IDS checks: pure functions of a snapshot (no guest I/O), each comparing views a rootkit
 * has to keep consistent by hand, or holding state against what is known good.
 */
#include <errno.h>
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
			  struct vg_findings *f, struct vg_err *err)
{
	uint64_t *addrs, *pids, *sched = NULL;
	struct vg_json *j;
	char id[32];
	int ret;

	if (!s->have_pids)
		return vg_ids_check_sched(s, f, err);
	addrs = sorted_keys(s, false);
	pids = malloc((s->npids ? s->npids : 1) * sizeof(*pids));
	sched = vg_ids_sched_sorted(s);
	if (!addrs || !pids || !sched) {
		ret = vg_errf(err, ENOMEM, "out of memory indexing %zu tasks and %zu pids",
			      s->tasks.n, s->npids);
		goto out;
	}
	for (size_t i = 0; i < s->npids; i++)
		pids[i] = (uint64_t)(uint32_t)s->pids[i].nr;
	qsort(pids, s->npids, sizeof(*pids), cmp_u64);
	ret = -ENOMEM;
	for (size_t i = 0; i < s->npids; i++) {
		const struct vg_pid_entry *p = &s->pids[i];

		if (!p->task || has_addr(addrs, s->tasks.n, p->task))
			continue;
		snprintf(id, sizeof(id), "%d", p->nr);
		j = vg_finding_begin(f, "hidden-process", VG_SEV_CRITICAL, "T1014", "process", id,
				     err);
		if (!j) {
			ret = -ENOMEM;
			goto out;
		}
		vg_json_kint(j, "pid", p->nr);
		vg_json_kstr(j, "comm", p->comm);
		vg_json_khex(j, "task", p->task);
		vg_json_key(j, "seen_in");
		vg_json_arr_open(j);
		vg_json_str(j, "pid_allocator");
		/* a hidden task that runs is on a run queue too */
		if (vg_ids_sched_has(s, sched, p->task))
			vg_json_str(j, "scheduler");
		vg_json_arr_close(j);
		vg_json_key(j, "missing_from");
		vg_json_arr_open(j);
		vg_json_str(j, "task_list");
		vg_json_arr_close(j);
		ret = vg_finding_end(f, err,
				     "pid %d (%s) is allocated and owned by a task that is missing "
				     "from the task list",
				     p->nr, p->comm);
		if (ret)
			goto out;
	}
	/* the other direction: on the task list but unknown to the allocator */
	for (size_t i = 0; i < s->tasks.n; i++) {
		const struct vg_task *t = &s->tasks.v[i];

		if (has_addr(pids, s->npids, (uint64_t)(uint32_t)t->pid))
			continue;
		snprintf(id, sizeof(id), "%d", t->pid);
		j = vg_finding_begin(f, "hidden-process", VG_SEV_HIGH, "T1014", "process", id, err);
		if (!j) {
			ret = -ENOMEM;
			goto out;
		}
		vg_json_kint(j, "pid", t->pid);
		vg_json_kstr(j, "comm", t->comm);
		vg_json_khex(j, "task", t->addr);
		vg_json_key(j, "seen_in");
		vg_json_arr_open(j);
		vg_json_str(j, "task_list");
		vg_json_arr_close(j);
		vg_json_key(j, "missing_from");
		vg_json_arr_open(j);
		vg_json_str(j, "pid_allocator");
		vg_json_arr_close(j);
		ret = vg_finding_end(f, err,
				     "task %d (%s) is on the task list but not in the PID "
				     "allocator",
				     t->pid, t->comm);
		if (ret)
			goto out;
	}
	ret = vg_ids_check_sched(s, f, err);
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

/* The members every suspicious-process finding starts with. */
static struct vg_json *process_finding(struct vg_findings *f, enum vg_severity sev,
				       const char *attack, const char *reason,
				       const struct vg_task *t, struct vg_err *err)
{
	struct vg_json *j;
	char id[32];

	snprintf(id, sizeof(id), "%d", t->pid);
	j = vg_finding_begin(f, "suspicious-process", sev, attack, "process", id, err);
	if (!j)
		return NULL;
	vg_json_kstr(j, "reason", reason);
	vg_json_kint(j, "pid", t->pid);
	vg_json_kstr(j, "comm", t->comm);
	vg_json_kstr(j, "exe", t->exe);
	return j;
}

static int suspicious_process(const struct vg_snapshot *s, const struct vg_ids_opts *o,
			      struct vg_findings *f, struct vg_err *err)
{
	uint64_t *by_pid = sorted_keys(s, true);
	struct vg_json *j;
	int ret = -ENOMEM;

	if (!by_pid)
		return vg_errf(err, ENOMEM, "out of memory indexing %zu tasks", s->tasks.n);
	for (size_t i = 0; i < s->tasks.n; i++) {
		const struct vg_task *t = &s->tasks.v[i], *parent;
		char argv0[256], argv1[256];
		size_t a0, a1;

		if (t->kthread || t->pid != t->tgid)
			continue;
		a0 = strcspn(t->cmdline, " ");
		snprintf(argv0, sizeof(argv0), "%.*s", (int)(a0 < 255 ? a0 : 255), t->cmdline);
		/* for a script, comm is the script's name: argv[1] after the interpreter */
		a1 = t->cmdline[a0] ? strcspn(t->cmdline + a0 + 1, " ") : 0;
		snprintf(argv1, sizeof(argv1), "%.*s", (int)(a1 < 255 ? a1 : 255),
			 t->cmdline[a0] ? t->cmdline + a0 + 1 : "");
		if (t->exe_deleted) {
			j = process_finding(f, VG_SEV_HIGH, "T1070.004", "deleted-executable", t,
					    err);
			if (!j) {
				ret = -ENOMEM;
				goto out;
			}
			vg_json_kuint(j, "uid", t->uid);
			ret = vg_finding_end(
				f, err, "process %d (%s) runs an executable that was deleted: %s",
				t->pid, t->comm, t->exe);
			if (ret)
				goto out;
		}
		if (t->exe[0] && world_writable_dir(t->exe)) {
			j = process_finding(f, VG_SEV_MEDIUM, "T1036.005", "world-writable-path", t,
					    err);
			if (!j) {
				ret = -ENOMEM;
				goto out;
			}
			vg_json_kuint(j, "uid", t->uid);
			ret = vg_finding_end(
				f, err, "process %d (%s) runs from a world-writable directory: %s",
				t->pid, t->comm, t->exe);
			if (ret)
				goto out;
		}
		/* masquerade: the name matches neither the executable nor argv[0] (or a script).
		 * Multi-call binaries are exempt: busybox names forked applets with prctl (sh's
		 * argv, comm "ls") and re-execs through /proc/self/exe (comm "exe"), so their
		 * names say nothing about pretence; their code is the multi-call binary's own. */
		if (t->exe[0] && !multi_call(t->exe) && !comm_matches(t->comm, base_name(t->exe)) &&
		    !comm_matches(t->comm, base_name(argv0)) &&
		    !comm_matches(t->comm, base_name(argv1))) {
			j = process_finding(f, VG_SEV_MEDIUM, "T1036.004", "name-mismatch", t, err);
			if (!j) {
				ret = -ENOMEM;
				goto out;
			}
			vg_json_kstr(j, "argv0", argv0);
			ret = vg_finding_end(f, err, "process %d calls itself '%s' but runs %s",
					     t->pid, t->comm, t->exe);
			if (ret)
				goto out;
		}
		/* privilege escalation: root child of an unprivileged parent, no setuid binary */
		parent = task_by_pid(s, by_pid, t->ppid);
		/* a parent credential read torn is no evidence of anything */
		if (t->euid == 0 && parent && !parent->kthread && !parent->cred_torn &&
		    parent->euid != 0 && !(t->exe_mode & S_ISUID)) {
			j = process_finding(f, VG_SEV_CRITICAL, "T1068", "privilege-escalation", t,
					    err);
			if (!j) {
				ret = -ENOMEM;
				goto out;
			}
			vg_json_kuint(j, "euid", t->euid);
			vg_json_key(j, "parent");
			vg_json_obj_open(j);
			vg_json_kint(j, "pid", parent->pid);
			vg_json_kstr(j, "comm", parent->comm);
			vg_json_kuint(j, "euid", parent->euid);
			vg_json_obj_close(j);
			ret = vg_finding_end(
				f, err,
				"process %d (%s) runs as root below unprivileged parent "
				"%d (uid %u) without a setuid executable",
				t->pid, t->comm, parent->pid, parent->euid);
			if (ret)
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
			 struct vg_findings *f, struct vg_err *err)
{
	struct vg_json *j;
	int ret;

	if (!s->have_kobjs)
		return vg_ids_check_modimg(s, f, err);
	for (size_t i = 0; i < s->nkobjs; i++) {
		const struct vg_kobj_module *k = &s->kobjs[i];

		if (module_listed(s, k->mod))
			continue;
		j = vg_finding_begin(f, "hidden-module", VG_SEV_CRITICAL, "T1014", "module",
				     k->name, err);
		if (!j)
			return -ENOMEM;
		vg_json_kstr(j, "module", k->name);
		vg_json_khex(j, "struct_module", k->mod);
		vg_json_key(j, "seen_in");
		vg_json_arr_open(j);
		vg_json_str(j, "sysfs");
		if (vg_ids_modimg_has(s, k->mod))
			vg_json_str(j, "memory");
		vg_json_arr_close(j);
		vg_json_key(j, "missing_from");
		vg_json_arr_open(j);
		vg_json_str(j, "module_list");
		vg_json_arr_close(j);
		ret = vg_finding_end(f, err,
				     "module %s is in sysfs (/sys/module) but missing from the "
				     "kernel's module list",
				     k->name);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < s->modules.n; i++) {
		const struct vg_module *m = &s->modules.v[i];
		bool found = false;

		for (size_t k = 0; k < s->nkobjs && !found; k++)
			found = s->kobjs[k].mod == m->addr;
		if (found)
			continue;
		j = vg_finding_begin(f, "hidden-module", VG_SEV_HIGH, "T1014", "module", m->name,
				     err);
		if (!j)
			return -ENOMEM;
		vg_json_kstr(j, "module", m->name);
		vg_json_khex(j, "struct_module", m->addr);
		vg_json_khex(j, "base", m->base);
		vg_json_key(j, "seen_in");
		vg_json_arr_open(j);
		vg_json_str(j, "module_list");
		vg_json_arr_close(j);
		vg_json_key(j, "missing_from");
		vg_json_arr_open(j);
		vg_json_str(j, "sysfs");
		vg_json_arr_close(j);
		ret = vg_finding_end(f, err, "module %s is loaded but hidden from sysfs", m->name);
		if (ret)
			return ret;
	}
	return vg_ids_check_modimg(s, f, err);
}

static int unknown_module(const struct vg_snapshot *s, const struct vg_ids_opts *o,
			  struct vg_findings *f, struct vg_err *err)
{
	struct vg_json *j;
	int ret;

	if (!o || !o->allowed_modules)
		return 0;
	for (size_t i = 0; i < s->modules.n; i++) {
		const struct vg_module *m = &s->modules.v[i];
		bool known = false;

		for (const char *const *a = o->allowed_modules; *a && !known; a++)
			known = !strcmp(*a, m->name);
		if (known)
			continue;
		j = vg_finding_begin(f, "unknown-module", VG_SEV_MEDIUM, "T1547.006", "module",
				     m->name, err);
		if (!j)
			return -ENOMEM;
		vg_json_kstr(j, "module", m->name);
		vg_json_khex(j, "base", m->base);
		vg_json_kuint(j, "size", m->size);
		ret = vg_finding_end(f, err, "module %s is not in the baseline or allowlist",
				     m->name);
		if (ret)
			return ret;
	}
	return 0;
}

static int promisc_interface(const struct vg_snapshot *s, const struct vg_ids_opts *o,
			     struct vg_findings *f, struct vg_err *err)
{
	struct vg_json *j;
	char flags[16];
	int ret;

	for (size_t i = 0; i < s->nnetdevs; i++) {
		const struct vg_netdev *d = &s->netdevs[i];

		if (!(d->flags & IFF_PROMISC) && !d->promiscuity)
			continue;
		j = vg_finding_begin(f, "promisc-interface", VG_SEV_MEDIUM, "T1040", "interface",
				     d->name, err);
		if (!j)
			return -ENOMEM;
		snprintf(flags, sizeof(flags), "0x%x", d->flags);
		vg_json_kstr(j, "interface", d->name);
		vg_json_kstr(j, "flags", flags);
		vg_json_kuint(j, "promiscuity", d->promiscuity);
		ret = vg_finding_end(f, err, "interface %s is in promiscuous mode (a sniffer)",
				     d->name);
		if (ret)
			return ret;
	}
	return 0;
}

static bool handler_ok(const struct vg_sct *t, const char *sym)
{
	static const char *const ok[] = { "__x64_sys_",		"__ia32_sys_",
					  "__ia32_compat_sys_", "__x32_compat_sys_",
					  "sys_ni_syscall",	"__x64_sys_ni" };

	if (!sym[0])
		return false;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strncmp(sym, ok[i], strlen(ok[i])))
			return true;
	return false;
}

static int syscall_hook(const struct vg_snapshot *s, const struct vg_ids_opts *o,
			struct vg_findings *f, struct vg_err *err)
{
	for (int k = 0; k < s->nsct; k++) {
		const struct vg_sct *t = &s->sct[k];
		int ret;

		for (int i = 0; i < t->n; i++) {
			const struct vg_sct_entry *e = &t->e[i];
			struct vg_json *j;
			char id[64];

			if (handler_ok(t, e->sym))
				continue;
			snprintf(id, sizeof(id), "%s[%d]", t->name, e->nr);
			j = vg_finding_begin(f, "syscall-hook", VG_SEV_CRITICAL, "T1014", "syscall",
					     id, err);
			if (!j)
				return -ENOMEM;
			vg_json_kstr(j, "table", t->name);
			vg_json_kint(j, "nr", e->nr);
			vg_json_khex(j, "target", e->target);
			vg_json_kstr(j, "symbol", e->sym);
			vg_json_kstr(j, "owner", e->owner);
			ret = vg_finding_end(f, err,
					     "%s[%d] points to %s%s%s instead of a syscall handler",
					     t->name, e->nr, e->sym[0] ? e->sym : "unnamed code",
					     e->owner[0] ? " in module " : "", e->owner);
			if (ret)
				return ret;
		}
	}
	return vg_ids_check_dispatch(s, f, err);
}

/* A callback in module memory on a kernel function is how rootkits hook without tables. */
static int kernel_hook(const struct vg_snapshot *s, const struct vg_ids_opts *o,
		       struct vg_findings *f, struct vg_err *err)
{
	for (size_t i = 0; i < s->nhooks; i++) {
		const struct vg_hook *h = &s->hooks[i];
		struct vg_json *j;
		char id[64];
		int ret;

		if (!h->owner[0])
			continue;
		snprintf(id, sizeof(id), "%s@0x%" PRIx64, h->kind, h->obj);
		j = vg_finding_begin(f, "kernel-hook", VG_SEV_HIGH, "T1014", "hook", id, err);
		if (!j)
			return -ENOMEM;
		vg_json_kstr(j, "kind", h->kind);
		vg_json_kstr(j, "hooked", h->target);
		vg_json_khex(j, "handler", h->handler);
		vg_json_kstr(j, "handler_symbol", h->handler_sym);
		vg_json_kstr(j, "module", h->owner);
		vg_json_khex(j, "object", h->obj);
		ret = vg_finding_end(f, err, "%s hook on %.160s by module %s", h->kind,
				     h->target[0] ? h->target : "(unknown function)", h->owner);
		if (ret)
			return ret;
	}
	return vg_ids_check_text(s, f, err);
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
	{ "backdoor-port",
	  "listening sockets on bindshell ports, serving shells or netcat, or not allowed",
	  vg_ids_check_listen },
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

int vg_ids_run(const struct vg_snapshot *s, const struct vg_ids_opts *o, struct vg_findings *f,
	       struct vg_err *err)
{
	for (const struct vg_ids_check *c = vg_ids_checks; c->id; c++) {
		int ret = selected(o, c->id) ? c->run(s, o, f, err) : 0;

		if (ret) {
			vg_err_prefix(err, "check %s", c->id);
			return ret;
		}
	}
	return 0;
}
