// SPDX-License-Identifier: MIT
/* Signed attestation reports (format in include/vigil/cfa_report.h). */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/cfa_report.h"
#include "vigil/json.h"

#define REPORT_MAX (16 << 20) /* a report is a few KiB; anything far larger is not one */

static void hex(char *out, const uint8_t *b, size_t n)
{
	sodium_bin2hex(out, n * 2 + 1, b, n);
}

void vg_cfa_measure_key(const uint8_t sk[64], uint8_t key[32])
{
	static const char tag[] = "vigil-cfa-measure-key";

	crypto_generichash_blake2b(key, 32, (const uint8_t *)tag, sizeof(tag) - 1, sk, 32);
}

static void body(struct vg_json *j, const struct vg_cfa_report_in *in)
{
	const struct vg_cfa_model *m = in->model;
	char h[65];

	vg_json_obj_open(j);
	vg_json_kstr(j, "type", "vigil-cfa-attestation");
	vg_json_kint(j, "version", 1);
	vg_json_kstr(j, "ts", in->ts);
	vg_json_kstr(j, "program", in->program);
	hex(h, m->build_id, m->build_id_len);
	vg_json_kstr(j, "build_id", h);
	vg_json_kuint(j, "checkpoint", in->checkpoint);
	vg_json_kstr(j, "verdict", in->verdict);
	vg_json_key(j, "streams");
	vg_json_arr_open(j);
	for (size_t i = 0; i < in->nstreams; i++) {
		const struct vg_cfa_report_stream *s = &in->streams[i];

		vg_json_obj_open(j);
		vg_json_kuint(j, "stream", s->stream);
		vg_json_kuint(j, "events", s->r.events);
		vg_json_kuint(j, "segments", s->r.segments);
		hex(h, s->r.measurement, 32);
		vg_json_kstr(j, "measurement", h);
		vg_json_key(j, "alerts");
		vg_json_obj_open(j);
		for (int k = 1; k < VG_CFA_A_KINDS; k++)
			if (s->r.alerts[k])
				vg_json_kuint(j, vg_cfa_alert_check(k), s->r.alerts[k]);
		vg_json_obj_close(j);
		vg_json_obj_close(j);
	}
	vg_json_arr_close(j);
	vg_json_key(j, "loops");
	vg_json_arr_open(j);
	for (size_t i = 0; i < in->nloops; i++) {
		const struct vg_cfa_loop_summary *L = &in->loops[i];

		vg_json_obj_open(j);
		vg_json_kstr(j, "function", vg_cfa_func_name(m, m->nodes[L->header].func));
		vg_json_khex(j, "header", m->nodes[L->header].off);
		vg_json_kuint(j, "instances", L->instances);
		vg_json_kuint(j, "max_iterations", L->max_iters);
		vg_json_kuint(j, "total_iterations", L->total_iters);
		vg_json_obj_close(j);
	}
	vg_json_arr_close(j);
	vg_json_obj_close(j);
}

int vg_cfa_report_build(const struct vg_cfa_report_in *in, const uint8_t sk[64], char **out,
			size_t *len, struct vg_err *err)
{
	char *buf = NULL, sig_hex[crypto_sign_BYTES * 2 + 1];
	size_t n = 0;
	uint8_t sig[crypto_sign_BYTES];
	FILE *f = open_memstream(&buf, &n);
	struct vg_json j;

	if (!f)
		return vg_errf(err, ENOMEM, "report: out of memory");
	vg_json_init(&j, f, false);
	body(&j, in);
	fclose(f);
	if (!buf)
		return vg_errf(err, ENOMEM, "report: out of memory");
	while (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	crypto_sign_detached(sig, NULL, (const uint8_t *)buf, n, sk);
	hex(sig_hex, sig, sizeof(sig));
	char *o = malloc(n + sizeof(sig_hex) + 16);

	if (!o) {
		free(buf);
		return vg_errf(err, ENOMEM, "report: out of memory");
	}
	*len = (size_t)sprintf(o, "%s\ned25519:%s\n", buf, sig_hex);
	*out = o;
	free(buf);
	return 0;
}

int vg_cfa_report_check(const char *buf, size_t len, const uint8_t pk[32], struct vg_err *err)
{
	const char *nl = memchr(buf, '\n', len);
	uint8_t sig[crypto_sign_BYTES];
	size_t siglen = 0;
	const char *end;

	if (!nl || nl == buf)
		return vg_errf(err, EBADMSG, "report: no report line");
	size_t blen = (size_t)(nl - buf), rest = len - blen - 1;

	if (rest != 8 + 2 * crypto_sign_BYTES + 1 || memcmp(nl + 1, "ed25519:", 8) ||
	    nl[rest] != '\n')
		return vg_errf(err, EBADMSG, "report: signature line missing or malformed");
	/* canonical lowercase hex only, or "A"/"a" would be two encodings of one signature */
	for (size_t i = 0; i < 2 * crypto_sign_BYTES; i++)
		if (!strchr("0123456789abcdef", nl[9 + i]) || !nl[9 + i])
			return vg_errf(err, EBADMSG, "report: signature is not lowercase hex");
	if (sodium_hex2bin(sig, sizeof(sig), nl + 9, 2 * crypto_sign_BYTES, NULL, &siglen, &end) ||
	    siglen != sizeof(sig) || end != nl + 9 + 2 * crypto_sign_BYTES)
		return vg_errf(err, EBADMSG, "report: signature is not hex");
	if (crypto_sign_verify_detached(sig, (const uint8_t *)buf, blen, pk))
		return vg_errf(err, EBADMSG,
			       "report: signature does not verify with this public key");
	return 0;
}

int vg_cfa_report_check_file(const char *path, const uint8_t pk[32], char **text, size_t *len,
			     struct vg_err *err)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*text = NULL;
	*len = 0;
	if (fd < 0)
		return vg_errf(err, errno, "%s: %m", path);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > REPORT_MAX) {
		close(fd);
		return vg_errf(err, EFBIG, "%s: not a regular file of at most 16 MiB", path);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return vg_errf(err, ENOMEM, "%s: out of memory", path);
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = 0;
	if (got != (size_t)st.st_size) {
		free(buf);
		return vg_errf(err, EIO, "%s: short read", path);
	}
	*text = buf;
	*len = got;
	return vg_cfa_report_check(buf, got, pk, err);
}
