// SPDX-License-Identifier: MIT
/*
 * Model file I/O: serialise a struct vg_cfa_model into one blob, load it back with mmap and
 * validate every count, offset and index before any view is used (the file may come from an
 * untrusted place; tests/fuzz/fuzz_cfa_model.c feeds this function arbitrary bytes).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/cfa_model.h"

enum {
	S_NODES,
	S_FUNCS,
	S_SUCC,
	S_CALLS,
	S_LISTS,
	S_SLOTS,
	S_DENY,
	S_PATHS,
	S_ITERS,
	S_LOOPMAX,
	S_STRS,
	S_COUNT
};

static const uint32_t esize[S_COUNT] = {
	sizeof(struct vg_cfa_node),
	sizeof(struct vg_cfa_func),
	4,
	sizeof(struct vg_cfa_call),
	4,
	sizeof(struct vg_cfa_slot),
	sizeof(struct vg_cfa_deny),
	8,
	8,
	4,
	1,
};

struct mhdr {
	uint64_t magic;
	uint32_t version, kind, flags, build_id_len;
	uint64_t base;
	uint8_t build_id[32];
	struct {
		uint64_t off;
		uint32_t count, esize;
	} sec[S_COUNT];
};

int vg_cfa_sorted_has(const uint64_t *a, uint32_t n, uint64_t key)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (a[mid] == key)
			return 1;
		if (a[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static void views(const struct vg_cfa_model *m, const void *v[S_COUNT], uint32_t n[S_COUNT])
{
	v[S_NODES] = m->nodes, n[S_NODES] = m->nnodes;
	v[S_FUNCS] = m->funcs, n[S_FUNCS] = m->nfuncs;
	v[S_SUCC] = m->succ, n[S_SUCC] = m->nsucc;
	v[S_CALLS] = m->calls, n[S_CALLS] = m->ncalls;
	v[S_LISTS] = m->lists, n[S_LISTS] = m->nlists;
	v[S_SLOTS] = m->slots, n[S_SLOTS] = m->nslots;
	v[S_DENY] = m->deny, n[S_DENY] = m->ndeny;
	v[S_PATHS] = m->paths, n[S_PATHS] = m->npaths;
	v[S_ITERS] = m->iters, n[S_ITERS] = m->niters;
	v[S_LOOPMAX] = m->loopmax, n[S_LOOPMAX] = m->nloopmax;
	v[S_STRS] = m->strs, n[S_STRS] = m->nstrs;
}

int vg_cfa_model_serialize(const struct vg_cfa_model *m, void **buf, size_t *len,
			   struct vg_err *err)
{
	const void *v[S_COUNT];
	uint32_t n[S_COUNT];
	struct mhdr h = { 0 };
	uint64_t off = (sizeof(h) + 7) & ~7ull;

	views(m, v, n);
	h.magic = VG_CFA_MODEL_MAGIC;
	h.version = VG_CFA_MODEL_VERSION;
	h.kind = m->kind;
	h.flags = m->flags;
	h.base = m->base;
	h.build_id_len = m->build_id_len;
	memcpy(h.build_id, m->build_id, sizeof(h.build_id));
	for (int i = 0; i < S_COUNT; i++) {
		h.sec[i].off = off;
		h.sec[i].count = n[i];
		h.sec[i].esize = esize[i];
		off += ((uint64_t)n[i] * esize[i] + 7) & ~7ull;
	}
	char *b = calloc(1, off);

	if (!b)
		return vg_errf(err, ENOMEM, "model of %llu bytes: out of memory",
			       (unsigned long long)off);
	memcpy(b, &h, sizeof(h));
	for (int i = 0; i < S_COUNT; i++)
		if (n[i])
			memcpy(b + h.sec[i].off, v[i], (size_t)n[i] * esize[i]);
	*buf = b;
	*len = off;
	return 0;
}

#define BAD(...) vg_errf(err, EINVAL, "invalid model: " __VA_ARGS__)

static int check_nodes(const struct vg_cfa_model *m, struct vg_err *err)
{
	for (uint32_t i = 0; i < m->nnodes; i++) {
		const struct vg_cfa_node *x = &m->nodes[i];

		if (x->func >= m->nfuncs || (uint64_t)x->succ + x->nsucc > m->nsucc ||
		    (uint64_t)x->call + x->ncall > m->ncalls ||
		    (x->loop != VG_CFA_NONE && x->loop >= m->nnodes) ||
		    !(x->flags & (VG_CFA_N_SITE | VG_CFA_N_RP)))
			return BAD("node %u out of range", i);
	}
	for (uint32_t i = 0; i < m->nsucc; i++)
		if ((m->succ[i] & VG_CFA_SUCC_MASK) >= m->nnodes)
			return BAD("edge %u out of range", i);
	for (uint32_t i = 0; i < m->ncalls; i++) {
		const struct vg_cfa_call *c = &m->calls[i];

		if (c->callee >= m->nfuncs && c->callee != VG_CFA_CALL_INDIRECT &&
		    c->callee != VG_CFA_CALL_EXTERNAL)
			return BAD("call %u has a bad callee", i);
		if (c->rp != VG_CFA_NONE &&
		    (c->rp >= m->nnodes || !(m->nodes[c->rp].flags & VG_CFA_N_RP)))
			return BAD("call %u has a bad return point", i);
	}
	for (uint32_t i = 0; i < m->nfuncs; i++) {
		const struct vg_cfa_func *f = &m->funcs[i];

		if ((uint64_t)f->entry + f->nentry > m->nlists ||
		    (uint64_t)f->callees + f->ncallees > m->nlists || f->name >= m->nstrs ||
		    f->lo > f->hi)
			return BAD("function %u out of range", i);
		for (uint32_t k = 0; k < f->nentry; k++)
			if (m->lists[f->entry + k] >= m->nnodes)
				return BAD("function %u entry out of range", i);
		for (uint32_t k = 0; k < f->ncallees; k++)
			if (m->lists[f->callees + k] >= m->nfuncs)
				return BAD("function %u callee out of range", i);
	}
	for (uint32_t i = 0; i < m->nslots; i++)
		if (m->slots[i].key != VG_CFA_NONE &&
		    (m->slots[i].node >= m->nnodes ||
		     m->nodes[m->slots[i].node].off != m->slots[i].key))
			return BAD("hash slot %u out of range", i);
	for (uint32_t i = 0; i < m->ndeny; i++) {
		const struct vg_cfa_deny *d = &m->deny[i];
		uint32_t lim = d->kind == VG_CFA_DENY_FUNC_EDGE ? m->nfuncs : m->nnodes;

		if ((d->kind != VG_CFA_DENY_FUNC_EDGE && d->kind != VG_CFA_DENY_SITE_EDGE) ||
		    d->a >= lim || d->b >= lim)
			return BAD("deny rule %u out of range", i);
	}
	for (uint32_t i = 1; i < m->npaths; i++)
		if (m->paths[i - 1] >= m->paths[i])
			return BAD("trained paths not sorted");
	for (uint32_t i = 1; i < m->niters; i++)
		if (m->iters[i - 1] >= m->iters[i])
			return BAD("trained iterations not sorted");
	return 0;
}

int vg_cfa_model_from_buf(struct vg_cfa_model *m, const void *buf, size_t len, struct vg_err *err)
{
	const char *b = buf;
	struct mhdr h;
	const void *v[S_COUNT];

	memset(m, 0, sizeof(*m));
	if (len < sizeof(h))
		return BAD("%zu bytes is shorter than the header", len);
	memcpy(&h, b, sizeof(h));
	if (h.magic != VG_CFA_MODEL_MAGIC)
		return BAD("bad magic (not a vigil CFA model)");
	if (h.version != VG_CFA_MODEL_VERSION)
		return BAD("version %u, expected %u", h.version, VG_CFA_MODEL_VERSION);
	if (h.build_id_len > 32)
		return BAD("build id length %u", h.build_id_len);
	for (int i = 0; i < S_COUNT; i++) {
		if (h.sec[i].esize != esize[i] || (h.sec[i].off & 7) || h.sec[i].off > len ||
		    (uint64_t)h.sec[i].count * esize[i] > len - h.sec[i].off)
			return BAD("section %d out of bounds", i);
		v[i] = b + h.sec[i].off;
	}
	m->kind = h.kind;
	m->flags = h.flags;
	m->base = h.base;
	m->build_id_len = h.build_id_len;
	memcpy(m->build_id, h.build_id, 32);
	m->nodes = v[S_NODES], m->nnodes = h.sec[S_NODES].count;
	m->funcs = v[S_FUNCS], m->nfuncs = h.sec[S_FUNCS].count;
	m->succ = v[S_SUCC], m->nsucc = h.sec[S_SUCC].count;
	m->calls = v[S_CALLS], m->ncalls = h.sec[S_CALLS].count;
	m->lists = v[S_LISTS], m->nlists = h.sec[S_LISTS].count;
	m->slots = v[S_SLOTS], m->nslots = h.sec[S_SLOTS].count;
	m->deny = v[S_DENY], m->ndeny = h.sec[S_DENY].count;
	m->paths = v[S_PATHS], m->npaths = h.sec[S_PATHS].count;
	m->iters = v[S_ITERS], m->niters = h.sec[S_ITERS].count;
	m->loopmax = v[S_LOOPMAX], m->nloopmax = h.sec[S_LOOPMAX].count;
	m->strs = v[S_STRS], m->nstrs = h.sec[S_STRS].count;
	if (m->nnodes > VG_CFA_MAX_NODES)
		return BAD("%u nodes", m->nnodes);
	if (!m->nslots || (m->nslots & (m->nslots - 1)))
		return BAD("hash table size %u is not a power of two", m->nslots);
	if (m->nloopmax && m->nloopmax != m->nnodes)
		return BAD("loop table has %u entries for %u nodes", m->nloopmax, m->nnodes);
	if (!m->nstrs || m->strs[m->nstrs - 1])
		return BAD("string table not terminated");
	return check_nodes(m, err);
}

int vg_cfa_model_load(struct vg_cfa_model *m, const char *path, struct vg_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
	void *p;

	memset(m, 0, sizeof(*m));
	if (fd < 0)
		return vg_errf(err, errno, "model %s: %m", path);
	if (fstat(fd, &st) || st.st_size <= 0) {
		close(fd);
		return vg_errf(err, EINVAL, "model %s: empty or unreadable", path);
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return vg_errf(err, errno, "model %s: mmap: %m", path);
	rc = vg_cfa_model_from_buf(m, p, (size_t)st.st_size, err);
	if (rc) {
		munmap(p, (size_t)st.st_size);
		return vg_err_prefix(err, "model %s", path);
	}
	m->map = p;
	m->maplen = (size_t)st.st_size;
	m->mapped = 1;
	return 0;
}

int vg_cfa_model_save(const struct vg_cfa_model *m, const char *path, struct vg_err *err)
{
	void *buf;
	size_t len, done = 0;
	int rc = vg_cfa_model_serialize(m, &buf, &len, err), fd;

	if (rc)
		return rc;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		free(buf);
		return vg_errf(err, errno, "%s: %m", path);
	}
	while (done < len) {
		ssize_t w = write(fd, (char *)buf + done, len - done);

		if (w <= 0) {
			rc = vg_errf(err, errno ? errno : EIO, "writing %s: %m", path);
			break;
		}
		done += (size_t)w;
	}
	if (close(fd) && !rc)
		rc = vg_errf(err, errno, "closing %s: %m", path);
	free(buf);
	return rc;
}

void vg_cfa_model_free(struct vg_cfa_model *m)
{
	if (m->mapped)
		munmap(m->map, m->maplen);
	else
		free(m->map);
	memset(m, 0, sizeof(*m));
}
