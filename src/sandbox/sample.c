// SPDX-License-Identifier: MIT
/*
 * What is known about a sample before it runs: identification of its header, its SHA-256 and
 * size, and with an AV report directory its normalised labels and label score. The same
 * description goes into the campaign store and into `sandbox one`'s output.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "vigil/sandbox.h"

int sbx_sample_load(struct sbx_sample *s, struct sbx_ident *id, const char *path,
		    const char *labels_dir, const struct sbx_scores *scores, struct vg_err *err)
{
	struct stat sb;
	int rc;

	memset(s, 0, sizeof(*s));
	if (stat(path, &sb) || !S_ISREG(sb.st_mode))
		return vg_errf(err, ENOENT, "%s is not a readable regular file", path);
	if ((rc = sbx_identify_file(id, path, err)) || (rc = sbx_sha256_file(path, s->sha256, err)))
		return rc;
	s->path = path;
	s->size = (uint64_t)sb.st_size;
	s->id = id;
	s->label_score = -1;
	if (!labels_dir)
		return 0;
	rc = sbx_labels_load(&s->labels, labels_dir, s->sha256, err);
	/* a report that does not parse is as good as none: it must not stop a campaign */
	if (rc == -EINVAL) {
		vg_err_clear(err);
		memset(&s->labels, 0, sizeof(s->labels));
	} else if (rc && rc != -ENOENT) {
		return rc;
	}
	s->label_score = sbx_label_score(scores, &s->labels);
	return 0;
}
