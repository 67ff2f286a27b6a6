// SPDX-License-Identifier: MIT
/*
 * The kernel's VMCOREINFO text ("KEY=VALUE\n" lines written by crash_save_vmcoreinfo): parsed
 * for the few facts AArch64 discovery can use as a fast path (where swapper_pg_dir and the
 * image are, VA_BITS, PHYS_OFFSET, KERNELOFFSET, the release). The text lives in guest memory,
 * so a rootkit can rewrite it: nothing here is believed until the page tables, kallsyms and the
 * kernel's own variables agree (discover_arm64.c), and the parser itself is bounded and fuzzed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/linux.h"

#define VMCI_MAX_LEN (64u << 10)
#define VMCI_MAX_LINE 256

/* A hexadecimal (SYMBOL, NUMBER(kimage_voffset)...) or decimal (NUMBER(VA_BITS)) value. */
static int parse_num(const char *v, size_t n, int base, uint64_t *out)
{
	char buf[32], *end;

	if (!n || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, v, n);
	buf[n] = '\0';
	if (buf[0] == '-' || buf[0] == '+' || buf[0] == ' ')
		return -EINVAL;
	*out = strtoull(buf, &end, base);
	return *end ? -EINVAL : 0;
}

static void take(struct vg_vmcoreinfo *vi, const char *key, size_t klen, const char *v, size_t vlen)
{
	static const struct {
		const char *key;
		int base;
		size_t off;
		unsigned int bit;
	} want[] = {
		{ "SYMBOL(swapper_pg_dir)", 16, offsetof(struct vg_vmcoreinfo, swapper_pg_dir),
		  VG_VMCI_SWAPPER },
		{ "SYMBOL(_stext)", 16, offsetof(struct vg_vmcoreinfo, stext), VG_VMCI_STEXT },
		{ "SYMBOL(init_uts_ns)", 16, offsetof(struct vg_vmcoreinfo, init_uts_ns),
		  VG_VMCI_UTS },
		{ "NUMBER(VA_BITS)", 10, offsetof(struct vg_vmcoreinfo, va_bits), VG_VMCI_VA_BITS },
		{ "NUMBER(kimage_voffset)", 16, offsetof(struct vg_vmcoreinfo, kimage_voffset),
		  VG_VMCI_VOFFSET },
		{ "NUMBER(PHYS_OFFSET)", 16, offsetof(struct vg_vmcoreinfo, phys_offset),
		  VG_VMCI_PHYS_OFFSET },
		{ "KERNELOFFSET", 16, offsetof(struct vg_vmcoreinfo, kernel_offset),
		  VG_VMCI_KERNELOFFSET },
		{ "KERNELPACMASK", 16, offsetof(struct vg_vmcoreinfo, pac_mask), VG_VMCI_PACMASK },
	};

	if (klen == 9 && !memcmp(key, "OSRELEASE", 9)) {
		if (vlen && vlen < sizeof(vi->release) && !(vi->have & VG_VMCI_RELEASE)) {
			memcpy(vi->release, v, vlen);
			vi->release[vlen] = '\0';
			vi->have |= VG_VMCI_RELEASE;
		}
		return;
	}
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint64_t x;

		if (strlen(want[i].key) != klen || memcmp(want[i].key, key, klen) ||
		    (vi->have & want[i].bit) || parse_num(v, vlen, want[i].base, &x))
			continue;
		memcpy((char *)vi + want[i].off, &x, sizeof(x));
		vi->have |= want[i].bit;
	}
}

int vg_vmcoreinfo_parse(struct vg_vmcoreinfo *vi, const char *text, size_t len)
{
	size_t pos = 0;

	memset(vi, 0, sizeof(*vi));
	if (len > VMCI_MAX_LEN)
		len = VMCI_MAX_LEN;
	len = strnlen(text, len); /* the note's text ends at its NUL */
	while (pos < len) {
		const char *line = text + pos, *nl, *eq;
		size_t n = len - pos;

		nl = memchr(line, '\n', n);
		if (nl)
			n = (size_t)(nl - line);
		eq = n <= VMCI_MAX_LINE ? memchr(line, '=', n) : NULL;
		if (eq)
			take(vi, line, (size_t)(eq - line), eq + 1, n - (size_t)(eq - line) - 1);
		pos += n + 1;
	}
	return vi->have & VG_VMCI_RELEASE ? 0 : -ENOENT;
}
