// SPDX-License-Identifier: MIT
/* Ed25519 key files for signed attestation reports (cfa_report.h): one line of lowercase hex. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/cfa_report.h"

#define KEY_FILE_MAX 300

static int write_text(const char *path, const char *text, size_t len, mode_t mode,
		      struct vg_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0)
		return vg_errf(err, errno, "%s: %m", path);
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return vg_errf(err, EIO, "writing %s: %m", path);
	}
	return close(fd) ? vg_errf(err, errno, "closing %s: %m", path) : 0;
}

int vg_cfa_keygen(const char *path, struct vg_err *err)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	char hsk[sizeof(sk) * 2 + 2], hpk[sizeof(pk) * 2 + 2], pub[4200];
	int rc;

	if ((size_t)snprintf(pub, sizeof(pub), "%s.pub", path) >= sizeof(pub))
		return vg_errf(err, ENAMETOOLONG, "%s: name too long", path);
	if (sodium_init() < 0)
		return vg_errf(err, EIO, "libsodium failed to initialise");
	crypto_sign_keypair(pk, sk);
	sodium_bin2hex(hsk, sizeof(hsk) - 1, sk, sizeof(sk));
	sodium_bin2hex(hpk, sizeof(hpk) - 1, pk, sizeof(pk));
	strcat(hsk, "\n");
	strcat(hpk, "\n");
	rc = write_text(path, hsk, strlen(hsk), 0600, err);
	if (!rc)
		rc = write_text(pub, hpk, strlen(hpk), 0644, err);
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(hsk, sizeof(hsk));
	return rc;
}

static int read_hex(const char *path, uint8_t *out, size_t n, struct stat *st, struct vg_err *err)
{
	char buf[KEY_FILE_MAX];
	size_t got = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return vg_errf(err, errno, "key %s: %m", path);
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return vg_errf(err, EINVAL, "key %s: not a regular file", path);
	}
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return vg_errf(err, EINVAL, "key %s: empty", path);
	buf[r] = 0;
	if (sodium_hex2bin(out, n, buf, (size_t)r, "\n", &got, NULL) || got != n)
		rc = vg_errf(err, EINVAL, "key %s: expected %zu hex-encoded bytes", path, n);
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

int vg_cfa_key_read_secret(const char *path, uint8_t sk[64], bool *loose, struct vg_err *err)
{
	struct stat st;
	int rc = read_hex(path, sk, 64, &st, err);

	if (!rc && loose)
		*loose = (st.st_mode & 077) != 0;
	return rc;
}

int vg_cfa_key_read_public(const char *path, uint8_t pk[32], struct vg_err *err)
{
	struct stat st;

	return read_hex(path, pk, 32, &st, err);
}
