// SPDX-License-Identifier: MIT
/*
 * LiME dumps: a chain of [32-byte header, data] records, one per range of System RAM the dumping
 * kernel saw. Header (little-endian): u32 magic 0x4C694D45, u32 version (1), u64 s_addr,
 * u64 e_addr (inclusive), 8 reserved bytes; e_addr - s_addr + 1 data bytes follow and the next
 * header comes right after them. The chain must cover the file exactly: a bad magic, an inverted
 * or absurd range, or data running past the end is a broken chain and rejects the file, naming
 * the offset of the offending header.
 *
 * LiME ranges come from the guest kernel's own /proc/iomem, so they are kept as they are (no PC
 * legacy-window rule as for raw files and ELF cores).
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "vmi/mem/mem_impl.h"

#define LIME_HDR 32
#define LIME_VERSION 1

int vg_mem_lime_parse(struct vg_mem *m, struct vg_err *err)
{
	struct vg_range_vec v = { 0 };
	uint64_t off = 0;
	int ret;

	/* Each record takes at least LIME_HDR + 1 bytes, so the walk ends within len / 33 steps. */
	while (off < m->len) {
		uint8_t h[LIME_HDR];
		uint32_t magic, version;
		uint64_t s, e, size;

		if (m->len - off < LIME_HDR) {
			ret = vg_errf(err, EINVAL,
				      "LiME chain broken: %llu stray bytes after the last range at "
				      "offset "
				      "%llu",
				      (unsigned long long)(m->len - off), (unsigned long long)off);
			goto fail;
		}
		memcpy(h, m->base + off, LIME_HDR);
		memcpy(&magic, h, 4);
		memcpy(&version, h + 4, 4);
		memcpy(&s, h + 8, 8);
		memcpy(&e, h + 16, 8);
		magic = le32toh(magic);
		version = le32toh(version);
		s = le64toh(s);
		e = le64toh(e);
		if (magic != VG_LIME_MAGIC) {
			ret = vg_errf(err, EINVAL,
				      "LiME chain broken: no header magic at offset %llu",
				      (unsigned long long)off);
			goto fail;
		}
		if (version != LIME_VERSION) {
			ret = vg_errf(err, ENOTSUP,
				      "LiME header at offset %llu has version %u, not 1",
				      (unsigned long long)off, version);
			goto fail;
		}
		if (e < s || e >= VG_MEM_MAX_PA) {
			ret = vg_errf(
				err, EINVAL,
				"LiME header at offset %llu has an absurd range 0x%llx-0x%llx",
				(unsigned long long)off, (unsigned long long)s,
				(unsigned long long)e);
			goto fail;
		}
		size = e - s + 1;
		off += LIME_HDR;
		if (size > m->len - off) {
			ret = vg_errf(
				err, EINVAL,
				"truncated LiME dump: range 0x%llx-0x%llx ends %llu bytes past the "
				"end of the file",
				(unsigned long long)s, (unsigned long long)e,
				(unsigned long long)(size - (m->len - off)));
			goto fail;
		}
		ret = vg_range_push(&v, s, size, off);
		if (ret) {
			ret = vg_errf(err, -ret, "too many ranges in the LiME dump");
			goto fail;
		}
		off += size;
	}
	ret = vg_mem_add_layout(m, "as-dumped", VG_ARCH_ANY, &v, err);
	if (ret)
		return vg_err_prefix(err, "LiME dump");
	return 0;
fail:
	vg_range_vec_free(&v);
	return ret;
}
