/* SPDX-License-Identifier: MIT */
/*
 * The `system` environment (env.h): a full emulated ARM board, qemu-system-arm -M virt with a
 * Cortex-A15 under TCG, running Debian's armmp-lpae kernel and an initramfs userland with
 * busybox httpd and telnetd, a watchdog process and glibc's armhf loader (image built by
 * src/sandbox/image/system/build.sh when `vigil sandbox prepare` runs, cached under
 * opts->cache_dir).
 *
 * Fresh state per sample without a boot per sample: the worker boots the guest once, waits
 * for the agent's READY on the control channel, and saves the whole machine with QMP migrate
 * into a file in its work directory. Every run starts a new QEMU from that file (-incoming),
 * so RAM, and with it the root file system (an initramfs), is exactly the ready state. The
 * snapshot is made for one pair of guest and sink addresses (on the kernel command line); a
 * run with another pair boots a new one.
 *
 * The control channel is a virtio-serial port on a unix socket, never the guest's network
 * (IoT bots kill telnetd and take its ports). The run's deadline is the sample's timeout plus
 * a margin; an agent that does not answer by then (a crashed kernel, a reboot) ends QEMU and
 * the run fails as an environment failure. The next run restores the snapshot as always.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <unistd.h>

#include "sandbox/env.h"
#include "sandbox/qemu_ctl.h"
#include "sandbox/sbx_int.h"
#include "sandbox/sys_proto.h"
#include "vigil/clock.h"
#include "vigil/util.h"

#define GUEST_MEM_MB 256
#define BOOT_TIMEOUT_MS 600000 /* first boot under TCG on a loaded 2-core machine */
#define SAVE_TIMEOUT_MS 120000
#define RUN_MARGIN_MS 60000 /* restore, transfer, probes, file walk beyond the timeout */
#define MAX_MANIFEST (1u << 20)

struct sbx_env {
	char image[4096];
	char work[4096];
	char kernel[4200], initrd[4200];
	char snap[4200], chan[4200], qmp[4200], console[4200];
	char keyfile[4200];
	/* "IMAGE-STAMP GUEST-ADDR SINK-ADDR" of the saved snapshot, "" when there is none */
	char snap_key[256];
	char *manifest; /* the image's path list, "\n"-separated, with a leading "\n" */
};

static int load_manifest(struct sbx_env *env, struct vg_err *err)
{
	char path[4200];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/manifest", env->image);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size > MAX_MANIFEST) {
		if (fd >= 0)
			close(fd);
		return vg_errf(err, errno ? errno : EFBIG, "image manifest %s unreadable", path);
	}
	env->manifest = calloc(1, (size_t)st.st_size + 2);
	if (!env->manifest) {
		close(fd);
		return vg_errf(err, ENOMEM, "out of memory");
	}
	env->manifest[0] = '\n';
	ssize_t n = read(fd, env->manifest + 1, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size)
		return vg_errf(err, EIO, "short read of %s", path);
	return 0;
}

/* The run key: image stamp plus the addresses on the guest's kernel command line. */
static void run_key(const struct sbx_env *env, const struct sbx_run_req *r, char *key, size_t n)
{
	char path[4200], stamp[80] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/stamp", env->image);
	f = fopen(path, "r");
	if (f) {
		if (!fgets(stamp, sizeof(stamp), f))
			stamp[0] = 0;
		fclose(f);
	}
	stamp[strcspn(stamp, "\n")] = 0;
	snprintf(key, n, "%.70s %.60s %.60s", stamp, r->guest_addr, r->sink_addr);
}

/* A snapshot left in the work directory by an earlier open is reused when its key (in a
 * file beside it) says it is of the same image and addresses. */
static void load_snap_key(struct sbx_env *env)
{
	FILE *f = fopen(env->keyfile, "r");

	env->snap_key[0] = 0;
	if (!f)
		return;
	if (!fgets(env->snap_key, sizeof(env->snap_key), f) || access(env->snap, R_OK) < 0)
		env->snap_key[0] = 0;
	env->snap_key[strcspn(env->snap_key, "\n")] = 0;
	fclose(f);
}

static void drop_snapshot(struct sbx_env *env)
{
	env->snap_key[0] = 0;
	unlink(env->keyfile);
	unlink(env->snap);
}

static void sys_close(struct sbx_env *env)
{
	if (!env)
		return;
	free(env->manifest);
	free(env);
}

static int sys_open(struct sbx_env **out, const struct sbx_env_opts *o, struct vg_err *err)
{
	struct sbx_env *env = calloc(1, sizeof(*env));
	int e;

	*out = NULL;
	if (!env)
		return vg_errf(err, ENOMEM, "out of memory");
	if (!o->cache_dir || !o->work_dir) {
		free(env);
		return vg_errf(err, EINVAL, "system environment: cache_dir and work_dir required");
	}
	snprintf(env->work, sizeof(env->work), "%s", o->work_dir);
	if ((e = vg_mkdir_p(env->work, 0700)) < 0) {
		e = vg_errf(err, -e, "creating %s: %s", env->work, strerror(-e));
		free(env);
		return e;
	}
	/* never a build here: that needs the network, which a campaign may not have */
	e = sbx_image_find("system", o->cache_dir, env->image, sizeof(env->image), err);
	if (!e)
		e = load_manifest(env, err);
	if (e) {
		sys_close(env);
		return e;
	}
	snprintf(env->kernel, sizeof(env->kernel), "%s/vmlinuz", env->image);
	snprintf(env->initrd, sizeof(env->initrd), "%s/initramfs.cpio.gz", env->image);
	snprintf(env->snap, sizeof(env->snap), "%s/system-ready.state", env->work);
	snprintf(env->chan, sizeof(env->chan), "%s/system-chan.sock", env->work);
	snprintf(env->qmp, sizeof(env->qmp), "%s/system-qmp.sock", env->work);
	snprintf(env->console, sizeof(env->console), "%s/system-console.log", env->work);
	snprintf(env->keyfile, sizeof(env->keyfile), "%s/system-ready.key", env->work);
	load_snap_key(env);
	*out = env;
	return 0;
}

static bool sys_has_interp(struct sbx_env *env, const char *interp)
{
	char needle[4200];

	if (!interp || interp[0] != '/' || strlen(interp) > 4096 || strchr(interp, '\n'))
		return false;
	snprintf(needle, sizeof(needle), "\n%s\n", interp);
	return strstr(env->manifest, needle) != NULL;
}

/* ---- the channel ---- */

static int io_wait(int fd, short ev, long deadline)
{
	struct pollfd p = { fd, ev, 0 };
	long left = deadline - (long)vg_mono_ms();

	if (left <= 0)
		return -ETIMEDOUT;
	int r = poll(&p, 1, (int)(left > 1000000 ? 1000000 : left));
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

static int read_full(int fd, void *p, size_t n, long deadline)
{
	size_t got = 0;

	while (got < n) {
		int e = io_wait(fd, POLLIN, deadline);
		if (e)
			return e;
		ssize_t k = read(fd, (char *)p + got, n - got);
		if (k == 0)
			return -EPIPE;
		if (k < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (k > 0)
			got += (size_t)k;
	}
	return 0;
}

static int write_full(int fd, const void *p, size_t n, long deadline)
{
	size_t put = 0;

	while (put < n) {
		int e = io_wait(fd, POLLOUT, deadline);
		if (e)
			return e;
		ssize_t k = write(fd, (const char *)p + put, n - put);
		if (k < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (k > 0)
			put += (size_t)k;
	}
	return 0;
}

/* One record header from the (hostile) guest, checked against its kind's bound. */
static int read_rec(int fd, struct sysp_rec *r, long deadline)
{
	int e = read_full(fd, r, sizeof(*r), deadline);

	if (e)
		return e;
	if (r->magic != SYSP_REC_MAGIC || r->kind == 0 || r->kind >= SYSP_KIND_MAX ||
	    r->len > sysp_max_len(r->kind))
		return -EPROTO;
	return 0;
}

/* ---- the snapshot ---- */

static void addr_only(const char *cidr, char *out, size_t n)
{
	snprintf(out, n, "%s", cidr);
	out[strcspn(out, "/")] = 0;
}

static void qemu_cfg_for(struct sbx_env *env, const struct sbx_run_req *r, struct qemu_cfg *c,
			 char *append, size_t alen, char *gip, size_t glen)
{
	addr_only(r->guest_addr, gip, glen);
	/* quiet: the console is a file nobody reads unless something broke */
	snprintf(append, alen,
		 "console=ttyAMA0 quiet loglevel=1 panic=-1 vigil.addr=%s vigil.gw=%s",
		 r->guest_addr, r->sink_addr);
	memset(c, 0, sizeof(*c));
	c->kernel = env->kernel;
	c->initrd = env->initrd;
	c->append = append;
	c->mem_mb = GUEST_MEM_MB;
	c->chan_sock = env->chan;
	c->console_log = env->console;
	c->netns = r->netns;
	c->guest_ip = gip;
	c->sink_ip = r->sink_addr;
}

static int make_snapshot(struct sbx_env *env, const struct sbx_run_req *r, struct vg_err *err)
{
	char append[512], gip[64], tmp[4300];
	struct qemu_cfg c;
	struct qemu_proc q;
	struct sysp_rec rec;
	long deadline = (long)vg_mono_ms() + BOOT_TIMEOUT_MS;
	int chan = -1, qmp = -1, e;

	drop_snapshot(env);
	unlink(env->chan);
	unlink(env->qmp);
	qemu_cfg_for(env, r, &c, append, sizeof(append), gip, sizeof(gip));
	c.qmp_sock = env->qmp;
	e = sbx_qemu_start(&q, &c, err);
	if (e)
		return e;
	chan = sbx_unix_connect_retry(env->chan, 20000, &q);
	if (chan < 0) {
		e = vg_errf(err, -chan, "system guest channel %s: %s", env->chan, strerror(-chan));
		goto out;
	}
	e = read_rec(chan, &rec, deadline);
	if (e || rec.kind != SYSP_READY) {
		e = vg_errf(err, e ? -e : EPROTO,
			    "system guest did not become ready (%s; console: %s)",
			    e ? strerror(-e) : "unexpected record", env->console);
		goto out;
	}
	e = sbx_qmp_open(&qmp, env->qmp, &q, err);
	if (e)
		goto out;
	snprintf(tmp, sizeof(tmp), "%s.tmp", env->snap);
	e = sbx_qmp_save(qmp, tmp, SAVE_TIMEOUT_MS, err);
	if (!e && rename(tmp, env->snap) < 0)
		e = vg_errf(err, errno, "rename %s: %s", tmp, strerror(errno));
	if (!e) {
		FILE *f = fopen(env->keyfile, "w");
		run_key(env, r, env->snap_key, sizeof(env->snap_key));
		if (f) {
			fprintf(f, "%s\n", env->snap_key);
			fclose(f);
		}
	}
out:
	if (qmp >= 0)
		close(qmp);
	if (chan >= 0)
		close(chan);
	sbx_qemu_stop(&q);
	unlink(env->qmp);
	return e ? vg_err_prefix(err, "saving the system guest's ready state") : 0;
}

/* ---- a run ---- */

static const char *const artifact[SYSP_KIND_MAX] = {
	[SYSP_STATUS] = "status.json", [SYSP_SYSCALLS] = "syscalls.log",
	[SYSP_FILES] = "files.tsv",    [SYSP_SERVICES] = "services.json",
	[SYSP_STDOUT] = "stdout",      [SYSP_STDERR] = "stderr",
	[SYSP_LOG] = "agent.log",
};

static int save_artifact(const char *dir, uint32_t kind, const char *data, size_t n,
			 struct vg_err *err)
{
	char path[4200];
	int fd;

	if (!artifact[kind] || (kind == SYSP_LOG && n == 0))
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir, artifact[kind]);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return vg_errf(err, errno, "writing %s: %s", path, strerror(errno));
	ssize_t w = write(fd, data, n);
	int e = (w != (ssize_t)n) ? vg_errf(err, EIO, "writing %s", path) : 0;
	close(fd);
	return e;
}

static int read_sample(const char *path, char **data, uint32_t *len, struct vg_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*data = NULL;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = vg_errf(err, errno ? errno : EINVAL, "sample %s: %s", path,
				strerror(errno ? errno : EINVAL));
		if (fd >= 0)
			close(fd);
		return e;
	}
	if ((uint64_t)st.st_size > SYSP_MAX_SAMPLE) {
		close(fd);
		return vg_errf(err, EFBIG, "sample %s is larger than %u bytes", path,
			       SYSP_MAX_SAMPLE);
	}
	*data = malloc((size_t)st.st_size + 1);
	*len = (uint32_t)st.st_size;
	ssize_t n = *data ? read(fd, *data, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		free(*data);
		*data = NULL;
		return vg_errf(err, EIO, "reading sample %s", path);
	}
	return 0;
}

/* The host-side timing of a run, for bench/: where the per-sample overhead goes. */
static void save_timing(const char *dir, long restore_ms, long send_ms, long wait_ms, long recv_ms,
			long total_ms)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/env_timing.json", dir);
	f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f,
		"{\"env\": \"system\", \"restore_ms\": %ld, \"send_ms\": %ld, \"agent_ms\": %ld, "
		"\"receive_ms\": %ld, \"total_ms\": %ld}\n",
		restore_ms, send_ms, wait_ms, recv_ms, total_ms);
	fclose(f);
}

static int sys_run(struct sbx_env *env, const struct sbx_run_req *r, struct vg_err *err)
{
	char key[256], append[512], gip[64], *sample = NULL, *data = NULL;
	struct sysp_req rq;
	struct sysp_rec rec;
	struct qemu_cfg c;
	struct qemu_proc q = { -1 };
	uint32_t len = 0;
	long t0 = (long)vg_mono_ms(), t_conn, t_sent, t_first = 0, deadline;
	int chan = -1, e;
	bool ended = false, status = false;

	if (!r->netns || !r->sink_addr || !r->guest_addr || !r->run_dir || !r->sample)
		return vg_errf(err, EINVAL, "system run: netns, addresses, run_dir, sample needed");
	run_key(env, r, key, sizeof(key));
	if (strcmp(key, env->snap_key) || access(env->snap, R_OK) < 0) {
		e = make_snapshot(env, r, err);
		if (e)
			return e;
		t0 = (long)vg_mono_ms(); /* the boot is per worker, not per sample */
	}
	e = read_sample(r->sample, &sample, &len, err);
	if (e)
		return e;

	unlink(env->chan);
	qemu_cfg_for(env, r, &c, append, sizeof(append), gip, sizeof(gip));
	c.incoming = env->snap;
	e = sbx_qemu_start(&q, &c, err);
	if (e)
		goto out;
	chan = sbx_unix_connect_retry(env->chan, 20000, &q);
	if (chan < 0) {
		e = vg_errf(err, -chan, "system guest channel: %s", strerror(-chan));
		goto out;
	}
	/* non-blocking: a guest that stops reading must not stall a write past the deadline */
	fcntl(chan, F_SETFL, fcntl(chan, F_GETFL) | O_NONBLOCK);
	t_conn = (long)vg_mono_ms();
	deadline = t_conn + (long)r->timeout_s * 1000 + RUN_MARGIN_MS;

	memset(&rq, 0, sizeof(rq));
	rq.magic = SYSP_REQ_MAGIC;
	rq.version = SYSP_VERSION;
	rq.timeout_s = r->timeout_s ? r->timeout_s : 10;
	rq.sample_len = len;
	uint64_t now = (uint64_t)(vg_wall_ms() / 1000);
	rq.time_sec_lo = (uint32_t)(now & 0xffffffffu);
	rq.time_sec_hi = (uint32_t)(now >> 32);
	if (getrandom(rq.seed, sizeof(rq.seed), 0) != sizeof(rq.seed))
		memset(rq.seed, 0x5a, sizeof(rq.seed)); /* reseeding is best effort */
	sbx_guest_name(r->sample, rq.name, sizeof(rq.name));
	e = write_full(chan, &rq, sizeof(rq), deadline);
	if (!e)
		e = write_full(chan, sample, len, deadline);
	if (e) {
		e = vg_errf(err, -e, "sending the sample to the system guest: %s", strerror(-e));
		goto out;
	}
	t_sent = (long)vg_mono_ms();

	data = malloc(4u << 20);
	if (!data) {
		e = vg_errf(err, ENOMEM, "out of memory");
		goto out;
	}
	while (!ended) {
		e = read_rec(chan, &rec, deadline);
		if (!e)
			e = read_full(chan, data, rec.len, deadline);
		if (e) {
			e = vg_errf(err, -e, "system guest agent: %s%s (console: %s)", strerror(-e),
				    sbx_qemu_exited(&q)
					    ? ", QEMU exited (guest rebooted or crashed?)"
					    : "",
				    env->console);
			goto out;
		}
		if (!t_first)
			t_first = (long)vg_mono_ms();
		status = status || rec.kind == SYSP_STATUS;
		if (rec.kind == SYSP_END)
			ended = true;
		else if ((e = save_artifact(r->run_dir, rec.kind, data, rec.len, err)))
			goto out;
	}
	if (!status) {
		char why[200] = "";
		snprintf(why, sizeof(why), "%s/agent.log", r->run_dir);
		e = vg_errf(err, EPROTO, "system guest agent sent no status (see %s)", why);
		goto out;
	}
	long t_end = (long)vg_mono_ms();
	save_timing(r->run_dir, t_conn - t0, t_sent - t_conn, t_first - t_sent, t_end - t_first,
		    t_end - t0);
	e = 0;
out:
	if (chan >= 0)
		close(chan);
	sbx_qemu_stop(&q);
	unlink(env->chan);
	/* Not a word from the agent: the snapshot itself may be unusable (another QEMU, a
	 * truncated file), so the runner's retry boots a new one. */
	if (e && !t_first)
		drop_snapshot(env);
	free(sample);
	free(data);
	return e;
}

const struct sbx_env_ops sbx_env_system = {
	.name = "system",
	.open = sys_open,
	.run = sys_run,
	.has_interp = sys_has_interp,
	.close = sys_close,
};
