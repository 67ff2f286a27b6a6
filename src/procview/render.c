// SPDX-License-Identifier: MIT
/*
 * The /proc view's file formats, as Linux 6.1 writes them (fs/proc/array.c, task_mmu.c,
 * net/ipv4/tcp_ipv4.c, udp.c, kernel/module and the rest of fs/proc), so the tools that parse them
 * (procps, net-tools, kmod, psmisc) parse ours. Values the view cannot know (per-CPU times,
 * page-cache sizes, timers) are written as 0 in their place rather than left out, since the
 * parsers count fields.
 */
#include <stdio.h>
#include <string.h>

#include "pv_int.h"

#define USER_HZ 100
#define NS_PER_TICK (1000000000ull / USER_HZ)
#define RLIM_INFINITY_ 18446744073709551615ull
#define PAGE_KB 4
#define FSHIFT 11
#define VM_READ 0x1
#define VM_WRITE 0x2
#define VM_EXEC 0x4
#define VM_MAYSHARE 0x80
#define TCP_STATE_PAD 149

static const char *state_name(char s)
{
	switch (s) {
	case 'R':
		return "running";
	case 'S':
		return "sleeping";
	case 'D':
		return "disk sleep";
	case 'T':
		return "stopped";
	case 't':
		return "tracing stop";
	case 'X':
		return "dead";
	case 'Z':
		return "zombie";
	case 'P':
		return "parked";
	case 'I':
		return "idle";
	default:
		return "unknown";
	}
}

void vg_pv_render_stat(struct vg_procview *pv, struct pv_task *t, FILE *f)
{
	const struct vg_task_extra *x = vg_pv_extra(pv, t);

	fprintf(f, "%d (%s) %c %d %d %d %u %d %u %llu 0 %llu 0 %llu %llu 0 0 %d %d %d 0 %llu ",
		t->t.pid, t->name, t->t.state, t->t.ppid, x->pgrp, x->sid, x->tty_nr, -1, x->flags,
		(unsigned long long)x->min_flt, (unsigned long long)x->maj_flt,
		(unsigned long long)(x->utime_ns / NS_PER_TICK),
		(unsigned long long)(x->stime_ns / NS_PER_TICK), x->prio, x->nice,
		x->nr_threads ? x->nr_threads : 1, (unsigned long long)(x->start_ns / NS_PER_TICK));
	fprintf(f, "%llu %llu %llu %llu %llu %llu 0 0 %llu %llu 0 0 0 0 0 17 %u %d %u 0 0 0 ",
		(unsigned long long)x->vsize_pages * 4096, (unsigned long long)x->rss_pages,
		RLIM_INFINITY_, (unsigned long long)x->start_code, (unsigned long long)x->end_code,
		(unsigned long long)x->start_stack, (unsigned long long)x->sig_pending,
		(unsigned long long)x->sig_blocked, x->cpu, x->rt_priority, x->policy);
	fprintf(f, "%llu %llu %llu %llu %llu %llu %llu 0\n", (unsigned long long)x->start_data,
		(unsigned long long)x->end_data, (unsigned long long)x->start_brk,
		(unsigned long long)x->arg_start, (unsigned long long)x->arg_end,
		(unsigned long long)x->env_start, (unsigned long long)x->env_end);
}

static void kb(FILE *f, const char *name, uint64_t pages)
{
	fprintf(f, "%s:\t%8llu kB\n", name, (unsigned long long)pages * PAGE_KB);
}

void vg_pv_render_status(struct vg_procview *pv, struct pv_task *t, FILE *f)
{
	const struct vg_task_extra *x = vg_pv_extra(pv, t);
	const struct vg_task *k = &t->t;

	fprintf(f, "Name:\t%s\nUmask:\t%04o\nState:\t%c (%s)\nTgid:\t%d\nNgid:\t0\nPid:\t%d\n",
		t->name, x->umask, k->state, state_name(k->state), k->tgid, k->pid);
	fprintf(f, "PPid:\t%d\nTracerPid:\t%d\nUid:\t%u\t%u\t%u\t%u\nGid:\t%u\t%u\t%u\t%u\n",
		k->ppid, x->tracer_pid, k->uid, k->euid, x->suid, x->fsuid, k->gid, k->egid,
		x->sgid, x->fsgid);
	fprintf(f, "FDSize:\t64\nGroups:\t\nNStgid:\t%d\nNSpid:\t%d\nNSpgid:\t%d\nNSsid:\t%d\n",
		k->tgid, k->pid, x->pgrp, x->sid);
	if (k->mm) {
		kb(f, "VmPeak", x->hiwater_vm > x->total_vm ? x->hiwater_vm : x->total_vm);
		kb(f, "VmSize", x->total_vm);
		kb(f, "VmLck", x->locked_vm);
		kb(f, "VmPin", x->pinned_vm);
		kb(f, "VmHWM", x->hiwater_rss > x->rss_pages ? x->hiwater_rss : x->rss_pages);
		kb(f, "VmRSS", x->rss_pages);
		kb(f, "RssAnon", x->rss_anon);
		kb(f, "RssFile", x->rss_file);
		kb(f, "RssShmem", x->rss_shmem);
		kb(f, "VmData", x->data_vm);
		kb(f, "VmStk", x->stack_vm);
		kb(f, "VmExe", (x->end_code - x->start_code) / 4096);
		fprintf(f, "VmLib:\t       0 kB\nVmPTE:\t       0 kB\nVmSwap:\t       0 kB\n");
	}
	fprintf(f, "Threads:\t%d\nSigQ:\t0/0\nSigPnd:\t%016llx\nShdPnd:\t0000000000000000\n",
		x->nr_threads ? x->nr_threads : 1, (unsigned long long)x->sig_pending);
	fprintf(f, "SigBlk:\t%016llx\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\n",
		(unsigned long long)x->sig_blocked);
	fprintf(f,
		"CapInh:\t%016llx\nCapPrm:\t%016llx\nCapEff:\t%016llx\nCapBnd:\t%016llx\n"
		"CapAmb:\t%016llx\nNoNewPrivs:\t0\n",
		(unsigned long long)x->cap_inh, (unsigned long long)x->cap_prm,
		(unsigned long long)x->cap_eff, (unsigned long long)x->cap_bnd,
		(unsigned long long)x->cap_amb);
	fprintf(f, "voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n");
	if (t->hidden)
		fprintf(f, "VigilHidden:\tyes (not on the kernel's task list; found in the %s)\n",
			t->how);
}

void vg_pv_render_statm(struct vg_procview *pv, struct pv_task *t, FILE *f)
{
	const struct vg_task_extra *x = vg_pv_extra(pv, t);

	fprintf(f, "%llu %llu %llu %llu 0 %llu 0\n", (unsigned long long)x->total_vm,
		(unsigned long long)x->rss_pages, (unsigned long long)(x->rss_file + x->rss_shmem),
		(unsigned long long)((x->end_code - x->start_code + 4095) / 4096),
		(unsigned long long)(x->data_vm + x->stack_vm));
}

static int map_line(void *ctx, const struct vg_vma *v)
{
	FILE *f = ctx;
	int n = fprintf(f, "%08llx-%08llx %c%c%c%c %08llx %02x:%02x %llu ",
			(unsigned long long)v->start, (unsigned long long)v->end,
			v->flags & VM_READ ? 'r' : '-', v->flags & VM_WRITE ? 'w' : '-',
			v->flags & VM_EXEC ? 'x' : '-', v->flags & VM_MAYSHARE ? 's' : 'p',
			(unsigned long long)v->pgoff * 4096, v->dev >> 8, v->dev & 0xff,
			(unsigned long long)v->ino);

	/* the name starts at column 74 on 64-bit, as seq_pad puts it */
	if (v->path[0])
		fprintf(f, "%*s%s", n < 73 ? 73 - n : 0, "", v->path);
	fputc('\n', f);
	return 0;
}

int vg_pv_render_maps(struct vg_procview *pv, struct pv_task *t, FILE *f)
{
	return vg_task_vmas(pv->lx, &t->t, map_line, f);
}

static void addr_hex(char *out, size_t len, const struct vg_sock *s, const uint8_t *a)
{
	uint32_t w[4];

	memcpy(w, a, sizeof(w));
	if (s->family == 10)
		snprintf(out, len, "%08X%08X%08X%08X", w[0], w[1], w[2], w[3]);
	else
		snprintf(out, len, "%08X", w[0]);
}

void vg_pv_render_net(struct vg_procview *pv, const char *proto, FILE *f)
{
	bool v6 = proto[3] == '6', tcp = proto[0] == 't';
	char line[256], la[40], ra[40];
	int sl = 0;

	if (v6)
		fprintf(f,
			"  sl  local_address                         remote_address               "
			"         st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
			"inode%s\n",
			tcp ? "" : " ref pointer drops");
	else if (tcp)
		fprintf(f, "%-*s\n", TCP_STATE_PAD,
			"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
			"retrnsmt   uid  timeout inode");
	else
		fprintf(f, "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
			   "retrnsmt   uid  timeout inode ref pointer drops\n");
	if (vg_pv_sockets(pv))
		return;
	for (size_t i = 0; i < pv->s.socks.n; i++) {
		const struct vg_sock *s = &pv->s.socks.v[i];

		if (strcmp(s->proto, proto))
			continue;
		addr_hex(la, sizeof(la), s, s->laddr);
		addr_hex(ra, sizeof(ra), s, s->raddr);
		snprintf(line, sizeof(line),
			 "%4d: %s:%04X %s:%04X %02X %08X:%08X 00:00000000 00000000 %5u        0 "
			 "%llu %s",
			 sl++, la, s->lport, ra, s->rport, s->state, s->tx_queue, s->rx_queue,
			 s->uid, (unsigned long long)s->ino,
			 tcp ? "1 0000000000000000 100 0 0 10 0" : "2 0000000000000000 0");
		if (tcp && !v6)
			fprintf(f, "%-*s\n", TCP_STATE_PAD, line);
		else
			fprintf(f, "%s\n", line);
	}
}

void vg_pv_render_modules(struct vg_procview *pv, FILE *f)
{
	if (vg_pv_modules(pv))
		return;
	for (size_t i = 0; i < pv->s.mods.n; i++) {
		const struct vg_module *m = &pv->s.mods.v[i];

		fprintf(f, "%s %llu %d - %s 0x%016llx\n", m->name, (unsigned long long)m->size,
			m->refcount, m->state, (unsigned long long)m->base);
	}
}

void vg_pv_render_module_file(const struct vg_module *m, const char *name, FILE *f)
{
	if (!strcmp(name, "coresize"))
		fprintf(f, "%llu\n", (unsigned long long)m->size);
	else if (!strcmp(name, "initsize"))
		fprintf(f, "0\n");
	else if (!strcmp(name, "refcnt"))
		fprintf(f, "%d\n", m->refcount);
	else if (!strcmp(name, "initstate"))
		fprintf(f, "%s\n",
			!strcmp(m->state, "Live")      ? "live"
			: !strcmp(m->state, "Loading") ? "coming"
						       : "going");
	else if (!strcmp(name, "taint"))
		fprintf(f, "\n");
}

void vg_pv_render_mounts(struct vg_procview *pv, FILE *f)
{
	if (vg_pv_mounts(pv))
		return;
	for (size_t i = 0; i < pv->s.mounts.n; i++) {
		const struct vg_mount *m = &pv->s.mounts.v[i];

		fprintf(f, "%s %s %s %s 0 0\n", m->dev, m->path, m->fstype, m->ro ? "ro" : "rw");
	}
}

void vg_pv_render_hidden(struct vg_procview *pv, FILE *f)
{
	fprintf(f, "%-7s %-16s %s\n", "PID", "COMM", "FOUND IN");
	if (vg_pv_tasks(pv))
		return;
	for (size_t i = 0; i < pv->s.n; i++)
		if (pv->s.tasks[i].hidden)
			fprintf(f, "%-7d %-16s %s\n", pv->s.tasks[i].t.pid, pv->s.tasks[i].t.comm,
				pv->s.tasks[i].how);
}

static void load(FILE *f, uint64_t v)
{
	uint64_t frac = ((v & ((1u << FSHIFT) - 1)) * 100) >> FSHIFT;

	fprintf(f, "%llu.%02llu", (unsigned long long)(v >> FSHIFT), (unsigned long long)frac);
}

static void loadavg(struct vg_procview *pv, const struct vg_kstat *k, FILE *f)
{
	int running = 0, last = 0;
	size_t total = 0;

	if (!vg_pv_tasks(pv)) {
		for (size_t i = 0; i < pv->s.n; i++) {
			running += pv->s.tasks[i].t.state == 'R';
			last = pv->s.tasks[i].t.pid > last ? pv->s.tasks[i].t.pid : last;
		}
		total = pv->s.n;
	}
	for (int i = 0; i < 3; i++) {
		load(f, k->load[i]);
		fputc(' ', f);
	}
	fprintf(f, "%d/%zu %d\n", running, total, last);
}

static void stat_file(struct vg_procview *pv, const struct vg_kstat *k, FILE *f)
{
	int running = 0;

	fprintf(f, "cpu  0 0 0 0 0 0 0 0 0 0\n");
	for (uint32_t c = 0; c < k->online_cpus; c++)
		fprintf(f, "cpu%u 0 0 0 0 0 0 0 0 0 0\n", c);
	if (!vg_pv_tasks(pv))
		for (size_t i = 0; i < pv->s.n; i++)
			running += pv->s.tasks[i].t.state == 'R';
	fprintf(f,
		"intr 0\nctxt 0\nbtime %lld\nprocesses %zu\nprocs_running %d\n"
		"procs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n",
		(long long)k->boot_time_s, pv->s.n, running);
}

void vg_pv_render_system(struct vg_procview *pv, const char *name, FILE *f)
{
	const struct vg_kstat *k = vg_pv_kstat(pv);

	if (!strcmp(name, "version")) {
		size_t n = strlen(pv->lx->banner);

		fprintf(f, "%s%s", pv->lx->banner, n && pv->lx->banner[n - 1] == '\n' ? "" : "\n");
	} else if (!strcmp(name, "uptime")) {
		fprintf(f, "%llu.%02llu 0.00\n", (unsigned long long)(k->uptime_ms / 1000),
			(unsigned long long)(k->uptime_ms % 1000 / 10));
	} else if (!strcmp(name, "loadavg")) {
		loadavg(pv, k, f);
	} else if (!strcmp(name, "meminfo")) {
		fprintf(f,
			"MemTotal:       %8llu kB\nMemFree:        %8llu kB\n"
			"MemAvailable:   %8llu kB\n",
			(unsigned long long)k->mem_total_kb, (unsigned long long)k->mem_free_kb,
			(unsigned long long)k->mem_free_kb);
		fprintf(f, "Buffers:               0 kB\nCached:                0 kB\n"
			   "SwapCached:            0 kB\nSwapTotal:             0 kB\n"
			   "SwapFree:              0 kB\nShmem:                 0 kB\n"
			   "SReclaimable:          0 kB\n");
	} else if (!strcmp(name, "stat")) {
		stat_file(pv, k, f);
	} else if (!strcmp(name, "cpuinfo")) {
		for (uint32_t c = 0; c < k->online_cpus; c++)
			fprintf(f, "processor\t: %u\n\n", c);
	} else if (!strcmp(name, "cmdline")) {
		fprintf(f, "%s\n", k->cmdline);
	} else if (!strcmp(name, "pid_max")) {
		fprintf(f, "%d\n", k->pid_max);
	} else if (!strcmp(name, "osrelease")) {
		fprintf(f, "%s\n", pv->lx->release);
	}
}
