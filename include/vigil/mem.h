/* SPDX-License-Identifier: MIT */
/*
 * Guest physical memory sources. A source is a list of physical address ranges and a driver
 * that brings their bytes (LibVMI's driver ops, struct vg_mem_ops in vmi/mem/mem_impl.h): the
 * file driver maps a live QEMU memory-backend file (share=on), an ELF core from QEMU's
 * dump-guest-memory, a LiME dump or a raw copy of guest RAM read-only; other drivers (a remote
 * broker) fetch them. The kind of a file is detected by content, never by file name.
 * Everything above this layer reads guest memory through these functions only: nobody else
 * touches a file offset or the backing file.
 *
 * The contents are attacker-controlled: every read is bounds-checked against the ranges and a
 * read of an address outside them fails with -EFAULT (never touches memory past the mapping).
 *
 * A raw RAM file does not say where QEMU put the PCI hole, so it carries several candidate
 * layouts (all RAM low; split at 2 GiB as q35 does; split at 3 GiB as i440fx does); the
 * discovery code picks one by checking it against the kernel's own memory map
 * (vg_mem_layout_count / vg_mem_set_layout).
 */
#ifndef VIGIL_MEM_H
#define VIGIL_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/err.h"

enum vg_mem_kind {
	VG_MEM_DETECT = 0, /* vg_mem_open_kind: decide by content */
	VG_MEM_RAW = 1,	   /* raw RAM file: QEMU memory-backend file or a copy of one */
	VG_MEM_ELFCORE,	   /* ELF core from QEMU dump-guest-memory (PT_LOAD = physical RAM) */
	VG_MEM_LIME,	   /* LiME format: per-range headers */
};

struct vg_mem_range {
	uint64_t start;	   /* guest physical address */
	uint64_t size;	   /* bytes */
	uint64_t file_off; /* where start lies in the driver's address space (the file's offset) */
};

/* CPU state recovered from an ELF core's notes (QEMU's "QEMU" notes, or NT_PRSTATUS). */
struct vg_cpu_state {
	uint64_t cr0, cr3, cr4;
	int valid; /* 1 when cr3/cr4 came from the dump */
};

struct vg_mem;

/* Opens and maps SOURCE read-only. Fails with a clear message for a missing file, an empty file,
 * a truncated ELF core (a PT_LOAD past the end of the file), or an ELF file that is not a core. */
int vg_mem_open(struct vg_mem **out, const char *path, struct vg_err *err);
/* Same with the kind forced (VG_MEM_DETECT = by content). A live memory-backend file starts with
 * guest RAM at physical 0, which the guest writes: a guest that plants an ELF or LiME header there
 * would steer detection and could present a forged physical layout. Callers that know SOURCE is a
 * live RAM file should pass VG_MEM_RAW. */
int vg_mem_open_kind(struct vg_mem **out, const char *path, enum vg_mem_kind kind,
		     struct vg_err *err);
/* Same over a caller-owned buffer (unit tests, fuzzing); the buffer must outlive the source. */
int vg_mem_open_buffer(struct vg_mem **out, const void *buf, size_t len, struct vg_err *err);
void vg_mem_close(struct vg_mem *m);

enum vg_mem_kind vg_mem_kind(const struct vg_mem *m);
const char *vg_mem_kind_name(const struct vg_mem *m); /* "raw", "elf-core", "lime" */

/* Current layout's ranges, sorted by start and non-overlapping. */
size_t vg_mem_nranges(const struct vg_mem *m);
const struct vg_mem_range *vg_mem_ranges(const struct vg_mem *m);
uint64_t vg_mem_total(const struct vg_mem *m); /* bytes of RAM in all ranges */

/* Candidate layouts for raw files (1 for self-describing formats). */
int vg_mem_layout_count(const struct vg_mem *m);
int vg_mem_set_layout(struct vg_mem *m, int idx);
const char *vg_mem_layout_name(const struct vg_mem *m, int idx); /* "flat", "split-2G", ... */

/* Copies LEN bytes at physical PA; -EFAULT if any byte is outside the ranges. */
int vg_mem_read(struct vg_mem *m, uint64_t pa, void *buf, size_t len);

/* Zero-copy: a pointer to LEN bytes at PA when they lie inside one range, else NULL. */
const uint8_t *vg_mem_ptr(struct vg_mem *m, uint64_t pa, size_t len);
/* Like vg_mem_ptr, for a large range about to be read whole: its pages are mapped in one
 * step (MADV_POPULATE_READ) instead of a fault per few pages, which on a virtualised host
 * costs more than reading them. Falls back to plain vg_mem_ptr behaviour. */
const uint8_t *vg_mem_ptr_bulk(struct vg_mem *m, uint64_t pa, size_t len);

/*
 * One pass over all of the current layout's RAM, read in the driver's cheapest way for a single
 * pass (a file: pread from the page cache, several times cheaper than faulting in a mapping;
 * a remote source: large batched fetches). FN sees chunks of at most CHUNK + OVERLAP bytes;
 * consecutive chunks of a range overlap by OVERLAP bytes so a pattern up to that long is seen
 * whole (a hit inside the overlap is seen twice: FN skips hits at or past pa + CHUNK). FN
 * returns nonzero to stop; that value is returned. -ENOMEM or a driver's error otherwise.
 */
typedef int (*vg_mem_scan_fn)(void *ctx, uint64_t pa, const uint8_t *p, size_t n);
int vg_mem_scan(struct vg_mem *m, size_t chunk, size_t overlap, vg_mem_scan_fn fn, void *ctx);

/* CPU registers from the dump, -ENOENT when the source has none (live files, raw, LiME). */
int vg_mem_cpu_state(const struct vg_mem *m, struct vg_cpu_state *out);
/* CPUs the dump has notes for (NT_PRSTATUS or QEMU), 0 when it has none. */
int vg_mem_cpu_count(const struct vg_mem *m);

/* The name the source was opened by (a path, a URI), for messages. */
const char *vg_mem_path(const struct vg_mem *m);
/* Bytes in the driver's address space (a file's size). */
uint64_t vg_mem_size(const struct vg_mem *m);
/* A stable identity of what is behind the source, for cache keys: the file's real path, a
 * broker's host and VM name. -errno when it cannot be told. */
int vg_mem_ident(const struct vg_mem *m, char *buf, size_t len);

/* Is the source still the one that was opened? 0 yes; -ENOENT it is gone; -ESTALE it was
 * replaced by another; -EAGAIN it cannot be reached right now (a remote source: retry). */
int vg_mem_check(struct vg_mem *m);
/* Does a running VM stand behind the source? 1 yes (QEMU still maps the RAM file), 0 no (it
 * exited), -ENOTSUP for sources that are never live (dumps, buffers). */
int vg_mem_live(struct vg_mem *m);

#endif
