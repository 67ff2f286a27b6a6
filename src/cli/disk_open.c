// SPDX-License-Identifier: MIT
/* vigil disk: shared options, and opening an image, a guest's RAM disks, or both. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk_cli.h"
#include "vigil/disk_ram.h"

static int size_arg(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	default:
		break;
	}
	if (*end || !v)
		return -EINVAL;
	*out = v;
	return 0;
}

static int push(const char **list, int *n, const char *v, const char *what)
{
	if (*n >= DISK_MAX_LIST)
		return cli_fail("too many %s options (at most %d)", what, DISK_MAX_LIST);
	list[(*n)++] = v;
	list[*n] = NULL;
	return 0;
}

int disk_parse(int argc, char **argv, unsigned allowed, struct disk_args *a)
{
	enum {
		O_VM = 256,
		O_MEM_FORMAT,
		O_SYMBOLS,
		O_BTF,
		O_NO_CACHE,
		O_FORMAT,
		O_BACKING,
		O_SNAPSHOT,
		O_PARTITION,
		O_RULES,
		O_NO_YARA,
		O_NO_DEFAULT_RULES,
		O_CHECK,
		O_EXCLUDE,
		O_MAX_FILE,
		O_ALERT,
		O_BASELINE
	};
	static const struct option opts[] = {
		{ "vm", required_argument, NULL, O_VM },
		{ "mem-format", required_argument, NULL, O_MEM_FORMAT },
		{ "symbols", required_argument, NULL, O_SYMBOLS },
		{ "btf", required_argument, NULL, O_BTF },
		{ "no-cache", no_argument, NULL, O_NO_CACHE },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "backing", no_argument, NULL, O_BACKING },
		{ "snapshot", required_argument, NULL, O_SNAPSHOT },
		{ "partition", required_argument, NULL, O_PARTITION },
		{ "rules", required_argument, NULL, O_RULES },
		{ "no-yara", no_argument, NULL, O_NO_YARA },
		{ "no-default-rules", no_argument, NULL, O_NO_DEFAULT_RULES },
		{ "check", required_argument, NULL, O_CHECK },
		{ "exclude", required_argument, NULL, O_EXCLUDE },
		{ "max-file", required_argument, NULL, O_MAX_FILE },
		{ "alert", required_argument, NULL, O_ALERT },
		{ "baseline", required_argument, NULL, O_BASELINE },
		{ "output", required_argument, NULL, 'o' },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	const unsigned need[] = {
		[O_VM - 256] = DO_VM,
		[O_MEM_FORMAT - 256] = DO_VM,
		[O_SYMBOLS - 256] = DO_VM,
		[O_BTF - 256] = DO_VM,
		[O_NO_CACHE - 256] = DO_VM,
		[O_RULES - 256] = DO_SCAN,
		[O_NO_YARA - 256] = DO_SCAN,
		[O_NO_DEFAULT_RULES - 256] = DO_SCAN,
		[O_CHECK - 256] = DO_SCAN,
		[O_EXCLUDE - 256] = DO_SCAN,
		[O_MAX_FILE - 256] = DO_SCAN,
		[O_ALERT - 256] = DO_SCAN,
		[O_BASELINE - 256] = DO_BASELINE,
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->partition = -1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:" CLI_COMMON_SHORT, opts, NULL)) != -1) {
		if (cli_common_opt(c, &a->c)) {
			if (a->c.help)
				return 0;
			continue;
		}
		if (c >= 256 && (size_t)(c - 256) < sizeof(need) / sizeof(need[0]) &&
		    need[c - 256] && !(allowed & need[c - 256]))
			return cli_fail("%s: option '%s' does not apply; see --help", argv[0],
					argv[optind - 1]);
		switch (c) {
		case O_VM:
			a->vm = optarg;
			break;
		case O_MEM_FORMAT:
			a->mem_format = optarg;
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
		case O_BACKING:
			a->backing = true;
			break;
		case O_SNAPSHOT:
			a->snapshot = optarg;
			break;
		case O_PARTITION: {
			char *end;
			long n = strtol(optarg, &end, 10);

			if (*end || end == optarg || n < 0 || n > 128)
				return cli_fail("%s: --partition takes 0 (whole disk) to 128, not "
						"'%s'",
						argv[0], optarg);
			a->partition = (int)n;
			break;
		}
		case O_RULES:
			a->rules = optarg;
			break;
		case O_NO_YARA:
			a->no_yara = true;
			break;
		case O_NO_DEFAULT_RULES:
			a->no_default_rules = true;
			break;
		case O_CHECK:
			if (push(a->checks, &a->nchecks, optarg, "--check"))
				return EXIT_ERROR;
			break;
		case O_EXCLUDE:
			if (optarg[0] != '/')
				return cli_fail("%s: --exclude takes an absolute path, not '%s'",
						argv[0], optarg);
			if (push(a->excludes, &a->nexcludes, optarg, "--exclude"))
				return EXIT_ERROR;
			break;
		case O_MAX_FILE:
			if (size_arg(optarg, &a->max_file))
				return cli_fail("%s: --max-file takes a size like 512M, not '%s'",
						argv[0], optarg);
			break;
		case O_ALERT:
			if (a->nalerts >= (int)(sizeof(a->alerts) / sizeof(a->alerts[0])))
				return cli_fail("%s: too many --alert sinks", argv[0]);
			a->alerts[a->nalerts++] = optarg;
			break;
		case O_BASELINE:
			a->baseline = optarg;
			break;
		case 'o':
			if (!(allowed & DO_OUTPUT))
				return cli_fail("%s: option '-o' does not apply; see --help",
						argv[0]);
			a->output = optarg;
			break;
		default:
			return cli_bad_option(argv[0], argc, argv);
		}
	}
	for (; optind < argc; optind++) {
		if (a->npos == (int)(sizeof(a->pos) / sizeof(a->pos[0])))
			return cli_fail("%s: unexpected argument '%s'", argv[0], argv[optind]);
		a->pos[a->npos++] = argv[optind];
	}
	for (int i = 0; i < a->nchecks; i++)
		if (!vg_disk_check_known(a->checks[i]))
			return cli_fail("%s: unknown check '%s'; see 'vigil disk checks'", argv[0],
					a->checks[i]);
	return 0;
}

void disk_help_common(unsigned allowed)
{
	printf("Image options (IMAGE is a raw disk image or block device, or any format QEMU "
	       "reads):\n"
	       "  --format FMT     auto (qcow2 by its magic, else raw), raw, or a QEMU format\n"
	       "                   (qcow2, vmdk, ...) read through qemu-nbd\n"
	       "  --backing        follow a qcow2 image's backing file (refused by default)\n"
	       "  --snapshot NAME  read a qcow2 internal snapshot\n"
	       "  --partition N    the partition to read (0: the whole disk); default: the\n"
	       "                   file system on the whole disk, else the largest ext one\n");
	if (allowed & DO_VM)
		printf("Guest memory (vigil vmi's sources):\n"
		       "  --vm SOURCE      the guest's RAM: read its RAM disks (tmpfs, ramfs, "
		       "devtmpfs,\n"
		       "                   rootfs) from memory; with IMAGE, compare the kernel's "
		       "view\n"
		       "  --mem-format K   auto, raw, elf or lime (vigil vmi's --format)\n"
		       "  --symbols FILE, --btf FILE, --no-cache   as for vigil vmi\n");
	printf("  -j, --json       JSON output; -p pretty-printed JSON\n");
}

int disk_open(const struct disk_args *a, const char *image, struct disk_src *s)
{
	struct vg_image_opts io = {
		.blk = { .format = a->format, .backing = a->backing, .snapshot = a->snapshot },
		.partition = a->partition,
	};
	struct vg_err err = { 0 };

	memset(s, 0, sizeof(*s));
	if (!image && !a->vm)
		return cli_fail("an IMAGE or --vm SOURCE is needed; see --help");
	if (a->vm) {
		struct vmi_args va = {
			.vm = a->vm,
			.symbols = a->symbols,
			.btf = a->btf,
			.format = a->mem_format,
			.no_cache = a->no_cache,
		};

		if (vmi_open(&va, &s->g))
			return EXIT_ERROR;
		s->have_vm = true;
	}
	if (image) {
		s->host = image;
		if (vg_image_open(&s->fs, image, &io, &err)) {
			disk_close(s);
			return cli_fail_err(&err);
		}
		return 0;
	}
	s->host = a->vm;
	s->ram = true;
	if (vg_ram_open(&s->fs, &s->g.lx, a->vm, &err)) {
		disk_close(s);
		return cli_fail_err(&err);
	}
	return 0;
}

void disk_close(struct disk_src *s)
{
	vg_fsrc_close(s->fs);
	s->fs = NULL;
	if (s->have_vm)
		vg_guest_close(&s->g);
	s->have_vm = false;
}
