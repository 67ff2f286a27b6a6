// SPDX-License-Identifier: MIT
/*
 * Sample identification: is a file an ELF, for which machine, class and byte order, static or
 * dynamic, and which program interpreter (PT_INTERP) it asks for. The bytes are the sample's,
 * so the parse is by hand and bounded: the ELF header, at most SBX_ID_MAX_PHDRS program headers
 * and an interpreter path of at most SBX_ID_INTERP - 1 bytes, all checked against the buffer.
 * Nothing here fails on content; malformed files are identified as such with a reason.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/sandbox.h"

/* The program headers and PT_INTERP of real executables sit in the first page; a sample whose
 * headers lie beyond this much of the file is reported as malformed rather than read whole. */
#define SBX_ID_READ (1u << 20)

static const struct {
	uint16_t m;
	const char *name;
} machines[] = {
	{ EM_ARM, "ARM" },	    { EM_AARCH64, "AArch64" }, { EM_MIPS, "MIPS" },
	{ EM_MIPS_RS3_LE, "MIPS" }, { EM_386, "x86" },	       { EM_X86_64, "x86-64" },
	{ EM_PPC, "PowerPC" },	    { EM_PPC64, "PowerPC64" }, { EM_SH, "SuperH" },
	{ EM_SPARC, "SPARC" },	    { EM_68K, "m68k" },	       { EM_RISCV, "RISC-V" },
	{ EM_ARC_COMPACT, "ARC" },  { EM_S390, "s390" },       { EM_XTENSA, "Xtensa" },
};

static uint16_t rd16(const uint8_t *p, bool be)
{
	return be ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static uint32_t rd32(const uint8_t *p, bool be)
{
	return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
		  : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint64_t rd64(const uint8_t *p, bool be)
{
	uint64_t a = rd32(p, be), b = rd32(p + 4, be);

	return be ? a << 32 | b : b << 32 | a;
}

const char *sbx_machine_name(uint16_t m)
{
	for (size_t i = 0; i < sizeof(machines) / sizeof(machines[0]); i++)
		if (machines[i].m == m)
			return machines[i].name;
	return "unknown";
}

static void set_bad(struct sbx_ident *id, const char *why)
{
	id->malformed = true;
	snprintf(id->bad, sizeof(id->bad), "%s", why);
}

/* A printable summary of what the bytes look like when they are not an ELF. */
static void not_elf(struct sbx_ident *id, const uint8_t *b, size_t len)
{
	size_t i, text = 0, n = len < 512 ? len : 512;

	if (len >= 2 && b[0] == '#' && b[1] == '!') {
		snprintf(id->ftype, sizeof(id->ftype), "script");
		return;
	}
	for (i = 0; i < n; i++)
		if ((b[i] >= 0x20 && b[i] < 0x7f) || b[i] == '\n' || b[i] == '\r' || b[i] == '\t')
			text++;
	if (len == 0)
		snprintf(id->ftype, sizeof(id->ftype), "empty");
	else if (text == n)
		snprintf(id->ftype, sizeof(id->ftype), "text");
	else
		snprintf(id->ftype, sizeof(id->ftype), "data");
}

void sbx_identify_buf(struct sbx_ident *id, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	uint64_t phoff;
	uint16_t phentsize, phnum;
	bool be;

	memset(id, 0, sizeof(*id));
	if (len < EI_NIDENT || memcmp(b, ELFMAG, SELFMAG) != 0) {
		not_elf(id, b, len);
		return;
	}
	id->is_elf = true;
	if (b[EI_CLASS] != ELFCLASS32 && b[EI_CLASS] != ELFCLASS64) {
		snprintf(id->ftype, sizeof(id->ftype), "ELF");
		set_bad(id, "unknown ELF class");
		return;
	}
	if (b[EI_DATA] != ELFDATA2LSB && b[EI_DATA] != ELFDATA2MSB) {
		snprintf(id->ftype, sizeof(id->ftype), "ELF");
		set_bad(id, "unknown ELF byte order");
		return;
	}
	id->bits = b[EI_CLASS] == ELFCLASS64 ? 64 : 32;
	be = id->big_endian = b[EI_DATA] == ELFDATA2MSB;
	snprintf(id->ftype, sizeof(id->ftype), "ELF %d-bit %s", id->bits, be ? "MSB" : "LSB");
	if (len < (id->bits == 64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr))) {
		set_bad(id, "truncated ELF header");
		return;
	}
	/* e_type and e_machine sit at the same offsets in both classes */
	id->type = rd16(b + 16, be);
	id->machine = rd16(b + 18, be);
	snprintf(id->machine_name, sizeof(id->machine_name), "%s", sbx_machine_name(id->machine));
	if (id->bits == 64) {
		phoff = rd64(b + offsetof(Elf64_Ehdr, e_phoff), be);
		phentsize = rd16(b + offsetof(Elf64_Ehdr, e_phentsize), be);
		phnum = rd16(b + offsetof(Elf64_Ehdr, e_phnum), be);
	} else {
		phoff = rd32(b + offsetof(Elf32_Ehdr, e_phoff), be);
		phentsize = rd16(b + offsetof(Elf32_Ehdr, e_phentsize), be);
		phnum = rd16(b + offsetof(Elf32_Ehdr, e_phnum), be);
	}
	if (id->type != ET_EXEC && id->type != ET_DYN) {
		set_bad(id, id->type == ET_REL	  ? "relocatable object, not an executable"
			    : id->type == ET_CORE ? "core dump, not an executable"
						  : "unknown ELF type");
		return;
	}
	if (phnum == 0) {
		set_bad(id, "no program headers");
		return;
	}
	if (phentsize < (id->bits == 64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr))) {
		set_bad(id, "program header entries too small");
		return;
	}
	if (phnum > SBX_ID_MAX_PHDRS) {
		set_bad(id, "too many program headers");
		return;
	}
	/* phnum * phentsize fits easily in 64 bits: both are 16-bit */
	if (phoff > len || (uint64_t)phnum * phentsize > len - phoff) {
		set_bad(id, "program headers outside the file");
		return;
	}
	for (unsigned i = 0; i < phnum; i++) {
		const uint8_t *ph = b + phoff + (uint64_t)i * phentsize;
		uint32_t pt = rd32(ph, be);
		uint64_t off, sz;

		if (pt == PT_DYNAMIC)
			id->has_dynamic = true;
		if (pt != PT_INTERP)
			continue;
		if (id->bits == 64) {
			off = rd64(ph + offsetof(Elf64_Phdr, p_offset), be);
			sz = rd64(ph + offsetof(Elf64_Phdr, p_filesz), be);
		} else {
			off = rd32(ph + offsetof(Elf32_Phdr, p_offset), be);
			sz = rd32(ph + offsetof(Elf32_Phdr, p_filesz), be);
		}
		id->dynamic = true;
		if (sz == 0 || sz >= SBX_ID_INTERP || off > len || sz > len - off) {
			set_bad(id, "PT_INTERP outside the file or too long");
			return;
		}
		/* the path is NUL-terminated within p_filesz; stop at the first NUL anyway */
		size_t n = strnlen((const char *)b + off, (size_t)sz);
		memcpy(id->interp, b + off, n);
		id->interp[n] = '\0';
		if (n == 0 || id->interp[0] != '/') {
			id->interp[0] = '\0';
			set_bad(id, "PT_INTERP is not an absolute path");
			return;
		}
		for (size_t k = 0; k < n; k++)
			if ((unsigned char)id->interp[k] < 0x20 || id->interp[k] == 0x7f) {
				id->interp[0] = '\0';
				set_bad(id, "PT_INTERP holds control characters");
				return;
			}
	}
	/* PT_DYNAMIC without PT_INTERP is a static-pie or a shared library: no loader needed */
	id->pie = id->type == ET_DYN;
}

int sbx_identify_file(struct sbx_ident *id, const char *path, struct vg_err *err)
{
	uint8_t *buf;
	size_t got = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return vg_errf(err, errno, "%s: %m", path);
	buf = malloc(SBX_ID_READ);
	if (!buf) {
		close(fd);
		return vg_errf(err, ENOMEM, "%s: out of memory", path);
	}
	while (got < SBX_ID_READ) {
		ssize_t n = read(fd, buf + got, SBX_ID_READ - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			free(buf);
			close(fd);
			return vg_errf(err, e, "%s: %m", path);
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	sbx_identify_buf(id, buf, got);
	free(buf);
	return 0;
}

enum sbx_runnable sbx_ident_runnable(const struct sbx_ident *id, bool interp_present, char *reason,
				     size_t cap)
{
	if (!id->is_elf) {
		snprintf(reason, cap, "not an ELF (%s)", id->ftype);
		return SBX_RUN_NOT_ELF;
	}
	if (id->malformed) {
		snprintf(reason, cap, "malformed ELF: %s", id->bad);
		return SBX_RUN_BAD_ELF;
	}
	if (id->machine != EM_ARM || id->bits != 32 || id->big_endian) {
		snprintf(reason, cap,
			 "wrong architecture: %s %d-bit %s, the environments run 32-bit "
			 "little-endian ARM",
			 id->machine_name, id->bits,
			 id->big_endian ? "big-endian" : "little-endian");
		return SBX_RUN_WRONG_ARCH;
	}
	if (id->dynamic && !interp_present) {
		snprintf(reason, cap, "missing loader: %s is not in the environment", id->interp);
		return SBX_RUN_NO_LOADER;
	}
	snprintf(reason, cap, "%s executable", id->dynamic ? "dynamic" : "static");
	return SBX_RUN_OK;
}
