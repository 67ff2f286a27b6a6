// SPDX-License-Identifier: MIT
/*
 * The views of an ELF module the syscall model needs beyond elfimg (sections, functions,
 * build id): PT_LOAD segments (addresses -> file offsets, which is how the device names
 * code), exported functions, imports by GOT slot (how PLT stubs and -fno-plt calls reach
 * other modules), DT_NEEDED, DT_RUNPATH/DT_RPATH, PT_INTERP and the .eh_frame section.
 */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>

#include "sys_int.h"

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct sys_name *)a)->name, ((const struct sys_name *)b)->name);
}

static int cmp_addr(const void *a, const void *b)
{
	const struct sys_name *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int push_name(struct sys_name **v, size_t *n, size_t *cap, uint64_t addr, const char *name)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		void *p = realloc(*v, c * sizeof(**v));

		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = c;
	}
	(*v)[*n].addr = addr;
	(*v)[*n].name = strdup(name);
	if (!(*v)[*n].name)
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int load_dynsym(struct sys_elf *e, Elf *elf, Elf_Scn *scn)
{
	GElf_Shdr sh;
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n, cap = 0;

	if (!gelf_getshdr(scn, &sh) || !d || !sh.sh_entsize)
		return 0;
	n = sh.sh_size / sh.sh_entsize;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym s;
		const char *name;
		int t;

		if (!gelf_getsym(d, (int)i, &s))
			break;
		t = GELF_ST_TYPE(s.st_info);
		if ((t != STT_FUNC && t != STT_GNU_IFUNC) || s.st_shndx == SHN_UNDEF || !s.st_value)
			continue;
		name = elf_strptr(elf, sh.sh_link, s.st_name);
		if (name && *name && push_name(&e->exports, &e->nexports, &cap, s.st_value, name))
			return -ENOMEM;
	}
	qsort(e->exports, e->nexports, sizeof(*e->exports), cmp_name);
	return 0;
}

/* JUMP_SLOT and GLOB_DAT relocations: which symbol a GOT slot will hold. */
static int load_imports(struct sys_elf *e, Elf *elf, Elf_Scn *scn, size_t *cap)
{
	GElf_Shdr sh, symsh;
	Elf_Data *d = elf_getdata(scn, NULL), *syms;
	Elf_Scn *symscn;
	size_t n;

	if (!gelf_getshdr(scn, &sh) || !d || !sh.sh_entsize || !sh.sh_link)
		return 0;
	symscn = elf_getscn(elf, sh.sh_link);
	if (!symscn || !gelf_getshdr(symscn, &symsh) || !(syms = elf_getdata(symscn, NULL)))
		return 0;
	n = sh.sh_size / sh.sh_entsize;
	for (size_t i = 0; i < n; i++) {
		GElf_Rela r;
		GElf_Sym s;
		const char *name;
		uint32_t t;

		if (!gelf_getrela(d, (int)i, &r))
			break;
		t = (uint32_t)GELF_R_TYPE(r.r_info);
		if ((t != R_X86_64_JUMP_SLOT && t != R_X86_64_GLOB_DAT) ||
		    !gelf_getsym(syms, (int)GELF_R_SYM(r.r_info), &s))
			continue;
		name = elf_strptr(elf, symsh.sh_link, s.st_name);
		if (name && *name && push_name(&e->imports, &e->nimports, cap, r.r_offset, name))
			return -ENOMEM;
	}
	return 0;
}

static int load_dynamic(struct sys_elf *e, Elf *elf, Elf_Scn *scn)
{
	GElf_Shdr sh;
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n;

	if (!gelf_getshdr(scn, &sh) || !d || !sh.sh_entsize)
		return 0;
	n = sh.sh_size / sh.sh_entsize;
	for (size_t i = 0; i < n; i++) {
		GElf_Dyn dyn;
		const char *s;

		if (!gelf_getdyn(d, (int)i, &dyn) || dyn.d_tag == DT_NULL)
			break;
		if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_RUNPATH && dyn.d_tag != DT_RPATH)
			continue;
		s = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val);
		if (!s)
			continue;
		if (dyn.d_tag == DT_NEEDED) {
			char **p = realloc(e->needed, (e->nneeded + 1) * sizeof(*p));

			if (!p)
				return -ENOMEM;
			e->needed = p;
			if (!(p[e->nneeded] = strdup(s)))
				return -ENOMEM;
			e->nneeded++;
		} else if (!e->runpath || dyn.d_tag == DT_RUNPATH) {
			/* DT_RUNPATH wins over DT_RPATH, as in ld.so */
			free(e->runpath);
			if (!(e->runpath = strdup(s)))
				return -ENOMEM;
		}
	}
	return 0;
}

static int load_segments(struct sys_elf *e, Elf *elf, const char *path, struct vg_err *err)
{
	size_t phnum;

	if (elf_getphdrnum(elf, &phnum))
		return vg_errf(err, EINVAL, "%s: bad program headers", path);
	e->loads = calloc(phnum ? phnum : 1, sizeof(*e->loads));
	if (!e->loads)
		return vg_errf(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph))
			continue;
		if (ph.p_type == PT_LOAD) {
			e->loads[e->nloads++] = (struct sys_load){ ph.p_vaddr, ph.p_memsz,
								   ph.p_offset, ph.p_filesz };
		} else if (ph.p_type == PT_INTERP && ph.p_offset < e->img.len &&
			   ph.p_filesz <= e->img.len - ph.p_offset && ph.p_filesz && !e->interp) {
			e->interp = strndup((const char *)e->img.file + ph.p_offset, ph.p_filesz);
			if (!e->interp)
				return vg_errf(err, ENOMEM, "out of memory");
		}
	}
	return 0;
}

int vg_sys_elf_open(struct sys_elf *e, const char *path, struct vg_err *err)
{
	size_t shstrndx, icap = 0;
	Elf_Scn *scn = NULL;
	Elf *elf;
	int rc;

	memset(e, 0, sizeof(*e));
	if ((rc = vg_cfa_elfimg_open(&e->img, path, 0, err)))
		return rc;
	elf_version(EV_CURRENT);
	elf = elf_memory((char *)e->img.file, e->img.len);
	if (!elf || elf_getshdrstrndx(elf, &shstrndx)) {
		if (elf)
			elf_end(elf);
		vg_sys_elf_close(e);
		return vg_errf(err, EINVAL, "%s: not an ELF file", path);
	}
	rc = load_segments(e, elf, path, err);
	while (!rc && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (sh.sh_type == SHT_DYNSYM)
			rc = load_dynsym(e, elf, scn);
		else if (sh.sh_type == SHT_RELA)
			rc = load_imports(e, elf, scn, &icap);
		else if (sh.sh_type == SHT_DYNAMIC)
			rc = load_dynamic(e, elf, scn);
		else if (name && !strcmp(name, ".eh_frame") && sh.sh_type == SHT_PROGBITS &&
			 sh.sh_offset < e->img.len && sh.sh_size <= e->img.len - sh.sh_offset) {
			e->eh = e->img.file + sh.sh_offset;
			e->eh_addr = sh.sh_addr;
			e->eh_len = sh.sh_size;
		}
		if (rc == -ENOMEM)
			rc = vg_errf(err, ENOMEM, "%s: out of memory", path);
	}
	elf_end(elf);
	if (!rc) {
		qsort(e->imports, e->nimports, sizeof(*e->imports), cmp_addr);
		rc = vg_sys_cfi_parse(e, err);
	}
	if (rc)
		vg_sys_elf_close(e);
	return rc;
}

static void free_names(struct sys_name *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

void vg_sys_elf_close(struct sys_elf *e)
{
	vg_cfa_elfimg_close(&e->img);
	free(e->loads);
	free_names(e->exports, e->nexports);
	free_names(e->imports, e->nimports);
	for (size_t i = 0; i < e->nneeded; i++)
		free(e->needed[i]);
	free(e->needed);
	free(e->runpath);
	free(e->interp);
	free(e->cies);
	free(e->fdes);
	memset(e, 0, sizeof(*e));
}

int64_t vg_sys_elf_off(const struct sys_elf *e, uint64_t va)
{
	for (size_t i = 0; i < e->nloads; i++) {
		const struct sys_load *l = &e->loads[i];

		if (va >= l->vaddr && va - l->vaddr < l->filesz)
			return (int64_t)(va - l->vaddr + l->off);
	}
	return -1;
}

uint64_t vg_sys_elf_export(const struct sys_elf *e, const char *name)
{
	size_t lo = 0, hi = e->nexports;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(e->exports[mid].name, name);

		if (!c)
			return e->exports[mid].addr;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

const char *vg_sys_elf_import(const struct sys_elf *e, uint64_t slot)
{
	size_t lo = 0, hi = e->nimports;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e->imports[mid].addr == slot)
			return e->imports[mid].name;
		if (e->imports[mid].addr < slot)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
