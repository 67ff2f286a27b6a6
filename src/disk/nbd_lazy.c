// SPDX-License-Identifier: MIT
/*
 * libnbd, loaded when an image first needs QEMU (qcow2 and the other non-raw formats).
 * Linked normally, libnbd brings GnuTLS, libxml2 and ICU, whose relocation costs every vigil
 * process about 11 ms at start (measured here: 3.2 ms -> 14 ms for an empty program), for a
 * library only qcow2 reads use. vigil defines the few entry points it calls and forwards them
 * to the library opened with dlopen; when it cannot be opened, nbd_create fails and
 * nbd_get_error says why.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include <libnbd.h>

#define NBD_SONAME "libnbd.so.0"

static struct {
	struct nbd_handle *(*create)(void);
	void (*close)(struct nbd_handle *);
	const char *(*get_error)(void);
	int (*connect_sa)(struct nbd_handle *, char **);
	int64_t (*get_size)(struct nbd_handle *);
	int (*pread)(struct nbd_handle *, void *, size_t, uint64_t, uint32_t);
	bool ok;
	char why[256];
} nbd;
static pthread_once_t nbd_once = PTHREAD_ONCE_INIT;

static void load(void)
{
	void *h = dlopen(NBD_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		snprintf(nbd.why, sizeof(nbd.why), "%s (install libnbd0)", dlerror());
		return;
	}
	/* dlsym returns void *; POSIX guarantees it converts to a function pointer */
	*(void **)&nbd.create = dlsym(h, "nbd_create");
	*(void **)&nbd.close = dlsym(h, "nbd_close");
	*(void **)&nbd.get_error = dlsym(h, "nbd_get_error");
	*(void **)&nbd.connect_sa = dlsym(h, "nbd_connect_systemd_socket_activation");
	*(void **)&nbd.get_size = dlsym(h, "nbd_get_size");
	*(void **)&nbd.pread = dlsym(h, "nbd_pread");
	nbd.ok = nbd.create && nbd.close && nbd.get_error && nbd.connect_sa && nbd.get_size &&
		 nbd.pread;
	if (!nbd.ok)
		snprintf(nbd.why, sizeof(nbd.why), "%s lacks an entry point vigil uses",
			 NBD_SONAME);
}

/* Every other entry point takes a handle, which only a successful nbd_create hands out. */
struct nbd_handle *nbd_create(void)
{
	pthread_once(&nbd_once, load);
	return nbd.ok ? nbd.create() : NULL;
}

const char *nbd_get_error(void)
{
	pthread_once(&nbd_once, load);
	if (!nbd.ok)
		return nbd.why;
	return nbd.get_error();
}

void nbd_close(struct nbd_handle *h)
{
	if (h && nbd.ok)
		nbd.close(h);
}

int nbd_connect_systemd_socket_activation(struct nbd_handle *h, char **argv)
{
	return nbd.connect_sa(h, argv);
}

int64_t nbd_get_size(struct nbd_handle *h)
{
	return nbd.get_size(h);
}

int nbd_pread(struct nbd_handle *h, void *buf, size_t count, uint64_t offset, uint32_t flags)
{
	return nbd.pread(h, buf, count, offset, flags);
}
