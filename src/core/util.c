// SPDX-License-Identifier: MIT
/* Directory and hash helpers (see util.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "vigil/util.h"

int vg_mkdir_p(const char *path, mode_t mode)
{
	char p[4096];

	if (!path || !path[0])
		return -EINVAL;
	if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

uint64_t vg_fnv64(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

uint64_t vg_fasthash64(const void *p, size_t n, uint64_t seed)
{
	const uint64_t m = 0x9e3779b97f4a7c15ull;
	uint64_t l[4] = { seed, seed ^ m, seed + m, ~seed };
	const uint8_t *b = p;
	uint64_t h;
	size_t i = 0;

	/* four chains keep four multiplies in flight; each word is mixed into its lane */
	for (; i + 32 <= n; i += 32) {
		for (int k = 0; k < 4; k++) {
			uint64_t w;

			memcpy(&w, b + i + 8 * k, 8);
			l[k] = (l[k] ^ w) * m;
			l[k] ^= l[k] >> 31;
		}
	}
	for (; i < n; i++)
		l[0] = (l[0] ^ b[i]) * m;
	h = (uint64_t)n * m;
	for (int k = 0; k < 4; k++) {
		h = (h ^ l[k]) * 0xff51afd7ed558ccdull;
		h ^= h >> 33;
	}
	return h;
}
