// SPDX-License-Identifier: MIT
/*
 * One run's analysis: read each artifact the environment left in the run directory (bounded),
 * hand it to its parser, then derive behaviours and the score. A missing artifact is
 * recorded, not an error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbx_int.h"
#include "vigil/sandbox.h"

int sbx_analyse(struct sbx_report *r, const char *run_dir, const struct sbx_analyse_opts *o,
		struct vg_err *err)
{
	static const char *const names[] = { "status.json", "syscalls.log", "net.jsonl",
					     "files.tsv", "services.json" };
	const char *sample = o ? o->sample_name : NULL;

	memset(r, 0, sizeof(*r));
	for (unsigned i = 0; i < 5; i++) {
		char *buf;
		size_t len;
		int rc = sbx_read_artifact(run_dir, names[i], &buf, &len, err);

		if (rc == -ENOENT) {
			size_t l = strlen(r->missing);

			snprintf(r->missing + l, sizeof(r->missing) - l, "%s%s", l ? " " : "",
				 names[i]);
			buf = NULL;
			len = 0;
		} else if (rc) {
			return rc;
		}
		switch (i) {
		case 0:
			sbx_parse_status(&r->st, buf ? buf : "", len);
			break;
		case 1:
			sbx_parse_syscalls(&r->sc, buf ? buf : "", len, sample);
			break;
		case 2:
			sbx_parse_net(&r->net, buf ? buf : "", len);
			break;
		case 3:
			sbx_parse_files(&r->files, buf ? buf : "", len, sample);
			break;
		default:
			sbx_parse_services(&r->svc, buf ? buf : "", len);
		}
		free(buf);
	}
	sbx_derive(r, o);
	return 0;
}
