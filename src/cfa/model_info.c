// SPDX-License-Identifier: MIT
/* Facts about a loaded model: which binary it is for, and the counts `vigil cfa info` shows. */
#include <string.h>

#include "vigil/cfa_model.h"
#include "vigil/rt.h"

bool vg_cfa_model_same_build(const struct vg_cfa_model *m, const uint8_t *id, uint32_t len)
{
	return m->build_id_len == len && !memcmp(m->build_id, id, len);
}

const char *vg_cfa_kind_name(uint32_t kind)
{
	return kind == VG_RT_KIND_GUARD ? "trace-pc-guard"
	       : kind == VG_RT_KIND_PC	? "trace-pc"
					: "functions";
}

void vg_cfa_model_stats(const struct vg_cfa_model *m, struct vg_cfa_model_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (uint32_t i = 0; i < m->nnodes; i++) {
		uint32_t f = m->nodes[i].flags;

		st->sites += !!(f & VG_CFA_N_SITE);
		st->return_points += !!(f & VG_CFA_N_RP);
		st->reduced += !!(f & VG_CFA_N_REDUCED);
		st->loop_headers += !!(f & VG_CFA_N_HEADER);
		st->unresolved_ijmp += !!(f & VG_CFA_N_IJMP);
	}
	for (uint32_t i = 0; i < m->nfuncs; i++) {
		st->address_taken += !!(m->funcs[i].flags & VG_CFA_F_ADDR_TAKEN);
		st->instrumented += !!(m->funcs[i].flags & VG_CFA_F_INSTR);
	}
}
