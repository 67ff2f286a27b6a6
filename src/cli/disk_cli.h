/* SPDX-License-Identifier: MIT */
/* vigil disk: the options its commands share and opening what they read (disk_open.c). */
#ifndef VIGIL_CLI_DISK_CLI_H
#define VIGIL_CLI_DISK_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "vigil/disk.h"
#include "vmi_open.h"

#define DISK_MAX_LIST 64

/* Options a command accepts beyond -j/-p/-h and the image options. */
enum {
	DO_VM = 1 << 0,	     /* --vm SOURCE (RAM disks; with an image: the cross-view) */
	DO_SCAN = 1 << 1,    /* --rules, --no-yara, --no-default-rules, --check, --exclude,
			      * --max-file, --alert */
	DO_OUTPUT = 1 << 2,  /* -o FILE */
	DO_BASELINE = 1 << 3 /* --baseline FILE */
};

struct disk_args {
	struct cli_common c;
	const char *vm, *mem_format, *symbols, *btf;
	bool no_cache;
	const char *format, *snapshot;
	bool backing;
	int partition; /* -1: automatic */
	const char *rules, *baseline, *output;
	bool no_yara, no_default_rules;
	uint64_t max_file;
	const char *checks[DISK_MAX_LIST + 1];
	const char *excludes[DISK_MAX_LIST + 1];
	const char *alerts[8];
	int nchecks, nexcludes, nalerts;
	char *pos[3];
	int npos;
};

/* Parses argv (argv[0] is the command); prints the problem and returns EXIT_ERROR. */
int disk_parse(int argc, char **argv, unsigned allowed, struct disk_args *a);
/* The lines of --help every command shares. */
void disk_help_common(unsigned allowed);

/* What a command reads: an image's file system, or the guest's RAM disks (--vm alone); with
 * both, the image is read and the guest is open for the cross-view. */
struct disk_src {
	struct vg_fsrc *fs;
	bool ram; /* fs is the RAM disks */
	struct vg_guest g;
	bool have_vm;
	const char *host; /* what alerts name as the host: the image or the memory source */
};

/* Opens IMAGE (may be NULL when --vm is given). Prints the error and returns EXIT_ERROR. */
int disk_open(const struct disk_args *a, const char *image, struct disk_src *s);
void disk_close(struct disk_src *s);

#endif
