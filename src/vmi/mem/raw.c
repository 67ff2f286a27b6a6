// SPDX-License-Identifier: MIT
/*
 * Raw RAM files: a QEMU memory-backend file (or a byte copy of one) holds the guest's RAM block
 * from its first byte, with no header. Where each byte sits in the guest's physical address space
 * depends on the machine, which the file does not record, so this offers the candidate layouts of
 * the machines vigil knows and lets discovery choose by content:
 *
 * QEMU's PC machines (QEMU 7.2, hw/i386/pc_q35.c and pc_piix.c):
 *   q35:     RAM >= 0xb0000000 bytes: 2 GiB below the PCI hole, the rest from 4 GiB;
 *            smaller: all of it from 0.
 *   i440fx:  RAM >= 0xe0000000 bytes: 3 GiB low (gigabyte_align, every machine since 2.0),
 *            the rest from 4 GiB; smaller: all of it from 0.
 * The low block's file offset equals its physical address and the high block continues in the
 * file where the low one ends. Every PC layout leaves out [0xa0000, 0x100000): the guest sees VGA
 * and option ROMs there, not this RAM, and an ELF core of the same guest has no RAM there either
 * (elfcore.c applies the same rule), so both kinds of source give the same ranges.
 *
 * ARM boards, in one piece and with no hole:
 *   arm-virt:  QEMU's -M virt (hw/arm/virt.c, VIRT_MEM): RAM from 1 GiB.
 *   arm-low:   RAM from 0: the Raspberry Pi (QEMU's raspi3b, raspi4b), most SoC boards.
 *
 * Candidate order: the PC layouts first (for big files the q35 split, then i440fx, then flat;
 * small files have the one layout both PC machines agree on), then the ARM ones. A PC guest is
 * found in the first layout tried, as before; discovery leaves the PC layouts as soon as the
 * content says AArch64, so an ARM guest costs one failed try, not one per PC layout.
 */
#include <errno.h>

#include "vmi/mem/mem_impl.h"

#define Q35_SPLIT_MIN 0xb0000000ull
#define Q35_LOW 0x80000000ull
#define PIIX_SPLIT_MIN 0xe0000000ull
#define PIIX_LOW 0xc0000000ull
#define ARM_VIRT_RAM 0x40000000ull

static int add_pc(struct vg_mem *m, const char *name, uint64_t low, struct vg_err *err)
{
	struct vg_range_vec v = { 0 };
	uint64_t size = m->len;
	int ret;

	if (low > size)
		low = size;
	ret = vg_range_push(&v, 0, low, 0);
	if (!ret && size > low)
		ret = vg_range_push(&v, VG_4G, size - low, low);
	if (!ret)
		ret = vg_range_carve(&v, VG_PC_LEGACY_LO, VG_PC_LEGACY_HI);
	if (ret) {
		vg_range_vec_free(&v);
		return vg_errf(err, -ret, "cannot build the %s layout", name);
	}
	return vg_mem_add_layout(m, name, VG_ARCH_X86_64, &v, err);
}

static int add_arm(struct vg_mem *m, const char *name, uint64_t base, struct vg_err *err)
{
	struct vg_range_vec v = { 0 };
	int ret;

	if (m->len > VG_MEM_MAX_PA - base)
		return 0; /* no such board has this much RAM */
	ret = vg_range_push(&v, base, m->len, 0);
	if (ret) {
		vg_range_vec_free(&v);
		return vg_errf(err, -ret, "cannot build the %s layout", name);
	}
	return vg_mem_add_layout(m, name, VG_ARCH_ARM64, &v, err);
}

int vg_mem_raw_parse(struct vg_mem *m, struct vg_err *err)
{
	uint64_t size = m->len;
	int ret = 0;

	if (size >= Q35_SPLIT_MIN)
		ret = add_pc(m, "split-2G", Q35_LOW, err);
	if (!ret && size >= PIIX_SPLIT_MIN)
		ret = add_pc(m, "split-3G", PIIX_LOW, err);
	if (!ret)
		ret = add_pc(m, "flat", size, err);
	if (!ret)
		ret = add_arm(m, "arm-virt", ARM_VIRT_RAM, err);
	if (!ret)
		ret = add_arm(m, "arm-low", 0, err);
	return ret;
}
