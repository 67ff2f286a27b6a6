// SPDX-License-Identifier: MIT
/*
 * The remote driver: guest memory served by a vigil broker (remote://HOST:PORT/NAME), seen
 * through a lazily filled mapping (remote_int.h). This file parses the URI and finds the keys,
 * opens the session and the mapping, and implements the driver ops by posting commands to the
 * I/O thread (remote_io.c).
 *
 * URI options (after '?', '&'-separated):
 *   key=FILE      this client's secret key ($VIGIL_KEY, else $XDG_CONFIG_HOME/vigil/client.key)
 *   pub=KEY|FILE  the broker's public key, pinned ($VIGIL_BROKER_PUB, else .../broker.pub)
 *   max-age=MS    how long fetched bytes count as current without a refresh (default 1000)
 *   timeout=MS    connection and handshake deadline (default 5000)
 *   remember=0    keep nothing between runs: no list of pages to prefetch, no page file
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "vigil/clock.h"
#include "vigil/util.h"
#include "vmi/mem/mem_impl.h"
#include "vmi/mem/remote_int.h"

#define SCHEME "remote://"
#define DEFAULT_MAX_AGE_MS 1000
#define DEFAULT_TIMEOUT_MS 5000

bool vg_mem_is_remote(const char *path)
{
	return path && !strncmp(path, SCHEME, strlen(SCHEME));
}

/* Posts C to the I/O thread and waits until it is done. */
static int post(struct remote *r, struct rm_cmd *c)
{
	uint64_t one = 1;

	c->done = false;
	pthread_mutex_lock(&r->mu);
	r->cmd = c;
	pthread_mutex_unlock(&r->mu);
	if (write(r->evfd, &one, sizeof(one)) != sizeof(one))
		return -EIO;
	pthread_mutex_lock(&r->mu);
	while (!c->done)
		pthread_cond_wait(&r->cv, &r->mu);
	pthread_mutex_unlock(&r->mu);
	return c->result;
}

static int readable(struct remote *r)
{
	int lost = atomic_load(&r->lost);

	if (lost)
		return lost;
	return atomic_load(&r->torn) ? -EAGAIN : 0;
}

static void age_check(struct remote *r)
{
	struct rm_cmd c = { .type = CMD_REFRESH };

	if (vg_mono_ms() - atomic_load(&r->gen_ms) > (uint64_t)r->max_age_ms)
		post(r, &c);
}

static int rm_pread(void *priv, uint64_t off, void *buf, size_t len)
{
	struct remote *r = priv;
	struct rm_cmd c = { .type = CMD_PREAD, .off = off, .len = len, .buf = buf };
	int ret = readable(r);

	if (ret)
		return ret;
	if (off > r->size || len > r->size - off)
		return -EFAULT;
	return len ? post(r, &c) : 0;
}

static const uint8_t *rm_map(void *priv, uint64_t off, size_t len, bool bulk)
{
	struct remote *r = priv;

	if (readable(r) || off > r->size || len > r->size - off)
		return NULL;
	age_check(r);
	if (bulk && len > RM_PAGE) {
		struct rm_cmd c = { .type = CMD_PREFETCH, .off = off, .len = len, .bulk = true };

		post(r, &c);
	}
	return r->view + off;
}

static int rm_check(void *priv)
{
	struct remote *r = priv;
	struct rm_cmd c = { .type = CMD_CHECK };
	int ret = post(r, &c);

	if (!ret)
		atomic_store(&r->torn, 0);
	return ret == -ENOENT || ret == -ESTALE || ret == -EAGAIN || ret >= 0 ? ret : -EAGAIN;
}

static int rm_live(void *priv)
{
	struct remote *r = priv;
	struct rm_cmd c = { .type = CMD_LIVE };

	return post(r, &c);
}

static int rm_ident(void *priv, char *buf, size_t len)
{
	struct remote *r = priv;

	if ((size_t)snprintf(buf, len, "%s", r->ident) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static void rm_refresh(void *priv)
{
	struct remote *r = priv;
	struct rm_cmd c = { .type = CMD_REFRESH };

	post(r, &c);
}

static void rm_prefetch(void *priv, uint64_t off, size_t len)
{
	struct remote *r = priv;
	struct rm_cmd c = { .type = CMD_PREFETCH, .off = off, .len = len };

	if (off < r->size && len <= r->size - off)
		post(r, &c);
}

/* The pages this run read, for the next run to prefetch (the same checks read the same
 * structures); best effort, mode 0600: they are addresses of guest memory, not its bytes. */
static void ws_save(struct remote *r)
{
	/* the last generation that read anything: a run ending right after a refresh has an
	 * empty current one */
	const struct rm_pages *ws = r->ws.n ? &r->ws : &r->pws;
	char tmp[1100];
	int fd;

	if (!r->remember || !r->ws_path[0] || !ws->n)
		return;
	snprintf(tmp, sizeof(tmp), "%s.%d", r->ws_path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	if (write(fd, ws->v, ws->n * 4) == (ssize_t)(ws->n * 4) && !close(fd)) {
		rename(tmp, r->ws_path);
		return;
	}
	close(fd);
	unlink(tmp);
}

static void ws_load(struct remote *r)
{
	uint32_t buf[1024];
	size_t total = 0;
	ssize_t n;
	int fd;

	if (!r->remember || !r->ws_path[0])
		return;
	fd = open(r->ws_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	while (total < RM_WS_MAX && (n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n / 4 && total < RM_WS_MAX; i++, total++)
			if (buf[i] < r->npages)
				vg_rm_pages_push(&r->pws, buf[i]);
	}
	close(fd);
}

static void rm_close(void *priv)
{
	struct remote *r = priv;

	if (r->io_started) {
		struct rm_cmd c = { .type = CMD_STOP };

		post(r, &c);
		pthread_join(r->io, NULL);
	}
	ws_save(r);
	if (r->w)
		vg_wire_close(r->w);
	if (r->view)
		munmap(r->view, (r->size + RM_PAGE - 1) & ~(uint64_t)(RM_PAGE - 1));
	if (r->state)
		munmap(r->state, (size_t)r->npages * 13);
	for (int *fd = &r->memfd; fd <= &r->evfd; fd++)
		if (*fd >= 0)
			close(*fd);
	free(r->urgent.v);
	free(r->background.v);
	free(r->bulk.v);
	free(r->ws.v);
	free(r->pws.v);
	vg_bbuf_free(&r->sb);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	sodium_memzero(&r->kp, sizeof(r->kp));
	free(r);
}

static int rm_failure(void *priv, char *buf, size_t len)
{
	struct remote *r = priv;
	int ret = -ENOENT;

	pthread_mutex_lock(&r->mu);
	if (r->why[0]) {
		snprintf(buf, len, "the broker %s:%s: %s", r->host, r->port, r->why);
		ret = 0;
	}
	pthread_mutex_unlock(&r->mu);
	return ret;
}

static const struct vg_mem_ops remote_ops = {
	.name = "remote",
	.pread = rm_pread,
	.map = rm_map,
	.check = rm_check,
	.live = rm_live,
	.ident = rm_ident,
	.close = rm_close,
	.refresh = rm_refresh,
	.prefetch = rm_prefetch,
	.failure = rm_failure,
};

/* ---- opening ---- */

static const char *config_file(char *buf, size_t len, const char *name)
{
	const char *x = getenv("XDG_CONFIG_HOME"), *h = getenv("HOME");

	if (x && *x)
		snprintf(buf, len, "%s/vigil/%s", x, name);
	else
		snprintf(buf, len, "%s/.config/vigil/%s", h && *h ? h : ".", name);
	return buf;
}

struct uri_opts {
	const char *key, *pub;
};

static int parse_uri(struct remote *r, char *s, struct uri_opts *o, struct vg_err *err)
{
	char *slash, *q, *save = NULL;

	s += strlen(SCHEME);
	q = strchr(s, '?');
	if (q)
		*q++ = '\0';
	slash = strchr(s, '/');
	if (!slash || !vg_broker_name_ok(slash + 1, strlen(slash + 1)))
		return vg_errf(err, EINVAL,
			       "expected remote://HOST:PORT/NAME (NAME: letters, "
			       "digits, '.', '_', '-')");
	*slash = '\0';
	if (vg_wire_split_hostport(s, r->host, sizeof(r->host), r->port, sizeof(r->port)))
		return vg_errf(err, EINVAL, "expected remote://HOST:PORT/NAME, not HOST:PORT '%s'",
			       s);
	snprintf(r->name, sizeof(r->name), "%s", slash + 1);
	for (char *kv = q ? strtok_r(q, "&", &save) : NULL; kv; kv = strtok_r(NULL, "&", &save)) {
		char *v = strchr(kv, '=');
		long n;

		if (!v)
			return vg_errf(err, EINVAL, "option '%s' needs a value", kv);
		*v++ = '\0';
		n = strtol(v, NULL, 10);
		if (!strcmp(kv, "key"))
			o->key = v;
		else if (!strcmp(kv, "pub"))
			o->pub = v;
		else if (!strcmp(kv, "max-age") && n > 0 && n <= 3600000)
			r->max_age_ms = (int)n;
		else if (!strcmp(kv, "timeout") && n > 0 && n <= 600000)
			r->timeout_ms = (int)n;
		else if (!strcmp(kv, "remember") && (!strcmp(v, "0") || !strcmp(v, "1")))
			r->remember = *v == '1';
		else
			return vg_errf(err, EINVAL, "unknown option or bad value '%s=%s'", kv, v);
	}
	return 0;
}

static int load_keys(struct remote *r, const struct uri_opts *o, struct vg_err *err)
{
	char path[1024];
	const char *key = o->key ? o->key : getenv("VIGIL_KEY");
	const char *pub = o->pub ? o->pub : getenv("VIGIL_BROKER_PUB");
	bool loose = false;

	if (!key || !*key)
		key = config_file(path, sizeof(path), "client.key");
	if (vg_wire_key_read_secret(key, &r->kp, &loose, err))
		return vg_err_prefix(err, "this client's secret key (key=FILE or $VIGIL_KEY)");
	if (loose)
		return vg_errf(err, EPERM,
			       "%s: the secret key can be read by others (chmod 600 it)", key);
	if (!pub || !*pub)
		pub = config_file(path, sizeof(path), "broker.pub");
	if (vg_wire_key_read_public(pub, r->spk, err))
		return vg_err_prefix(err, "the broker's public key (pub=KEY or $VIGIL_BROKER_PUB)");
	return 0;
}

static int build_layouts(struct vg_mem *m, const struct vg_broker_info *info, struct vg_err *err)
{
	static const char *const names[] = { "flat",	  "split-2G", "split-3G",
					     "as-dumped", "arm-virt", "arm-low" };

	m->kind = info->kind;
	m->cpu = info->cpu;
	m->ncpus = (int)info->ncpus;
	for (int i = 0; i < info->nlayouts; i++) {
		struct vg_range_vec v = { 0 };
		const char *name = "remote";
		int ret;

		/* layout names are static strings in vg_mem: take ours for the broker's */
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if (!strcmp(names[k], info->layouts[i].name))
				name = names[k];
		for (size_t k = 0; k < info->layouts[i].n; k++) {
			const struct vg_mem_range *x = &info->layouts[i].r[k];

			ret = vg_range_push(&v, x->start, x->size, x->file_off);
			if (ret) {
				vg_range_vec_free(&v);
				return vg_errf(err, -ret, "too many ranges");
			}
		}
		ret = vg_mem_add_layout(m, name, info->layouts[i].arch, &v, err);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * The pages' home. A fresh page of memory is what a short run pays most for on a virtualised
 * host (tens of microseconds each), so with remember on, a tmpfs file kept between runs in a
 * directory only this user can enter is used: the pages a run reads are already allocated for
 * the next. Nothing in it is ever shown before it was fetched again in this run (a page is
 * written from a broker reply before it is mapped), so what a file holds from an earlier run
 * only saves allocations. Without remember, an anonymous memfd.
 */
/* Page files not used for a day go: they only save allocations for guests still watched. */
static void prune(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	time_t old = time(NULL) - 24 * 3600;
	int n = 0;

	while (d && (e = readdir(d)) && n++ < 4096) {
		struct stat st;

		if (e->d_name[0] != '.' &&
		    !fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) &&
		    S_ISREG(st.st_mode) && st.st_mtime < old)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	if (d)
		closedir(d);
}

static int cache_file(struct remote *r, uint64_t len)
{
	char dir[64], path[128];
	struct stat st;
	int fd;

	snprintf(dir, sizeof(dir), "/dev/shm/vigil-remote-%u", (unsigned)geteuid());
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	if (lstat(dir, &st) || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
		return -EPERM; /* not ours alone: do not use it */
	prune(dir);
	snprintf(path, sizeof(path), "%s/%016llx-%016llx", dir,
		 (unsigned long long)vg_fnv64(r->ident, strlen(r->ident), VG_FNV64_INIT),
		 (unsigned long long)r->info_hash);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    ((uint64_t)st.st_size < len && ftruncate(fd, (off_t)len))) {
		close(fd);
		return -EPERM;
	}
	futimens(fd, NULL); /* in use: not pruned */
	return fd;
}

static int setup_mapping(struct remote *r, struct vg_err *err)
{
	uint64_t len = (r->size + RM_PAGE - 1) & ~(uint64_t)(RM_PAGE - 1);
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_MINOR_SHMEM };
	struct uffdio_register reg;
	void *p;

	if (len / RM_PAGE > UINT32_MAX - 1)
		return vg_errf(err, EFBIG, "guest memory too large for the remote driver");
	r->npages = (uint32_t)(len / RM_PAGE);
	r->memfd = r->remember ? cache_file(r, len) : -1;
	if (r->memfd < 0) {
		r->memfd = memfd_create("vigil-remote", MFD_CLOEXEC);
		if (r->memfd < 0 || ftruncate(r->memfd, (off_t)len))
			return vg_errf(err, errno, "memfd: %s", strerror(errno));
	}
	p = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_NORESERVE, r->memfd, 0);
	if (p == MAP_FAILED)
		return vg_errf(err, errno, "cannot map %llu bytes: %s", (unsigned long long)len,
			       strerror(errno));
	r->view = p;
	/* per page: state, inflight, ready (u32 each) and waiting (u8), touched only where used */
	p = mmap(NULL, (size_t)r->npages * 13, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return vg_errf(err, errno, "out of memory");
	r->state = p;
	r->inflight = r->state + r->npages;
	r->ready = r->inflight + r->npages;
	r->waiting = (uint8_t *)(r->ready + r->npages);
	r->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (r->uffd < 0 && errno == EPERM)
		r->uffd =
			(int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (r->uffd < 0)
		return vg_errf(err, errno,
			       "remote memory needs userfaultfd (%s): run as root, or set "
			       "vm.unprivileged_userfaultfd=1",
			       strerror(errno));
	if (ioctl(r->uffd, UFFDIO_API, &api) || !(api.features & UFFD_FEATURE_MINOR_SHMEM))
		return vg_errf(err, ENOTSUP,
			       "remote memory needs userfaultfd minor faults on shared memory "
			       "(Linux 5.14 or later)");
	reg = (struct uffdio_register){
		.range = { (uintptr_t)r->view, len },
		.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR,
	};
	if (ioctl(r->uffd, UFFDIO_REGISTER, &reg))
		return vg_errf(err, errno, "userfaultfd register: %s", strerror(errno));
	r->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->evfd < 0)
		return vg_errf(err, errno, "eventfd: %s", strerror(errno));
	return 0;
}

static void ws_path(struct remote *r)
{
	const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
	char dir[900];

	if (x && *x)
		snprintf(dir, sizeof(dir), "%s/vigil/remote", x);
	else if (h && *h)
		snprintf(dir, sizeof(dir), "%s/.cache/vigil/remote", h);
	else
		return;
	if (vg_mkdir_p(dir, 0700))
		return;
	snprintf(r->ws_path, sizeof(r->ws_path), "%s/ws-%016llx", dir,
		 (unsigned long long)vg_fnv64(r->ident, strlen(r->ident), VG_FNV64_INIT));
}

int vg_mem_remote_open(struct vg_mem **out, const char *uri, struct vg_err *err)
{
	struct uri_opts o = { 0 };
	struct vg_broker_info info = { 0 };
	struct remote *r;
	struct vg_mem *m;
	char *copy;
	int ret;

	*out = NULL;
	if (sodium_init() < 0)
		return vg_errf(err, EIO, "libsodium could not be initialised");
	r = calloc(1, sizeof(*r));
	copy = strdup(uri);
	if (!r || !copy) {
		free(r);
		free(copy);
		return vg_errf(err, ENOMEM, "out of memory");
	}
	r->memfd = r->uffd = r->evfd = -1;
	r->max_age_ms = DEFAULT_MAX_AGE_MS;
	r->timeout_ms = DEFAULT_TIMEOUT_MS;
	r->remember = true;
	r->gen = 1;
	r->lo_page = UINT32_MAX;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	ret = parse_uri(r, copy, &o, err);
	if (!ret)
		ret = load_keys(r, &o, err);
	free(copy);
	if (ret) {
		rm_close(r);
		return vg_err_prefix(err, "%.200s", uri);
	}
	snprintf(r->ident, sizeof(r->ident), "remote://%s:%s/%s", r->host, r->port, r->name);
	ret = vg_rm_connect(r, &info, &r->info_hash, err);
	if (!ret) {
		r->size = info.size;
		ret = setup_mapping(r, err);
	}
	m = NULL;
	if (!ret) {
		/* from here on vg_mem_close closes r */
		m = vg_mem_new(&remote_ops, r, r->ident, r->size);
		if (!m)
			ret = vg_errf(err, ENOMEM, "out of memory");
		else
			ret = build_layouts(m, &info, err);
		if (m)
			m->failed = &r->torn;
	} else {
		rm_close(r);
		r = NULL;
	}
	vg_broker_info_free(&info);
	if (ret) {
		if (m)
			vg_mem_close(m);
		return vg_err_prefix(err, "%.200s", uri);
	}
	ws_path(r);
	ws_load(r);
	atomic_store(&r->gen_ms, vg_mono_ms());
	if (pthread_create(&r->io, NULL, vg_rm_io_main, r)) {
		vg_mem_close(m);
		return vg_errf(err, EAGAIN, "%.200s: cannot start the I/O thread", uri);
	}
	r->io_started = true;
	/* the last run's pages, asked for before anyone touches them */
	if (r->pws.n) {
		struct rm_cmd c = { .type = CMD_REFRESH };

		post(r, &c);
	}
	*out = m;
	return 0;
}
