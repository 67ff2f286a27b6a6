// SPDX-License-Identifier: MIT
/* The bounded table of btab.h. A slot is [last used (8)][in use (8)][key][value], the value
 * and the slot 8-aligned. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "btab.h"
#include "vigil/clock.h"

/* Tables live outside the heap (mmap), and LeakSanitizer does not look there for pointers:
 * under ASan they are declared as roots, or everything only a table points to (nDPI's
 * per-flow state) would be reported as leaked. */
#if defined(__SANITIZE_ADDRESS__)
#define VG_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VG_LSAN 1
#endif
#endif
#ifdef VG_LSAN
#include <sanitizer/lsan_interface.h>
#endif

uint64_t vg_net_seed(void)
{
	uint64_t s;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != sizeof(s))
		s = vg_mono_ns() *
		    0x9e3779b97f4a7c15ull; /* early boot: still unpredictable enough */
	return s;
}

void *vg_net_table_alloc(size_t bytes)
{
	void *p;

	if (!bytes)
		bytes = 1;
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	madvise(p, bytes, MADV_HUGEPAGE); /* a hint: without THP the table still works */
#ifdef VG_LSAN
	__lsan_register_root_region(p, bytes);
#endif
	return p;
}

void vg_net_table_free(void *p, size_t bytes)
{
	if (!p)
		return;
#ifdef VG_LSAN
	__lsan_unregister_root_region(p, bytes ? bytes : 1);
#endif
	munmap(p, bytes ? bytes : 1);
}

static size_t val_off(const struct vg_btab *t)
{
	return (16 + t->key_len + 7) & ~(size_t)7;
}

static size_t btab_bytes(const struct vg_btab *t)
{
	return (size_t)t->nbuckets * BTAB_WAYS * t->slot;
}

int vg_btab_init(struct vg_btab *t, uint32_t entries, uint32_t key_len, uint32_t val_len)
{
	uint32_t nb = 1;

	memset(t, 0, sizeof(*t));
	while ((uint64_t)nb * BTAB_WAYS < entries && nb < (1u << 24))
		nb <<= 1;
	t->nbuckets = nb;
	t->key_len = key_len;
	t->val_len = val_len;
	t->slot = (uint32_t)((val_off(t) + val_len + 7) & ~(size_t)7);
	t->seed = vg_net_seed();
	t->mem = vg_net_table_alloc(btab_bytes(t));
	return t->mem ? 0 : -ENOMEM;
}

void *vg_btab_get(struct vg_btab *t, const void *key, int64_t now, int64_t stale, bool create,
		  bool *created)
{
	uint64_t h = vg_net_hash(key, t->key_len, t->seed);
	uint8_t *b = t->mem + (size_t)(h & (t->nbuckets - 1)) * BTAB_WAYS * t->slot;
	uint8_t *victim = NULL;
	int64_t oldest = INT64_MAX;

	if (created)
		*created = false;
	for (int i = 0; i < BTAB_WAYS; i++) {
		uint8_t *s = b + (size_t)i * t->slot;
		int64_t used;

		memcpy(&used, s, 8);
		if (s[8] && !memcmp(s + 16, key, t->key_len)) {
			if (used >= stale) {
				memcpy(s, &now, 8);
				return s + val_off(t);
			}
			victim = s; /* stale: reuse this very slot */
			oldest = INT64_MIN;
			break;
		}
		if (!s[8]) {
			if (oldest != INT64_MIN) {
				victim = s;
				oldest = INT64_MIN;
			}
		} else if (used < oldest) {
			victim = s;
			oldest = used;
		}
	}
	if (!create)
		return NULL;
	memcpy(victim, &now, 8);
	victim[8] = 1;
	memcpy(victim + 16, key, t->key_len);
	memset(victim + val_off(t), 0, t->val_len);
	if (created)
		*created = true;
	return victim + val_off(t);
}

void vg_btab_free(struct vg_btab *t)
{
	if (t->mem)
		vg_net_table_free(t->mem, btab_bytes(t));
	memset(t, 0, sizeof(*t));
}
