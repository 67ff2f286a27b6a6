// SPDX-License-Identifier: MIT
/*
 * One snapshot of the guest state the IDS checks compare: the task list (with threads), the
 * module list, and independent views of the same objects — the PID allocator (init_pid_ns's
 * IDR, an XArray), the sysfs module kset, the network devices, and the syscall tables with
 * the symbol each entry points at. Every walk is bounded; a view that cannot be read is noted
 * in gather_errors and its checks are skipped rather than guessed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gather_int.h"

#define XA_MAX_NODES 65536
#define XA_MAX_DEPTH 12

static int rdp(struct vg_linux *lx, uint64_t va, uint64_t *out)
{
	int ret = vg_as_read_u64(&lx->kas, va, out);

	if (!ret && *out && !vg_ids_kptr(*out))
		return -EFAULT;
	return ret;
}


struct idr_walk {
	struct vg_linux *lx;
	struct vg_snapshot *s;
	int32_t slots_off, shift_off, nslots;
	int32_t pid_nr_off, pid_tasks_off, task_pid_links_off;
	size_t nodes;
	bool broken;
};

static void add_pid(struct idr_walk *w, uint64_t pid)
{
	struct vg_pid_entry e = { 0 };
	uint64_t first = 0;

	if (!vg_ids_kptr(pid) || w->s->npids >= VG_IDS_MAX_PIDS)
		return;
	if (vg_as_read_u32(&w->lx->kas, pid + w->pid_nr_off, (uint32_t *)&e.nr) ||
	    rdp(w->lx, pid + w->pid_tasks_off, &first)) {
		w->broken = true;
		return;
	}
	e.task = first ? first - w->task_pid_links_off : 0;
	if (e.task && vg_as_read(&w->lx->kas, e.task + w->lx->off.task_comm, e.comm, VG_COMM_LEN))
		e.comm[0] = '\0';
	w->s->pids[w->s->npids++] = e;
}

/* XArray: internal entries (low bits 10) above 4096 are nodes; low bit 1 marks values. */
static void walk_xa(struct idr_walk *w, uint64_t entry, int depth)
{
	if (!entry || depth > XA_MAX_DEPTH || w->broken)
		return;
	if ((entry & 3) == 2) {
		uint64_t node = entry - 2;
		uint8_t shift;

		if (entry <= 4096)
			return; /* sibling or retry entry */
		if (++w->nodes > XA_MAX_NODES || !vg_ids_kptr(node) ||
		    vg_as_read(&w->lx->kas, node + w->shift_off, &shift, 1) || shift > 64) {
			w->broken = true;
			return;
		}
		for (int i = 0; i < w->nslots; i++) {
			uint64_t child;

			if (vg_as_read_u64(&w->lx->kas, node + w->slots_off + 8 * i, &child)) {
				w->broken = true;
				return;
			}
			walk_xa(w, child, depth + 1);
		}
		return;
	}
	if (entry & 1)
		return; /* value entry */
	add_pid(w, entry);
}

static void gather_pids(struct vg_linux *lx, struct vg_snapshot *s)
{
	struct idr_walk w = { .lx = lx, .s = s };
	int32_t head_off = vg_linux_btf_offset(lx, "pid_namespace", "idr.idr_rt.xa_head");
	int32_t upid_nr = vg_linux_btf_offset(lx, "upid", "nr");
	int64_t slots_sz = vg_linux_btf_sizeof(lx, "xa_node", "slots");
	uint64_t ns, head;

	w.slots_off = vg_linux_btf_offset(lx, "xa_node", "slots");
	w.shift_off = vg_linux_btf_offset(lx, "xa_node", "shift");
	w.pid_nr_off = vg_linux_btf_offset(lx, "pid", "numbers");
	w.pid_tasks_off = vg_linux_btf_offset(lx, "pid", "tasks");
	w.task_pid_links_off = vg_linux_btf_offset(lx, "task_struct", "pid_links");
	w.nslots = slots_sz > 0 ? (int)(slots_sz / 8) : 0;
	if (head_off < 0 || upid_nr < 0 || w.slots_off < 0 || w.shift_off < 0 || w.pid_nr_off < 0 ||
	    w.pid_tasks_off < 0 || w.task_pid_links_off < 0 || w.nslots < 1 || w.nslots > 256 ||
	    vg_linux_sym(lx, "init_pid_ns", &ns)) {
		vg_ids_note(s, "PID allocator layout unknown");
		return;
	}
	w.pid_nr_off += upid_nr;
	s->pids = calloc(VG_IDS_MAX_PIDS, sizeof(*s->pids));
	if (!s->pids || rdp(lx, ns + head_off, &head)) {
		vg_ids_note(s, "PID allocator unreadable");
		return;
	}
	walk_xa(&w, head, 0);
	if (w.broken) {
		vg_ids_note(s, "PID allocator tree broken");
		return;
	}
	s->have_pids = true;
}

static void gather_kset(struct vg_linux *lx, struct vg_snapshot *s)
{
	int32_t list_off = vg_linux_btf_offset(lx, "kset", "list");
	int32_t entry_off = vg_linux_btf_offset(lx, "kobject", "entry");
	int32_t name_off = vg_linux_btf_offset(lx, "kobject", "name");
	int32_t mk_kobj = vg_linux_btf_offset(lx, "module_kobject", "kobj");
	int32_t mk_mod = vg_linux_btf_offset(lx, "module_kobject", "mod");
	uint64_t kset, head, cur;
	size_t cap = 0, steps;

	if (list_off < 0 || entry_off < 0 || name_off < 0 || mk_kobj < 0 || mk_mod < 0 ||
	    vg_linux_sym(lx, "module_kset", &kset) || rdp(lx, kset, &kset) || !kset) {
		vg_ids_note(s, "module kset unknown");
		return;
	}
	head = kset + list_off;
	if (rdp(lx, head, &cur)) {
		vg_ids_note(s, "module kset unreadable");
		return;
	}
	for (steps = 0; cur != head && steps < 8 * VG_MAX_MODULES; steps++) {
		uint64_t kobj = cur - entry_off, mod, np;
		struct vg_kobj_module k = { 0 };

		if (!vg_ids_kptr(cur) || rdp(lx, kobj + name_off, &np) ||
		    rdp(lx, kobj - mk_kobj + mk_mod, &mod)) {
			vg_ids_note(s, "module kset list broken");
			return;
		}
		if (np && vg_as_read_str(&lx->kas, np, k.name, sizeof(k.name)) < 0)
			k.name[0] = '\0';
		k.mod = mod;
		/* built-in modules have a kobject for their parameters but no struct module */
		if (mod) {
			if (s->nkobjs == cap) {
				void *p = realloc(s->kobjs, (cap = cap ? cap * 2 : 64) * sizeof(k));

				if (!p)
					return;
				s->kobjs = p;
			}
			s->kobjs[s->nkobjs++] = k;
		}
		if (rdp(lx, cur, &cur)) {
			vg_ids_note(s, "module kset list broken");
			return;
		}
	}
	s->have_kobjs = cur == head;
	if (!s->have_kobjs)
		vg_ids_note(s, "module kset list does not end");
}

static void gather_netdevs(struct vg_linux *lx, struct vg_snapshot *s)
{
	int32_t head_off = vg_linux_btf_offset(lx, "net", "dev_base_head");
	int32_t list_off = vg_linux_btf_offset(lx, "net_device", "dev_list");
	int32_t name_off = vg_linux_btf_offset(lx, "net_device", "name");
	int32_t flags_off = vg_linux_btf_offset(lx, "net_device", "flags");
	int32_t promisc_off = vg_linux_btf_offset(lx, "net_device", "promiscuity");
	uint64_t net, head, cur;
	size_t steps;

	if (head_off < 0 || list_off < 0 || name_off < 0 || flags_off < 0 || promisc_off < 0 ||
	    vg_linux_sym(lx, "init_net", &net)) {
		vg_ids_note(s, "network devices layout unknown");
		return;
	}
	s->netdevs = calloc(VG_IDS_MAX_NETDEVS, sizeof(*s->netdevs));
	head = net + head_off;
	if (!s->netdevs || rdp(lx, head, &cur))
		return;
	for (steps = 0; cur != head && steps < VG_IDS_MAX_NETDEVS; steps++) {
		uint64_t dev = cur - list_off;
		struct vg_netdev *d = &s->netdevs[s->nnetdevs];

		if (!vg_ids_kptr(cur) || vg_as_read(&lx->kas, dev + name_off, d->name, 15) ||
		    vg_as_read_u32(&lx->kas, dev + flags_off, &d->flags) ||
		    vg_as_read_u32(&lx->kas, dev + promisc_off, &d->promiscuity) ||
		    rdp(lx, cur, &cur)) {
			vg_ids_note(s, "network device list broken");
			return;
		}
		d->name[15] = '\0';
		s->nnetdevs++;
	}
}

static void gather_sct(struct vg_linux *lx, struct vg_snapshot *s, const char *name,
		       const char *prefix)
{
	struct vg_sct *t = &s->sct[s->nsct];
	uint64_t base, next = 0;
	const struct vg_kallsyms *ks = &lx->ksyms;
	const struct vg_ksym *sym;

	if (vg_linux_sym(lx, name, &base))
		return;
	/* the table's size: up to the next symbol */
	sym = vg_kallsyms_near(ks, base);
	if (sym && sym + 1 < ks->syms + ks->count)
		next = vg_ksym_addr(ks, sym + 1);
	for (const struct vg_ksym *q = sym; q && q < ks->syms + ks->count && !next; q++)
		if (vg_ksym_addr(ks, q) > base)
			next = vg_ksym_addr(ks, q);
	t->n = next > base ? (int)((next - base) / 8) : 0;
	if (t->n <= 0 || t->n > VG_IDS_MAX_SYSCALLS)
		t->n = t->n > VG_IDS_MAX_SYSCALLS ? VG_IDS_MAX_SYSCALLS : 0;
	t->e = calloc(t->n ? t->n : 1, sizeof(*t->e));
	if (!t->e)
		return;
	t->name = name;
	t->prefix = prefix;
	for (int i = 0; i < t->n; i++) {
		struct vg_sct_entry *e = &t->e[i];
		const struct vg_ksym *at;

		e->nr = i;
		if (vg_as_read_u64(&lx->kas, base + 8 * (uint64_t)i, &e->target))
			e->target = 0;
		at = vg_kallsyms_near(ks, e->target);
		if (at && vg_ksym_addr(ks, at) == e->target)
			snprintf(e->sym, sizeof(e->sym), "%s", vg_ksym_name(ks, at));
		snprintf(e->owner, sizeof(e->owner), "%s", vg_ids_owner(s, e->target));
	}
	/* the gap to the next symbol may hold alignment padding: zero slots, not handlers */
	while (t->n > 0 && t->e[t->n - 1].target == 0)
		t->n--;
	s->nsct++;
}

int vg_ids_gather(struct vg_linux *lx, struct vg_snapshot *s, struct vg_err *err)
{
	struct vg_task_opts to = { .threads = true };
	int ret;

	memset(s, 0, sizeof(*s));
	snprintf(s->release, sizeof(s->release), "%s", lx->release);
	s->mod_lo = VG_MODULES_LO;
	s->mod_hi = VG_MODULES_HI;
	/* BTF is parsed only for questions the per-build memo cannot answer; without a memo,
	 * make sure it parses now, so a kernel without BTF is one clear error */
	if (!vg_linux_btf_memo_loaded(lx) && !vg_linux_btf(lx, err))
		return -err->code;
	if (vg_linux_load_symbols(lx, err))
		return -err->code;
	ret = vg_tasks_list(lx, &to, &s->tasks, err);
	if (ret)
		return ret;
	ret = vg_modules_list(lx, &s->modules, err);
	if (ret) {
		vg_ids_snapshot_free(s);
		return ret;
	}
	gather_pids(lx, s);
	gather_kset(lx, s);
	gather_netdevs(lx, s);
	vg_ids_gather_net(lx, s);
	vg_ids_gather_hooks(lx, s);
	gather_sct(lx, s, "sys_call_table", "__x64_sys_");
	gather_sct(lx, s, "ia32_sys_call_table", "__ia32_");
	gather_sct(lx, s, "x32_sys_call_table", "__x64_sys_");
	vg_ids_gather_dispatch(lx, s);
	vg_ids_gather_sched(lx, s);
	vg_ids_gather_modscan(lx, s);
	return 0;
}

void vg_ids_snapshot_free(struct vg_snapshot *s)
{
	vg_tasks_free(&s->tasks);
	vg_modules_free(&s->modules);
	free(s->pids);
	free(s->kobjs);
	free(s->netdevs);
	free(s->listen);
	free(s->hooks);
	for (int i = 0; i < s->nsct; i++)
		free(s->sct[i].e);
	free(s->text_diffs);
	free(s->dispatch);
	free(s->sched);
	free(s->modimg);
	memset(s, 0, sizeof(*s));
}
