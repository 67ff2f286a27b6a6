/* SPDX-License-Identifier: MIT */
/* Shared by the syscall-attestation fuzz targets: a small consistent model made in memory
 * (one module, syscall instructions with and without known frames, call sites) and a batch
 * that uses it, so the engine's deeper paths are reached from the first input. */
#ifndef VIGIL_SYS_FUZZ_COMMON_H
#define VIGIL_SYS_FUZZ_COMMON_H

#include <stdlib.h>
#include <string.h>

#include "vigil/sysbatch.h"
#include "vigil/sysmodel.h"

static const uint8_t fuzz_ident[20] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

/* Serialises a small model into *BUF (malloc'd); 0 or -errno. */
static inline int fuzz_small_model(void **buf, size_t *len)
{
	static const struct vg_sys_func funcs[] = {
		{ .mod = 0, .lo = 0x1000, .hi = 0x1100, .name = 0 },
		{ .mod = 0, .lo = 0x2000, .hi = 0x2100, .name = 5 },
	};
	static const struct vg_sys_insn insns[] = {
		{ .off = 0x1007, .func = 0, .depth = 0, .nr = 39 },
		{ .off = 0x1050, .func = 0, .depth = 16, .nr = VG_SYS_ANY_NR },
		{ .off = 0x1090, .func = 0, .depth = -1, .nr = 1 },
	};
	static const struct vg_sys_site sites[] = {
		{ .off = 0x2010, .list = 0, .nlist = 1 },
		{ .off = 0x2020, .list = 0, .nlist = 0, .flags = VG_SYS_S_INDIRECT },
	};
	static const uint32_t lists[] = { 0 };
	static const uint64_t tuples[] = { 5, 9 }, trans[] = { 3 };
	static const char strs[] = "wrap\0main\0/bin/prog";
	struct vg_sys_mod mod = { .idkind = VG_SB_ID_BUILD,
				  .idlen = 20,
				  .name = 10,
				  .flags = VG_SYS_MOD_MAIN | VG_SYS_MOD_ANALYSED,
				  .func = 0,
				  .nfunc = 2,
				  .insn = 0,
				  .ninsn = 3,
				  .site = 0,
				  .nsite = 2 };
	struct vg_sys_model m = { .flags = VG_SYS_M_TRAINED };
	struct vg_err err = { 0 };

	memcpy(mod.id, fuzz_ident, sizeof(fuzz_ident));
	m.mods = &mod;
	m.nmods = 1;
	m.funcs = funcs;
	m.nfuncs = 2;
	m.insns = insns;
	m.ninsns = 3;
	m.sites = sites;
	m.nsites = 2;
	m.lists = lists;
	m.nlists = 1;
	m.tuples = tuples;
	m.ntuples = 2;
	m.trans = trans;
	m.ntrans = 1;
	m.strs = strs;
	m.nstrs = sizeof(strs);
	return vg_sys_model_serialize(&m, buf, len, &err);
}

#endif
