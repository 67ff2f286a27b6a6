// SPDX-License-Identifier: MIT
/*
 * The deeper views' checks over synthetic snapshots (hidden-process from the run queues,
 * hidden-module from the module-memory scan, syscall-hook from the dispatcher, kernel-hook
 * from text differences), and the kernel text reference's JSON form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "vigil/ids.h"
#include "vigil/ids_text.h"

static struct vg_task tasks[2] = {
	{ .addr = 0xffff888000001000, .pid = 1, .tgid = 1, .comm = "init" },
	{ .addr = 0xffff888000002000, .pid = 7, .tgid = 7, .comm = "sleep" },
};

static void base(struct vg_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->tasks.v = tasks;
	s->tasks.n = 2;
	s->mod_lo = 0xffffffffc0000000ull;
	s->mod_hi = 0xffffffffff000000ull;
}

static const char *only[2];

static size_t run(const struct vg_snapshot *s, const char *check, struct vg_findings *f)
{
	struct vg_ids_opts o = { .only = only };
	struct vg_err err = { 0 };

	only[0] = check;
	memset(f, 0, sizeof(*f));
	assert_int_equal(vg_ids_run(s, &o, f, &err), 0);
	return f->n;
}

static void scheduled_task_missing_from_every_list(void **state)
{
	struct vg_sched_task sched[3] = {
		{ .task = 0xffff888000001000, .pid = 1, .where = "cfs", .comm = "init" },
		{ .task = 0xffff888000009000,
		  .pid = 99,
		  .tgid = 99,
		  .cpu = 1,
		  .where = "curr",
		  .comm = "spin" },
		{ .task = 0xffff888000009000,
		  .pid = 99,
		  .tgid = 99,
		  .cpu = 1,
		  .where = "cfs",
		  .comm = "spin" },
	};
	struct vg_snapshot s;
	struct vg_findings f;

	base(&s);
	s.sched = sched;
	s.nsched = 3;
	s.have_sched = true;
	assert_int_equal(run(&s, "hidden-process", &f), 1); /* once, though queued twice */
	assert_string_equal(f.v[0].target_id, "99");
	assert_int_equal(f.v[0].severity, VG_SEV_CRITICAL);
	assert_non_null(strstr(f.v[0].evidence, "\"seen_in\":[\"scheduler\"]"));
	assert_non_null(
		strstr(f.v[0].evidence, "\"missing_from\":[\"task_list\",\"pid_allocator\"]"));
	vg_findings_free(&f);
	/* the PID allocator knows it too: one finding, from the allocator, naming both views */
	struct vg_pid_entry pids[1] = { { .nr = 99, .task = 0xffff888000009000, .comm = "spin" } };
	s.pids = pids;
	s.npids = 1;
	s.have_pids = true;
	tasks[0].pid = 1;
	assert_int_equal(run(&s, "hidden-process", &f), 3); /* + init, sleep not in allocator */
	assert_string_equal(f.v[0].target_id, "99");
	assert_non_null(strstr(f.v[0].evidence, "[\"pid_allocator\",\"scheduler\"]"));
	vg_findings_free(&f);
	s.have_sched = false;
	assert_int_equal(run(&s, "hidden-process", &f), 3);
	assert_null(strstr(f.v[0].evidence, "scheduler"));
	vg_findings_free(&f);
}

static void module_image_missing_from_list_and_sysfs(void **state)
{
	struct vg_module mods[1] = { { .addr = 0xffffffffc0001000, .name = "dummy" } };
	struct vg_kobj_module kobjs[1] = { { .name = "dummy", .mod = 0xffffffffc0001000 } };
	struct vg_mod_image img[2] = { { .mod = 0xffffffffc0001000, .name = "dummy" },
				       { .mod = 0xffffffffc0200000, .name = "rk", .state = 0 } };
	struct vg_snapshot s;
	struct vg_findings f;

	base(&s);
	s.modules.v = mods;
	s.modules.n = 1;
	s.kobjs = kobjs;
	s.nkobjs = 1;
	s.have_kobjs = true;
	s.modimg = img;
	s.nmodimg = 2;
	s.have_modscan = true;
	assert_int_equal(run(&s, "hidden-module", &f), 1);
	assert_string_equal(f.v[0].target_id, "rk");
	assert_non_null(strstr(f.v[0].evidence, "\"seen_in\":[\"memory\"]"));
	vg_findings_free(&f);
	s.have_modscan = false;
	assert_int_equal(run(&s, "hidden-module", &f), 0);
	vg_findings_free(&f);
}

static void listed_module_without_image(void **state)
{
	struct vg_module mods[2] = {
		{ .addr = 0xffffffffc0001000, .name = "dummy", .state = "Live" },
		{ .addr = 0xffffffffc0400000, .name = "fake", .state = "Live" }
	};
	struct vg_kobj_module kobjs[2] = { { .name = "dummy", .mod = 0xffffffffc0001000 },
					   { .name = "fake", .mod = 0xffffffffc0400000 } };
	struct vg_mod_image img[1] = { { .mod = 0xffffffffc0001000, .name = "dummy" } };
	struct vg_snapshot s;
	struct vg_findings f;

	base(&s);
	s.modules.v = mods;
	s.modules.n = 2;
	s.kobjs = kobjs;
	s.nkobjs = 2;
	s.have_kobjs = true;
	s.modimg = img;
	s.nmodimg = 1;
	s.have_modscan = true;
	assert_int_equal(run(&s, "hidden-module", &f), 1);
	assert_string_equal(f.v[0].target_id, "fake");
	assert_non_null(strstr(f.v[0].evidence, "\"missing_from\":[\"memory\"]"));
	vg_findings_free(&f);
	/* a module still being loaded has no complete image yet */
	mods[1].state = "Unformed";
	assert_int_equal(run(&s, "hidden-module", &f), 0);
	vg_findings_free(&f);
	/* an incomplete scan says nothing */
	mods[1].state = "Live";
	s.have_modscan = false;
	assert_int_equal(run(&s, "hidden-module", &f), 0);
	vg_findings_free(&f);
}

static void dispatcher_and_text(void **state)
{
	struct vg_dispatch_edge e[1] = { { .func = "x64_sys_call",
					   .site = 0xffffffff81003000,
					   .target = 0xffffffffc0200010,
					   .insn = "jmp",
					   .owner = "rk" } };
	struct vg_text_diff d[1] = { { .kind = "chunk",
				       .va = 0xffffffff81200000,
				       .len = 1024,
				       .where = "__x64_sys_sysfs+0x5",
				       .funcs = "__x64_sys_sysfs",
				       .branch = 0xffffffff81200005,
				       .target = 0xffffffffc0200000,
				       .owner = "rk" } };
	struct vg_snapshot s;
	struct vg_findings f;

	base(&s);
	s.dispatch = e;
	s.ndispatch = 1;
	s.have_dispatch = true;
	s.text_diffs = d;
	s.ntext_diffs = 1;
	s.have_text = true;
	assert_int_equal(run(&s, "syscall-hook", &f), 1);
	assert_non_null(strstr(f.v[0].evidence, "\"dispatcher\":\"x64_sys_call\""));
	vg_findings_free(&f);
	assert_int_equal(run(&s, "kernel-hook", &f), 1);
	assert_int_equal(f.v[0].severity, VG_SEV_CRITICAL);
	assert_non_null(strstr(f.v[0].evidence, "\"kind\":\"inline-patch\""));
	assert_non_null(strstr(f.v[0].evidence, "\"module\":\"rk\""));
	vg_findings_free(&f);
}

static void text_ref_json_round_trip(void **state)
{
	uint64_t h[3] = { 1, 2, 3 };
	struct vg_text_ref r = { .start = 0xffffffff81000000,
				 .end = 0xffffffff81000000 + 2100,
				 .chunk = 1024,
				 .hash = h,
				 .n = 3,
				 .text_va = 0xffffffff81000000,
				 .nsites = 5,
				 .sites_digest = 77 };
	struct vg_text_ref back;
	struct vg_err err = { 0 };
	json_t *j;

	assert_true(sodium_init() >= 0);
	memset(r.key, 0xab, 16);
	j = vg_text_ref_to_json(&r);
	assert_non_null(j);
	assert_int_equal(vg_text_ref_from_json(j, &back, &err), 0);
	assert_int_equal(back.n, 3);
	assert_memory_equal(back.hash, h, sizeof(h));
	assert_memory_equal(back.key, r.key, 16);
	assert_int_equal(back.sites_digest, 77);
	vg_text_ref_free(&back);
	/* a range that needs more hashes than the file carries is refused */
	json_object_set_new(j, "end", json_string("0xffffffff81100000"));
	assert_int_not_equal(vg_text_ref_from_json(j, &back, &err), 0);
	json_object_set_new(j, "end", json_string("0xffffffff81000834"));
	json_object_set_new(j, "chunk", json_integer(0));
	assert_int_not_equal(vg_text_ref_from_json(j, &back, &err), 0);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(scheduled_task_missing_from_every_list),
		cmocka_unit_test(module_image_missing_from_list_and_sysfs),
		cmocka_unit_test(listed_module_without_image),
		cmocka_unit_test(dispatcher_and_text),
		cmocka_unit_test(text_ref_json_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
