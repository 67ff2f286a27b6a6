// SPDX-License-Identifier: MIT
/*
 * The eBPF recorder's life: open, load and attach the skeleton (bpftool gen skeleton of
 * bpf/sysmon.bpf.c), add target processes, drain the ring buffer into the agent core, read the
 * per-CPU counters. Load failures are turned into one sentence that says what is missing and
 * that --seccomp records without eBPF.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent_int.h"
#include "sysmon.skel.h"

struct ag_bpf {
	struct sysmon *skel;
	struct ring_buffer *rb;
	struct ag_core *core;
	int drained;
};

static int on_record(void *ctx, void *data, size_t len)
{
	struct ag_bpf *b = ctx;

	b->drained++;
	return vg_ag_core_record(b->core, data, len);
}

static int load_error(int e, struct vg_err *err)
{
	if (e == EPERM || e == EACCES)
		return vg_errf(
			err, EPERM,
			"the kernel refused to load vigil's eBPF recorder (%s): it needs root "
			"or CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE; --seccomp records the "
			"program with seccomp user notification instead",
			strerror(e));
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return vg_errf(
			err, ENOTSUP,
			"this kernel has no BTF (/sys/kernel/btf/vmlinux), which vigil's eBPF "
			"recorder needs; --seccomp records the program with seccomp user "
			"notification instead");
	return vg_errf(err, e,
		       "the kernel could not load vigil's eBPF recorder (%s): it needs raw "
		       "tracepoints, BPF ring buffers, task storage and bpf_find_vma (Linux 5.17 "
		       "or later); --seccomp records the program with seccomp user notification "
		       "instead",
		       strerror(e));
}

int vg_ag_bpf_open(struct ag_bpf **out, struct vg_err *err)
{
	struct ag_bpf *b = calloc(1, sizeof(*b));
	int r;

	*out = NULL;
	if (!b)
		return vg_errf(err, ENOMEM, "out of memory");
	/* the BTF-typed tracepoint reads registers directly; the plain one is the fallback */
	for (int btf = 1; btf >= 0; btf--) {
		b->skel = sysmon__open();
		if (!b->skel) {
			r = errno ? errno : EINVAL;
			free(b);
			return load_error(r, err);
		}
		bpf_program__set_autoload(b->skel->progs.sm_sys_enter_btf, btf);
		bpf_program__set_autoload(b->skel->progs.sm_sys_enter, !btf);
		r = sysmon__load(b->skel);
		if (!r)
			r = sysmon__attach(b->skel);
		if (!r)
			break;
		sysmon__destroy(b->skel);
		b->skel = NULL;
	}
	if (r) {
		vg_ag_bpf_close(b);
		return load_error(-r, err);
	}
	b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.rb), on_record, b, NULL);
	if (!b->rb) {
		r = errno ? errno : ENOMEM;
		vg_ag_bpf_close(b);
		return vg_errf(err, r, "eBPF ring buffer: %s", strerror(r));
	}
	*out = b;
	return 0;
}

int vg_ag_bpf_add_target(struct ag_bpf *b, pid_t pid, struct vg_err *err)
{
	uint32_t k = (uint32_t)pid, gen = 0;

	if (bpf_map__update_elem(b->skel->maps.targets, &k, sizeof(k), &gen, sizeof(gen), 0))
		return vg_errf(err, errno, "tracing pid %d: %m", (int)pid);
	return 0;
}

int vg_ag_bpf_poll(struct ag_bpf *b, struct ag_core *c, int timeout_ms)
{
	int r;

	b->core = c;
	b->drained = 0;
	/* syscall records do not wake us (they would cost a wakeup each): wait, then take all */
	if (timeout_ms) {
		r = ring_buffer__poll(b->rb, timeout_ms);
		if (r < 0 && r != -EINTR)
			return r;
	}
	r = ring_buffer__consume(b->rb);
	if (r < 0 && r != -EINTR)
		return r;
	return b->drained;
}

void vg_ag_bpf_counters(struct ag_bpf *b, uint64_t out[SM_ST_NSTATS])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v;

	memset(out, 0, SM_ST_NSTATS * sizeof(*out));
	if (ncpu <= 0 || !(v = calloc((size_t)ncpu, sizeof(*v))))
		return;
	for (uint32_t k = 0; k < SM_ST_NSTATS; k++) {
		if (bpf_map__lookup_elem(b->skel->maps.stats, &k, sizeof(k), v,
					 (size_t)ncpu * sizeof(*v), 0))
			continue;
		for (int i = 0; i < ncpu; i++)
			out[k] += v[i];
	}
	free(v);
}

void vg_ag_bpf_close(struct ag_bpf *b)
{
	if (!b)
		return;
	ring_buffer__free(b->rb);
	sysmon__destroy(b->skel);
	free(b);
}
