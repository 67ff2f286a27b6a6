/* SPDX-License-Identifier: MIT */
/* Options shared by the commands that read a guest (--vm, --symbols, --btf, -j), and opening
 * the guest through src/vmi/guest.c. */
#ifndef VIGIL_CLI_VMI_OPEN_H
#define VIGIL_CLI_VMI_OPEN_H

#include <stdbool.h>

#include "vigil/guest.h"

struct vmi_args {
	const char *vm, *symbols, *btf, *format;
	bool json, pretty, no_cache, threads, help, allow_other;
	int ttl_ms; /* mount/exec: the view's snapshot lifetime */
	int npos;
	char *pos[4]; /* positional arguments */
};

enum { VMI_OPT_THREADS = 1, VMI_OPT_VIEW = 2 }; /* extra options a command accepts */

/* Parses argv; returns 0, or EXIT_ERROR after printing the problem. */
int vmi_parse(int argc, char **argv, unsigned extra, struct vmi_args *a);

/* The guest options as the library takes them (borrowing A's strings). */
void vmi_guest_opts(const struct vmi_args *a, struct vg_guest_opts *o);
/* Opens the guest (vg_guest_open); prints the error and returns EXIT_ERROR. */
int vmi_open(const struct vmi_args *a, struct vg_guest *g);

#endif
