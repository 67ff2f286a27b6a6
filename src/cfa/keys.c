// SPDX-License-Identifier: MIT
/*
 * Ed25519 key files for signed attestation reports (cfa_report.h): one line of lowercase hex.
 * A secret key is only ever written into a file this function created itself with mode 0600:
 * opening an existing file with O_TRUNC would keep its old mode, and a key written into a
 * world-readable file stays readable by whoever copied it meanwhile.
 */
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

/* TEXT into a file at PATH created by us with exactly MODE (the umask could only narrow it,
 * fchmod makes it exact): O_EXCL when not replacing, else a fresh temporary file renamed over
 * PATH. */
static int write_new(const char *path, const char *text, size_t len, mode_t mode, bool replace,
		     struct vg_err *err)
{
	char tmp[4200];
	const char *made = replace ? tmp : path;
	int fd, rc = 0;

	if (replace) {
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp))
			return vg_errf(err, ENAMETOOLONG, "%s: name too long", path);
		fd = mkostemp(tmp, O_CLOEXEC); /* O_EXCL, mode 0600 */
	} else {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return vg_errf(err, errno, "%s: %s%s", path, strerror(errno),
			       errno == EEXIST ? " (a key file is not overwritten unless asked to)"
					       : "");
	if (fchmod(fd, mode) < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
		rc = vg_errf(err, errno ? errno : EIO, "writing %s: %s", made,
			     strerror(errno ? errno : EIO));
	if (close(fd) < 0 && !rc)
		rc = vg_errf(err, errno, "closing %s: %m", made);
	if (!rc && replace && rename(tmp, path) < 0)
		rc = vg_errf(err, errno, "replacing %s: %m", path);
	if (rc)
		unlink(made);
	return rc;
}

int vg_cfa_keygen(const char *path, bool replace, unsigned *old_mode, struct vg_err *err)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	char hsk[sizeof(sk) * 2 + 2], hpk[sizeof(pk) * 2 + 2], pub[4200];
	struct stat st;
	bool have_key, have_pub;
	int rc;

	*old_mode = 0;
	if ((size_t)snprintf(pub, sizeof(pub), "%s.pub", path) >= sizeof(pub))
		return vg_errf(err, ENAMETOOLONG, "%s: name too long", path);
	have_key = !lstat(path, &st);
	if (have_key)
		*old_mode = st.st_mode & 07777;
	have_pub = !lstat(pub, &st);
	if (!replace && (have_key || have_pub))
		return vg_errf(err, EEXIST,
			       "%s exists (a key file is not overwritten unless asked to)",
			       have_key ? path : pub);
	if (sodium_init() < 0)
		return vg_errf(err, EIO, "libsodium failed to initialise");
	crypto_sign_keypair(pk, sk);
	sodium_bin2hex(hsk, sizeof(hsk) - 1, sk, sizeof(sk));
	sodium_bin2hex(hpk, sizeof(hpk) - 1, pk, sizeof(pk));
	strcat(hsk, "\n");
	strcat(hpk, "\n");
	rc = write_new(path, hsk, strlen(hsk), 0600, replace, err);
	if (!rc && (rc = write_new(pub, hpk, strlen(hpk), 0644, replace, err)) && !replace)
		unlink(path); /* no secret key without its public half */
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
