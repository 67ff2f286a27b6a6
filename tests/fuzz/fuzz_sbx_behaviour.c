// SPDX-License-Identifier: MIT
/*
 * libFuzzer: the sandbox's parsers of hostile artifacts (status.json, syscalls.log, net.jsonl,
 * files.tsv, services.json), the AV label report parser and the score table parser, followed by
 * the behaviour derivation and the JSON writer over whatever they produced. The first byte
 * picks the parser; the rest is the artifact.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/sandbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sbx_report r;
	struct sbx_analyse_opts o = { "sample", NULL };
	struct sbx_outcome out;
	struct sbx_labels l;
	struct sbx_scores s;
	struct vg_err err = { 0 };
	struct vg_json j;
	const char *buf;
	size_t len;
	FILE *null;

	if (size < 1)
		return 0;
	buf = (const char *)data + 1;
	len = size - 1;
	memset(&r, 0, sizeof(r));
	switch (data[0] % 7) {
	case 0:
		sbx_parse_status(&r.st, buf, len);
		break;
	case 1:
		sbx_parse_syscalls(&r.sc, buf, len, "sample");
		break;
	case 2:
		sbx_parse_net(&r.net, buf, len);
		break;
	case 3:
		sbx_parse_files(&r.files, buf, len, "sample");
		break;
	case 4:
		sbx_parse_services(&r.svc, buf, len);
		break;
	case 5:
		sbx_labels_parse(&l, buf, len, &err);
		return 0;
	default:
		sbx_scores_default(&s);
		sbx_scores_parse(&s, buf, len, &err);
		return 0;
	}
	sbx_derive(&r, &o);
	sbx_outcome_from_status(&r.st, 10, &out);
	null = fopen("/dev/null", "w");
	if (null) {
		vg_json_init(&j, null, false);
		sbx_report_json(&j, &r, &out, NULL);
		fclose(null);
	}
	return 0;
}
