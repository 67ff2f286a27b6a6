// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for sample identification: any byte string is identified as a sample file.
 * ASan/UBSan catch reads outside the input; the asserts catch an interpreter path that is not
 * a NUL-terminated absolute path of printable bytes, or a verdict that contradicts the parse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/sandbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbx_ident id;
	char reason[256];
	enum sbx_runnable r;

	sbx_identify_buf(&id, data, size);
	if (memchr(id.interp, '\0', sizeof(id.interp)) == NULL)
		abort();
	if (id.interp[0] && (id.interp[0] != '/' || !id.dynamic))
		abort();
	for (const char *p = id.interp; *p; p++)
		if ((unsigned char)*p < 0x20)
			abort();
	r = sbx_ident_runnable(&id, false, reason, sizeof(reason));
	if (!id.is_elf && r != SBX_RUN_NOT_ELF)
		abort();
	if (r == SBX_RUN_OK && (id.dynamic || id.machine != 40 || id.malformed))
		abort();
	return 0;
}
