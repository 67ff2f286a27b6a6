/* SPDX-License-Identifier: MIT */
/*
 * A guest opened for introspection: its memory source (vigil/mem.h) and the kernel discovered
 * in it (vigil/linux.h). What every command, daemon, bench and test that reads a guest does
 * first, in one place.
 *
 * A live memory-backend file begins with guest physical page 0, which the guest itself can
 * write: detecting its kind by content would let the guest plant an ELF or LiME header and feed
 * us a forged layout. So RAM files where QEMU keeps them (/dev/shm, hugetlbfs) are read as raw
 * unless the format is given; dumps elsewhere are detected by content.
 */
#ifndef VIGIL_GUEST_H
#define VIGIL_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/err.h"
#include "vigil/linux.h"
#include "vigil/mem.h"

struct vg_guest_opts {
	const char *source;  /* a path (RAM file, ELF core, LiME, raw dump) or a URI */
	const char *format;  /* NULL or "auto", "raw", "elf", "lime" */
	const char *symbols; /* optional symbol file (System.map or /proc/kallsyms style) */
	const char *btf;     /* optional BTF file (vmlinux or raw BTF) */
	bool no_cache;	     /* no discovery cache */
};

struct vg_guest {
	struct vg_mem *mem; /* NULL when closed */
	struct vg_linux lx;
	bool have_kernel; /* lx holds a discovered kernel */
};

/* Opens the memory source and discovers the kernel. */
int vg_guest_open(struct vg_guest *g, const struct vg_guest_opts *o, struct vg_err *err);
/* The two steps apart, for callers that keep the source while kernels come and go (ids
 * watch): the source alone, then discovery, passing over the banner of a kernel known to have
 * stopped when AVOID_BANNER_PA is not 0. */
int vg_guest_open_source(struct vg_guest *g, const struct vg_guest_opts *o, struct vg_err *err);
int vg_guest_discover(struct vg_guest *g, const struct vg_guest_opts *o, uint64_t avoid_banner_pa,
		      struct vg_err *err);
/* Drops the discovered kernel, keeping the source. */
void vg_guest_forget_kernel(struct vg_guest *g);
void vg_guest_close(struct vg_guest *g);

#endif
