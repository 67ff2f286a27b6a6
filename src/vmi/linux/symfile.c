// SPDX-License-Identifier: MIT
/*
 * Symbols from text (--symbols): System.map or /proc/kallsyms lines "ADDR TYPE NAME [module]".
 * System.map holds link-time addresses; SLIDE (the KASLR offset found from the banner) is
 * added so they match the running kernel. Lines that don't parse are skipped, absurd counts
 * are refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/linux.h"

#define SYMFILE_MAX_SYMS 4000000u

static int cmp_addr(const void *a, const void *b)
{
	const struct vg_ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int vg_kallsyms_from_text(struct vg_kallsyms *ks, const char *text, size_t len, uint64_t slide,
			  struct vg_err *err)
{
	size_t cap = 1024, ncap = 65536, used = 0;
	const char *p = text, *end = text + len;
	uint32_t n = 0;

	memset(ks, 0, sizeof(*ks));
	ks->syms = malloc(cap * sizeof(*ks->syms));
	ks->names = malloc(ncap);
	if (!ks->syms || !ks->names)
		goto nomem;
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		const char *le = nl ? nl : end;
		char line[600], name[512], type;
		unsigned long long addr;
		size_t ll = le - p, nlen;

		if (ll < sizeof(line)) {
			memcpy(line, p, ll);
			line[ll] = '\0';
			if (sscanf(line, "%llx %c %511s", &addr, &type, name) == 3 &&
			    n < SYMFILE_MAX_SYMS) {
				nlen = strlen(name);
				if (n == cap) {
					void *q = realloc(ks->syms, (cap *= 2) * sizeof(*ks->syms));

					if (!q)
						goto nomem;
					ks->syms = q;
				}
				if (used + nlen + 1 > ncap) {
					void *q = realloc(ks->names, ncap = ncap * 2 + nlen + 1);

					if (!q)
						goto nomem;
					ks->names = q;
				}
				memcpy(ks->names + used, name, nlen + 1);
				ks->syms[n] = (struct vg_ksym){ .addr = addr + slide };
				ks->syms[n].type = type;
				ks->syms[n].name_off = used;
				used += nlen + 1;
				n++;
			}
		}
		p = le + 1;
	}
	if (n == 0) {
		vg_kallsyms_free(ks);
		return vg_errf(err, EINVAL, "symbol file has no 'ADDRESS TYPE NAME' lines");
	}
	ks->count = n;
	ks->names_len = used;
	qsort(ks->syms, n, sizeof(*ks->syms), cmp_addr);
	if (vg_kallsyms_build_index(ks))
		goto nomem;
	return 0;
nomem:
	vg_kallsyms_free(ks);
	return vg_errf(err, ENOMEM, "out of memory reading the symbol file");
}
