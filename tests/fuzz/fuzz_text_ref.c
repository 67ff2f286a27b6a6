// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the kernel text reference of a baseline file (text_json.c): any bytes
 * are parsed as JSON and then as a reference. A reference that parses must be consistent (hash
 * count matching its range and chunk) and must survive a round trip through its JSON form.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vigil/ids_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_text_ref r, back;
	struct vg_err err = { 0 };
	json_t *j, *out;

	if (sodium_init() < 0)
		abort();
	j = json_loadb((const char *)data, size, 0, NULL);
	if (!j)
		return 0;
	if (!vg_text_ref_from_json(j, &r, &err)) {
		if (r.end <= r.start || r.n != (r.end - r.start + r.chunk - 1) / r.chunk)
			abort();
		out = vg_text_ref_to_json(&r);
		if (!out || vg_text_ref_from_json(out, &back, &err) || back.n != r.n ||
		    memcmp(back.hash, r.hash, r.n * 8) || memcmp(back.key, r.key, 16))
			abort();
		json_decref(out);
		vg_text_ref_free(&back);
		vg_text_ref_free(&r);
	}
	json_decref(j);
	return 0;
}
