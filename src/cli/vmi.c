// SPDX-License-Identifier: MIT
/*
 * vigil vmi: the guest kernel's own view from its RAM. Human tables and -j JSON come from the
 * same loops (bpftool's model): each row is produced once and printed in either form.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vigil/hexdump.h"
#include "vigil/json.h"
#include "vigil/lxobj.h"
#include "vmi_open.h"

#define READ_MAX (1u << 20)

static void help(const char *cmd, const char *args, const char *what)
{
	printf("Usage: %s vmi %s --vm SOURCE %s[--format KIND] [--symbols FILE] [--btf FILE] "
	       "[--no-cache] [-j|-p]\n\n%s\n\n"
	       "SOURCE is a QEMU memory-backend file (share=on), an ELF core from QEMU's\n"
	       "dump-guest-memory, a LiME dump or a raw RAM copy; the kind is detected by "
	       "content,\n"
	       "except that files in /dev/shm or hugetlbfs (live guest RAM) are always raw.\n"
	       "  --format KIND   auto, raw, elf or lime: override the detection\n"
	       "  --symbols FILE  System.map or /proc/kallsyms text, for kernels without kallsyms\n"
	       "  --btf FILE      vmlinux or raw BTF, for kernels without BTF\n"
	       "  --no-cache      do not read or write the discovery cache\n"
	       "  -j, --json      JSON output; -p pretty-printed JSON\n",
	       PROG_NAME, cmd, args, what);
}

static const char *paging_name(int levels)
{
	return levels == 5 ? "x86-64 5-level" : "x86-64 4-level";
}

static int do_info(int argc, char **argv)
{
	struct vmi_args a;
	struct vg_guest g;
	struct vg_linux *lx;
	struct vg_json j;

	if (vmi_parse(argc, argv, 0, &a))
		return EXIT_ERROR;
	if (a.help) {
		help("info", "",
		     "Kernel version, paging mode, KASLR slides, page-table base, symbol and "
		     "BTF counts, discovery time.");
		return EXIT_OK;
	}
	if (a.npos)
		return cli_fail("info: unexpected argument '%s'", a.pos[0]);
	if (vmi_open(&a, &g))
		return EXIT_ERROR;
	lx = &g.lx;
	if (a.json) {
		vg_json_init(&j, stdout, a.pretty);
		vg_json_obj_open(&j);
		vg_json_kstr(&j, "source", a.vm);
		vg_json_kstr(&j, "source_kind", vg_mem_kind_name(g.mem));
		vg_json_kstr(&j, "layout", vg_mem_layout_name(g.mem, lx->layout));
		vg_json_kuint(&j, "ram_bytes", vg_mem_total(g.mem));
		vg_json_kstr(&j, "release", lx->release);
		vg_json_kstr(&j, "banner", lx->banner);
		vg_json_kstr(&j, "paging", paging_name(lx->levels));
		vg_json_kint(&j, "levels", lx->levels);
		vg_json_khex(&j, "page_table_base", lx->kas.root);
		vg_json_khex(&j, "text_va", lx->text_va);
		vg_json_khex(&j, "kaslr_slide", lx->kaslr_slide);
		vg_json_khex(&j, "text_pa", lx->phys_slide);
		vg_json_khex(&j, "page_offset_base", lx->page_offset_base);
		vg_json_kuint(&j, "symbols", lx->ksyms.count);
		vg_json_kuint(&j, "btf_types", lx->btf_types);
		vg_json_kbool(&j, "from_cache", lx->timing.from_cache);
		vg_json_kdouble(&j, "discovery_ms", lx->timing.total_ms);
		vg_json_key(&j, "timing_ms");
		vg_json_obj_open(&j);
		vg_json_kdouble(&j, "banner", lx->timing.banner_ms);
		vg_json_kdouble(&j, "page_tables", lx->timing.pgd_ms);
		vg_json_kdouble(&j, "kallsyms", lx->timing.kallsyms_ms);
		vg_json_kdouble(&j, "btf", lx->timing.btf_ms);
		vg_json_obj_close(&j);
		vg_json_obj_close(&j);
		vg_json_end(&j);
	} else {
		printf("source           %s (%s, %s layout, %" PRIu64 " MiB RAM)\n", a.vm,
		       vg_mem_kind_name(g.mem), vg_mem_layout_name(g.mem, lx->layout),
		       vg_mem_total(g.mem) >> 20);
		printf("kernel           %s\n", lx->release);
		printf("banner           %s\n", lx->banner);
		printf("paging           %s\n", paging_name(lx->levels));
		printf("page table base  %#" PRIx64 "\n", lx->kas.root);
		printf("kernel text      %#" PRIx64 " (KASLR slide %#" PRIx64 ", physical %#" PRIx64
		       ")\n",
		       lx->text_va, lx->kaslr_slide, lx->phys_slide);
		printf("direct map       %#" PRIx64 "\n", lx->page_offset_base);
		printf("symbols          %u (kallsyms in guest memory%s)\n", lx->ksyms.count,
		       a.symbols ? ", overridden by --symbols" : "");
		printf("BTF types        %u%s\n", lx->btf_types, a.btf ? " (from --btf)" : "");
		printf("discovery        %.1f ms%s\n", lx->timing.total_ms,
		       lx->timing.from_cache ? " (cached)" : "");
	}
	vg_guest_close(&g);
	return EXIT_OK;
}

static int do_ps(int argc, char **argv)
{
	struct vmi_args a;
	struct vg_guest g;
	struct vg_task_list tl;
	struct vg_task_opts to = { 0 };
	struct vg_err err = { 0 };
	struct vg_json j;

	if (vmi_parse(argc, argv, VMI_OPT_THREADS, &a))
		return EXIT_ERROR;
	if (a.help) {
		help("ps", "[--threads] ",
		     "Every task: pid, tgid, ppid, uid, gid, state, comm, full "
		     "cmdline (read through the\nprocess's own page tables) "
		     "and exe path. --threads lists every thread.");
		return EXIT_OK;
	}
	if (a.npos)
		return cli_fail("ps: unexpected argument '%s'", a.pos[0]);
	if (vmi_open(&a, &g))
		return EXIT_ERROR;
	to.threads = a.threads;
	if (vg_tasks_list(&g.lx, &to, &tl, &err)) {
		vg_guest_close(&g);
		return cli_fail_err(&err);
	}
	if (a.json) {
		vg_json_init(&j, stdout, a.pretty);
		vg_json_arr_open(&j);
	} else {
		printf("%7s %7s %7s %6s %6s %s %-16s %s\n", "PID", "TGID", "PPID", "UID", "GID",
		       "S", "COMM", "CMDLINE / EXE");
	}
	for (size_t i = 0; i < tl.n; i++) {
		const struct vg_task *t = &tl.v[i];

		if (a.json) {
			vg_json_obj_open(&j);
			vg_json_kint(&j, "pid", t->pid);
			vg_json_kint(&j, "tgid", t->tgid);
			vg_json_kint(&j, "ppid", t->ppid);
			vg_json_kuint(&j, "uid", t->uid);
			vg_json_kuint(&j, "gid", t->gid);
			vg_json_kuint(&j, "euid", t->euid);
			vg_json_kuint(&j, "egid", t->egid);
			vg_json_key(&j, "state");
			vg_json_strn(&j, &t->state, 1);
			vg_json_kstr(&j, "comm", t->comm);
			vg_json_kstr(&j, "cmdline", t->cmdline);
			vg_json_kstr(&j, "exe", t->exe);
			vg_json_kbool(&j, "exe_deleted", t->exe_deleted);
			vg_json_kbool(&j, "kthread", t->kthread);
			vg_json_khex(&j, "task", t->addr);
			vg_json_obj_close(&j);
		} else {
			printf("%7d %7d %7d %6u %6u %c %-16s ", t->pid, t->tgid, t->ppid, t->uid,
			       t->gid, t->state, t->comm);
			if (t->kthread)
				printf("[%s]\n", t->comm);
			else
				printf("%s%s%s%s\n", t->cmdline, t->exe[0] ? "  <" : "", t->exe,
				       t->exe[0] ? (t->exe_deleted ? " (deleted)>" : ">") : "");
		}
	}
	if (a.json) {
		vg_json_arr_close(&j);
		vg_json_end(&j);
	}
	vg_tasks_free(&tl);
	vg_guest_close(&g);
	return EXIT_OK;
}

static int do_lsmod(int argc, char **argv)
{
	struct vmi_args a;
	struct vg_guest g;
	struct vg_module_list ml;
	struct vg_err err = { 0 };
	struct vg_json j;

	if (vmi_parse(argc, argv, 0, &a))
		return EXIT_ERROR;
	if (a.help) {
		help("lsmod", "",
		     "Loaded kernel modules: name, base address, size, state, refcount.");
		return EXIT_OK;
	}
	if (a.npos)
		return cli_fail("lsmod: unexpected argument '%s'", a.pos[0]);
	if (vmi_open(&a, &g))
		return EXIT_ERROR;
	if (vg_modules_list(&g.lx, &ml, &err)) {
		vg_guest_close(&g);
		return cli_fail_err(&err);
	}
	if (a.json) {
		vg_json_init(&j, stdout, a.pretty);
		vg_json_arr_open(&j);
	} else {
		printf("%-24s %-18s %9s %-10s %s\n", "NAME", "BASE", "SIZE", "STATE", "REFCOUNT");
	}
	for (size_t i = 0; i < ml.n; i++) {
		const struct vg_module *m = &ml.v[i];

		if (a.json) {
			vg_json_obj_open(&j);
			vg_json_kstr(&j, "name", m->name);
			vg_json_khex(&j, "base", m->base);
			vg_json_kuint(&j, "size", m->size);
			vg_json_kstr(&j, "state", m->state);
			vg_json_kint(&j, "refcount", m->refcount);
			vg_json_khex(&j, "module", m->addr);
			vg_json_obj_close(&j);
		} else {
			printf("%-24s %#-18" PRIx64 " %9" PRIu64 " %-10s %d\n", m->name, m->base,
			       m->size, m->state, m->refcount);
		}
	}
	if (a.json) {
		vg_json_arr_close(&j);
		vg_json_end(&j);
	}
	vg_modules_free(&ml);
	vg_guest_close(&g);
	return EXIT_OK;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || end == s || *end ? -EINVAL : 0;
}

static int do_read(int argc, char **argv)
{
	struct vmi_args a;
	struct vg_guest g;
	uint64_t addr, len;
	uint8_t *buf;
	int ret;

	if (vmi_parse(argc, argv, 0, &a))
		return EXIT_ERROR;
	if (a.help) {
		help("read", "ADDR|SYMBOL LEN ",
		     "Hexdump LEN bytes (at most 1 MiB) of kernel virtual memory at ADDR or at a\n"
		     "kernel symbol (SYMBOL+OFFSET works too). -j prints {address, symbol, hex}.");
		return EXIT_OK;
	}
	if (a.npos != 2)
		return cli_fail("read: expected ADDR|SYMBOL LEN; see --help");
	if (parse_u64(a.pos[1], &len) || len == 0 || len > READ_MAX)
		return cli_fail("read: LEN must be a number from 1 to %u, not '%s'", READ_MAX,
				a.pos[1]);
	if (vmi_open(&a, &g))
		return EXIT_ERROR;
	if (parse_u64(a.pos[0], &addr)) {
		char name[256];
		const char *plus = strchr(a.pos[0], '+');
		uint64_t off = 0;
		size_t n = plus ? (size_t)(plus - a.pos[0]) : strlen(a.pos[0]);

		if (n >= sizeof(name) || (plus && parse_u64(plus + 1, &off))) {
			vg_guest_close(&g);
			return cli_fail("read: '%s' is neither an address nor SYMBOL[+OFFSET]",
					a.pos[0]);
		}
		memcpy(name, a.pos[0], n);
		name[n] = '\0';
		if (vg_linux_sym(&g.lx, name, &addr)) {
			vg_guest_close(&g);
			return cli_fail("read: no kernel symbol '%s'", name);
		}
		addr += off;
	}
	buf = malloc(len);
	if (!buf) {
		vg_guest_close(&g);
		return cli_fail("read: out of memory");
	}
	ret = vg_linux_read(&g.lx, addr, buf, len);
	if (ret) {
		free(buf);
		vg_guest_close(&g);
		return cli_fail("read: %#" PRIx64 "+%" PRIu64 " is not mapped in the guest kernel",
				addr, len);
	}
	if (a.json) {
		struct vg_json j;
		uint64_t off;
		const char *sym = vg_linux_sym_near(&g.lx, addr, &off);
		char *hex = malloc(len * 2 + 1);

		if (!hex) {
			free(buf);
			vg_guest_close(&g);
			return cli_fail("read: out of memory");
		}
		for (uint64_t i = 0; i < len; i++)
			sprintf(hex + 2 * i, "%02x", buf[i]);
		vg_json_init(&j, stdout, a.pretty);
		vg_json_obj_open(&j);
		vg_json_khex(&j, "address", addr);
		vg_json_kuint(&j, "length", len);
		if (sym) {
			vg_json_kstr(&j, "symbol", sym);
			vg_json_kuint(&j, "symbol_offset", off);
		}
		vg_json_kstr(&j, "hex", hex);
		vg_json_obj_close(&j);
		vg_json_end(&j);
		free(hex);
	} else {
		vg_hexdump(stdout, addr, buf, len);
	}
	free(buf);
	vg_guest_close(&g);
	return EXIT_OK;
}

static int do_translate(int argc, char **argv)
{
	struct vmi_args a;
	struct vg_guest g;
	uint64_t va, pa, psz;

	if (vmi_parse(argc, argv, 0, &a))
		return EXIT_ERROR;
	if (a.help) {
		help("translate", "ADDR|SYMBOL ",
		     "Kernel virtual address (or symbol) to guest physical address, with the page\n"
		     "size of the mapping.");
		return EXIT_OK;
	}
	if (a.npos != 1)
		return cli_fail("translate: expected ADDR|SYMBOL; see --help");
	if (vmi_open(&a, &g))
		return EXIT_ERROR;
	if (parse_u64(a.pos[0], &va) && vg_linux_sym(&g.lx, a.pos[0], &va)) {
		vg_guest_close(&g);
		return cli_fail("translate: '%s' is neither an address nor a kernel symbol",
				a.pos[0]);
	}
	if (vg_as_translate(&g.lx.kas, va, &pa, &psz)) {
		vg_guest_close(&g);
		return cli_fail("translate: %#" PRIx64 " is not mapped in the guest kernel", va);
	}
	if (a.json) {
		struct vg_json j;

		vg_json_init(&j, stdout, a.pretty);
		vg_json_obj_open(&j);
		vg_json_khex(&j, "virtual", va);
		vg_json_khex(&j, "physical", pa);
		vg_json_kuint(&j, "page_size", psz);
		vg_json_obj_close(&j);
		vg_json_end(&j);
	} else {
		printf("%#" PRIx64 " -> %#" PRIx64 " (%" PRIu64 " KiB page)\n", va, pa, psz >> 10);
	}
	vg_guest_close(&g);
	return EXIT_OK;
}

static const struct cli_cmd vmi_cmds[] = {
	{ "info", do_info, "kernel version, paging, KASLR slides, symbols, BTF, discovery time" },
	{ "ps", do_ps, "processes (and threads) from the kernel's task list" },
	{ "lsmod", do_lsmod, "loaded kernel modules" },
	{ "read", do_read, "hexdump kernel virtual memory at an address or symbol" },
	{ "translate", do_translate, "kernel virtual address or symbol to guest physical" },
	{ NULL, NULL, NULL },
};

int cmd_vmi(int argc, char **argv)
{
	return cli_dispatch("vmi", vmi_cmds, argc - 1, argv + 1);
}
