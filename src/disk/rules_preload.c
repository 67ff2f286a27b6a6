// SPDX-License-Identifier: MIT
/*
 * preload-hider: /etc/ld.so.preload makes the dynamic linker load its libraries into every
 * process, which is how userland rootkits (Jynx, Azazel, libprocesshider, Umbreon) hook
 * readdir and hide files and processes from ls, ps and netstat inside the guest. Read from
 * outside, the hook hides nothing: every library it names is reported, with whether it
 * exists in the image. Also chkrootkit's chk_ldsopreload: the libraries /lib/libshow.so and
 * /lib/libproc.a that its trojaned-ls test looks for.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "scan_int.h"

#define MAX_LIBS 32

static void check_preload(struct vg_scan *c, uint32_t idx, const uint8_t *data, size_t len,
			  const void *arg)
{
	const char *path = vg_fent_path(c->t, &c->t->v[idx]);
	char libs[MAX_LIBS][256], names[512] = "";
	int n = 0;
	size_t i = 0;
	struct vg_json j;

	/* glibc drops comments ('#' to the end of the line) and splits the rest at white space
	 * and ':' */
	while (i < len && n < MAX_LIBS) {
		size_t start, k;

		if (data[i] == '#') {
			while (i < len && data[i] != '\n')
				i++;
			continue;
		}
		if (!data[i] || strchr(" \t\r\n:", data[i])) {
			i++;
			continue;
		}
		start = i;
		while (i < len && data[i] && data[i] != '#' && !strchr(" \t\r\n:", data[i]))
			i++;
		k = i - start;
		if (k >= sizeof(libs[0]))
			continue;
		memcpy(libs[n], data + start, k);
		libs[n][k] = '\0';
		n++;
	}
	if (!n)
		return;
	if (vg_ev_open(&j)) {
		c->ret = -ENOMEM;
		return;
	}
	vg_json_kstr(&j, "path", path);
	vg_json_key(&j, "libraries");
	vg_json_arr_open(&j);
	for (int k = 0; k < n; k++) {
		long lib = vg_ftab_resolve(c->t, libs[k]);

		vg_json_obj_open(&j);
		vg_json_kstr(&j, "path", libs[k]);
		vg_json_kbool(&j, "exists", lib >= 0);
		if (lib >= 0) {
			vg_json_kuint(&j, "size", c->t->v[lib].size);
			vg_json_kuint(&j, "inode", c->t->v[lib].ino);
		}
		vg_json_obj_close(&j);
		if (strlen(names) + strlen(libs[k]) + 3 < sizeof(names))
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 k ? ", " : "", libs[k]);
	}
	vg_json_arr_close(&j);
	vg_scan_add(c, "preload-hider", VG_SEV_HIGH, "T1574.006", NULL, path, &j,
		    "%s preloads %d librar%s into every process (a userland rootkit's hook): %s",
		    path, n, n == 1 ? "y" : "ies", names);
}

void vg_rules_preload(struct vg_scan *c)
{
	static const char *const chk[] = { "/lib/libshow.so", "/lib/libproc.a", NULL };
	long idx;

	if (!vg_scan_on(c, "preload-hider"))
		return;
	idx = vg_ftab_resolve(c->t, "/etc/ld.so.preload");
	if (idx >= 0 && S_ISREG(c->t->v[idx].mode))
		vg_scan_want(c, (uint32_t)idx, check_preload, NULL);
	for (const char *const *p = chk; *p; p++) {
		struct vg_json j;

		idx = vg_ftab_resolve(c->t, *p);
		if (idx < 0)
			continue;
		if (vg_ev_open(&j)) {
			c->ret = -ENOMEM;
			return;
		}
		vg_json_kstr(&j, "chkrootkit_test", "ldsopreload");
		vg_ev_entry(&j, c->t, &c->t->v[idx]);
		vg_scan_add(c, "preload-hider", VG_SEV_CRITICAL, "T1574.006", NULL, *p, &j,
			    "%s exists: a library trojaned ls/ps preload (chkrootkit ldsopreload)",
			    *p);
	}
}
