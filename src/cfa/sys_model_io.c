// SPDX-License-Identifier: MIT
/*
 * Syscall model file: a 64-byte header ("VGSYSMD1", version, flags, counts), then the arrays
 * (64-bit ones first, so every array is naturally aligned), then the string table. Loading
 * checks everything before any view is used (fuzzed by tests/fuzz/fuzz_sysmodel.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "vigil/sysmodel.h"

#define HDR_LEN 64
#define MAX_FILE (1ull << 30)
static const char magic[8] = "VGSYSMD1";

struct hdr {
	char magic[8];
	uint32_t version, flags;
	uint32_t nmods, nfuncs, ninsns, nsites, nlists, ntuples, ntrans, nexecs, nstrs;
	uint32_t pad[3];
};

_Static_assert(sizeof(struct hdr) == HDR_LEN, "model header layout");
_Static_assert(sizeof(struct vg_sys_mod) == 68, "module record layout");
_Static_assert(sizeof(struct vg_sys_func) == 16, "function record layout");
_Static_assert(sizeof(struct vg_sys_insn) == 16, "instruction record layout");
_Static_assert(sizeof(struct vg_sys_site) == 16, "site record layout");

static size_t body_len(const struct hdr *h)
{
	return (size_t)(h->ntuples + (size_t)h->ntrans + h->nexecs) * 8 +
	       (size_t)h->nmods * sizeof(struct vg_sys_mod) +
	       (size_t)h->nfuncs * sizeof(struct vg_sys_func) +
	       (size_t)h->ninsns * sizeof(struct vg_sys_insn) +
	       (size_t)h->nsites * sizeof(struct vg_sys_site) + (size_t)h->nlists * 4 + h->nstrs;
}

static uint8_t *put(uint8_t *p, const void *src, size_t n)
{
	if (n)
		memcpy(p, src, n);
	return p + n;
}

int vg_sys_model_serialize(const struct vg_sys_model *m, void **out, size_t *len,
			   struct vg_err *err)
{
	struct hdr h = { .version = VG_SYS_MODEL_VERSION, .flags = m->flags };
	uint8_t *buf, *p;

	memcpy(h.magic, magic, sizeof(magic));
	h.nmods = m->nmods;
	h.nfuncs = m->nfuncs;
	h.ninsns = m->ninsns;
	h.nsites = m->nsites;
	h.nlists = m->nlists;
	h.ntuples = m->ntuples;
	h.ntrans = m->ntrans;
	h.nexecs = m->nexecs;
	h.nstrs = m->nstrs;
	*len = HDR_LEN + body_len(&h);
	buf = malloc(*len);
	if (!buf)
		return vg_errf(err, ENOMEM, "model: out of memory");
	p = buf;
	p = put(p, &h, HDR_LEN);
	p = put(p, m->tuples, (size_t)m->ntuples * 8);
	p = put(p, m->trans, (size_t)m->ntrans * 8);
	p = put(p, m->execs, (size_t)m->nexecs * 8);
	p = put(p, m->mods, (size_t)m->nmods * sizeof(*m->mods));
	p = put(p, m->funcs, (size_t)m->nfuncs * sizeof(*m->funcs));
	p = put(p, m->insns, (size_t)m->ninsns * sizeof(*m->insns));
	p = put(p, m->sites, (size_t)m->nsites * sizeof(*m->sites));
	p = put(p, m->lists, (size_t)m->nlists * 4);
	put(p, m->strs, m->nstrs);
	*out = buf;
	return 0;
}

static int sorted(const uint64_t *a, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++)
		if (a[i - 1] > a[i])
			return 0;
	return 1;
}

static int bad(struct vg_err *err, const char *what)
{
	return vg_errf(err, EINVAL, "not a valid syscall model: %s", what);
}

static int check(const struct vg_sys_model *m, struct vg_err *err)
{
	if (m->nstrs && m->strs[m->nstrs - 1])
		return bad(err, "string table not terminated");
	if (!sorted(m->tuples, m->ntuples) || !sorted(m->trans, m->ntrans) ||
	    !sorted(m->execs, m->nexecs))
		return bad(err, "trained sets not sorted");
	for (uint32_t i = 0; i < m->nmods; i++) {
		const struct vg_sys_mod *d = &m->mods[i];

		if (d->idlen > 32 || d->idkind > 2 || d->name >= m->nstrs || d->func > m->nfuncs ||
		    d->nfunc > m->nfuncs - d->func || d->insn > m->ninsns ||
		    d->ninsn > m->ninsns - d->insn || d->site > m->nsites ||
		    d->nsite > m->nsites - d->site)
			return bad(err, "module record out of range");
		for (uint32_t k = 1; k < d->ninsn; k++)
			if (m->insns[d->insn + k - 1].off >= m->insns[d->insn + k].off)
				return bad(err, "syscall instructions not sorted");
		for (uint32_t k = 1; k < d->nsite; k++)
			if (m->sites[d->site + k - 1].off >= m->sites[d->site + k].off)
				return bad(err, "call sites not sorted");
	}
	for (uint32_t i = 0; i < m->nfuncs; i++)
		if (m->funcs[i].mod >= m->nmods || m->funcs[i].name >= m->nstrs ||
		    m->funcs[i].lo > m->funcs[i].hi)
			return bad(err, "function record out of range");
	for (uint32_t i = 0; i < m->ninsns; i++)
		if (m->insns[i].func >= m->nfuncs || m->insns[i].depth < -1)
			return bad(err, "syscall instruction out of range");
	for (uint32_t i = 0; i < m->nsites; i++)
		if (m->sites[i].list > m->nlists ||
		    m->sites[i].nlist > m->nlists - m->sites[i].list)
			return bad(err, "call site out of range");
	for (uint32_t i = 0; i < m->nlists; i++)
		if (m->lists[i] >= m->nfuncs)
			return bad(err, "call site list out of range");
	return 0;
}

int vg_sys_model_from_buf(struct vg_sys_model *m, const void *buf, size_t len, struct vg_err *err)
{
	const uint8_t *p = buf;
	struct hdr h;

	memset(m, 0, sizeof(*m));
	if (len < HDR_LEN)
		return bad(err, "too short");
	memcpy(&h, buf, HDR_LEN);
	if (memcmp(h.magic, magic, sizeof(magic)))
		return bad(err, "wrong magic");
	if (h.version != VG_SYS_MODEL_VERSION)
		return vg_errf(err, EINVAL, "syscall model version %u is not supported", h.version);
	if (h.nmods > VG_SYS_MAX_MODULES || h.nfuncs > VG_SYS_MAX_ITEMS ||
	    h.ninsns > VG_SYS_MAX_ITEMS || h.nsites > VG_SYS_MAX_ITEMS ||
	    h.nlists > VG_SYS_MAX_ITEMS || h.ntuples > VG_SYS_MAX_ITEMS ||
	    h.ntrans > VG_SYS_MAX_ITEMS || h.nexecs > VG_SYS_MAX_ITEMS ||
	    h.nstrs > VG_SYS_MAX_ITEMS)
		return bad(err, "count too large");
	if (len != HDR_LEN + body_len(&h))
		return bad(err, "size does not match its counts");
	p += HDR_LEN;
	m->flags = h.flags;
	m->tuples = (const uint64_t *)p;
	m->ntuples = h.ntuples;
	p += (size_t)h.ntuples * 8;
	m->trans = (const uint64_t *)p;
	m->ntrans = h.ntrans;
	p += (size_t)h.ntrans * 8;
	m->execs = (const uint64_t *)p;
	m->nexecs = h.nexecs;
	p += (size_t)h.nexecs * 8;
	m->mods = (const struct vg_sys_mod *)p;
	m->nmods = h.nmods;
	p += (size_t)h.nmods * sizeof(*m->mods);
	m->funcs = (const struct vg_sys_func *)p;
	m->nfuncs = h.nfuncs;
	p += (size_t)h.nfuncs * sizeof(*m->funcs);
	m->insns = (const struct vg_sys_insn *)p;
	m->ninsns = h.ninsns;
	p += (size_t)h.ninsns * sizeof(*m->insns);
	m->sites = (const struct vg_sys_site *)p;
	m->nsites = h.nsites;
	p += (size_t)h.nsites * sizeof(*m->sites);
	m->lists = (const uint32_t *)p;
	m->nlists = h.nlists;
	p += (size_t)h.nlists * 4;
	m->strs = (const char *)p;
	m->nstrs = h.nstrs;
	return check(m, err);
}

int vg_sys_model_load(struct vg_sys_model *m, const char *path, struct vg_err *err)
{
	struct stat st;
	void *map;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	memset(m, 0, sizeof(*m));
	if (fd < 0)
		return vg_errf(err, errno, "%s: %m", path);
	if (fstat(fd, &st) || st.st_size < HDR_LEN || (uint64_t)st.st_size > MAX_FILE) {
		close(fd);
		return vg_errf(err, EINVAL, "%s: not a syscall model (size)", path);
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return vg_errf(err, errno, "%s: %m", path);
	r = vg_sys_model_from_buf(m, map, (size_t)st.st_size, err);
	if (r) {
		munmap(map, (size_t)st.st_size);
		return vg_err_prefix(err, "%s", path);
	}
	m->map = map;
	m->maplen = (size_t)st.st_size;
	m->mapped = 1;
	return 0;
}

int vg_sys_model_save(const struct vg_sys_model *m, const char *path, struct vg_err *err)
{
	void *buf;
	size_t len, done = 0;
	int fd, r = vg_sys_model_serialize(m, &buf, &len, err);

	if (r)
		return r;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		free(buf);
		return vg_errf(err, errno, "%s: %m", path);
	}
	while (done < len) {
		ssize_t w = write(fd, (uint8_t *)buf + done, len - done);

		if (w <= 0) {
			r = vg_errf(err, errno ? errno : EIO, "writing %s: %m", path);
			break;
		}
		done += (size_t)w;
	}
	free(buf);
	if (close(fd) && !r)
		r = vg_errf(err, errno, "closing %s: %m", path);
	return r;
}

void vg_sys_model_free(struct vg_sys_model *m)
{
	if (m->mapped)
		munmap(m->map, m->maplen);
	else
		free(m->map);
	memset(m, 0, sizeof(*m));
}

uint64_t vg_sys_ident_hash(uint8_t idkind, const uint8_t *id, uint8_t idlen)
{
	uint8_t in[34], out[8];
	uint64_t v = 0;

	in[0] = idkind;
	in[1] = idlen > 32 ? 32 : idlen;
	memcpy(in + 2, id, in[1]);
	crypto_generichash(out, sizeof(out), in, 2u + in[1], NULL, 0);
	for (int i = 7; i >= 0; i--)
		v = v << 8 | out[i];
	return v;
}

uint32_t vg_sys_find_mod(const struct vg_sys_model *m, uint8_t idkind, const uint8_t *id,
			 uint8_t idlen)
{
	if (idkind == 0)
		return VG_SYS_NONE;
	for (uint32_t i = 0; i < m->nmods; i++)
		if (m->mods[i].idkind == idkind && m->mods[i].idlen == idlen &&
		    !memcmp(m->mods[i].id, id, idlen))
			return i;
	return VG_SYS_NONE;
}

/* Both records begin with their u32 file offset. */
static const void *find_off(const void *base, uint32_t n, size_t sz, uint64_t off)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2, v;

		memcpy(&v, (const char *)base + (size_t)mid * sz, 4);
		if (v == off)
			return (const char *)base + (size_t)mid * sz;
		if (v < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct vg_sys_insn *vg_sys_find_insn(const struct vg_sys_model *m, uint32_t mod, uint64_t off)
{
	if (mod >= m->nmods)
		return NULL;
	return find_off(m->insns + m->mods[mod].insn, m->mods[mod].ninsn, sizeof(*m->insns), off);
}

const struct vg_sys_site *vg_sys_find_site(const struct vg_sys_model *m, uint32_t mod, uint64_t off)
{
	if (mod >= m->nmods)
		return NULL;
	return find_off(m->sites + m->mods[mod].site, m->mods[mod].nsite, sizeof(*m->sites), off);
}

const char *vg_sys_str(const struct vg_sys_model *m, uint32_t off)
{
	return off < m->nstrs ? m->strs + off : "?";
}

int vg_sys_sorted_has(const uint64_t *a, uint32_t n, uint64_t key)
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
