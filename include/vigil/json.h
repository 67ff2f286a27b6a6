/* SPDX-License-Identifier: MIT */
/*
 * A small streaming JSON writer (bpftool's json_writer idea): commas and nesting are tracked so
 * callers emit keys and values in order. Strings are escaped; bytes that are not valid UTF-8
 * (guest data often is not) are written as \u00XX so the output always parses.
 */
#ifndef VIGIL_JSON_H
#define VIGIL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define VG_JSON_MAX_DEPTH 32

struct vg_json {
	FILE *out;
	char *mem; /* vg_json_init_mem: the buffer OUT writes into */
	size_t memlen;
	int depth;
	bool pretty;
	bool first[VG_JSON_MAX_DEPTH]; /* no element written yet at this depth */
	bool after_key;
};

void vg_json_init(struct vg_json *j, FILE *out, bool pretty);
/* Writes into a growing memory buffer instead of a FILE (evidence objects, alert lines);
 * -ENOMEM when the buffer cannot be made. */
int vg_json_init_mem(struct vg_json *j, bool pretty);
/* Ends a memory writer and hands over its NUL-terminated text (*len bytes; len may be NULL);
 * NULL when a write ran out of memory. The caller frees it. */
char *vg_json_mem_take(struct vg_json *j, size_t *len);
/* Ends a memory writer, discarding its text. */
void vg_json_mem_free(struct vg_json *j);
void vg_json_obj_open(struct vg_json *j);
void vg_json_obj_close(struct vg_json *j);
void vg_json_arr_open(struct vg_json *j);
void vg_json_arr_close(struct vg_json *j);
void vg_json_key(struct vg_json *j, const char *key);
void vg_json_str(struct vg_json *j, const char *s);
void vg_json_strn(struct vg_json *j, const char *s, size_t n);
void vg_json_int(struct vg_json *j, int64_t v);
void vg_json_uint(struct vg_json *j, uint64_t v);
void vg_json_hex(struct vg_json *j, uint64_t v); /* "0x..." string: addresses exceed 2^53 */
void vg_json_double(struct vg_json *j, double v);
void vg_json_bool(struct vg_json *j, bool v);
void vg_json_null(struct vg_json *j);
/* Ends a top-level value with a newline (JSON lines). */
void vg_json_end(struct vg_json *j);

/* A member whose value is RAW, text that is already valid JSON (built from escaped parts). */
void vg_json_kraw(struct vg_json *j, const char *k, const char *raw);

/* S as a quoted, escaped JSON string into BUF (truncated to fit, still valid JSON). */
void vg_json_quote(char *buf, size_t len, const char *s);

/* key + value shorthands */
void vg_json_kstr(struct vg_json *j, const char *k, const char *s);
void vg_json_kint(struct vg_json *j, const char *k, int64_t v);
void vg_json_kuint(struct vg_json *j, const char *k, uint64_t v);
void vg_json_khex(struct vg_json *j, const char *k, uint64_t v);
void vg_json_kdouble(struct vg_json *j, const char *k, double v);
void vg_json_kbool(struct vg_json *j, const char *k, bool v);

#endif
