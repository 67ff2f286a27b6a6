// SPDX-License-Identifier: MIT
/*
 * files.tsv (env.h): the run's file changes, "CHANGE\tPATH\tSIZE\tENTROPY" per line, into
 * counts, persistence paths and high-entropy rewrites. Malformed lines are counted, not trusted.
 */
#include <stdlib.h>
#include <string.h>

#include "sbx_int.h"
#include "vigil/sandbox.h"

static void keep(char paths[][SBX_NOTE], const char *p)
{
	for (unsigned i = 0; i < SBX_MAX_PATHS; i++) {
		if (!paths[i][0]) {
			sbx_copy(paths[i], SBX_NOTE, p);
			return;
		}
		if (!strcmp(paths[i], p))
			return;
	}
}

void sbx_parse_files(struct sbx_files *f, const char *buf, size_t len, const char *sample_name)
{
	uint32_t created_high = 0, modified_high = 0;
	struct sbx_lines it;
	char line[SBX_MAX_LINE];

	memset(f, 0, sizeof(*f));
	sbx_lines_init(&it, buf, len);
	while (sbx_next_line(&it, line, sizeof(line))) {
		char *change = line, *path, *size_s, *ent_s, *end;
		unsigned long long size;
		double ent;

		if (!line[0])
			continue;
		path = strchr(change, '\t');
		size_s = path ? strchr(path + 1, '\t') : NULL;
		ent_s = size_s ? strchr(size_s + 1, '\t') : NULL;
		if (!ent_s) {
			f->bad++;
			continue;
		}
		*path++ = *size_s++ = *ent_s++ = '\0';
		size = strtoull(size_s, &end, 10);
		ent = strtod(ent_s, NULL);
		if (end == size_s || !(ent >= 0 && ent <= 8) || path[0] != '/') {
			f->bad++;
			continue;
		}
		if (!strcmp(change, "deleted")) {
			f->deleted++;
			if (sbx_is_self(path, sample_name))
				sbx_copy(f->self_deleted, sizeof(f->self_deleted), path);
			else
				keep(f->deleted_paths, path);
			continue;
		}
		if (!strcmp(change, "created"))
			f->created++;
		else if (!strcmp(change, "modified"))
			f->modified++;
		else {
			f->bad++;
			continue;
		}
		if (sbx_persist_path(path)) {
			f->persist++;
			keep(f->persist_paths, path);
		}
		if (ent >= sbx_entropy_bar(size)) {
			f->high_entropy_written++;
			if (change[0] == 'm')
				modified_high++;
			else
				created_high++;
			keep(f->encrypted_paths, path);
		}
	}
	/* a rewrite is either in place (modified) or a new near-random file standing in for one
	 * that was deleted (x -> x.locked); a new random file alone is not a rewrite */
	f->encrypted = modified_high + (created_high < f->deleted ? created_high : f->deleted);
	if (!f->encrypted)
		memset(f->encrypted_paths, 0, sizeof(f->encrypted_paths));
}
