// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "vigil/json.h"

void vg_json_init(struct vg_json *j, FILE *out, bool pretty)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
	j->pretty = pretty;
	j->first[0] = true;
}

int vg_json_init_mem(struct vg_json *j, bool pretty)
{
	vg_json_init(j, NULL, pretty);
	j->out = open_memstream(&j->mem, &j->memlen);
	return j->out ? 0 : -ENOMEM;
}

char *vg_json_mem_take(struct vg_json *j, size_t *len)
{
	char *text;
	bool bad;

	if (!j->out)
		return NULL;
	bad = ferror(j->out);
	if (fclose(j->out))
		bad = true;
	j->out = NULL;
	text = j->mem;
	j->mem = NULL;
	if (bad) {
		free(text);
		return NULL;
	}
	if (len)
		*len = j->memlen;
	return text;
}

void vg_json_mem_free(struct vg_json *j)
{
	free(vg_json_mem_take(j, NULL));
}

static void indent(struct vg_json *j)
{
	if (!j->pretty)
		return;
	fputc('\n', j->out);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->out);
}

/* Separator before a new element (not after a key: the value belongs to it). */
static void sep(struct vg_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (!j->first[j->depth])
		fputc(',', j->out);
	j->first[j->depth] = false;
	if (j->depth > 0)
		indent(j);
}

static void open(struct vg_json *j, char c)
{
	sep(j);
	fputc(c, j->out);
	if (j->depth < VG_JSON_MAX_DEPTH - 1)
		j->depth++;
	j->first[j->depth] = true;
}

static void close(struct vg_json *j, char c)
{
	bool empty = j->first[j->depth];

	if (j->depth > 0)
		j->depth--;
	if (!empty)
		indent(j);
	fputc(c, j->out);
}

void vg_json_obj_open(struct vg_json *j)
{
	open(j, '{');
}

void vg_json_obj_close(struct vg_json *j)
{
	close(j, '}');
}

void vg_json_arr_open(struct vg_json *j)
{
	open(j, '[');
}

void vg_json_arr_close(struct vg_json *j)
{
	close(j, ']');
}

/* Length of a valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void write_escaped(FILE *out, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	fputc('"', out);
	while (i < n) {
		unsigned char c = s[i];
		size_t l;

		switch (c) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (c < 0x20) {
				fprintf(out, "\\u%04x", c);
				break;
			}
			l = utf8_len(s + i, n - i);
			if (l == 0) {
				fprintf(out, "\\u%04x", c);
				break;
			}
			fwrite(s + i, 1, l, out);
			i += l;
			continue;
		}
		i++;
	}
	fputc('"', out);
}

void vg_json_key(struct vg_json *j, const char *key)
{
	sep(j);
	write_escaped(j->out, key, strlen(key));
	fputs(j->pretty ? ": " : ":", j->out);
	j->after_key = true;
}

void vg_json_strn(struct vg_json *j, const char *s, size_t n)
{
	sep(j);
	write_escaped(j->out, s, n);
}

void vg_json_str(struct vg_json *j, const char *s)
{
	if (!s) {
		vg_json_null(j);
		return;
	}
	vg_json_strn(j, s, strlen(s));
}

void vg_json_int(struct vg_json *j, int64_t v)
{
	sep(j);
	fprintf(j->out, "%" PRId64, v);
}

void vg_json_uint(struct vg_json *j, uint64_t v)
{
	sep(j);
	fprintf(j->out, "%" PRIu64, v);
}

void vg_json_hex(struct vg_json *j, uint64_t v)
{
	sep(j);
	fprintf(j->out, "\"0x%" PRIx64 "\"", v);
}

void vg_json_double(struct vg_json *j, double v)
{
	sep(j);
	if (isfinite(v))
		fprintf(j->out, "%.6g", v);
	else
		fputs("null", j->out);
}

void vg_json_bool(struct vg_json *j, bool v)
{
	sep(j);
	fputs(v ? "true" : "false", j->out);
}

void vg_json_null(struct vg_json *j)
{
	sep(j);
	fputs("null", j->out);
}

void vg_json_end(struct vg_json *j)
{
	fputc('\n', j->out);
	j->first[0] = true;
}

void vg_json_kstr(struct vg_json *j, const char *k, const char *s)
{
	vg_json_key(j, k);
	vg_json_str(j, s);
}

void vg_json_kint(struct vg_json *j, const char *k, int64_t v)
{
	vg_json_key(j, k);
	vg_json_int(j, v);
}

void vg_json_kuint(struct vg_json *j, const char *k, uint64_t v)
{
	vg_json_key(j, k);
	vg_json_uint(j, v);
}

void vg_json_khex(struct vg_json *j, const char *k, uint64_t v)
{
	vg_json_key(j, k);
	vg_json_hex(j, v);
}

void vg_json_kdouble(struct vg_json *j, const char *k, double v)
{
	vg_json_key(j, k);
	vg_json_double(j, v);
}

void vg_json_kbool(struct vg_json *j, const char *k, bool v)
{
	vg_json_key(j, k);
	vg_json_bool(j, v);
}

void vg_json_kraw(struct vg_json *j, const char *k, const char *raw)
{
	vg_json_key(j, k);
	sep(j);
	fputs(raw, j->out);
}

void vg_json_quote(char *buf, size_t len, const char *s)
{
	size_t n = strlen(s);
	FILE *f;

	if (len < 3) {
		if (len)
			buf[0] = '\0';
		return;
	}
	/* escaping can grow a byte to six: shorten the input until the result fits */
	for (;;) {
		f = fmemopen(buf, len, "w");
		if (!f)
			break;
		setvbuf(f, NULL, _IONBF, 0);
		write_escaped(f, s, n);
		if (ftell(f) < (long)len - 1 && !ferror(f)) {
			fclose(f);
			return;
		}
		fclose(f);
		if (n == 0)
			break;
		n = n / 2;
	}
	snprintf(buf, len, "\"\"");
}
