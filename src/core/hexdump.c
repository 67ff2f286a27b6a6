// SPDX-License-Identifier: MIT
#include <inttypes.h>

#include "vigil/hexdump.h"

void vg_hexdump(FILE *out, uint64_t addr, const uint8_t *buf, size_t len)
{
	for (size_t off = 0; off < len; off += 16) {
		size_t n = len - off < 16 ? len - off : 16;

		fprintf(out, "%016" PRIx64 "  ", addr + off);
		for (size_t i = 0; i < 16; i++) {
			if (i < n)
				fprintf(out, "%02x ", buf[off + i]);
			else
				fputs("   ", out);
			if (i == 7)
				fputc(' ', out);
		}
		fputs(" |", out);
		for (size_t i = 0; i < n; i++) {
			uint8_t c = buf[off + i];

			fputc(c >= 0x20 && c < 0x7f ? c : '.', out);
		}
		fputs("|\n", out);
	}
}
