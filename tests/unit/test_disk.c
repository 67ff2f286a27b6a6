// SPDX-License-Identifier: MIT
/*
 * The disk image reader: partition tables (MBR with logical partitions, GPT with its CRCs
 * and backup header, hostile chains), the file table (paths, symlinks resolved inside the
 * table, loops), and real ext4 images built by mkfs.ext4 -d from a tree
 * (tests/fixtures/disk/build_image.py): whole-disk, MBR, GPT and qcow2 (through qemu-nbd);
 * contents and holes read back byte for byte; truncated images, corrupt superblocks,
 * directory loops and huge sparse files give a clear error or a note, never a crash or hang.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "vigil/disk.h"
#include "vigil/disk_scan.h"

static char dir[256];

static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static const char *path(const char *name)
{
	static char p[4][512];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

static int build_images(void **state)
{
	const char *root = getenv("VG_SOURCE_ROOT");
	char builder[512];

	snprintf(builder, sizeof(builder), "python3 %s/tests/fixtures/disk/build_image.py",
		 root ? root : "../..");
	snprintf(dir, sizeof(dir), "/tmp/vigil-test-disk-%d", getpid());
	if (sh("rm -rf %s && mkdir -p %s/tree/d/e", dir, dir) ||
	    sh("%s clean %s >/dev/null", builder, path("clean.img")) ||
	    sh("%s clean %s --table mbr >/dev/null", builder, path("mbr.img")) ||
	    sh("%s infected %s --table gpt --format qcow2 >/dev/null", builder,
	       path("gpt.qcow2")) ||
	    sh("%s infected %s >/dev/null", builder, path("infected.img")))
		return -1;
	/* a loop: /d/e/up is another name for /d; and a sparse 8 GiB file */
	/* inline data: small directories and files kept in their inodes */
	if (sh("mkdir -p %s/itree/d && echo 1 > %s/itree/d/f && echo hi > %s/itree/s && "
	       "truncate -s 1M %s && mkfs.ext4 -q -F -b 1024 -O ^has_journal,inline_data -d "
	       "%s/itree %s",
	       dir, dir, dir, path("inline.img"), dir, path("inline.img")))
		return -1;
	if (sh("truncate -s 8G %s/tree/huge && echo hi > %s/tree/d/e/f", dir, dir) ||
	    sh("mkfs.ext4 -q -F -d %s/tree %s 16M", dir, path("odd.img")) ||
	    sh("debugfs -w -R 'link /d /d/e/up' %s >/dev/null 2>&1", path("odd.img")))
		return -1;
	return 0;
}

static int remove_images(void **state)
{
	return sh("rm -rf %s", dir) ? -1 : 0;
}

/* ---- partition tables ---- */

struct disk {
	uint8_t *b;
	size_t len;
};

static int rd(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct disk *d = ctx;

	if (off > d->len || len > d->len - off)
		return -ERANGE;
	memcpy(buf, d->b + off, len);
	return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static void mbr_entry(uint8_t *sector, int slot, uint8_t type, uint32_t start, uint32_t n)
{
	uint8_t *e = sector + 446 + 16 * slot;

	e[4] = type;
	put32(e + 8, start);
	put32(e + 12, n);
	sector[510] = 0x55;
	sector[511] = 0xaa;
}

static void parses_mbr_and_logical_partitions(void **state)
{
	struct disk d = { .len = 8 << 20 };
	struct vg_part_table t;
	struct vg_err err = { 0 };

	d.b = calloc(1, d.len);
	mbr_entry(d.b, 0, 0x83, 2048, 2048);
	mbr_entry(d.b, 1, 0x05, 4096, 8192);		  /* extended: sectors 4096..12287 */
	mbr_entry(d.b, 2, 0x83, 1u << 30, 100);		  /* past the end: dropped */
	mbr_entry(d.b + 4096 * 512, 0, 0x83, 64, 1000);	  /* logical 5 */
	mbr_entry(d.b + 4096 * 512, 1, 0x05, 2048, 2048); /* next EBR */
	mbr_entry(d.b + 6144 * 512, 0, 0x82, 64, 1000);	  /* logical 6 */
	mbr_entry(d.b + 6144 * 512, 1, 0x05, 0, 2048);	  /* back to the first: a loop */
	assert_int_equal(vg_part_scan(rd, &d, d.len, &t, &err), 0);
	assert_string_equal(t.scheme, "mbr");
	assert_int_equal(t.n, 3);
	assert_int_equal(t.v[0].number, 1);
	assert_int_equal(t.v[0].start, 2048 * 512);
	assert_int_equal(t.v[1].number, 5);
	assert_int_equal(t.v[1].start, (4096 + 64) * 512);
	assert_int_equal(t.v[2].number, 6);
	assert_string_equal(t.v[2].type, "0x82");
	free(d.b);
}

static void gpt_header(uint8_t *h, uint64_t lba, uint64_t entries_lba, uint32_t n,
		       const uint8_t *entries)
{
	memcpy(h, "EFI PART", 8);
	put32(h + 8, 0x10000);
	put32(h + 12, 92);
	put64(h + 24, lba);
	put64(h + 72, entries_lba);
	put32(h + 80, n);
	put32(h + 84, 128);
	put32(h + 88, (uint32_t)crc32(0, entries, n * 128));
	put32(h + 16, 0);
	put32(h + 16, (uint32_t)crc32(0, h, 92));
}

static void parses_gpt_and_falls_back_to_its_backup(void **state)
{
	struct disk d = { .len = 4 << 20 };
	uint64_t last = d.len / 512 - 1;
	uint8_t entries[4 * 128] = { 0 };
	static const uint8_t linux_fs[16] = { 0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47,
					      0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4 };
	struct vg_part_table t;
	struct vg_err err = { 0 };

	d.b = calloc(1, d.len);
	mbr_entry(d.b, 0, 0xee, 1, (uint32_t)last);
	memcpy(entries + 128, linux_fs, 16); /* slot 2 */
	put64(entries + 128 + 32, 2048);
	put64(entries + 128 + 40, 4095);
	entries[128 + 56] = 'r';
	entries[128 + 58] = 'o';
	entries[128 + 60] = 'o';
	entries[128 + 62] = 't';
	memcpy(d.b + 2 * 512, entries, sizeof(entries));
	memcpy(d.b + (last - 32) * 512, entries, sizeof(entries));
	gpt_header(d.b + 512, 1, 2, 4, entries);
	gpt_header(d.b + last * 512, last, last - 32, 4, entries);
	assert_int_equal(vg_part_scan(rd, &d, d.len, &t, &err), 0);
	assert_string_equal(t.scheme, "gpt");
	assert_int_equal(t.n, 1);
	assert_int_equal(t.v[0].number, 2);
	assert_int_equal(t.v[0].start, 2048 * 512);
	assert_int_equal(t.v[0].size, 2048 * 512);
	assert_string_equal(t.v[0].type, "0FC63DAF-8483-4772-8E79-3D69D8477DE4");
	assert_string_equal(t.v[0].name, "root");
	/* a damaged primary header: the backup still gives the table */
	d.b[512 + 30] ^= 1;
	assert_int_equal(vg_part_scan(rd, &d, d.len, &t, &err), 0);
	assert_string_equal(t.scheme, "gpt");
	assert_int_equal(t.n, 1);
	/* both damaged: only the MBR is left, whose protective entry holds nothing */
	d.b[last * 512 + 30] ^= 1;
	assert_int_equal(vg_part_scan(rd, &d, d.len, &t, &err), 0);
	assert_string_equal(t.scheme, "mbr");
	assert_int_equal(t.n, 0);
	/* a header claiming a huge entry array is refused before anything is read */
	d.b[512 + 30] ^= 1;
	put32(d.b + 512 + 80, 100000);
	assert_int_equal(vg_part_scan(rd, &d, d.len, &t, &err), 0);
	assert_string_equal(t.scheme, "mbr");
	free(d.b);
}

/* ---- the file table ---- */

static uint32_t add(struct vg_ftab *t, uint32_t parent, const char *name, uint32_t mode,
		    const char *link)
{
	struct vg_fent m = { .mode = mode };
	struct vg_err err = { 0 };
	uint32_t idx;

	assert_int_equal(vg_ftab_add(t, parent, name, strlen(name), &m, &idx, &err), 0);
	if (link)
		assert_int_equal(vg_ftab_set_link(t, idx, link, strlen(link)), 0);
	return idx;
}

static void resolves_paths_and_symlinks_inside_the_table(void **state)
{
	struct vg_ftab t;
	struct vg_err err = { 0 };
	uint32_t root, usr, bin, lib;
	char longname[300];
	struct vg_fent m = { .mode = S_IFREG };
	uint32_t idx;

	vg_ftab_init(&t);
	root = add(&t, UINT32_MAX, "", S_IFDIR, NULL);
	usr = add(&t, root, "usr", S_IFDIR, NULL);
	bin = add(&t, usr, "bin", S_IFDIR, NULL);
	add(&t, bin, "busybox", S_IFREG, NULL);
	add(&t, bin, "ls", S_IFLNK, "busybox");
	add(&t, root, "bin", S_IFLNK, "usr/bin");
	lib = add(&t, root, "lib", S_IFDIR, NULL);
	add(&t, lib, "up", S_IFLNK, "../usr/./bin/../bin/ls");
	add(&t, root, "a", S_IFLNK, "/b");
	add(&t, root, "b", S_IFLNK, "/a");
	add(&t, root, "dangling", S_IFLNK, "/nowhere");
	add(&t, root, "we/ird", S_IFREG, NULL);
	assert_int_equal(vg_ftab_finish(&t, &err), 0);
	assert_int_equal(t.v[bin].nsubdirs, 0);
	assert_int_equal(t.v[root].nsubdirs, 2);
	assert_string_equal(vg_fent_path(&t, &t.v[bin]), "/usr/bin");
	assert_int_equal(vg_ftab_lookup(&t, "/usr/bin/ls"), 4);
	assert_int_equal(vg_ftab_resolve(&t, "/bin/ls"), 3);
	assert_int_equal(vg_ftab_resolve(&t, "/lib/up"), 3);
	assert_int_equal(vg_ftab_resolve(&t, "/a"), -1);
	assert_int_equal(vg_ftab_resolve(&t, "/dangling"), -1);
	assert_int_equal(vg_ftab_resolve(&t, "/usr/bin/busybox/x"), -1);
	/* a name with '/' in it cannot be a path: replaced and flagged */
	assert_int_equal(vg_ftab_lookup(&t, "/we?ird"), 11);
	assert_true(t.v[11].flags & VG_FENT_BADNAME);
	/* paths are bounded */
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	idx = root;
	for (int i = 0; i < 20; i++) {
		int r = vg_ftab_add(&t, idx, longname, strlen(longname), &m, &idx, &err);

		if (r) {
			assert_int_equal(r, -ENAMETOOLONG);
			break;
		}
		assert_true(i < 16);
	}
	vg_ftab_free(&t);
}

/* ---- images ---- */

static struct vg_fsrc *open_image(const char *name, int partition)
{
	struct vg_image_opts o = { .partition = partition };
	struct vg_err err = { 0 };
	struct vg_fsrc *s = NULL;

	if (vg_image_open(&s, path(name), &o, &err))
		fail_msg("%s: %s", name, err.msg);
	return s;
}

static const struct vg_fent *entry(const struct vg_ftab *t, const char *p)
{
	long idx = vg_ftab_lookup(t, p);

	if (idx < 0)
		fail_msg("%s not listed", p);
	return &t->v[idx];
}

static void check_contents(struct vg_fsrc *s, const struct vg_ftab *t)
{
	const struct vg_fent *e = entry(t, "/etc/passwd");
	struct vg_err err = { 0 };
	uint8_t *buf;

	assert_true(S_ISREG(e->mode));
	buf = malloc(e->size + 1);
	assert_int_equal(vg_fsrc_read(s, e, buf, e->size, &err), 0);
	buf[e->size] = '\0';
	assert_non_null(strstr((char *)buf, "user:x:1000:1000:"));
	free(buf);
	/* 1 MiB of data, a 1 MiB hole, 1 MiB of data */
	e = entry(t, "/srv/data/blob.bin");
	assert_int_equal(e->size, 3 << 20);
	buf = malloc(e->size);
	assert_int_equal(vg_fsrc_read(s, e, buf, e->size, &err), 0);
	for (size_t i = 1 << 20; i < 2u << 20; i++)
		if (buf[i])
			fail_msg("the hole holds data at %zu", i);
	free(buf);
}

static void reads_a_whole_disk_ext4_image(void **state)
{
	struct vg_fsrc *s = open_image("clean.img", -1);
	struct vg_ftab t;
	struct vg_err err = { 0 };
	const struct vg_fent *e;
	struct stat st;
	uint8_t *real, *img;

	assert_string_equal(s->kind, "ext4");
	assert_int_equal(vg_fsrc_list(s, &t, &err), 0);
	check_contents(s, &t);
	e = entry(&t, "/usr/bin/passwd");
	assert_true(e->mode & S_ISUID);
	assert_int_equal(e->uid, 0);
	e = entry(&t, "/home/user");
	assert_int_equal(e->uid, 1000);
	assert_int_equal(e->mode & 07777, 0750);
	assert_int_equal(entry(&t, "/tmp")->mode & 07777, 01777);
	/* a binary read back equals the file the tree was made from */
	e = entry(&t, "/bin/ls");
	assert_int_equal(stat("/bin/ls", &st), 0);
	assert_int_equal(e->size, (uint64_t)st.st_size);
	real = malloc(e->size);
	img = malloc(e->size);
	assert_int_equal(vg_fsrc_read(s, e, img, e->size, &err), 0);
	{
		FILE *f = fopen("/bin/ls", "rb");

		assert_int_equal(fread(real, 1, e->size, f), e->size);
		fclose(f);
	}
	assert_memory_equal(real, img, e->size);
	free(real);
	free(img);
	assert_int_equal(t.nnotes, 0);
	vg_ftab_free(&t);
	vg_fsrc_close(s);
}

static void finds_the_partition_in_mbr_gpt_and_qcow2(void **state)
{
	struct vg_image_info info;
	struct vg_image_opts o = { .partition = 1 };
	struct vg_err err = { 0 };
	struct vg_fsrc *s;
	struct vg_ftab t;

	s = open_image("mbr.img", -1);
	assert_non_null(strstr(s->label, "(partition 2)"));
	assert_int_equal(vg_fsrc_list(s, &t, &err), 0);
	check_contents(s, &t);
	vg_ftab_free(&t);
	vg_fsrc_close(s);
	/* qcow2 through qemu-nbd, a GPT inside */
	assert_int_equal(vg_image_probe(path("gpt.qcow2"), NULL, &info, &err), 0);
	assert_string_equal(info.format, "qcow2");
	assert_string_equal(info.parts.scheme, "gpt");
	assert_int_equal(info.parts.n, 2);
	assert_false(info.ext[0]);
	assert_true(info.ext[1]);
	s = open_image("gpt.qcow2", 2);
	assert_int_equal(vg_fsrc_list(s, &t, &err), 0);
	check_contents(s, &t);
	vg_ftab_free(&t);
	vg_fsrc_close(s);
	/* partition 1 is the small FAT-typed one */
	assert_int_equal(vg_image_open(&s, path("mbr.img"), &o, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "partition 1"));
}

static void refuses_truncated_and_corrupt_images(void **state)
{
	struct vg_err err = { 0 };
	struct vg_fsrc *s;
	uint8_t sb[4];
	int fd;

	assert_int_equal(sh("cp %s %s && truncate -s 20M %s", path("clean.img"), path("cut.img"),
			    path("cut.img")),
			 0);
	assert_int_equal(vg_image_open(&s, path("cut.img"), NULL, &err), -ERANGE);
	assert_non_null(strstr(err.msg, "truncated image"));
	/* block size 2^30 KiB */
	assert_int_equal(sh("cp %s %s", path("clean.img"), path("bad.img")), 0);
	fd = open(path("bad.img"), O_RDWR);
	put32(sb, 30);
	assert_int_equal(pwrite(fd, sb, 4, 1024 + 24), 4);
	vg_err_clear(&err);
	assert_int_equal(vg_image_open(&s, path("bad.img"), NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "corrupt superblock"));
	/* no magic: not a file system at all */
	memset(sb, 0, sizeof(sb));
	assert_int_equal(pwrite(fd, sb, 2, 1024 + 56), 2);
	close(fd);
	vg_err_clear(&err);
	assert_int_equal(vg_image_open(&s, path("bad.img"), NULL, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "no ext2/3/4 file system"));
	/* not an image at all, and no file */
	vg_err_clear(&err);
	assert_int_equal(vg_image_open(&s, "/nonexistent.img", NULL, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent.img"));
}

static void survives_loops_and_huge_files(void **state)
{
	struct vg_fsrc *s = open_image("odd.img", -1);
	struct vg_disk_scan_opts o = { .hash = true };
	struct vg_disk_scan r;
	struct vg_err err = { 0 };
	const struct vg_fent *e;
	bool loop = false;
	uint8_t buf[64];

	assert_int_equal(vg_disk_scan(s, &o, &r, &err), 0);
	for (size_t i = 0; i < r.tab.nnotes; i++)
		loop |= r.tab.notes[i].kind == VG_FNOTE_LOOP &&
			!strcmp(r.tab.notes[i].path, "/d/e/up");
	assert_true(loop);
	e = entry(&r.tab, "/huge");
	assert_int_equal(e->size, 8ull << 30);
	assert_int_equal(r.stats.too_large, 1);
	assert_int_equal(vg_fsrc_read(s, e, buf, sizeof(buf), &err), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);
	/* the loop is reported as an anomaly */
	loop = false;
	for (size_t i = 0; i < r.findings.n; i++)
		loop |= !strcmp(r.findings.v[i].check, "fs-anomaly") &&
			!strcmp(r.findings.v[i].target, "/d/e/up") &&
			r.findings.v[i].severity == VG_SEV_HIGH;
	assert_true(loop);
	vg_disk_scan_free(&r);
	vg_fsrc_close(s);
}

static void reads_inline_data(void **state)
{
	struct vg_fsrc *s = open_image("inline.img", -1);
	struct vg_disk_scan_opts o = { 0 };
	struct vg_disk_scan r;
	struct vg_err err = { 0 };
	char buf[8] = "";

	assert_int_equal(vg_disk_scan(s, &o, &r, &err), 0);
	assert_int_equal(r.findings.n, 0);
	assert_int_equal(r.tab.nnotes, 0);
	assert_int_equal(vg_fsrc_read(s, entry(&r.tab, "/d/f"), buf, 2, &err), 0);
	assert_string_equal(buf, "1\n");
	assert_int_equal(vg_fsrc_read(s, entry(&r.tab, "/s"), buf, 3, &err), 0);
	assert_string_equal(buf, "hi\n");
	assert_int_equal(entry(&r.tab, "/d")->nsubdirs, 0);
	vg_disk_scan_free(&r);
	vg_fsrc_close(s);
}

static void lists_what_no_directory_reaches(void **state)
{
	struct vg_fsrc *s = open_image("infected.img", -1);
	struct vg_ftab t;
	struct vg_err err = { 0 };
	char text[64] = "";
	int unreachable = 0;

	assert_int_equal(vg_fsrc_list(s, &t, &err), 0);
	for (size_t i = 0; i < t.n; i++) {
		const struct vg_fent *e = &t.v[i];

		if (!(e->flags & VG_FENT_UNREACHABLE))
			continue;
		unreachable++;
		assert_int_equal(vg_ftab_lookup(&t, vg_fent_path(&t, e)), -1);
		assert_int_equal(vg_fsrc_read(s, e, text, e->size, &err), 0);
	}
	assert_int_equal(unreachable, 1);
	assert_string_equal(text, "exfiltrated: credit cards\n");
	assert_int_equal(vg_ftab_lookup(&t, "/srv/hid/secret.txt"), -1);
	vg_ftab_free(&t);
	vg_fsrc_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_mbr_and_logical_partitions),
		cmocka_unit_test(parses_gpt_and_falls_back_to_its_backup),
		cmocka_unit_test(resolves_paths_and_symlinks_inside_the_table),
		cmocka_unit_test(reads_a_whole_disk_ext4_image),
		cmocka_unit_test(finds_the_partition_in_mbr_gpt_and_qcow2),
		cmocka_unit_test(refuses_truncated_and_corrupt_images),
		cmocka_unit_test(survives_loops_and_huge_files),
		cmocka_unit_test(reads_inline_data),
		cmocka_unit_test(lists_what_no_directory_reaches),
	};

	return cmocka_run_group_tests(tests, build_images, remove_images);
}
