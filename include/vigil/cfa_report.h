/* SPDX-License-Identifier: MIT */
/*
 * Signed CFA attestation reports. A report file is exactly two lines:
 *   <report JSON, one line>\n
 *   ed25519:<128 hex digits: Ed25519 signature over the first line's bytes, without "\n">\n
 * so any changed, added or removed byte makes vg_cfa_report_check() fail. Keys: libsodium
 * Ed25519 (secret 64 bytes, public 32), stored as hex text.
 */
#ifndef VIGIL_CFA_REPORT_H
#define VIGIL_CFA_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/cfa_verify.h"
#include "vigil/err.h"

struct vg_cfa_report_stream {
	uint32_t stream;
	struct vg_cfa_stream_result r;
};

struct vg_cfa_report_in {
	const char *program;
	const char *ts;
	const struct vg_cfa_model *model;
	const char *verdict;
	uint64_t checkpoint; /* 1, 2, ... for periodic reports; 0 for the final one */
	const struct vg_cfa_report_stream *streams;
	size_t nstreams;
	const struct vg_cfa_loop_summary *loops;
	size_t nloops;
};

/* Builds and signs a report; *OUT is malloc'd text (both lines). */
int vg_cfa_report_build(const struct vg_cfa_report_in *in, const uint8_t sk[64], char **out,
			size_t *len, struct vg_err *err);
/* 0 when BUF is a well-formed report signed by PK; -EBADMSG otherwise (err says why). */
int vg_cfa_report_check(const char *buf, size_t len, const uint8_t pk[32], struct vg_err *err);
/* Measurement key derived from the signing key, so one key file configures a verifier. */
void vg_cfa_measure_key(const uint8_t sk[64], uint8_t key[32]);
/* Reads the report file PATH (at most 16 MiB) into *TEXT (malloc'd, NUL-terminated, *LEN
 * bytes) and checks it as vg_cfa_report_check does; *TEXT is set even when it is invalid. */
int vg_cfa_report_check_file(const char *path, const uint8_t pk[32], char **text, size_t *len,
			     struct vg_err *err);

/*
 * Key files (keys.c): one line of hex. vg_cfa_keygen writes a new pair, the secret key to PATH
 * and the public key to PATH.pub. The secret key file is created 0600 with O_EXCL, so a key is
 * never written into a file someone else can already read: an existing PATH or PATH.pub is
 * refused (-EEXIST) unless REPLACE, which writes each to a new file (0600 for the secret, 0644
 * for the public key) and renames it over the old one. *OLD_MODE gets the permission bits of
 * the PATH that was there (0 when none), so the caller can warn when others could read it.
 */
int vg_cfa_keygen(const char *path, bool replace, unsigned *old_mode, struct vg_err *err);
/* The 64-byte secret key in PATH; *LOOSE is set when group or others may read the file. */
int vg_cfa_key_read_secret(const char *path, uint8_t sk[64], bool *loose, struct vg_err *err);
int vg_cfa_key_read_public(const char *path, uint8_t pk[32], struct vg_err *err);

#endif
