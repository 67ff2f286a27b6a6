// SPDX-License-Identifier: MIT
/*
 * Finds "Linux version " strings in guest RAM. The real linux_banner lives in the kernel's
 * .rodata; copies also sit in the printk buffer and the page cache, so callers treat each hit
 * as a candidate and keep the one the kernel page tables and kallsyms agree on.
 */
#include <string.h>

#include "vigil/linux.h"

static const char needle[] = "Linux version ";

/* linux_banner is "...\n" then NUL; printk and page-cache copies are not. Those go last. */
static bool looks_like_rodata(struct vg_mem *mem, uint64_t pa)
{
	char buf[VG_BANNER_MAX];
	size_t n;

	memset(buf, 0, sizeof(buf));
	if (vg_mem_read(mem, pa, buf, sizeof(buf) - 1))
		return false;
	n = strnlen(buf, sizeof(buf) - 1);
	return n > sizeof(needle) && n < sizeof(buf) - 1 && buf[n - 1] == '\n';
}

static void order_candidates(struct vg_mem *mem, uint64_t *pas, int n)
{
	int front = 0;

	for (int i = 0; i < n; i++) {
		if (looks_like_rodata(mem, pas[i])) {
			uint64_t t = pas[front];

			pas[front++] = pas[i];
			pas[i] = t;
		}
	}
}

/*
 * glibc's memmem slows down twentyfold on some guest RAM (seen: 2.4 s for 512 MiB); memchr on
 * the needle's 'x', which is rare in memory, followed by a compare runs at the speed of the read.
 */
static const uint8_t *find_needle(const uint8_t *p, size_t n)
{
	const size_t anchor = 4; /* needle[4] == 'x' */
	const uint8_t *end = p + n, *q = p + anchor;

	while (q < end) {
		q = memchr(q, needle[anchor], end - q);
		if (!q)
			return NULL;
		if ((size_t)(end - (q - anchor)) >= sizeof(needle) - 1 &&
		    !memcmp(q - anchor, needle, sizeof(needle) - 1))
			return q - anchor;
		q++;
	}
	return NULL;
}

/* Searches [start, start+size) of one range; hits go to pas[*found...]. */
static bool looks_like_rodata(struct vg_mem *mem, uint64_t pa);

static void scan_buf(struct vg_mem *mem, const uint8_t *base, size_t size, uint64_t start,
		     uint64_t *pas, int max, int *found)
{
	const uint8_t *p = base, *end = base + size;

	while (*found < max && p < end) {
		const uint8_t *hit = find_needle(p, end - p);
		const uint8_t *q;

		if (!hit)
			break;
		/* a banner has a numeric release right after the prefix */
		q = hit + sizeof(needle) - 1;
		if (q < end && *q >= '0' && *q <= '9') {
			pas[(*found)++] = start + (uint64_t)(hit - base);
			/* quick mode (max 1) wants the kernel's own copy, not printk's */
			if (max == 1 && !looks_like_rodata(mem, pas[0]))
				(*found)--;
		}
		p = hit + 1;
	}
}

struct scan {
	struct vg_mem *mem;
	uint64_t *pas;
	int max, found;
	size_t chunk;
};

static int scan_chunk(void *ctx, uint64_t pa, const uint8_t *p, size_t n)
{
	struct scan *s = ctx;
	int before = s->found;

	scan_buf(s->mem, p, n, pa, s->pas, s->max, &s->found);
	/* a hit inside the overlap is found again by the next chunk */
	while (s->found > before && s->pas[s->found - 1] >= pa + s->chunk)
		s->found--;
	return s->found >= s->max;
}

int vg_banner_find(struct vg_mem *mem, uint64_t *pas, int max)
{
	struct scan s = { .mem = mem, .pas = pas, .max = max, .chunk = 4u << 20 };

	/* a failed scan keeps what it found before the failure */
	vg_mem_scan(mem, s.chunk, sizeof(needle) + 8, scan_chunk, &s);
	order_candidates(mem, pas, s.found);
	return s.found;
}
