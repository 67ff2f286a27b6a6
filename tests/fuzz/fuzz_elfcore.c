// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the memory-source parsers: any byte string is opened as a source (ELF
 * core, LiME or raw, detected by content), then every range is read at its edges, across its end
 * and through vg_mem_ptr, and the CPU state is fetched. ASan/UBSan catch any read outside the
 * input or arithmetic overflow; the asserts catch a range that points outside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/mem.h"

static void probe(struct vg_mem *m)
{
	const struct vg_mem_range *r = vg_mem_ranges(m);
	size_t n = vg_mem_nranges(m);
	uint8_t buf[64];

	for (size_t i = 0; i < n && i < 256; i++) {
		uint64_t end = r[i].start + r[i].size;

		if (r[i].file_off > vg_mem_size(m) ||
		    r[i].size > vg_mem_size(m) - r[i].file_off)
			abort();
		if (i && r[i].start < r[i - 1].start + r[i - 1].size)
			abort();
		vg_mem_read(m, r[i].start, buf, r[i].size < sizeof(buf) ? r[i].size : sizeof(buf));
		vg_mem_read(m, end - 1, buf, 1);
		vg_mem_read(m, end - 8, buf,
			    sizeof(buf)); /* runs on into the next range, or fails */
		if (vg_mem_read(m, end, buf, 1) == 0 && (i + 1 == n || r[i + 1].start != end))
			abort();
		const uint8_t *p = vg_mem_ptr(m, r[i].start, r[i].size);
		if (!p)
			abort();
		buf[0] = p[r[i].size - 1];
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_err err = { 0 };
	struct vg_cpu_state cpu;
	struct vg_mem *m;

	if (vg_mem_open_buffer(&m, data, size, &err))
		return 0;
	for (int l = 0; l < vg_mem_layout_count(m); l++) {
		if (vg_mem_set_layout(m, l))
			abort();
		probe(m);
	}
	vg_mem_cpu_state(m, &cpu);
	vg_mem_close(m);
	return 0;
}
