// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the sinkhole's resolver: any byte string is a DNS query from a sample.
 * ASan/UBSan catch reads outside the query or writes outside the answer; the asserts catch an
 * answer longer than its buffer, a query name that is not NUL-terminated, printable and
 * JSON-safe (it goes into net.jsonl verbatim), or an answer that does not echo the query's id.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/sink_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[600];
	char qname[256];
	int n = sbx_sink_dns_answer(data, size, 0x0100420a, out, sizeof(out), qname, sizeof(qname));

	if (!memchr(qname, '\0', sizeof(qname)))
		abort();
	for (const char *p = qname; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e || *p == '"' || *p == '\\')
			abort();
	if (n < 0)
		return 0;
	if ((size_t)n > sizeof(out) || n < 12 || memcmp(out, data, 2) != 0 || !(out[2] & 0x80))
		abort();
	return 0;
}
