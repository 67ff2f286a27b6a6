/* SPDX-License-Identifier: MIT */
/* The agent's bounded output buffers (agent.h): appends past the bound are dropped and
 * counted, so a sample that floods its trace cannot exhaust the guest's RAM. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

void buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static bool buf_reserve(struct buf *b, size_t n)
{
	if (b->len + n + 1 > b->max) {
		b->dropped++;
		return false;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->dropped++;
			return false;
		}
		b->p = p;
		b->cap = cap;
	}
	return true;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	if (!buf_reserve(b, (size_t)n))
		return;
	memcpy(b->p + b->len, tmp, (size_t)n + 1);
	b->len += (size_t)n;
}

void buf_quote(struct buf *b, const char *s, size_t n, size_t lim)
{
	buf_printf(b, "\"");
	for (size_t i = 0; i < n && i < lim; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c == '\n')
			buf_printf(b, "\\n");
		else if (c == '\r')
			buf_printf(b, "\\r");
		else if (c == '\t')
			buf_printf(b, "\\t");
		else if (c < 0x20 || c >= 0x7f)
			buf_printf(b, "\\x%02x", c);
		else
			buf_printf(b, "%c", c);
	}
	buf_printf(b, "\"");
}
