// SPDX-License-Identifier: MIT
/*
 * The loaded-module list (the kernel's static `modules` list head), read the way
 * /proc/modules prints it: name, size of the module's memory, refcount (refcnt minus the base
 * reference), state and base address. Bounded and cycle-checked like the task list.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/lxobj.h"
#include "kread.h"

#define MODULE_REF_BASE 1

static const char *state_name(int32_t s)
{
	switch (s) {
	case 0:
		return "Live";
	case 1:
		return "Loading";
	case 2:
		return "Unloading";
	case 3:
		return "Unformed";
	default:
		return NULL;
	}
}

static int read_module(struct vg_linux *lx, uint64_t mod, struct vg_module *m)
{
	const struct vg_offsets *o = &lx->off;
	size_t nlen = o->module_name_len > 0 && o->module_name_len < (int)sizeof(m->name)
			      ? (size_t)o->module_name_len
			      : sizeof(m->name) - 1;
	int32_t state, refcnt = MODULE_REF_BASE;

	memset(m, 0, sizeof(*m));
	m->addr = mod;
	if (vg_as_read(&lx->kas, mod + o->module_name, m->name, nlen) ||
	    vg_kread_s32(lx, mod + o->module_state, &state) ||
	    vg_as_read_u64(&lx->kas, mod + o->module_base, &m->base))
		return -EFAULT;
	m->name[sizeof(m->name) - 1] = '\0';
	m->state = state_name(state);
	if (!m->state || !m->name[0])
		return -EINVAL;
	for (int i = 0; i < o->module_mem_count; i++) {
		uint32_t sz;

		if (vg_as_read_u32(&lx->kas, mod + o->module_size + i * o->module_mem_stride, &sz))
			return -EFAULT;
		m->size += sz;
	}
	if (o->module_refcnt >= 0 && vg_kread_s32(lx, mod + o->module_refcnt, &refcnt))
		return -EFAULT;
	m->refcount = refcnt - MODULE_REF_BASE;
	return 0;
}

void vg_modules_free(struct vg_module_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int vg_modules_list(struct vg_linux *lx, struct vg_module_list *out, struct vg_err *err)
{
	const uint64_t head = lx->modules_head;
	uint64_t cur, prev = head;
	size_t steps;

	memset(out, 0, sizeof(*out));
	if (!head)
		return vg_errf(err, ENOENT, "kernel symbols have no 'modules' list");
	if (vg_kread_ptr(lx, head, &cur))
		return vg_errf(err, EFAULT, "module list head unreadable");
	for (steps = 0; cur != head; steps++) {
		uint64_t mod = cur - lx->off.module_list;
		struct vg_module m;
		int ret;

		if (steps >= VG_MAX_MODULES) {
			vg_modules_free(out);
			return vg_errf(err, ELOOP,
				       "module list does not return to its head after %d "
				       "entries (corrupt or cyclic)",
				       VG_MAX_MODULES);
		}
		if (!cur || !vg_kptr_ok(cur)) {
			vg_modules_free(out);
			return vg_errf(err, EFAULT, "module list broken after %#llx",
				       (unsigned long long)prev);
		}
		ret = read_module(lx, mod, &m);
		if (ret) {
			vg_modules_free(out);
			return vg_errf(err, -ret, "module at %#llx unreadable or corrupt",
				       (unsigned long long)mod);
		}
		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 32;
			void *p = realloc(out->v, cap * sizeof(*out->v));

			if (!p) {
				vg_modules_free(out);
				return vg_errf(err, ENOMEM, "out of memory");
			}
			out->v = p;
			out->cap = cap;
		}
		out->v[out->n++] = m;
		prev = cur;
		if (vg_kread_ptr(lx, cur, &cur)) {
			vg_modules_free(out);
			return vg_errf(err, EFAULT, "module list pointer at %#llx unreadable",
				       (unsigned long long)prev);
		}
	}
	return 0;
}
