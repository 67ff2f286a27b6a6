/* SPDX-License-Identifier: MIT */
/* Discovery cache (internal): per-kernel-build facts plus a per-source hint, both validated
 * against guest memory before use so a different kernel or a reboot never reuses stale data. */
#ifndef VIGIL_LXCACHE_H
#define VIGIL_LXCACHE_H

#include "vigil/linux.h"

int vg_lxcache_try(struct vg_linux *lx, const struct vg_linux_opts *opts);
void vg_lxcache_store(const struct vg_linux *lx, const struct vg_linux_opts *opts);
/* Sets lx->cache_dir from OPTS and the environment ("" when caching is disabled). */
void vg_lxcache_set_dir(struct vg_linux *lx, const struct vg_linux_opts *opts);

/* Decoded kallsyms per build (ksymcache.c): 0 when lx->ksyms now holds this boot's table. */
int vg_ksymcache_load(struct vg_linux *lx);
void vg_ksymcache_store(const struct vg_linux *lx);

/* The BTF memo (btfmemo.c): written to the cache when new answers were added. */
void vg_btfmemo_save(struct vg_linux *lx);
void vg_btfmemo_free(struct vg_linux *lx);

#endif
