// SPDX-License-Identifier: MIT
/*
 * Which coverage runtime a binary carries. clang links its own sanitizer runtime
 * (libclang_rt.ubsan_standalone, with the sancov hooks as weak symbols) ahead of the program's
 * libraries unless it is told -fno-sanitize-link-runtime; the hooks' references are then
 * resolved inside it and libvigil-rt's archive member is never pulled in, so the program runs
 * without ever attaching to the trace region. The sanitizer's coverage code leaves its own
 * symbols behind (__sanitizer_cov_dump, __sancov_default_options); libvigil-rt defines its
 * hooks as strong symbols, so a binary whose hooks are all someone else's is told apart.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <string.h>
#include <unistd.h>

#include "vigil/cfa_model.h"

#define MAX_SYMS 4000000u /* a hostile symbol table is not walked forever */

static const char *const sancov_markers[] = { "__sanitizer_cov_dump", "__sancov_default_options" };
static const char *const hooks[] = { "__sanitizer_cov_trace_pc_guard", "__sanitizer_cov_trace_pc",
				     "__cyg_profile_func_enter" };

struct seen {
	const char *marker; /* a sanitizer coverage symbol defined in the binary */
	bool own_hook;	    /* a hook defined as a strong symbol (libvigil-rt's) */
};

static bool named(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name, list[i]))
			return true;
	return false;
}

static void scan(Elf *e, Elf_Scn *scn, const GElf_Shdr *sh, struct seen *s)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;

	for (size_t i = 0; d && i < n && i < MAX_SYMS; i++) {
		GElf_Sym sym;
		const char *name;

		if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
			continue;
		name = elf_strptr(e, sh->sh_link, sym.st_name);
		if (!name || strncmp(name, "__", 2))
			continue;
		if (!s->marker && named(name, sancov_markers, 2))
			s->marker = sancov_markers[!strcmp(name, sancov_markers[1])];
		if (GELF_ST_BIND(sym.st_info) == STB_GLOBAL && named(name, hooks, 3))
			s->own_hook = true;
	}
}

int vg_cfa_check_runtime(const char *path, struct vg_err *err)
{
	struct seen s = { 0 };
	Elf_Scn *scn = NULL;
	Elf *e;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return vg_errf(err, errno, "%s: %m", path);
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	while (e && elf_kind(e) == ELF_K_ELF && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) &&
		    (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM))
			scan(e, scn, &sh, &s);
	}
	elf_end(e);
	close(fd);
	if (!s.marker || s.own_hook)
		return 0;
	return vg_errf(err, ENOEXEC,
		       "%s carries the compiler's own sanitizer-coverage runtime (%s is defined in "
		       "it), whose hooks replace libvigil-rt's, so nothing would be recorded: "
		       "link it with -fno-sanitize-link-runtime (clang) and libvigil-rt",
		       path, s.marker);
}
