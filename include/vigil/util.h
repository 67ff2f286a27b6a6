/* SPDX-License-Identifier: MIT */
/* Small helpers every module uses: directories, non-cryptographic hashes. */
#ifndef VIGIL_UTIL_H
#define VIGIL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* mkdir -p with MODE for every directory it makes (existing ones are left as they are):
 * a fresh machine may have no ~/.cache, a new XDG_CACHE_HOME no parent at all. 0 or -errno. */
int vg_mkdir_p(const char *path, mode_t mode);

/* FNV-1a 64 over bytes (cache keys and build fingerprints). */
#define VG_FNV64_INIT 0xcbf29ce484222325ull
uint64_t vg_fnv64(const void *p, size_t n, uint64_t h);
/* A fast non-cryptographic 64-bit hash over 8-byte words in four independent lanes (several
 * times FNV's speed on megabytes): damaged-file checks and table fingerprints. Not for anything
 * an attacker may want to collide: use libsodium's generichash there. */
uint64_t vg_fasthash64(const void *p, size_t n, uint64_t seed);

#endif
