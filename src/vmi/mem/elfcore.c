// SPDX-License-Identifier: MIT
/*
 * ELF cores from QEMU's dump-guest-memory (paging=false): every PT_LOAD is a block of guest
 * physical memory at p_paddr, stored at p_offset; the PT_NOTE holds one NT_PRSTATUS ("CORE") and
 * one QEMUCPUState ("QEMU", target/i386/arch_dump.c) note per CPU. QEMU writes ELFCLASS64 with
 * EM_X86_64 when CPU 0 is in long mode and EM_386 otherwise (firmware, boot loader); both are
 * accepted, as is EM_AARCH64 for ARM guests; the machine also says which page-table format
 * discovery should try. A VM with QEMU's vmcoreinfo device gets the guest's VMCOREINFO note
 * copied into the dump; it is kept as an unverified hint.
 *
 * QEMU dumps every RAM-backed region of the system address space, not only the guest's RAM: on a
 * PC it also writes the PAM shadow of 0xc0000-0xfffff, VGA memory in the PCI hole (0xfd000000 with
 * the standard VGA) and the BIOS flash just below 4 GiB. Observed with QEMU 7.2, q35, 256 MiB:
 *   [0, 0xa0000)  [0xc0000, 0x10000000)  [0xfd000000, +16 MiB)  [0xfffc0000, +256 KiB)
 * and with 5 GiB the low block ends at 2 GiB and a last one runs [4 GiB, 7 GiB). So for x86 cores
 * RAM is, by rule: everything below 0xa0000; from 1 MiB the physically contiguous run that
 * covers 1 MiB (it ends where the PCI hole begins); and from 4 GiB the contiguous run that starts
 * there. The rest (legacy window, PCI-hole device memory, 64-bit BARs, hot-plugged DIMMs) is
 * dropped, which gives exactly the ranges of the raw memory-backend file of the same guest.
 * ARM cores keep every PT_LOAD.
 *
 * The file is hostile: headers are copied out with memcpy (no alignment assumptions), every offset
 * and size is checked against the file with overflow-safe arithmetic, and the note walk advances
 * by at least one header per step and stops at the first note that does not fit. A bad note only
 * costs the CPU state; a bad PT_LOAD rejects the file, since its RAM would be wrong.
 */
#include <elf.h>
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "vmi/mem/mem_impl.h"

#define QEMU_NOTE_VERSION 1
/* QEMUCPUState: version, size, 18 GPRs + rip/rflags, 10 segments of 24 bytes, cr[5]. */
#define QEMU_CR_OFF (8 + 18 * 8 + 10 * 24)
#define QEMU_STATE_SIZE (QEMU_CR_OFF + 5 * 8)
/* e_phnum above this comes from PN_XNUM; real dumps have a handful of segments. */
#define MAX_PHDRS VG_MEM_MAX_RANGES

static int is_x86(uint16_t machine)
{
	return machine == EM_X86_64 || machine == EM_386;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t align4(uint64_t v)
{
	return (v + 3) & ~3ull;
}

static int in_file(const struct vg_mem *m, uint64_t off, uint64_t size)
{
	return off <= m->len && size <= m->len - off;
}

static void parse_qemu_note(struct vg_mem *m, const uint8_t *desc, uint64_t descsz)
{
	uint32_t version, size;

	m->ncpus_qemu++;
	if (m->cpu.valid || descsz < QEMU_STATE_SIZE)
		return;
	version = rd32(desc);
	size = rd32(desc + 4);
	/* A later QEMUCPUState version may move the fields; trust only the layout we know. */
	if (version != QEMU_NOTE_VERSION || size < QEMU_STATE_SIZE || size > descsz)
		return;
	m->cpu.cr0 = rd64(desc + QEMU_CR_OFF);
	m->cpu.cr3 = rd64(desc + QEMU_CR_OFF + 3 * 8);
	m->cpu.cr4 = rd64(desc + QEMU_CR_OFF + 4 * 8);
	m->cpu.valid = 1;
}

/* QEMU copies the guest's own VMCOREINFO note into the dump when the VM has its vmcoreinfo
 * device. The text is the guest's: kept as a hint (vg_mem_vmcoreinfo), up to its first NUL. */
static void parse_vmcoreinfo_note(struct vg_mem *m, const char *text, uint32_t len)
{
	const char *nul = memchr(text, '\0', len);

	m->vmcoreinfo = text;
	m->vmcoreinfo_len = nul ? (size_t)(nul - text) : len;
}

static void parse_notes(struct vg_mem *m, uint64_t off, uint64_t size)
{
	const uint8_t *p = m->base + off;
	uint64_t pos = 0;

	while (size - pos >= 12) {
		uint32_t namesz = rd32(p + pos), descsz = rd32(p + pos + 4),
			 type = rd32(p + pos + 8);
		uint64_t name = pos + 12, desc = name + align4(namesz);

		/* 32-bit sizes cannot overflow 64-bit sums; check each piece lies in the segment.
		 */
		if (align4(namesz) > size - name || descsz > size - desc)
			return;
		if (namesz == 5 && !memcmp(p + name, "CORE", 5) && type == NT_PRSTATUS)
			m->ncpus_prstatus++;
		else if (namesz == 11 && !memcmp(p + name, "VMCOREINFO", 11) && !m->vmcoreinfo)
			parse_vmcoreinfo_note(m, (const char *)p + desc, descsz);
		else if (namesz == 5 && !memcmp(p + name, "QEMU", 5) && type == 0)
			parse_qemu_note(m, p + desc, descsz);
		if (align4(descsz) > size - desc)
			return;
		pos = desc + align4(descsz);
	}
}

struct ehdr {
	uint16_t type, machine;
	uint64_t phoff, shoff;
	uint16_t phentsize, phnum, shentsize;
};

static int read_ehdr(struct vg_mem *m, struct ehdr *h, uint64_t *phnum, struct vg_err *err)
{
	Elf64_Ehdr e;

	if (m->len < EI_NIDENT)
		return vg_errf(err, EINVAL, "truncated ELF header");
	if (m->base[EI_CLASS] != ELFCLASS64)
		return vg_errf(err, ENOTSUP,
			       "32-bit ELF files are not supported (need an ELF64 core)");
	if (m->base[EI_DATA] != ELFDATA2LSB)
		return vg_errf(err, ENOTSUP, "big-endian ELF files are not supported");
	if (m->len < sizeof(e))
		return vg_errf(err, EINVAL, "truncated ELF header");
	memcpy(&e, m->base, sizeof(e));
	h->type = le16toh(e.e_type);
	h->machine = le16toh(e.e_machine);
	h->phoff = le64toh(e.e_phoff);
	h->shoff = le64toh(e.e_shoff);
	h->phentsize = le16toh(e.e_phentsize);
	h->phnum = le16toh(e.e_phnum);
	h->shentsize = le16toh(e.e_shentsize);
	if (h->type != ET_CORE)
		return vg_errf(
			err, EINVAL,
			"ELF file of type %s, not a core dump (use QEMU's dump-guest-memory)",
			h->type == ET_EXEC  ? "executable"
			: h->type == ET_DYN ? "shared object"
			: h->type == ET_REL ? "relocatable"
					    : "unknown");
	if (!is_x86(h->machine) && h->machine != EM_AARCH64)
		return vg_errf(err, ENOTSUP,
			       "ELF core for machine %u; only x86 and AArch64 are supported",
			       h->machine);
	if (h->phentsize != sizeof(Elf64_Phdr))
		return vg_errf(err, EINVAL,
			       "ELF core has program headers of %u bytes, expected %zu",
			       h->phentsize, sizeof(Elf64_Phdr));
	*phnum = h->phnum;
	if (h->phnum == PN_XNUM) {
		/* More than 65534 headers: the real count is in section header 0's sh_info. */
		Elf64_Shdr sh;

		if (h->shentsize != sizeof(sh) || !in_file(m, h->shoff, sizeof(sh)))
			return vg_errf(err, EINVAL,
				       "ELF core uses PN_XNUM without a section header");
		memcpy(&sh, m->base + h->shoff, sizeof(sh));
		*phnum = le32toh(sh.sh_info);
	}
	if (*phnum == 0 || *phnum > MAX_PHDRS)
		return vg_errf(err, EINVAL, "ELF core has %llu program headers",
			       (unsigned long long)*phnum);
	if (!in_file(m, h->phoff, *phnum * sizeof(Elf64_Phdr)))
		return vg_errf(err, EINVAL,
			       "ELF core's program header table runs past the end of the file");
	return 0;
}

static int add_load(struct vg_mem *m, struct vg_range_vec *v, uint64_t i, const Elf64_Phdr *ph,
		    struct vg_err *err)
{
	uint64_t pa = le64toh(ph->p_paddr), off = le64toh(ph->p_offset);
	uint64_t filesz = le64toh(ph->p_filesz), memsz = le64toh(ph->p_memsz);
	int ret;

	if (!filesz)
		return 0;
	if (filesz > memsz)
		return vg_errf(err, EINVAL,
			       "segment %llu has more file bytes (%llu) than memory (%llu)",
			       (unsigned long long)i, (unsigned long long)filesz,
			       (unsigned long long)memsz);
	if (pa >= VG_MEM_MAX_PA || memsz > VG_MEM_MAX_PA - pa)
		return vg_errf(err, EINVAL,
			       "segment %llu claims physical 0x%llx + 0x%llx, beyond any real RAM",
			       (unsigned long long)i, (unsigned long long)pa,
			       (unsigned long long)memsz);
	if (!in_file(m, off, filesz)) {
		uint64_t past = off >= m->len ? filesz + (off - m->len) : filesz - (m->len - off);

		return vg_errf(
			err, EINVAL,
			"truncated ELF core: segment %llu (physical 0x%llx, %llu bytes) ends "
			"%llu bytes past the end of the %zu-byte file",
			(unsigned long long)i, (unsigned long long)pa, (unsigned long long)filesz,
			(unsigned long long)past, m->len);
	}
	/* Bytes in memsz but not in the file are not stored; only what we can read is RAM. */
	ret = vg_range_push(v, pa, filesz, off);
	if (ret)
		return vg_errf(err, -ret, "too many segments in the ELF core");
	return 0;
}

/* Keeps only the PC's RAM out of the segments (see the header comment). Works on the sorted,
 * unmerged list: QEMU writes the BIOS flash ending at 4 GiB right before the RAM above 4 GiB, so
 * the two would merge into one range straddling the PCI hole. */
static void keep_pc_ram(struct vg_range_vec *v)
{
	uint64_t low_end = VG_PC_LEGACY_HI, high_end = VG_4G;
	size_t k = 0;

	vg_range_sort(v);
	for (size_t i = 0; i < v->n; i++) {
		const struct vg_mem_range *r = &v->r[i];

		if (r->start <= low_end && r->start + r->size > low_end && low_end < VG_4G)
			low_end = r->start + r->size;
		if (r->start == high_end)
			high_end = r->start + r->size;
	}
	if (low_end > VG_4G)
		low_end = VG_4G;
	for (size_t i = 0; i < v->n; i++) {
		struct vg_mem_range r = v->r[i];

		if (r.start < VG_4G && r.start + r.size > low_end) {
			if (r.start >= low_end)
				continue;
			r.size = low_end - r.start;
		} else if (r.start >= high_end) {
			continue;
		}
		v->r[k++] = r;
	}
	v->n = k;
}

int vg_mem_elfcore_parse(struct vg_mem *m, struct vg_err *err)
{
	struct vg_range_vec v = { 0 };
	struct ehdr h = { 0 };
	uint64_t phnum = 0;
	int ret;

	ret = read_ehdr(m, &h, &phnum, err);
	if (ret)
		return ret;
	m->arch = is_x86(h.machine) ? VG_ARCH_X86_64 : VG_ARCH_ARM64;
	for (uint64_t i = 0; i < phnum; i++) {
		Elf64_Phdr ph;
		uint32_t type;

		memcpy(&ph, m->base + h.phoff + i * sizeof(ph), sizeof(ph));
		type = le32toh(ph.p_type);
		if (type == PT_LOAD) {
			ret = add_load(m, &v, i, &ph, err);
			if (ret)
				goto fail;
		} else if (type == PT_NOTE) {
			uint64_t off = le64toh(ph.p_offset), size = le64toh(ph.p_filesz);

			if (!in_file(m, off, size)) {
				ret = vg_errf(
					err, EINVAL,
					"truncated ELF core: note segment %llu runs past the end "
					"of the file",
					(unsigned long long)i);
				goto fail;
			}
			parse_notes(m, off, size);
		}
	}
	m->ncpus = m->ncpus_qemu > m->ncpus_prstatus ? m->ncpus_qemu : m->ncpus_prstatus;
	if (is_x86(h.machine)) {
		ret = vg_range_carve(&v, VG_PC_LEGACY_LO, VG_PC_LEGACY_HI);
		if (ret) {
			ret = vg_errf(err, -ret, "too many segments in the ELF core");
			goto fail;
		}
		keep_pc_ram(&v);
		if (!v.n) {
			ret = vg_errf(err, EINVAL, "ELF core holds no guest RAM");
			goto fail;
		}
	}
	ret = vg_mem_add_layout(m, "as-dumped", m->arch, &v, err);
	if (ret)
		return vg_err_prefix(err, "ELF core");
	return 0;
fail:
	vg_range_vec_free(&v);
	return ret;
}
