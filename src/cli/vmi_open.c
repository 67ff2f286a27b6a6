// SPDX-License-Identifier: MIT
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/vfs.h>

#include "cli.h"
#include "vmi_open.h"

int vmi_parse(int argc, char **argv, unsigned extra, struct vmi_args *a)
{
	enum { O_SYMBOLS = 256, O_BTF, O_NO_CACHE, O_THREADS, O_FORMAT };
	static const struct option opts[] = {
		{ "vm", required_argument, NULL, 'v' },
		{ "symbols", required_argument, NULL, O_SYMBOLS },
		{ "btf", required_argument, NULL, O_BTF },
		{ "no-cache", no_argument, NULL, O_NO_CACHE },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "threads", no_argument, NULL, O_THREADS },
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "v:jph", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			a->vm = optarg;
			break;
		case O_SYMBOLS:
			a->symbols = optarg;
			break;
		case O_BTF:
			a->btf = optarg;
			break;
		case O_NO_CACHE:
			a->no_cache = true;
			break;
		case O_FORMAT:
			a->format = optarg;
			break;
		case O_THREADS:
			if (!(extra & VMI_OPT_THREADS))
				return cli_fail("%s: unknown option --threads", argv[0]);
			a->threads = true;
			break;
		case 'j':
			a->json = true;
			break;
		case 'p':
			a->json = a->pretty = true;
			break;
		case 'h':
			a->help = true;
			return 0;
		default:
			return cli_fail("%s: unknown option or missing value '%s'; see --help",
					argv[0], argv[optind - 1]);
		}
	}
	for (; optind < argc; optind++) {
		if (a->npos == (int)(sizeof(a->pos) / sizeof(a->pos[0])))
			return cli_fail("%s: too many arguments", argv[0]);
		a->pos[a->npos++] = argv[optind];
	}
	if (!a->vm)
		return cli_fail("%s: --vm SOURCE is required (a QEMU memory file, ELF core or raw "
				"dump)",
				argv[0]);
	return 0;
}

#define HUGETLBFS_MAGIC_ 0x958458f6

/*
 * A live memory-backend file begins with guest physical page 0, which the guest itself can
 * write: detecting its kind by content would let the guest plant an ELF or LiME header and
 * feed us a forged layout. So RAM files where QEMU keeps them (/dev/shm, hugetlbfs) are raw
 * unless --format says otherwise; dumps elsewhere are detected by content.
 */
static int source_kind(const char *path, const char *format, enum vg_mem_kind *kind,
		       struct vg_err *err)
{
	struct statfs sf;

	if (format) {
		if (!strcmp(format, "auto"))
			*kind = VG_MEM_DETECT;
		else if (!strcmp(format, "raw"))
			*kind = VG_MEM_RAW;
		else if (!strcmp(format, "elf"))
			*kind = VG_MEM_ELFCORE;
		else if (!strcmp(format, "lime"))
			*kind = VG_MEM_LIME;
		else
			return vg_errf(err, EINVAL,
				       "--format must be auto, raw, elf or lime, not '%s'", format);
		return 0;
	}
	*kind = VG_MEM_DETECT;
	if (!strncmp(path, "/dev/shm/", 9) ||
	    (statfs(path, &sf) == 0 && (unsigned long)sf.f_type == HUGETLBFS_MAGIC_))
		*kind = VG_MEM_RAW;
	return 0;
}

int vmi_open_err(const struct vmi_args *a, struct vmi_guest *g, struct vg_err *err)
{
	return vmi_open_avoiding(a, g, 0, err);
}

int vmi_open_avoiding(const struct vmi_args *a, struct vmi_guest *g, uint64_t stale_banner_pa,
		      struct vg_err *err)
{
	enum vg_mem_kind kind = VG_MEM_DETECT;
	struct vg_linux_opts lo = {
		.symbols_file = a->symbols,
		.btf_file = a->btf,
		.cache_dir = a->no_cache ? "" : NULL,
		.stale_banner_pa = stale_banner_pa,
	};
	int ret;

	memset(g, 0, sizeof(*g));
	ret = source_kind(a->vm, a->format, &kind, err);
	if (!ret)
		ret = vg_mem_open_kind(&g->mem, a->vm, kind, err);
	if (ret)
		return ret;
	ret = vg_linux_open(&g->lx, g->mem, &lo, err);
	if (ret) {
		vg_mem_close(g->mem);
		g->mem = NULL;
	}
	return ret;
}

int vmi_open(const struct vmi_args *a, struct vmi_guest *g)
{
	struct vg_err err = { 0 };

	if (vmi_open_err(a, g, &err))
		return cli_fail_err(&err);
	return 0;
}

void vmi_close(struct vmi_guest *g)
{
	if (g->mem) {
		vg_linux_close(&g->lx);
		vg_mem_close(g->mem);
	}
	g->mem = NULL;
}
