// SPDX-License-Identifier: MIT
/*
 * A module's identity, computed the same way on the device (agent) and at the gateway (model
 * builder): the GNU build id from the ELF notes, else a BLAKE2b-160 of the whole file.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "vigil/agent.h"
#include "vigil/sysbatch.h"

#define MAX_HASHED (1ull << 30)

static int note_build_id(Elf_Data *d, uint8_t id[32], uint8_t *len)
{
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nh;

	while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && nh.n_descsz &&
		    !memcmp((char *)d->d_buf + name_off, "GNU", 4)) {
			*len = nh.n_descsz > 32 ? 32 : (uint8_t)nh.n_descsz;
			memcpy(id, (char *)d->d_buf + desc_off, *len);
			return 1;
		}
	}
	return 0;
}

static int elf_build_id(int fd, uint8_t id[32], uint8_t *len)
{
	Elf *e;
	size_t phnum = 0;
	int found = 0;

	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!e)
		return 0;
	if (elf_kind(e) == ELF_K_ELF && !elf_getphdrnum(e, &phnum)) {
		for (size_t i = 0; i < phnum && !found; i++) {
			GElf_Phdr ph;

			if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_NOTE)
				continue;
			found = note_build_id(elf_getdata_rawchunk(e, (int64_t)ph.p_offset,
								   ph.p_filesz, ELF_T_NHDR),
					      id, len);
		}
	}
	elf_end(e);
	return found;
}

int vg_agent_module_ident(const char *path, uint8_t *kind, uint8_t id[32], uint8_t *len,
			  struct vg_err *err)
{
	struct stat st;
	void *map;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return vg_errf(err, errno, "%s: %m", path);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_HASHED) {
		close(fd);
		return vg_errf(err, EINVAL, "%s: not a regular file under 1 GiB", path);
	}
	if (elf_build_id(fd, id, len)) {
		*kind = VG_SB_ID_BUILD;
		close(fd);
		return 0;
	}
	memset(id, 0, 32);
	*len = 20;
	*kind = VG_SB_ID_HASH;
	if (!st.st_size) {
		crypto_generichash(id, 20, NULL, 0, NULL, 0);
		close(fd);
		return 0;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return vg_errf(err, errno, "%s: %m", path);
	crypto_generichash(id, 20, map, (unsigned long long)st.st_size, NULL, 0);
	munmap(map, (size_t)st.st_size);
	return 0;
}
