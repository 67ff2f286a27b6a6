// SPDX-License-Identifier: MIT
/*
 * The kernel text reference (ids_text.h) as one JSON object of a baseline file: range, chunk,
 * the site count and digest, the key in hex and the hashes in base64 (little-endian 64-bit
 * SipHash-2-4 values). A baseline file may be moved and edited, so parsing checks every size
 * against the range before it allocates or decodes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vigil/ids_text.h"

void vg_text_ref_free(struct vg_text_ref *r)
{
	free(r->hash);
	sodium_memzero(r, sizeof(*r));
}

static json_t *hexstr(uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "0x%016llx", (unsigned long long)v);
	return json_string(b);
}

json_t *vg_text_ref_to_json(const struct vg_text_ref *r)
{
	size_t blen = sodium_base64_ENCODED_LEN(r->n * 8, sodium_base64_VARIANT_ORIGINAL);
	char key[33], *b64 = malloc(blen);
	json_t *j;

	if (!b64)
		return NULL;
	sodium_bin2hex(key, sizeof(key), r->key, 16);
	sodium_bin2base64(b64, blen, (const unsigned char *)r->hash, r->n * 8,
			  sodium_base64_VARIANT_ORIGINAL);
	/* hashes are stored little-endian, as the host computes them */
	j = json_pack("{s:o, s:o, s:o, s:i, s:s, s:i, s:o, s:s, s:s}", "start", hexstr(r->start),
		      "end", hexstr(r->end), "text_va", hexstr(r->text_va), "chunk",
		      (json_int_t)r->chunk, "hash", "siphash24-le64", "sites",
		      (json_int_t)r->nsites, "sites_digest", hexstr(r->sites_digest), "key", key,
		      "hashes", b64);
	sodium_memzero(key, sizeof(key));
	free(b64);
	return j;
}

static int get_u64(const json_t *j, const char *name, uint64_t *v)
{
	const char *s = json_string_value(json_object_get(j, name));
	char *end;

	if (!s || strncmp(s, "0x", 2))
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 16);
	return errno || *end || end == s + 2 ? -EINVAL : 0;
}

int vg_text_ref_from_json(const json_t *j, struct vg_text_ref *out, struct vg_err *err)
{
	const char *key = json_string_value(json_object_get(j, "key"));
	const char *b64 = json_string_value(json_object_get(j, "hashes"));
	const char *alg = json_string_value(json_object_get(j, "hash"));
	json_int_t chunk = json_integer_value(json_object_get(j, "chunk"));
	json_int_t sites = json_integer_value(json_object_get(j, "sites"));
	size_t keylen = 0, binlen = 0;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(j) || get_u64(j, "start", &out->start) ||
	    get_u64(j, "end", &out->end) || get_u64(j, "text_va", &out->text_va) ||
	    get_u64(j, "sites_digest", &out->sites_digest) || !key || !b64 || !alg ||
	    strcmp(alg, "siphash24-le64"))
		return vg_errf(err, EINVAL, "kernel text reference: missing or malformed members");
	if (out->end <= out->start || out->end - out->start > VG_TEXT_MAX_BYTES ||
	    chunk < VG_TEXT_MIN_CHUNK || chunk > VG_TEXT_MAX_CHUNK || sites < 0 ||
	    sites > UINT32_MAX)
		return vg_errf(err, EINVAL,
			       "kernel text reference: bad range, chunk or site count");
	out->chunk = (uint32_t)chunk;
	out->nsites = (uint32_t)sites;
	out->n = (out->end - out->start + out->chunk - 1) / out->chunk;
	if (sodium_hex2bin(out->key, 16, key, strlen(key), NULL, &keylen, NULL) || keylen != 16)
		return vg_errf(err, EINVAL, "kernel text reference: key is not 16 hex bytes");
	out->hash = malloc(out->n * 8);
	if (!out->hash)
		return vg_errf(err, ENOMEM, "kernel text reference: out of memory");
	if (sodium_base642bin((unsigned char *)out->hash, out->n * 8, b64, strlen(b64), NULL,
			      &binlen, NULL, sodium_base64_VARIANT_ORIGINAL) ||
	    binlen != out->n * 8) {
		vg_text_ref_free(out);
		return vg_errf(err, EINVAL, "kernel text reference: hashes do not match the range");
	}
	return 0;
}
