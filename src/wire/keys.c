// SPDX-License-Identifier: MIT
/* Static key pairs and their files (see wire.h). A secret key file holds one base64 line, as
 * wireguard's do; it is created 0600 with O_EXCL so a key is never written into a file someone
 * else can already read. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "vigil/wire.h"

void vg_wire_keypair_new(struct vg_wire_keypair *kp)
{
	crypto_kx_keypair(kp->pk, kp->sk);
}

void vg_wire_key_encode(const uint8_t key[VG_WIRE_KEY_LEN], char out[VG_WIRE_KEY_B64_LEN])
{
	sodium_bin2base64(out, VG_WIRE_KEY_B64_LEN, key, VG_WIRE_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
}

int vg_wire_key_decode(const char *text, uint8_t key[VG_WIRE_KEY_LEN])
{
	char buf[VG_WIRE_KEY_B64_LEN + 1];
	size_t n, got = 0;
	const char *end;

	while (isspace((unsigned char)*text))
		text++;
	n = strlen(text);
	while (n && isspace((unsigned char)text[n - 1]))
		n--;
	if (n != VG_WIRE_KEY_B64_LEN - 1)
		return -EINVAL;
	memcpy(buf, text, n);
	buf[n] = '\0';
	if (sodium_base642bin(key, VG_WIRE_KEY_LEN, buf, n, NULL, &got, &end,
			      sodium_base64_VARIANT_ORIGINAL) ||
	    got != VG_WIRE_KEY_LEN || *end)
		return -EINVAL;
	return 0;
}

int vg_wire_key_write_secret(const char *path, const struct vg_wire_keypair *kp, struct vg_err *err)
{
	char b64[VG_WIRE_KEY_B64_LEN + 1];
	size_t n;
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return vg_errf(err, errno, "%s: %s%s", path, strerror(errno),
			       errno == EEXIST ? " (a key file is never overwritten)" : "");
	/* the umask cannot loosen 0600, but a stricter one would leave it unreadable to us */
	if (fchmod(fd, 0600) < 0)
		ret = vg_errf(err, errno, "%s: %s", path, strerror(errno));
	vg_wire_key_encode(kp->sk, b64);
	n = strlen(b64);
	b64[n++] = '\n';
	if (!ret && (write(fd, b64, n) != (ssize_t)n || fsync(fd) < 0))
		ret = vg_errf(err, errno ?: EIO, "%s: %s", path, strerror(errno ?: EIO));
	sodium_memzero(b64, sizeof(b64));
	close(fd);
	if (ret)
		unlink(path);
	return ret;
}

static int read_small(const char *path, char *buf, size_t cap, struct stat *st, struct vg_err *err)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return vg_errf(err, errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return vg_errf(err, EINVAL, "%s: not a regular file", path);
	}
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return vg_errf(err, errno, "%s: %s", path, strerror(errno));
	buf[n] = '\0';
	return 0;
}

int vg_wire_key_read_secret(const char *path, struct vg_wire_keypair *kp, bool *loose,
			    struct vg_err *err)
{
	char buf[128];
	struct stat st;
	int ret = read_small(path, buf, sizeof(buf), &st, err);

	if (ret)
		return ret;
	ret = vg_wire_key_decode(buf, kp->sk);
	sodium_memzero(buf, sizeof(buf));
	if (ret)
		return vg_errf(err, EINVAL,
			       "%s: not a vigil secret key (one base64 line of 32 bytes)", path);
	if (crypto_scalarmult_base(kp->pk, kp->sk))
		return vg_errf(err, EINVAL, "%s: unusable secret key", path);
	if (loose)
		*loose = (st.st_mode & 077) != 0;
	return 0;
}

int vg_wire_key_read_public(const char *text_or_path, uint8_t pk[VG_WIRE_KEY_LEN],
			    struct vg_err *err)
{
	char buf[128];
	struct stat st;
	int ret;

	if (!vg_wire_key_decode(text_or_path, pk))
		return 0;
	if (access(text_or_path, F_OK))
		return vg_errf(err, EINVAL, "'%s' is neither a base64 public key nor a key file",
			       text_or_path);
	ret = read_small(text_or_path, buf, sizeof(buf), &st, err);
	if (ret)
		return ret;
	if (vg_wire_key_decode(buf, pk))
		return vg_errf(err, EINVAL, "%s: not a vigil public key (one base64 line)",
			       text_or_path);
	return 0;
}
