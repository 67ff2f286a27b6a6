// SPDX-License-Identifier: MIT
/*
 * Discovery cache. One small text file per memory source (keyed by its real path and size)
 * records what cold discovery found: where the banner, page tables, kernel image, kallsyms
 * and BTF are, the core symbols and the struct offsets. Nothing in it is trusted: before use
 * the banner text is compared with guest memory, the page tables must still map the banner and
 * the image where they did, and the kallsyms token table must hash to the recorded value, so a
 * different kernel build or a reboot with new KASLR slides falls back to cold discovery.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lxcache.h"
#include "vigil/util.h"

#define CACHE_MAGIC "vigil-discovery 2"


static int cache_path(const struct vg_linux *lx, const struct vg_linux_opts *opts, char *out,
		      size_t len, bool create)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *base = opts ? opts->cache_dir : NULL;
	uint64_t key;

	if (base && !base[0])
		return -ENOENT; /* disabled */
	if (base) {
		snprintf(dir, sizeof(dir), "%s", base);
	} else if (getenv("XDG_CACHE_HOME") && getenv("XDG_CACHE_HOME")[0]) {
		snprintf(dir, sizeof(dir), "%s/vigil", getenv("XDG_CACHE_HOME"));
	} else if (getenv("HOME")) {
		snprintf(dir, sizeof(dir), "%s/.cache/vigil", getenv("HOME"));
	} else {
		return -ENOENT;
	}
	if (vg_mem_ident(lx->mem, real, sizeof(real)))
		return -ENOENT;
	key = vg_fnv64(real, strlen(real), VG_FNV64_INIT);
	key = vg_fnv64(&(uint64_t){ vg_mem_size(lx->mem) }, 8, key);
	if (create) {
		char sub[PATH_MAX + 16];

		snprintf(sub, sizeof(sub), "%s/discovery", dir);
		vg_mkdir_p(sub, 0700);
	}
	if ((size_t)snprintf(out, len, "%s/discovery/%016" PRIx64, dir, key) >= len)
		return -ENAMETOOLONG;
	return 0;
}

void vg_lxcache_set_dir(struct vg_linux *lx, const struct vg_linux_opts *opts)
{
	const char *base = opts ? opts->cache_dir : NULL;
	char dir[PATH_MAX];

	lx->cache_dir[0] = '\0';
	if (base && !base[0])
		return;
	if (base)
		snprintf(dir, sizeof(dir), "%s", base);
	else if (getenv("XDG_CACHE_HOME") && getenv("XDG_CACHE_HOME")[0])
		snprintf(dir, sizeof(dir), "%s/vigil", getenv("XDG_CACHE_HOME"));
	else if (getenv("HOME"))
		snprintf(dir, sizeof(dir), "%s/.cache/vigil", getenv("HOME"));
	else
		return;
	if ((size_t)snprintf(lx->cache_dir, sizeof(lx->cache_dir), "%s/discovery", dir) >=
	    sizeof(lx->cache_dir))
		lx->cache_dir[0] = '\0';
	else
		vg_mkdir_p(lx->cache_dir, 0700);
}

static void hex_encode(char *out, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static int hex_decode(void *p, size_t n, const char *hex)
{
	uint8_t *b = p;

	if (strlen(hex) != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		b[i] = (uint8_t)v;
	}
	return 0;
}

void vg_lxcache_store(const struct vg_linux *lx, const struct vg_linux_opts *opts)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	char hex[2 * sizeof(struct vg_offsets) + 1];
	FILE *f;

	/* symbols from a file are the operator's; only in-memory discovery is cached */
	if (lx->symbols_file || lx->btf_file || cache_path(lx, opts, path, sizeof(path), true))
		return;
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	f = fopen(tmp, "w");
	if (!f)
		return;
	hex_encode(hex, &lx->off, sizeof(lx->off));
	fprintf(f, CACHE_MAGIC "\n");
	fprintf(f, "banner %s\n", lx->banner);
	fprintf(f, "geometry %d %" PRIx64 " %" PRIx64 " %" PRIx64 " %d\n", lx->layout,
		lx->banner_pa, lx->banner_va, lx->kas.root, lx->levels);
	fprintf(f, "image %" PRIx64 " %" PRIx64 " %" PRIx64 "\n", lx->img_va, lx->img_pa,
		lx->img_len);
	fprintf(f, "tables %" PRIx64 " %" PRIx64 " %" PRIx64 " %" PRIx64 " %u %u\n",
		lx->ks_token_off, lx->ks_hash, lx->btf_off, lx->btf_size, lx->btf_types,
		lx->ksyms.count);
	fprintf(f, "syms");
	for (int i = 0; i < VG_CORE_SYMS; i++)
		fprintf(f, " %" PRIx64, lx->core_sym[i]);
	fprintf(f, "\noffsets %s\n", hex);
	if (fclose(f) == 0)
		rename(tmp, path);
	else
		unlink(tmp);
}

static int parse(struct vg_linux *lx, FILE *f, uint32_t *nsyms)
{
	char line[4096];
	int got = 0;

	if (!fgets(line, sizeof(line), f) || strcmp(line, CACHE_MAGIC "\n"))
		return -EINVAL;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "banner ", 7)) {
			snprintf(lx->banner, sizeof(lx->banner), "%.255s", line + 7);
			got |= 1;
		} else if (sscanf(line, "geometry %d %" SCNx64 " %" SCNx64 " %" SCNx64 " %d",
				  &lx->layout, &lx->banner_pa, &lx->banner_va, &lx->kas.root,
				  &lx->levels) == 5) {
			got |= 2;
		} else if (sscanf(line, "image %" SCNx64 " %" SCNx64 " %" SCNx64, &lx->img_va,
				  &lx->img_pa, &lx->img_len) == 3) {
			got |= 4;
		} else if (sscanf(line,
				  "tables %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64 " %u %u",
				  &lx->ks_token_off, &lx->ks_hash, &lx->btf_off, &lx->btf_size,
				  &lx->btf_types, nsyms) == 6) {
			got |= 8;
		} else if (!strncmp(line, "syms ", 5)) {
			char *p = line + 5, *end;

			for (int i = 0; i < VG_CORE_SYMS; i++, p = end) {
				lx->core_sym[i] = strtoull(p, &end, 16);
				if (end == p)
					return -EINVAL;
			}
			got |= 16;
		} else if (!strncmp(line, "offsets ", 8)) {
			if (hex_decode(&lx->off, sizeof(lx->off), line + 8))
				return -EINVAL;
			got |= 32;
		}
	}
	return got == 63 ? 0 : -EINVAL;
}

/* Is everything the file claims still true of this memory? */
static int verify(struct vg_linux *lx)
{
	char cur[VG_BANNER_MAX] = { 0 };
	const uint8_t *img;
	uint64_t pa, n;

	if (lx->layout < 0 || lx->layout >= vg_mem_layout_count(lx->mem) ||
	    vg_mem_set_layout(lx->mem, lx->layout))
		return -EINVAL;
	if (vg_mem_read(lx->mem, lx->banner_pa, cur, strlen(lx->banner)) ||
	    memcmp(cur, lx->banner, strlen(lx->banner)))
		return -ESTALE;
	if ((lx->levels != 4 && lx->levels != 5) ||
	    vg_as_init(&lx->kas, lx->mem, lx->kas.root, lx->levels) ||
	    vg_as_translate(&lx->kas, lx->banner_va, &pa, NULL) || pa != lx->banner_pa ||
	    vg_as_translate(&lx->kas, lx->img_va, &pa, NULL) || pa != lx->img_pa)
		return -ESTALE;
	img = vg_mem_ptr(lx->mem, lx->img_pa, lx->img_len);
	if (!img || lx->ks_token_off >= lx->img_len || lx->btf_off >= lx->img_len)
		return -ESTALE;
	n = lx->img_len - lx->ks_token_off < 1024 ? lx->img_len - lx->ks_token_off : 1024;
	if (vg_fnv64(img + lx->ks_token_off, n, VG_FNV64_INIT) != lx->ks_hash)
		return -ESTALE;
	return 0;
}

int vg_lxcache_try(struct vg_linux *lx, const struct vg_linux_opts *opts)
{
	char path[PATH_MAX];
	uint32_t nsyms = 0;
	uint64_t a;
	FILE *f;
	int ret;

	if (lx->symbols_file || lx->btf_file || cache_path(lx, opts, path, sizeof(path), false))
		return -ENOENT;
	f = fopen(path, "r");
	if (!f)
		return -ENOENT;
	ret = parse(lx, f, &nsyms);
	fclose(f);
	if (!ret)
		ret = verify(lx);
	if (ret)
		goto stale;
	lx->release[0] = '\0';
	{
		const char *p = lx->banner + strlen("Linux version ");
		size_t l = strcspn(p, " ");

		if (strncmp(lx->banner, "Linux version ", 14) || l >= sizeof(lx->release))
			goto stale;
		memcpy(lx->release, p, l);
		lx->release[l] = '\0';
	}
	lx->text_va = lx->core_sym[0];
	lx->kaslr_slide = lx->text_va - 0xffffffff81000000ull;
	if (vg_as_translate(&lx->kas, lx->text_va, &lx->phys_slide, NULL))
		goto stale;
	/* per boot values are read again, never taken from the file */
	a = lx->core_sym[4];
	if (a) {
		if (vg_as_read_u64(&lx->kas, a, &lx->page_offset_base))
			goto stale;
	} else {
		lx->page_offset_base =
			lx->levels == 5 ? 0xff11000000000000ull : 0xffff888000000000ull;
	}
	lx->init_task = lx->core_sym[2];
	lx->modules_head = lx->core_sym[3];
	lx->ksyms.count = nsyms;
	lx->ksyms_loaded = false;
	return 0;
stale : {
	struct vg_mem *mem = lx->mem;
	const char *sf = lx->symbols_file, *bf = lx->btf_file;

	char dir[sizeof(lx->cache_dir)];

	memcpy(dir, lx->cache_dir, sizeof(dir));
	memset(lx, 0, sizeof(*lx));
	memcpy(lx->cache_dir, dir, sizeof(dir));
	lx->mem = mem;
	lx->symbols_file = sf;
	lx->btf_file = bf;
	vg_mem_set_layout(mem, 0);
}
	return -ESTALE;
}

int vg_linux_cache_path(const struct vg_linux *lx, const char *prefix, uint64_t key, char *out,
			size_t len)
{
	if (!lx->cache_dir[0])
		return -ENOENT;
	if ((size_t)snprintf(out, len, "%s/%s-%016" PRIx64, lx->cache_dir, prefix, key) >= len)
		return -ENAMETOOLONG;
	return 0;
}

void vg_linux_cache_write(const char *path, int mode, const struct iovec *parts, int n)
{
	char tmp[PATH_MAX + 16];
	bool ok = true;
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid()) >= sizeof(tmp))
		return;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return;
	for (int i = 0; ok && i < n; i++)
		for (size_t done = 0; ok && done < parts[i].iov_len;) {
			ssize_t w = write(fd, (const char *)parts[i].iov_base + done,
					  parts[i].iov_len - done);

			ok = w > 0;
			done += ok ? (size_t)w : 0;
		}
	if (close(fd) == 0 && ok)
		rename(tmp, path);
	else
		unlink(tmp);
}
