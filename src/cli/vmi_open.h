/* SPDX-License-Identifier: MIT */
/* Options shared by the commands that read a guest (--vm, --symbols, --btf, -j), and opening
 * the guest through src/vmi/guest.c. */
#ifndef VIGIL_CLI_VMI_OPEN_H
#define VIGIL_CLI_VMI_OPEN_H

#include <stdbool.h>

#include "vigil/guest.h"

struct vmi_args {
	const char *vm, *symbols, *btf, *format;
	bool json, pretty, no_cache, threads, help;
	int npos;
	char *pos[4]; /* positional arguments */
};

enum { VMI_OPT_THREADS = 1 }; /* extra options a command accepts */

/* The guest options every command that reads a guest takes, for its getopt tables: put
 * VMI_GUEST_SHORT in the option string, VMI_GUEST_LONG in the table, and hand each option to
 * vmi_guest_opt() first. */
enum { VMI_O_SYMBOLS = 0x200, VMI_O_BTF, VMI_O_NO_CACHE, VMI_O_FORMAT };
#define VMI_GUEST_SHORT "v:"
#define VMI_GUEST_LONG                                                 \
	{ "vm", required_argument, NULL, 'v' },                        \
		{ "symbols", required_argument, NULL, VMI_O_SYMBOLS }, \
		{ "btf", required_argument, NULL, VMI_O_BTF },         \
		{ "no-cache", no_argument, NULL, VMI_O_NO_CACHE },     \
	{                                                              \
		"format", required_argument, NULL, VMI_O_FORMAT        \
	}

/* Records C (with ARG) when it is a guest option; false for any other. */
bool vmi_guest_opt(int c, const char *arg, struct vmi_args *a);

/* Parses argv; returns 0, or EXIT_ERROR after printing the problem. */
int vmi_parse(int argc, char **argv, unsigned extra, struct vmi_args *a);

/* The guest options as the library takes them (borrowing A's strings). */
void vmi_guest_opts(const struct vmi_args *a, struct vg_guest_opts *o);
/* Opens the guest (vg_guest_open); prints the error and returns EXIT_ERROR. */
int vmi_open(const struct vmi_args *a, struct vg_guest *g);

#endif
