// SPDX-License-Identifier: MIT
/*
 * Finds "Linux version " strings in guest RAM. The real linux_banner lives in the kernel's
 * .rodata; copies also sit in the printk buffer and the page cache, so callers treat each hit
 * as a candidate and keep the one the kernel page tables and kallsyms agree on.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/*
 * Reading a live RAM file through the mapping faults in every page (~0.5 us each); pread from
 * the page cache is several times cheaper for a one-pass scan, so file-backed sources are read
 * in chunks that overlap by the needle's length.
 */
static bool scan_file(struct vg_mem *mem, const struct vg_mem_range *r, size_t nr, uint64_t *pas,
		      int max, int *found)
{
	const size_t chunk = 4u << 20, overlap = sizeof(needle) + 8;
	uint8_t *buf;
	int fd;

	if (vg_mem_file_size(mem) == 0 || !vg_mem_path(mem))
		return false;
	fd = open(vg_mem_path(mem), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	buf = malloc(chunk + overlap);
	if (!buf) {
		close(fd);
		return false;
	}
	for (size_t i = 0; i < nr && *found < max; i++) {
		for (uint64_t off = 0; off < r[i].size && *found < max; off += chunk) {
			size_t want = r[i].size - off < chunk + overlap ? r[i].size - off
									: chunk + overlap;
			ssize_t got = pread(fd, buf, want, (off_t)(r[i].file_off + off));
			int before = *found;

			if (got <= 0)
				break;
			scan_buf(mem, buf, (size_t)got, r[i].start + off, pas, max, found);
			/* a hit inside the overlap is found again by the next chunk */
			while (*found > before && pas[*found - 1] >= r[i].start + off + chunk)
				(*found)--;
		}
	}
	free(buf);
	close(fd);
	return true;
}

int vg_banner_find(struct vg_mem *mem, uint64_t *pas, int max)
{
	const struct vg_mem_range *r = vg_mem_ranges(mem);
	size_t nr = vg_mem_nranges(mem);
	int found = 0;

	if (!scan_file(mem, r, nr, pas, max, &found)) {
		for (size_t i = 0; i < nr && found < max; i++) {
			const uint8_t *base = vg_mem_ptr(mem, r[i].start, r[i].size);

			if (base)
				scan_buf(mem, base, r[i].size, r[i].start, pas, max, &found);
		}
	}
	order_candidates(mem, pas, found);
	return found;
}
