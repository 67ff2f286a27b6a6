// SPDX-License-Identifier: MIT
/*
 * ELF image loader for the CFA model builder (libelf). Reads the whole file, records sections,
 * function symbols (.symtab, else .dynsym), the runtime hook addresses, the GNU build id, the
 * load base (__executable_start, else the lowest PT_LOAD) and R_X86_64_RELATIVE addends (how a
 * PIE stores function pointers in data).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfimg.h"

#define MAX_FILE (512u << 20)

static int read_file(struct elfimg *img, const char *path, struct vg_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t done = 0;

	if (fd < 0)
		return vg_errf(err, errno, "%s: %m", path);
	if (fstat(fd, &st) || st.st_size <= 0 || (uint64_t)st.st_size > MAX_FILE) {
		close(fd);
		return vg_errf(err, EINVAL, "%s: empty, unreadable or larger than 512 MiB", path);
	}
	img->len = (size_t)st.st_size;
	img->file = malloc(img->len);
	if (!img->file) {
		close(fd);
		return vg_errf(err, ENOMEM, "%s: out of memory", path);
	}
	while (done < img->len) {
		ssize_t r = read(fd, img->file + done, img->len - done);

		if (r <= 0) {
			close(fd);
			return vg_errf(err, EIO, "%s: short read", path);
		}
		done += (size_t)r;
	}
	close(fd);
	return 0;
}

static int cmp_sym(const void *a, const void *b)
{
	const struct elf_sym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int is_exec(const struct elfimg *img, uint64_t va)
{
	for (size_t i = 0; i < img->nsecs; i++)
		if (img->secs[i].exec && va >= img->secs[i].addr &&
		    va - img->secs[i].addr < img->secs[i].size)
			return 1;
	return 0;
}

static int load_syms(struct elfimg *img, Elf *e, Elf_Scn *symscn, size_t strndx, struct vg_err *err)
{
	GElf_Shdr sh;
	Elf_Data *d = elf_getdata(symscn, NULL);
	size_t n, cap = 0;
	int have_start = 0;

	if (!gelf_getshdr(symscn, &sh) || !d || !sh.sh_entsize)
		return 0;
	n = sh.sh_size / sh.sh_entsize;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym s;
		const char *name;

		if (!gelf_getsym(d, (int)i, &s))
			break;
		name = elf_strptr(e, sh.sh_link, s.st_name);
		if (!name)
			continue;
		if (!strcmp(name, "__executable_start")) {
			img->base = s.st_value;
			have_start = 1;
		}
		if (GELF_ST_TYPE(s.st_info) != STT_FUNC || s.st_shndx == SHN_UNDEF || !s.st_value)
			continue;
		if (!strcmp(name, "__sanitizer_cov_trace_pc"))
			img->hook_pc = s.st_value;
		else if (!strcmp(name, "__sanitizer_cov_trace_pc_guard"))
			img->hook_guard = s.st_value;
		else if (!strcmp(name, "__cyg_profile_func_enter"))
			img->hook_enter = s.st_value;
		else if (!strcmp(name, "__cyg_profile_func_exit"))
			img->hook_exit = s.st_value;
		if (!s.st_size || !is_exec(img, s.st_value))
			continue;
		if (img->nfuncs == cap) {
			cap = cap ? cap * 2 : 256;
			void *p = realloc(img->funcs, cap * sizeof(*img->funcs));

			if (!p)
				return vg_errf(err, ENOMEM, "symbols: out of memory");
			img->funcs = p;
		}
		img->funcs[img->nfuncs].addr = s.st_value;
		img->funcs[img->nfuncs].size = s.st_size;
		img->funcs[img->nfuncs].name = strdup(name);
		if (!img->funcs[img->nfuncs].name)
			return vg_errf(err, ENOMEM, "symbols: out of memory");
		img->nfuncs++;
	}
	(void)strndx;
	(void)have_start;
	return 0;
}

static void dedupe_funcs(struct elfimg *img)
{
	size_t w = 0;

	qsort(img->funcs, img->nfuncs, sizeof(*img->funcs), cmp_sym);
	for (size_t i = 0; i < img->nfuncs; i++) {
		/* Aliases and overlapping symbols: the first (lowest, then longest) wins. */
		if (w && img->funcs[i].addr < img->funcs[w - 1].addr + img->funcs[w - 1].size) {
			free(img->funcs[i].name);
			continue;
		}
		img->funcs[w++] = img->funcs[i];
	}
	img->nfuncs = w;
}

static int load_relative(struct elfimg *img, Elf_Scn *scn, struct vg_err *err)
{
	GElf_Shdr sh;
	Elf_Data *d = elf_getdata(scn, NULL);

	if (!gelf_getshdr(scn, &sh) || !d || !sh.sh_entsize)
		return 0;
	size_t n = sh.sh_size / sh.sh_entsize;
	uint64_t *p = realloc(img->relative, (img->nrelative + n) * sizeof(uint64_t));

	if (!p && n)
		return vg_errf(err, ENOMEM, "relocations: out of memory");
	img->relative = p;
	for (size_t i = 0; i < n; i++) {
		GElf_Rela r;

		if (!gelf_getrela(d, (int)i, &r))
			break;
		if (GELF_R_TYPE(r.r_info) == R_X86_64_RELATIVE)
			img->relative[img->nrelative++] = (uint64_t)r.r_addend;
	}
	return 0;
}

static void load_build_id(struct elfimg *img, Elf_Data *d)
{
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nh;

	while ((off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    !memcmp((char *)d->d_buf + name_off, "GNU", 4)) {
			img->build_id_len = nh.n_descsz > 32 ? 32 : nh.n_descsz;
			memcpy(img->build_id, (char *)d->d_buf + desc_off, img->build_id_len);
			return;
		}
	}
}

int vg_cfa_elfimg_open(struct elfimg *img, const char *path, int need_funcs, struct vg_err *err)
{
	Elf *e;
	GElf_Ehdr eh;
	size_t shnum, shstrndx, phnum;
	Elf_Scn *symtab = NULL, *dynsym = NULL, *scn = NULL;
	int rc;

	memset(img, 0, sizeof(*img));
	rc = read_file(img, path, err);
	if (rc) {
		vg_cfa_elfimg_close(img);
		return rc;
	}
	elf_version(EV_CURRENT);
	e = elf_memory((char *)img->file, img->len);
	if (!e) {
		vg_cfa_elfimg_close(img);
		return vg_errf(err, EINVAL, "%s: not an ELF file", path);
	}
	if (elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh)) {
		rc = vg_errf(err, EINVAL, "%s: not an ELF file", path);
		goto out;
	}
	if (eh.e_machine != EM_X86_64 || gelf_getclass(e) != ELFCLASS64) {
		rc = vg_errf(err, ENOTSUP, "%s: only x86-64 ELF is supported", path);
		goto out;
	}
	if (elf_getshdrnum(e, &shnum) || elf_getshdrstrndx(e, &shstrndx) ||
	    elf_getphdrnum(e, &phnum)) {
		rc = vg_errf(err, EINVAL, "%s: bad ELF headers", path);
		goto out;
	}
	img->base = UINT64_MAX;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && ph.p_vaddr < img->base)
			img->base = ph.p_vaddr & ~0xfffull;
	}
	if (img->base == UINT64_MAX)
		img->base = 0;
	img->secs = calloc(shnum ? shnum : 1, sizeof(*img->secs));
	if (!img->secs) {
		rc = vg_errf(err, ENOMEM, "out of memory");
		goto out;
	}
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(e, shstrndx, sh.sh_name);
		if (!name)
			name = "";
		if (sh.sh_type == SHT_SYMTAB)
			symtab = scn;
		else if (sh.sh_type == SHT_DYNSYM)
			dynsym = scn;
		else if (sh.sh_type == SHT_RELA && (rc = load_relative(img, scn, err)))
			goto out;
		else if (sh.sh_type == SHT_NOTE && (d = elf_getdata(scn, NULL)))
			load_build_id(img, d);
		if (!(sh.sh_flags & SHF_ALLOC) || img->nsecs >= shnum)
			continue;
		struct elf_sec *s = &img->secs[img->nsecs++];

		s->addr = sh.sh_addr;
		s->size = sh.sh_size;
		s->exec = !!(sh.sh_flags & SHF_EXECINSTR);
		s->write = !!(sh.sh_flags & SHF_WRITE);
		snprintf(s->name, sizeof(s->name), "%s", name);
		if (sh.sh_type != SHT_NOBITS) {
			if (sh.sh_offset > img->len || sh.sh_size > img->len - sh.sh_offset) {
				rc = vg_errf(err, EINVAL, "%s: section %s outside the file", path,
					     name);
				goto out;
			}
			s->data = img->file + sh.sh_offset;
		}
		if (!strcmp(name, "__sancov_guards")) {
			img->guards_lo = sh.sh_addr;
			img->guards_hi = sh.sh_addr + sh.sh_size;
		}
	}
	rc = load_syms(img, e, symtab ? symtab : dynsym, shstrndx, err);
	if (rc)
		goto out;
	dedupe_funcs(img);
	if (!img->nfuncs && need_funcs)
		rc = vg_errf(err, ENOENT,
			     "%s: no function symbols (stripped binaries are not supported)", path);
out:
	elf_end(e);
	if (rc)
		vg_cfa_elfimg_close(img);
	return rc;
}

void vg_cfa_elfimg_close(struct elfimg *img)
{
	for (size_t i = 0; i < img->nfuncs; i++)
		free(img->funcs[i].name);
	free(img->funcs);
	free(img->secs);
	free(img->relative);
	free(img->file);
	memset(img, 0, sizeof(*img));
}

const uint8_t *vg_cfa_elfimg_at(const struct elfimg *img, uint64_t va, size_t len)
{
	for (size_t i = 0; i < img->nsecs; i++) {
		const struct elf_sec *s = &img->secs[i];

		if (s->data && va >= s->addr && va - s->addr <= s->size &&
		    len <= s->size - (va - s->addr))
			return s->data + (va - s->addr);
	}
	return NULL;
}

long vg_cfa_elfimg_func_at(const struct elfimg *img, uint64_t va)
{
	size_t lo = 0, hi = img->nfuncs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (img->funcs[mid].addr == va)
			return (long)mid;
		if (img->funcs[mid].addr < va)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}
