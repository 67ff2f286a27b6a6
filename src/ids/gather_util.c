// SPDX-License-Identifier: MIT
/* Leaf helpers every gatherer uses: noting a view that failed, naming an address's owner. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "gather_int.h"

void vg_ids_note(struct vg_snapshot *s, const char *what)
{
	size_t l = strlen(s->gather_errors);

	snprintf(s->gather_errors + l, sizeof(s->gather_errors) - l, "%s%s", l ? "; " : "", what);
}

const char *vg_ids_owner(const struct vg_snapshot *s, uint64_t a)
{
	for (size_t i = 0; i < s->modules.n; i++)
		if (a >= s->modules.v[i].base && a < s->modules.v[i].base + s->modules.v[i].size)
			return s->modules.v[i].name;
	return a >= VG_MODULES_LO && a < VG_MODULES_HI ? "(unlisted module memory)" : "";
}

void vg_ids_symoff(struct vg_linux *lx, uint64_t a, char *out, size_t len)
{
	uint64_t off = 0;
	const char *n = vg_linux_sym_near(lx, a, &off);

	if (n && off < 0x100000)
		snprintf(out, len, off ? "%s+0x%llx" : "%s", n, (unsigned long long)off);
	else
		snprintf(out, len, "0x%llx", (unsigned long long)a);
}
