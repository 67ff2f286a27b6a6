// SPDX-License-Identifier: MIT
/*
 * The /proc view as a file system (libfuse3's high-level API) and as the /proc of a command
 * (procview.h). Every file is rendered once per snapshot, when it is first looked up, so its
 * size is known and reads see the text of one snapshot. One request at a time: the view is
 * not thread-safe, and guest reads are cheap.
 *
 * exec: the view is mounted on a temporary directory inside a private mount namespace of
 * this process (the host never sees the mount); the command runs in a further namespace of
 * its own where that mount is bound over /proc, its module tree over /sys/module (kmod reads
 * sizes and use counts there), and the host's /proc kept aside for the command's own entry.
 */
#define FUSE_USE_VERSION 35

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pv_int.h"

static struct vg_procview *view(void)
{
	struct fuse_context *c = fuse_get_context();
	struct vg_procview *pv = c->private_data;

	pv->caller = c->pid;
	return pv;
}

/*
 * Few round trips per file: getattr reports each file's real size (rendered once per snapshot),
 * opens are declined with ENOSYS so the kernel stops sending open and release, and the kernel's
 * page cache serves the reads; a file's mtime carries the snapshot's number, so when the
 * attributes are refreshed after a snapshot's TTL the kernel drops the old pages
 * (auto_inval_data). A file is then one lookup and one read, directories come with their
 * entries' attributes (readdirplus).
 */
static void *vg_pv_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct vg_procview *pv = view();

	conn->want |= conn->capable &
		      (FUSE_CAP_AUTO_INVAL_DATA | FUSE_CAP_NO_OPEN_SUPPORT | FUSE_CAP_READDIRPLUS);
	cfg->direct_io = 0;
	cfg->kernel_cache = 0;
	cfg->entry_timeout = cfg->attr_timeout = pv->ttl_ms / 1000.0;
	cfg->negative_timeout = pv->ttl_ms / 1000.0;
	return pv;
}

static void fill_stat(struct stat *st, const struct vg_pv_attr *a)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = a->mode | (a->kind == VG_PV_DIR	 ? S_IFDIR
				 : a->kind == VG_PV_LINK ? S_IFLNK
							 : S_IFREG);
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = (off_t)a->size;
	st->st_atim.tv_sec = st->st_mtim.tv_sec = st->st_ctim.tv_sec = a->time_s;
	st->st_mtim.tv_nsec = (long)(a->serial % 1000000000ull);
}

static int vg_pv_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct vg_pv_attr a;
	int ret = vg_procview_getattr(view(), path, &a);

	(void)fi;
	if (ret)
		return ret;
	fill_stat(st, &a);
	return 0;
}

struct fill {
	void *buf;
	fuse_fill_dir_t filler;
	const char *dir;
	bool plus;
};

static int fill_one(void *ctx, const char *name, enum vg_pv_kind kind)
{
	struct fill *f = ctx;
	struct vg_pv_attr a;
	struct stat st;
	char path[512];

	/* directories' entries with their attributes (readdirplus); files need their size,
	 * which is rendered on lookup, so only directories and links come with it */
	if (f->plus && kind != VG_PV_FILE) {
		snprintf(path, sizeof(path), "%s/%s", strcmp(f->dir, "/") ? f->dir : "", name);
		if (!vg_procview_getattr(view(), path, &a)) {
			fill_stat(&st, &a);
			return f->filler(f->buf, name, &st, 0, FUSE_FILL_DIR_PLUS) ? -ENOBUFS : 0;
		}
	}
	return f->filler(f->buf, name, NULL, 0, 0) ? -ENOBUFS : 0;
}

static int vg_pv_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
			 struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct fill f = { buf, filler, path, (flags & FUSE_READDIR_PLUS) != 0 };

	(void)off;
	(void)fi;
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	return vg_procview_readdir(view(), path, fill_one, &f);
}

static int vg_pv_open(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	/* no state per open: the kernel stops sending opens (FUSE_CAP_NO_OPEN_SUPPORT) */
	return -ENOSYS;
}

static int vg_pv_read(const char *path, char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	const char *text;
	size_t len;
	int ret = vg_procview_read(view(), path, &text, &len);

	(void)fi;
	if (ret)
		return ret;
	if (off < 0 || (size_t)off >= len)
		return 0;
	if (size > len - (size_t)off)
		size = len - (size_t)off;
	memcpy(buf, text + off, size);
	return (int)size;
}

static int vg_pv_readlink(const char *path, char *buf, size_t size)
{
	return vg_procview_readlink(view(), path, buf, size);
}

static const struct fuse_operations ops = {
	.init = vg_pv_init,
	.getattr = vg_pv_getattr,
	.readdir = vg_pv_readdir,
	.open = vg_pv_open,
	.read = vg_pv_read,
	.readlink = vg_pv_readlink,
};

static struct fuse *start(struct vg_procview *pv, const char *dir, bool allow_other,
			  struct vg_err *err)
{
	char *argv[] = { "vigil", "-o",
			 allow_other ? "ro,allow_other,fsname=vigil,subtype=proc"
				     : "ro,fsname=vigil,subtype=proc",
			 NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct fuse *f = fuse_new(&args, &ops, sizeof(ops), pv);

	fuse_opt_free_args(&args);
	if (!f) {
		vg_errf(err, EIO, "libfuse could not set up the file system");
		return NULL;
	}
	if (fuse_mount(f, dir)) {
		fuse_destroy(f);
		vg_errf(err, EPERM, "%s: cannot mount the /proc view (is /dev/fuse usable?)", dir);
		return NULL;
	}
	return f;
}

int vg_procview_mount(struct vg_procview *pv, const char *dir, bool allow_other,
		      volatile sig_atomic_t *stop, struct vg_err *err)
{
	struct fuse *f = start(pv, dir, allow_other, err);
	struct fuse_session *se;
	int ret;

	(void)stop;
	if (!f)
		return -err->code;
	se = fuse_get_session(f);
	/* SIGINT, SIGTERM and SIGHUP end the loop; the mount goes with it */
	if (fuse_set_signal_handlers(se)) {
		fuse_unmount(f);
		fuse_destroy(f);
		return vg_errf(err, EIO, "cannot install signal handlers");
	}
	ret = fuse_loop(f);
	fuse_remove_signal_handlers(se);
	fuse_unmount(f);
	fuse_destroy(f);
	return ret < 0 ? vg_errf(err, -ret, "serving the /proc view: %s", strerror(-ret)) : 0;
}

static void *loop_main(void *arg)
{
	fuse_loop(arg);
	return NULL;
}

static int private_ns(struct vg_err *err)
{
	if (unshare(CLONE_NEWNS))
		return vg_errf(err, errno,
			       "cannot make a private mount namespace (%s): vmi exec needs root",
			       strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return vg_errf(err, errno, "cannot make mounts private: %s", strerror(errno));
	return 0;
}

#define CHILD_STACK (64 << 10)

struct child {
	char *const *argv;
	const char *dir, *host, *sysmod;
	const struct sigaction *old_int, *old_quit;
};

static void say(const char *a, const char *b)
{
	/* no stdio here: the child shares the parent's memory until it execs */
	if (write(2, a, strlen(a)) < 0 || write(2, b, strlen(b)) < 0 || write(2, "\n", 1) < 0)
		return;
}

static int child_main(void *arg)
{
	const struct child *c = arg;

	sigaction(SIGINT, c->old_int, NULL);
	sigaction(SIGQUIT, c->old_quit, NULL);
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("/proc", c->host, NULL, MS_BIND | MS_REC, NULL) ||
	    mount(c->dir, "/proc", NULL, MS_BIND, NULL) ||
	    (!access("/sys/module", F_OK) &&
	     mount(c->sysmod, "/sys/module", NULL, MS_BIND, NULL))) {
		say("vigil: cannot put the view over /proc: ", strerror(errno));
		_exit(126);
	}
	execvp(c->argv[0], c->argv);
	say("vigil: cannot run ", c->argv[0]);
	say("vigil: ", strerror(errno));
	_exit(127);
}

int vg_procview_exec(struct vg_procview *pv, char *const argv[], int *status, struct vg_err *err)
{
	char base[] = "/tmp/vigil-proc-XXXXXX", dir[64], host[64], sysmod[80];
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int, old_quit;
	pthread_t loop;
	struct fuse *f;
	pid_t pid;
	int ret;

	if (!mkdtemp(base))
		return vg_errf(err, errno, "cannot make a mount point: %s", strerror(errno));
	snprintf(dir, sizeof(dir), "%s/view", base);
	snprintf(host, sizeof(host), "%s/host", base);
	snprintf(sysmod, sizeof(sysmod), "%s/.sys-module", dir);
	/* the host's /proc stays reachable for the command's own entry (/proc/self) */
	snprintf(pv->self_link, sizeof(pv->self_link), "%s", host);
	ret = mkdir(dir, 0700) || mkdir(host, 0700)
		      ? vg_errf(err, errno, "%s: %s", base, strerror(errno))
		      : private_ns(err);
	if (ret || !(f = start(pv, dir, false, err))) {
		rmdir(dir);
		rmdir(host);
		rmdir(base);
		return ret ? ret : -err->code;
	}
	if (pthread_create(&loop, NULL, loop_main, f)) {
		fuse_unmount(f);
		fuse_destroy(f);
		rmdir(dir);
		rmdir(host);
		rmdir(base);
		return vg_errf(err, EAGAIN, "cannot start the file system thread");
	}
	/* like system(): the terminal's signals are for the command */
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	{
		struct child c = { argv, dir, host, sysmod, &old_int, &old_quit };
		char *stack = malloc(CHILD_STACK);

		/* the child shares our memory until it execs (as posix_spawn does): no copy of
		 * our page tables, which a virtualised host makes expensive */
		pid = stack ? clone(child_main, stack + CHILD_STACK,
				    CLONE_VM | CLONE_VFORK | SIGCHLD, &c)
			    : -1;
		free(stack);
	}
	pv->root = pid;
	ret = 0;
	if (pid < 0)
		ret = vg_errf(err, errno, "cannot start %s: %s", argv[0], strerror(errno));
	else
		while (waitpid(pid, status, 0) < 0 && errno == EINTR)
			;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	fuse_session_exit(fuse_get_session(f));
	fuse_unmount(f);
	pthread_join(loop, NULL);
	fuse_destroy(f);
	rmdir(dir);
	rmdir(host);
	rmdir(base);
	return ret;
}
