// SPDX-License-Identifier: MIT
/*
 * Unit tests for guest physical memory sources: ELF cores built in memory the way QEMU's
 * dump-guest-memory writes them (segment list modelled on real QEMU 7.2 q35 dumps), broken and
 * hostile cores, raw RAM layouts of every size class, LiME chains, files on disk, and reads at
 * the edges of ranges.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/mem.h"

/* The byte every test source holds at physical address PA, so reads can be checked. */
static uint8_t pat(uint64_t pa)
{
	return (uint8_t)(pa ^ (pa >> 8) ^ (pa >> 16) ^ (pa >> 32) ^ 0x5a);
}

/* ---- building ELF cores ---- */

struct seg {
	uint64_t pa, size;
};

struct core {
	uint8_t *buf;
	size_t len;
	size_t note_off; /* where the note bytes start */
};

struct notes {
	uint8_t b[4096];
	size_t n;
};

static void note_add(struct notes *ns, const char *name, uint32_t namesz, uint32_t type,
		     const void *desc, uint32_t descsz)
{
	uint32_t h[3] = { namesz, descsz, type };

	memcpy(ns->b + ns->n, h, 12);
	ns->n += 12;
	memset(ns->b + ns->n, 0, (namesz + 3) & ~3u);
	memcpy(ns->b + ns->n, name, strlen(name) + 1 < namesz ? strlen(name) + 1 : namesz);
	ns->n += (namesz + 3) & ~3u;
	memset(ns->b + ns->n, 0, (descsz + 3) & ~3u);
	memcpy(ns->b + ns->n, desc, descsz);
	ns->n += (descsz + 3) & ~3u;
}

/* QEMUCPUState as QEMU 7.2 writes it (version 1, 440 bytes with kernel_gs_base). */
static void note_qemu(struct notes *ns, uint64_t cr0, uint64_t cr3, uint64_t cr4)
{
	uint8_t d[440] = { 0 };
	uint32_t version = 1, size = sizeof(d);
	const size_t cr = 8 + 18 * 8 + 10 * 24;

	memcpy(d, &version, 4);
	memcpy(d + 4, &size, 4);
	memcpy(d + cr, &cr0, 8);
	memcpy(d + cr + 24, &cr3, 8);
	memcpy(d + cr + 32, &cr4, 8);
	note_add(ns, "QEMU", 5, 0, d, sizeof(d));
}

static void note_prstatus(struct notes *ns)
{
	uint8_t d[336] = { 0 };

	note_add(ns, "CORE", 5, NT_PRSTATUS, d, sizeof(d));
}

static struct core make_core(uint16_t machine, const struct seg *segs, int nsegs,
			     const struct notes *ns)
{
	size_t nph = (size_t)nsegs + (ns ? 1 : 0), off;
	struct core c = { 0 };
	Elf64_Ehdr *eh;
	int p = 0;

	off = sizeof(Elf64_Ehdr) + nph * sizeof(Elf64_Phdr);
	c.note_off = off;
	c.len = off + (ns ? ns->n : 0);
	for (int i = 0; i < nsegs; i++)
		c.len += segs[i].size;
	c.buf = calloc(1, c.len);
	assert_non_null(c.buf);
	eh = (Elf64_Ehdr *)c.buf;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_CORE;
	eh->e_machine = machine;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = (uint16_t)nph;

	Elf64_Phdr *ph = (Elf64_Phdr *)(c.buf + sizeof(Elf64_Ehdr));
	if (ns) {
		ph[p].p_type = PT_NOTE;
		ph[p].p_offset = off;
		ph[p].p_filesz = ns->n;
		memcpy(c.buf + off, ns->b, ns->n);
		off += ns->n;
		p++;
	}
	/* Segments follow each other in the file in list order, as QEMU writes them. */
	for (int i = 0; i < nsegs; i++, p++) {
		ph[p].p_type = PT_LOAD;
		ph[p].p_offset = off;
		ph[p].p_paddr = segs[i].pa;
		ph[p].p_filesz = segs[i].size;
		ph[p].p_memsz = segs[i].size;
		for (uint64_t a = 0; a < segs[i].size; a++)
			c.buf[off + a] = pat(segs[i].pa + a);
		off += segs[i].size;
	}
	return c;
}

static Elf64_Phdr *phdr(struct core *c, int i)
{
	return (Elf64_Phdr *)(c->buf + sizeof(Elf64_Ehdr)) + i;
}

/* Shrunk copy of what QEMU 7.2 wrote for q35 with 5 GiB (low RAM 2 GiB, VGA at 0xfd000000,
 * BIOS flash ending at 4 GiB, the rest from 4 GiB): same shape, small sizes. */
static const struct seg qemu_like[] = {
	{ 0x0, 0xa0000 },	   /* conventional memory */
	{ 0xc0000, 0x1f40000 },	   /* PAM shadow + RAM up to 32 MiB (stands for the 2 GiB) */
	{ 0xfd000000, 0x10000 },   /* VGA vram (16 MiB in reality) */
	{ 0xfffc0000, 0x40000 },   /* BIOS flash, file-contiguous with the next one */
	{ 0x100000000, 0x200000 }, /* RAM above 4 GiB */
};

static void expect_err(int ret, const struct vg_err *err, const char *needle)
{
	assert_true(ret < 0);
	if (!strstr(err->msg, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err->msg, needle);
}

static void check_reads(struct vg_mem *m, uint64_t pa, size_t len)
{
	uint8_t buf[64];

	assert_true(len <= sizeof(buf));
	assert_int_equal(vg_mem_read(m, pa, buf, len), 0);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(buf[i], pat(pa + i));
}

static void test_elf_qemu_like(void **state)
{
	struct notes ns = { 0 };
	struct vg_err err = { 0 };
	struct vg_cpu_state cpu;
	struct vg_mem *m;
	uint8_t b[16];

	note_prstatus(&ns);
	note_qemu(&ns, 0x80050033, 0x1234000, 0x3506f0);
	note_prstatus(&ns);
	note_qemu(&ns, 0x80050033, 0x5678000, 0x3506f0);
	struct core c = make_core(EM_X86_64, qemu_like, 5, &ns);

	assert_int_equal(vg_mem_open_buffer(&m, c.buf, c.len, &err), 0);
	assert_int_equal(vg_mem_kind(m), VG_MEM_ELFCORE);
	assert_string_equal(vg_mem_kind_name(m), "elf-core");
	assert_int_equal(vg_mem_layout_count(m), 1);

	/* Legacy window, VGA and flash gone; the rest equals what the raw file would give. */
	const struct vg_mem_range *r = vg_mem_ranges(m);
	assert_int_equal(vg_mem_nranges(m), 3);
	assert_int_equal(r[0].start, 0);
	assert_int_equal(r[0].size, 0xa0000);
	assert_int_equal(r[1].start, 0x100000);
	assert_int_equal(r[1].size, 0x2000000 - 0x100000);
	assert_int_equal(r[2].start, 0x100000000);
	assert_int_equal(r[2].size, 0x200000);
	assert_int_equal(vg_mem_total(m), 0xa0000 + 0x1f00000 + 0x200000);

	assert_int_equal(vg_mem_cpu_state(m, &cpu), 0);
	assert_int_equal(cpu.valid, 1);
	assert_int_equal(cpu.cr0, 0x80050033);
	assert_int_equal(cpu.cr3, 0x1234000); /* CPU 0, not CPU 1 */
	assert_int_equal(cpu.cr4, 0x3506f0);
	assert_int_equal(vg_mem_cpu_count(m), 2);

	/* Edges of every range. */
	check_reads(m, 0, 16);
	check_reads(m, 0xa0000 - 16, 16);
	check_reads(m, 0x100000, 16);
	check_reads(m, 0x2000000 - 8, 8);
	check_reads(m, 0x100000000, 16);
	check_reads(m, 0x100200000 - 16, 16);
	assert_int_equal(vg_mem_read(m, 0xa0000 - 8, b, 16), -EFAULT);
	assert_int_equal(vg_mem_read(m, 0xa0000, b, 1), -EFAULT);
	assert_int_equal(vg_mem_read(m, 0xc0000, b, 1), -EFAULT);
	assert_int_equal(vg_mem_read(m, 0x2000000 - 8, b, 16), -EFAULT);
	assert_int_equal(vg_mem_read(m, 0xfd000000, b, 1), -EFAULT);
	assert_int_equal(vg_mem_read(m, 0xfffffff0, b, 16), -EFAULT);
	assert_int_equal(vg_mem_read(m, 0x100200000 - 8, b, 16), -EFAULT);
	assert_int_equal(vg_mem_read(m, UINT64_MAX, b, 1), -EFAULT);
	assert_int_equal(vg_mem_read(m, 0x100000, NULL, 0), 0);
	assert_int_equal(vg_mem_read(m, 0xa0000, NULL, 0), -EFAULT);

	const uint8_t *p = vg_mem_ptr(m, 0x100000, 4096);
	assert_non_null(p);
	assert_ptr_equal(p, c.buf + c.note_off + ns.n + 0xa0000 + 0x40000);
	assert_int_equal(p[7], pat(0x100007));
	assert_null(vg_mem_ptr(m, 0x2000000 - 8, 16));
	assert_null(vg_mem_ptr(m, 0xa0000, 1));
	assert_non_null(vg_mem_ptr(m, 0x100200000 - 16, 16));

	assert_int_equal(vg_mem_set_layout(m, 1), -EINVAL);
	assert_string_equal(vg_mem_path(m), "buffer");
	assert_int_equal(vg_mem_size(m), c.len);
	vg_mem_close(m);
	free(c.buf);
}

static void test_elf_truncated(void **state)
{
	struct vg_err err = { 0 };
	struct vg_mem *m = NULL;
	struct core c = make_core(EM_X86_64, qemu_like, 5, NULL);

	/* The last segment (index 4) loses 100 bytes. */
	expect_err(vg_mem_open_buffer(&m, c.buf, c.len - 100, &err), &err, "segment 4");
	assert_non_null(strstr(err.msg, "100 bytes past the end"));
	assert_null(m);
	free(c.buf);
}

static void test_elf_not_core(void **state)
{
	struct vg_err err = { 0 };
	struct vg_mem *m;
	struct core c = make_core(EM_X86_64, qemu_like, 1, NULL);

	((Elf64_Ehdr *)c.buf)->e_type = ET_EXEC;
	expect_err(vg_mem_open_buffer(&m, c.buf, c.len, &err), &err, "not a core");

	vg_err_clear(&err);
	((Elf64_Ehdr *)c.buf)->e_type = ET_CORE;
	((Elf64_Ehdr *)c.buf)->e_machine = EM_PPC64;
	expect_err(vg_mem_open_buffer(&m, c.buf, c.len, &err), &err, "machine");

	vg_err_clear(&err);
	((Elf64_Ehdr *)c.buf)->e_machine = EM_X86_64;
	c.buf[EI_CLASS] = ELFCLASS32;
	expect_err(vg_mem_open_buffer(&m, c.buf, c.len, &err), &err, "32-bit");

	vg_err_clear(&err);
	c.buf[EI_CLASS] = ELFCLASS64;
	c.buf[EI_DATA] = ELFDATA2MSB;
	expect_err(vg_mem_open_buffer(&m, c.buf, c.len, &err), &err, "big-endian");

	vg_err_clear(&err);
	c.buf[EI_DATA] = ELFDATA2LSB;
	expect_err(vg_mem_open_buffer(&m, c.buf, 40, &err), &err, "truncated ELF header");
	free(c.buf);
}

static void test_elf_absurd_segments(void **state)
{
	struct vg_err err = { 0 };
	struct vg_mem *m;
	struct seg two[] = { { 0x100000, 0x10000 }, { 0x200000, 0x10000 } };
	struct core c = make_core(EM_X86_64, two, 2, NULL);

	phdr(&c, 1)->p_paddr = 0x108000;
	expect_err(vg_mem_open_buffer(&m, c.buf, c.len, &err), &err, "overlap");

	vg_err_clear(&err);
	phdr(&c, 1)->p_paddr = 1ull << 60;
	expect_err(vg_mem_open_buffer(&m, c.buf, c.len, &err), &err, "beyond any real RAM");

	vg_err_clear(&err);
	phdr(&c, 1)->p_paddr = UINT64_MAX - 4;
	expect_err(vg_mem_open_buffer(&m, c.buf, c.len, &err), &err, "beyond any real RAM");

	vg_err_clear(&err);
	phdr(&c, 1)->p_paddr = 0x200000;
	phdr(&c, 1)->p_memsz = 0x1000;
	expect_err(vg_mem_open_buffer(&m, c.buf, c.len, &err), &err, "more file bytes");

	vg_err_clear(&err);
	phdr(&c, 1)->p_memsz = 0x10000;
	phdr(&c, 1)->p_offset = UINT64_MAX - 8;
	expect_err(vg_mem_open_buffer(&m, c.buf, c.len, &err), &err, "segment 1");

	vg_err_clear(&err);
	phdr(&c, 1)->p_offset = phdr(&c, 0)->p_offset;
	((Elf64_Ehdr *)c.buf)->e_phoff = c.len - 10;
	expect_err(vg_mem_open_buffer(&m, c.buf, c.len, &err), &err, "program header table");

	vg_err_clear(&err);
	((Elf64_Ehdr *)c.buf)->e_phoff = sizeof(Elf64_Ehdr);
	((Elf64_Ehdr *)c.buf)->e_phnum = PN_XNUM; /* and no section header to say how many */
	expect_err(vg_mem_open_buffer(&m, c.buf, c.len, &err), &err, "PN_XNUM");

	/* Only device memory: nothing is RAM. */
	vg_err_clear(&err);
	struct seg vga[] = { { 0xfd000000, 0x1000 } };
	free(c.buf);
	c = make_core(EM_X86_64, vga, 1, NULL);
	expect_err(vg_mem_open_buffer(&m, c.buf, c.len, &err), &err, "no guest RAM");
	free(c.buf);
}

/* More than 65534 program headers: e_phnum is PN_XNUM and section header 0 has the count. */
static void test_elf_pn_xnum(void **state)
{
	struct vg_err err = { 0 };
	struct vg_mem *m;
	struct core c = make_core(EM_X86_64, qemu_like, 5, NULL);
	uint8_t *buf = calloc(1, c.len + sizeof(Elf64_Shdr));
	Elf64_Shdr sh = { .sh_info = 5 };

	memcpy(buf, c.buf, c.len);
	memcpy(buf + c.len, &sh, sizeof(sh));
	((Elf64_Ehdr *)buf)->e_phnum = PN_XNUM;
	((Elf64_Ehdr *)buf)->e_shoff = c.len;
	((Elf64_Ehdr *)buf)->e_shentsize = sizeof(Elf64_Shdr);
	((Elf64_Ehdr *)buf)->e_shnum = 0;
	assert_int_equal(vg_mem_open_buffer(&m, buf, c.len + sizeof(sh), &err), 0);
	assert_int_equal(vg_mem_nranges(m), 3);
	check_reads(m, 0x1001ffff0, 16);
	vg_mem_close(m);

	/* A count that makes the table run past the end of the file. */
	((Elf64_Shdr *)(buf + c.len))->sh_info = 0x7fffffff;
	expect_err(vg_mem_open_buffer(&m, buf, c.len + sizeof(sh), &err), &err, "program header");
	free(buf);
	free(c.buf);
}

static void test_elf_hostile_notes(void **state)
{
	struct vg_err err = { 0 };
	struct vg_cpu_state cpu;
	struct vg_mem *m;
	struct seg one[] = { { 0x0, 0x1000 } };
	struct notes ns = { 0 };
	struct core c;

	/* A QEMU note whose size field claims more than its descriptor holds. */
	note_qemu(&ns, 1, 2, 3);
	memcpy(ns.b + 12 + 8 + 4, &(uint32_t){ 100000 }, 4);
	c = make_core(EM_X86_64, one, 1, &ns);
	assert_int_equal(vg_mem_open_buffer(&m, c.buf, c.len, &err), 0);
	assert_int_equal(vg_mem_cpu_state(m, &cpu), -ENOENT);
	vg_mem_close(m);
	free(c.buf);

	/* Version 2 may have moved the fields: not trusted. */
	ns.n = 0;
	note_qemu(&ns, 1, 2, 3);
	memcpy(ns.b + 12 + 8, &(uint32_t){ 2 }, 4);
	c = make_core(EM_X86_64, one, 1, &ns);
	assert_int_equal(vg_mem_open_buffer(&m, c.buf, c.len, &err), 0);
	assert_int_equal(vg_mem_cpu_state(m, &cpu), -ENOENT);
	vg_mem_close(m);
	free(c.buf);

	/* Huge namesz / descsz: the walk stops, RAM is still usable, earlier notes still count. */
	uint32_t sizes[][2] = {
		{ 0xffffffff, 0 }, { 5, 0xffffffff }, { 5, 0xfffffffd }, { 4000, 8 }
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		ns.n = 0;
		note_qemu(&ns, 0x11, 0x2000, 0x20);
		size_t bad = ns.n;
		note_qemu(&ns, 0x11, 0x9000, 0x20);
		memcpy(ns.b + bad, sizes[i], 8);
		c = make_core(EM_X86_64, one, 1, &ns);
		assert_int_equal(vg_mem_open_buffer(&m, c.buf, c.len, &err), 0);
		assert_int_equal(vg_mem_cpu_state(m, &cpu), 0);
		assert_int_equal(cpu.cr3, 0x2000);
		assert_int_equal(vg_mem_cpu_count(m), 1);
		check_reads(m, 0xff0, 16);
		vg_mem_close(m);
		free(c.buf);
	}

	/* A note segment running past the end of the file is truncation. */
	ns.n = 0;
	note_prstatus(&ns);
	c = make_core(EM_X86_64, one, 1, &ns);
	phdr(&c, 0)->p_filesz = c.len;
	expect_err(vg_mem_open_buffer(&m, c.buf, c.len, &err), &err, "note segment");
	free(c.buf);
}

static void test_elf_aarch64_keeps_all(void **state)
{
	struct vg_err err = { 0 };
	struct vg_mem *m;
	struct seg arm[] = { { 0x40000000, 0x100000 }, { 0xa0000, 0x1000 } };
	struct core c = make_core(EM_AARCH64, arm, 2, NULL);

	assert_int_equal(vg_mem_open_buffer(&m, c.buf, c.len, &err), 0);
	assert_int_equal(vg_mem_nranges(m), 2);
	assert_int_equal(vg_mem_ranges(m)[0].start, 0xa0000);
	assert_int_equal(vg_mem_ranges(m)[1].start, 0x40000000);
	check_reads(m, 0x400fffc0, 64);
	vg_mem_close(m);
	free(c.buf);
}

/* ---- raw files ---- */

static void test_raw_small(void **state)
{
	struct vg_err err = { 0 };
	struct vg_mem *m;
	size_t len = 0x100000 + 0x3000;
	uint8_t *buf = malloc(len), b[8];

	for (size_t i = 0; i < len; i++)
		buf[i] = pat(i);
	assert_int_equal(vg_mem_open_buffer(&m, buf, len, &err), 0);
	assert_int_equal(vg_mem_kind(m), VG_MEM_RAW);
	assert_int_equal(vg_mem_layout_count(m), 1);
	assert_string_equal(vg_mem_layout_name(m, 0), "flat");
	assert_null(vg_mem_layout_name(m, 1));
	assert_int_equal(vg_mem_nranges(m), 2);
	assert_int_equal(vg_mem_ranges(m)[1].start, 0x100000);
	assert_int_equal(vg_mem_ranges(m)[1].file_off, 0x100000);
	assert_int_equal(vg_mem_cpu_state(m, &(struct vg_cpu_state){ 0 }), -ENOENT);
	assert_int_equal(vg_mem_cpu_count(m), 0);
	check_reads(m, 0x9fff0, 16);
	check_reads(m, len - 16, 16);
	assert_int_equal(vg_mem_read(m, 0xa0000, b, 1), -EFAULT);
	assert_int_equal(vg_mem_read(m, len - 4, b, 8), -EFAULT);
	assert_int_equal(vg_mem_read(m, len, b, 1), -EFAULT);
	vg_mem_close(m);

	/* Smaller than the legacy window: one range of the whole buffer. */
	assert_int_equal(vg_mem_open_buffer(&m, buf, 4096, &err), 0);
	assert_int_equal(vg_mem_nranges(m), 1);
	assert_int_equal(vg_mem_total(m), 4096);
	vg_mem_close(m);
	free(buf);
}

/* Big raw files are anonymous NORESERVE mappings: untouched pages cost nothing. */
static void test_raw_split(void **state)
{
	const uint64_t G = 1ull << 30;
	struct {
		uint64_t size;
		int n;
		const char *names[3];
	} cases[] = {
		{ 0xb0000000 - 4096, 1, { "flat" } },
		{ 0xb0000000, 2, { "split-2G", "flat" } },
		{ 0xe0000000, 3, { "split-2G", "split-3G", "flat" } },
		{ 5 * G, 3, { "split-2G", "split-3G", "flat" } },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t size = cases[i].size;
		uint8_t *buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		struct vg_err err = { 0 };
		struct vg_mem *m;
		uint64_t v = 0;

		assert_true(buf != MAP_FAILED);
		/* Markers at the file offsets where the high block starts for each split. */
		memcpy(buf + 2 * G, "q35high!", 8);
		if (size > 3 * G)
			memcpy(buf + 3 * G, "piixhigh", 8);
		assert_int_equal(vg_mem_open_buffer(&m, buf, size, &err), 0);
		assert_int_equal(vg_mem_layout_count(m), cases[i].n);
		for (int l = 0; l < cases[i].n; l++) {
			const struct vg_mem_range *r;
			size_t n;

			assert_string_equal(vg_mem_layout_name(m, l), cases[i].names[l]);
			assert_int_equal(vg_mem_set_layout(m, l), 0);
			r = vg_mem_ranges(m);
			n = vg_mem_nranges(m);
			assert_int_equal(vg_mem_total(m), size - 0x60000);
			if (!strcmp(cases[i].names[l], "flat")) {
				assert_int_equal(n, 2);
				assert_int_equal(r[1].start + r[1].size, size);
				assert_int_equal(vg_mem_read(m, 2 * G, &v, 8), 0);
				assert_memory_equal(&v, "q35high!", 8);
				continue;
			}
			uint64_t low = !strcmp(cases[i].names[l], "split-2G") ? 2 * G : 3 * G;
			assert_int_equal(n, 3);
			assert_int_equal(r[1].start + r[1].size, low);
			assert_int_equal(r[2].start, 4 * G);
			assert_int_equal(r[2].file_off, low);
			assert_int_equal(r[2].start + r[2].size, 4 * G + size - low);
			assert_int_equal(vg_mem_read(m, 4 * G, &v, 8), 0);
			assert_memory_equal(&v, low == 2 * G ? "q35high!" : "piixhigh", 8);
			assert_int_equal(vg_mem_read(m, low, &v, 8), -EFAULT);
			assert_int_equal(vg_mem_read(m, 4 * G - 8, &v, 8), -EFAULT);
		}
		vg_mem_close(m);
		munmap(buf, size);
	}
}

/* ---- LiME ---- */

static size_t lime_add(uint8_t *out, uint64_t s, uint64_t e, uint32_t magic)
{
	uint32_t version = 1;

	memcpy(out, &magic, 4);
	memcpy(out + 4, &version, 4);
	memcpy(out + 8, &s, 8);
	memcpy(out + 16, &e, 8);
	memset(out + 24, 0, 8);
	for (uint64_t a = s; a <= e; a++)
		out[32 + (a - s)] = pat(a);
	return 32 + (e - s + 1);
}

static void test_lime(void **state)
{
	const uint32_t M = 0x4C694D45;
	struct vg_err err = { 0 };
	struct vg_mem *m;
	uint8_t *buf = calloc(1, 0x200000), b[16];
	size_t n = 0, second;

	/* Out of physical order, and the first two are physically adjacent but not in the file. */
	n += lime_add(buf + n, 0x2000, 0x2fff, M);
	second = n;
	n += lime_add(buf + n, 0x1000, 0x1fff, M);
	n += lime_add(buf + n, 0x100000, 0x17ffff, M);
	assert_int_equal(vg_mem_open_buffer(&m, buf, n, &err), 0);
	assert_int_equal(vg_mem_kind(m), VG_MEM_LIME);
	assert_string_equal(vg_mem_kind_name(m), "lime");
	assert_int_equal(vg_mem_nranges(m), 3);
	assert_int_equal(vg_mem_ranges(m)[0].start, 0x1000);
	assert_int_equal(vg_mem_ranges(m)[0].file_off, second + 32);
	check_reads(m, 0x1000, 16);
	check_reads(m, 0x1ff8, 16); /* spans two physically adjacent ranges */
	check_reads(m, 0x17fff0, 16);
	assert_null(vg_mem_ptr(m, 0x1ff8, 16));
	assert_int_equal(vg_mem_read(m, 0x2ff8, b, 16), -EFAULT);
	assert_int_equal(vg_mem_read(m, 0xfff, b, 2), -EFAULT);
	assert_int_equal(vg_mem_read(m, 0x180000, b, 1), -EFAULT);
	vg_mem_close(m);

	expect_err(vg_mem_open_buffer(&m, buf, n - 1, &err), &err, "1 bytes past the end");
	vg_err_clear(&err);
	expect_err(vg_mem_open_buffer(&m, buf, n + 10, &err), &err, "stray");
	vg_err_clear(&err);
	memcpy(buf + second, "XXXX", 4);
	expect_err(vg_mem_open_buffer(&m, buf, n, &err), &err, "chain broken");
	assert_non_null(strstr(err.msg, "offset 4128"));
	vg_err_clear(&err);
	n = lime_add(buf, 0x5000, 0x5000, M);
	memcpy(buf + 8, &(uint64_t){ 0x6000 }, 8);
	expect_err(vg_mem_open_buffer(&m, buf, n, &err), &err, "absurd");
	vg_err_clear(&err);
	n = lime_add(buf, 0x5000, 0x6000, M);
	n += lime_add(buf + n, 0x5800, 0x5fff, M);
	expect_err(vg_mem_open_buffer(&m, buf, n, &err), &err, "overlap");
	free(buf);
}

/* ---- files ---- */

static char *tmpfile_with(const void *data, size_t len)
{
	char *path = strdup("/tmp/vg-test-mem-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static void test_files(void **state)
{
	struct vg_err err = { 0 };
	struct vg_mem *m;
	struct notes ns = { 0 };
	char *path;

	expect_err(vg_mem_open(&m, "/nonexistent/vigil-mem", &err), &err, "no such file");
	vg_err_clear(&err);
	expect_err(vg_mem_open(&m, "/tmp", &err), &err, "directory");
	vg_err_clear(&err);
	path = tmpfile_with("", 0);
	expect_err(vg_mem_open(&m, path, &err), &err, "empty");
	unlink(path);
	free(path);

	note_qemu(&ns, 0x80000011, 0xabc000, 0x20);
	struct core c = make_core(EM_386, qemu_like, 2, &ns);
	path = tmpfile_with(c.buf, c.len);
	vg_err_clear(&err);
	assert_int_equal(vg_mem_open(&m, path, &err), 0);
	assert_int_equal(vg_mem_kind(m), VG_MEM_ELFCORE);
	assert_string_equal(vg_mem_path(m), path);
	assert_int_equal(vg_mem_size(m), c.len);
	check_reads(m, 0x1fffff0, 16);
	vg_mem_close(m);

	/* Forced raw: the ELF header is just bytes at physical 0. */
	assert_int_equal(vg_mem_open_kind(&m, path, VG_MEM_RAW, &err), 0);
	assert_int_equal(vg_mem_kind(m), VG_MEM_RAW);
	uint8_t b[4];
	assert_int_equal(vg_mem_read(m, 0, b, 4), 0);
	assert_memory_equal(b, ELFMAG, 4);
	vg_mem_close(m);

	/* The message names the file. */
	assert_int_equal(truncate(path, c.len - 1), 0);
	expect_err(vg_mem_open(&m, path, &err), &err, path);
	assert_non_null(strstr(err.msg, "truncated ELF core"));
	unlink(path);
	free(path);
	free(c.buf);
}

/* A live memory-backend file changes under us: reads must see the new bytes (MAP_SHARED). */
static void test_live_file(void **state)
{
	static uint8_t ram[0x101000];
	struct vg_err err = { 0 };
	struct vg_mem *m;
	char *path = tmpfile_with(ram, sizeof(ram));
	uint64_t v = 0;
	int fd;

	assert_int_equal(vg_mem_open(&m, path, &err), 0);
	assert_int_equal(vg_mem_kind(m), VG_MEM_RAW);
	assert_int_equal(vg_mem_read(m, 0x100800, &v, 8), 0);
	assert_int_equal(v, 0);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "guestnew", 8, 0x100800), 8);
	close(fd);
	assert_int_equal(vg_mem_read(m, 0x100800, &v, 8), 0);
	assert_memory_equal(&v, "guestnew", 8);
	vg_mem_close(m);
	unlink(path);
	free(path);
}

static void test_other_dump_formats(void **state)
{
	struct vg_err err = { 0 };
	struct vg_mem *m;
	uint8_t buf[4096] = "KDUMP   ";

	expect_err(vg_mem_open_buffer(&m, buf, sizeof(buf), &err), &err, "kdump");
	vg_err_clear(&err);
	expect_err(vg_mem_open_buffer(&m, buf, 0, &err), &err, "empty");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elf_qemu_like),
		cmocka_unit_test(test_elf_truncated),
		cmocka_unit_test(test_elf_not_core),
		cmocka_unit_test(test_elf_absurd_segments),
		cmocka_unit_test(test_elf_pn_xnum),
		cmocka_unit_test(test_elf_hostile_notes),
		cmocka_unit_test(test_elf_aarch64_keeps_all),
		cmocka_unit_test(test_raw_small),
		cmocka_unit_test(test_raw_split),
		cmocka_unit_test(test_lime),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_live_file),
		cmocka_unit_test(test_other_dump_formats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
