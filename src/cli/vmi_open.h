/* SPDX-License-Identifier: MIT */
/* Options shared by the commands that read a guest (--vm, --symbols, --btf, -j), and opening
 * the guest: memory source, then kernel discovery. */
#ifndef VIGIL_CLI_VMI_OPEN_H
#define VIGIL_CLI_VMI_OPEN_H

#include <stdbool.h>

#include "vigil/linux.h"
#include "vigil/mem.h"

struct vmi_args {
	const char *vm, *symbols, *btf, *format;
	bool json, pretty, no_cache, threads, help;
	int npos;
	char *pos[4]; /* positional arguments */
};

enum { VMI_OPT_THREADS = 1 }; /* extra options a command accepts */

/* Parses argv; returns 0, or EXIT_ERROR after printing the problem. */
int vmi_parse(int argc, char **argv, unsigned extra, struct vmi_args *a);

struct vmi_guest {
	struct vg_mem *mem;
	struct vg_linux lx;
};

/* Opens the memory source and discovers the kernel; prints the error and returns EXIT_ERROR. */
int vmi_open(const struct vmi_args *a, struct vmi_guest *g);
/* Same without printing: for callers that retry (ids watch). */
int vmi_open_err(const struct vmi_args *a, struct vmi_guest *g, struct vg_err *err);
/* Same, passing over the banner of a kernel known to have stopped (vg_linux_opts). */
int vmi_open_avoiding(const struct vmi_args *a, struct vmi_guest *g, uint64_t stale_banner_pa,
		      struct vg_err *err);
void vmi_close(struct vmi_guest *g);

#endif
