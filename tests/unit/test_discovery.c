// SPDX-License-Identifier: MIT
/*
 * Discovery on crafted inputs: kallsyms tables laid out as the kernel's scripts/kallsyms writes
 * them (4.6-6.1, the seqs_of_names layout of 6.2/6.3 and Debian's 6.1, and 6.4+), with relative
 * and absolute-per-cpu offsets; corrupted tables must be refused, not half-decoded. Also the
 * BTF header finder and the System.map reader.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/linux.h"

#define NSYMS 700
#define BASE 0xffffffff81000000ull
#define IMG_VA 0xffffffff82000000ull

enum layout { L_CLASSIC, L_SEQS, L_NEW };

struct img {
	uint8_t *b;
	size_t len, cap;
};

static void put(struct img *m, const void *p, size_t n)
{
	if (m->len + n > m->cap) {
		m->cap = (m->len + n) * 2;
		m->b = realloc(m->b, m->cap);
	}
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

static void pad8(struct img *m)
{
	static const uint8_t z[8];

	put(m, z, (8 - m->len % 8) % 8);
}

static void put32(struct img *m, uint32_t v)
{
	put(m, &v, 4);
}

static void sym_name(int i, char *out)
{
	if (i == 0)
		strcpy(out, "T_text");
	else if (i == 1)
		strcpy(out, "Rlinux_banner");
	else if (i == 2)
		strcpy(out, "Dinit_task");
	else
		sprintf(out, "t%s_%d", i % 3 ? "vigil_func" : "x", i);
}

static uint64_t sym_addr(int i)
{
	return BASE + (uint64_t)i * 0x40;
}

/* Builds an image with junk before and after the tables; the names are uncompressed (each
 * byte a token standing for itself), which the decoder cannot tell from real compression. */
static struct img build(enum layout lay, bool abs_percpu)
{
	struct img m = { 0 }, names = { 0 }, offs = { 0 };
	uint32_t markers[(NSYMS + 255) / 256];
	uint16_t tidx[256];
	char tok[256][4], name[64];
	uint64_t rb = BASE;
	size_t off = 0;

	for (int i = 0; i < 4096; i++)
		put(&m, &(uint8_t){ (uint8_t)(i * 7) }, 1);
	pad8(&m);
	for (int i = 0; i < NSYMS; i++) {
		uint8_t l;

		sym_name(i, name);
		if (i % 256 == 0)
			markers[i / 256] = (uint32_t)names.len;
		l = (uint8_t)strlen(name);
		put(&names, &l, 1);
		put(&names, name, l);
		int32_t o = abs_percpu ? (int32_t)(-(int64_t)(sym_addr(i) - BASE) - 1)
				       : (int32_t)(sym_addr(i) - BASE);
		put32(&offs, (uint32_t)o);
	}
	for (int i = 0; i < 256; i++) {
		if (i >= 0x21 && i <= 0x7e)
			sprintf(tok[i], "%c", i);
		else
			sprintf(tok[i], "%c%c", 'A' + i % 26, 'a' + i / 26 % 26);
		tidx[i] = (uint16_t)off;
		off += strlen(tok[i]) + 1;
	}
	if (lay != L_NEW) {
		put(&m, offs.b, offs.len);
		pad8(&m);
		put(&m, &rb, 8);
	}
	put32(&m, NSYMS);
	pad8(&m);
	put(&m, names.b, names.len);
	pad8(&m);
	put(&m, markers, sizeof(markers));
	pad8(&m);
	if (lay == L_SEQS) {
		for (int i = 0; i < NSYMS; i++)
			put(&m, (uint8_t[3]){ 0, (uint8_t)(i >> 8), (uint8_t)i }, 3);
		pad8(&m);
	}
	for (int i = 0; i < 256; i++)
		put(&m, tok[i], strlen(tok[i]) + 1);
	pad8(&m);
	put(&m, tidx, sizeof(tidx));
	pad8(&m);
	if (lay == L_NEW) {
		put(&m, offs.b, offs.len);
		pad8(&m);
		put(&m, &rb, 8);
	}
	for (int i = 0; i < 4096; i++)
		put(&m, &(uint8_t){ (uint8_t)(i * 13) }, 1);
	free(names.b);
	free(offs.b);
	return m;
}

static void check_decoded(const struct vg_kallsyms *ks)
{
	const struct vg_ksym *s;
	uint64_t want = sym_addr(NSYMS - 1);
	char name[64];

	assert_int_equal(ks->count, NSYMS);
	assert_int_equal(ks->relative_base, BASE);
	s = vg_kallsyms_lookup(ks, "linux_banner");
	assert_non_null(s);
	assert_int_equal(s->addr, sym_addr(1));
	assert_int_equal(s->type, 'R');
	s = vg_kallsyms_lookup(ks, "init_task");
	assert_non_null(s);
	assert_int_equal(s->addr, sym_addr(2));
	sym_name(NSYMS - 1, name);
	s = vg_kallsyms_lookup(ks, name + 1);
	assert_non_null(s);
	assert_int_equal(s->addr, want);
	assert_null(vg_kallsyms_lookup(ks, "no_such_symbol"));
	s = vg_kallsyms_near(ks, sym_addr(300) + 5);
	assert_non_null(s);
	assert_int_equal(s->addr, sym_addr(300));
}

static void parse_layout(enum layout lay, bool abs_percpu)
{
	struct img m = build(lay, abs_percpu);
	struct vg_kallsyms ks;
	struct vg_err err = { 0 };

	assert_int_equal(vg_kallsyms_parse(&ks, m.b, m.len, IMG_VA, 0, &err), 0);
	check_decoded(&ks);
	assert_int_equal(ks.absolute_percpu, abs_percpu);
	vg_kallsyms_free(&ks);
	/* a hint past the tables wraps around and still finds them */
	assert_int_equal(vg_kallsyms_parse(&ks, m.b, m.len, IMG_VA, m.len - 64, &err), 0);
	check_decoded(&ks);
	vg_kallsyms_free(&ks);
	free(m.b);
}

static void test_classic(void **state)
{
	parse_layout(L_CLASSIC, false);
	parse_layout(L_CLASSIC, true);
}

static void test_seqs_of_names(void **state)
{
	parse_layout(L_SEQS, true);
}

static void test_new_layout(void **state)
{
	parse_layout(L_NEW, false);
}

/* A wrong marker means the names stream is not what the index says: refuse everything. */
static void test_corrupt_marker_refused(void **state)
{
	struct img m = build(L_CLASSIC, true);
	struct vg_kallsyms ks;
	struct vg_err err = { 0 };
	uint8_t *p = memmem(m.b, m.len, "tvigil_func_256", 15);

	assert_non_null(p);
	/* lengthen the first name of block 1 by one byte: marker 1 no longer matches */
	p[-1]++;
	assert_int_equal(vg_kallsyms_parse(&ks, m.b, m.len, IMG_VA, 0, &err), -ENOENT);
	assert_int_equal(ks.count, 0);
	assert_non_null(strstr(err.msg, "--symbols"));
	free(m.b);
}

static void test_truncated_and_junk(void **state)
{
	struct img m = build(L_SEQS, true);
	struct vg_kallsyms ks;
	uint8_t junk[65536];

	/* every truncation point: never a crash, never a partial table */
	for (size_t cut = 0; cut < m.len; cut += 97) {
		struct vg_err err = { 0 };

		if (vg_kallsyms_parse(&ks, m.b, cut, IMG_VA, cut / 2, &err) == 0) {
			check_decoded(&ks);
			vg_kallsyms_free(&ks);
		}
	}
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 2654435761u >> 13);
	assert_int_not_equal(vg_kallsyms_parse(&ks, junk, sizeof(junk), IMG_VA, 0, NULL), 0);
	memset(junk, 0, sizeof(junk));
	assert_int_not_equal(vg_kallsyms_parse(&ks, junk, sizeof(junk), IMG_VA, 0, NULL), 0);
	free(m.b);
}

static void test_btf_find(void **state)
{
	uint8_t buf[4096] = { 0 };
	uint32_t hdr[6] = { 0x0001eb9f, 24, 0, 100, 100, 50 };

	memcpy(buf + 1000, hdr, sizeof(hdr));
	assert_int_equal(vg_btf_find(buf, sizeof(buf)), 1000);
	/* sizes past the end of the image: not a BTF blob */
	hdr[5] = 5000;
	memcpy(buf + 1000, hdr, sizeof(hdr));
	assert_int_equal(vg_btf_find(buf, sizeof(buf)), -ENOENT);
	/* string section not right after types */
	hdr[5] = 50;
	hdr[4] = 96;
	memcpy(buf + 1000, hdr, sizeof(hdr));
	assert_int_equal(vg_btf_find(buf, sizeof(buf)), -ENOENT);
}

static void test_symbol_text(void **state)
{
	const char text[] = "ffffffff81000000 T _text\n"
			    "garbage line\n"
			    "ffffffff81e00100 D init_task\n"
			    "ffffffffc0001000 t dummy_init\t[dummy]\n"
			    "ffffffff81a00000 R linux_banner\n";
	struct vg_kallsyms ks;
	struct vg_err err = { 0 };
	const struct vg_ksym *s;

	assert_int_equal(vg_kallsyms_from_text(&ks, text, sizeof(text) - 1, 0x200000, &err), 0);
	assert_int_equal(ks.count, 4);
	s = vg_kallsyms_lookup(&ks, "init_task");
	assert_non_null(s);
	assert_int_equal(s->addr, 0xffffffff81e00100ull + 0x200000);
	/* sorted by address for nearest-symbol lookups */
	s = vg_kallsyms_near(&ks, 0xffffffff81a00000ull + 0x200000 + 8);
	assert_string_equal(vg_ksym_name(&ks, s), "linux_banner");
	vg_kallsyms_free(&ks);
	assert_int_equal(vg_kallsyms_from_text(&ks, "nothing here\n", 13, 0, &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classic),
		cmocka_unit_test(test_seqs_of_names),
		cmocka_unit_test(test_new_layout),
		cmocka_unit_test(test_corrupt_marker_refused),
		cmocka_unit_test(test_truncated_and_junk),
		cmocka_unit_test(test_btf_find),
		cmocka_unit_test(test_symbol_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
