// SPDX-License-Identifier: MIT
/*
 * Starting or attaching to the program and the agent's loop: drain the recorder every 10 ms,
 * make a batch when it is due, keep the gateway session going; at the end take the last
 * records, send a final batch and wait (3 s at most) for the gateway to acknowledge.
 *
 * A program we start waits on a pipe until the recorder follows it, so its first instruction
 * is recorded; what our own child does before its exec (the launcher's code) is not the
 * program and is left out. The run ends when every traced process has ended (as strace -f
 * does); exits the recorder could not report are found with kill(pid, 0).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_int.h"
#include "vigil/clock.h"

#define POLL_MS 10
#define FINAL_ACK_MS 3000

int vg_agent_probe(struct vg_err *err)
{
	struct ag_bpf *b;
	int r = vg_ag_bpf_open(&b, err);

	if (!r)
		vg_ag_bpf_close(b);
	return r;
}

static void bpf_counters(void *ctx, uint64_t out[SM_ST_NSTATS])
{
	vg_ag_bpf_counters(ctx, out);
}

static void seccomp_counters(void *ctx, uint64_t out[SM_ST_NSTATS])
{
	vg_ag_seccomp_counters(ctx, out);
}

static int check_opts(const struct vg_agent_opts *o, struct vg_err *err)
{
	if (!o->device || !*o->device || strlen(o->device) >= VG_SB_DEVICE_MAX)
		return vg_errf(err, EINVAL, "the device id must be 1 to %d bytes",
			       VG_SB_DEVICE_MAX - 1);
	if (o->gateway && (!o->key || !o->gateway_pk))
		return vg_errf(err, EINVAL, "a gateway needs the device key and the gateway's key");
	if (!o->gateway && !o->record)
		return vg_errf(err, EINVAL,
			       "nowhere to send batches: give a gateway or a recording");
	return 0;
}

/* Processes whose end the recorder did not report (a full ring) are looked up directly. */
static void reap_lost(struct ag_core *c)
{
	for (uint32_t i = 0; i < c->npr; i++)
		if (!c->pr[i].exited && kill((pid_t)c->pr[i].pid, 0) && errno == ESRCH) {
			c->pr[i].exited = true;
			c->live--;
		}
}

static int loop(struct ag_core *c, struct ag_bpf *b, struct ag_seccomp *s, pid_t pid, bool attach,
		struct vg_err *err)
{
	uint64_t gone = 0, last_reap = 0;
	int r, status;

	for (;;) {
		r = b ? vg_ag_bpf_poll(b, c, POLL_MS) : vg_ag_seccomp_poll(s, POLL_MS);
		if (r < 0 && r != -ECHILD)
			return vg_errf(err, -r, "recording: %s", strerror(-r));
		if (!attach && waitpid(pid, &status, WNOHANG) == pid) {
			c->st->exit_status = status;
			c->root_exited = true;
		}
		if (attach && kill(pid, 0) && errno == ESRCH)
			c->root_exited = true;
		if (c->root_exited) {
			uint64_t now = vg_mono_ms();

			if (!gone)
				gone = now;
			if (now - last_reap >= 1000) {
				reap_lost(c);
				last_reap = now;
			}
			if (c->live == 0 || r == -ECHILD || (attach && now - gone > 100))
				break;
		}
		if (c->o->stop && *c->o->stop)
			break;
		if ((r = vg_ag_core_flush(c, false, false, err)))
			return r;
		vg_ag_uplink_poll(&c->up);
	}
	/* records of the last moments are still in the ring */
	vg_sleep_ms(20);
	if (b && (r = vg_ag_bpf_poll(b, c, 0)) < 0)
		return vg_errf(err, -r, "recording: %s", strerror(-r));
	if ((r = vg_ag_core_flush(c, true, true, err)))
		return r;
	vg_ag_uplink_poll(&c->up);
	vg_ag_uplink_drain(&c->up, FINAL_ACK_MS);
	if (c->o->gateway && c->up.qn)
		vg_ag_note(c->o, "%u batches were not acknowledged by the gateway", c->up.qn);
	return 0;
}

/* fork, wait for the go byte, exec; an exec failure comes back through ERRP. */
static pid_t spawn(char *const argv[], int go[2], int errp[2])
{
	pid_t pid = fork();
	char x;

	if (pid)
		return pid;
	close(go[1]);
	close(errp[0]);
	while (read(go[0], &x, 1) < 0 && errno == EINTR)
		;
	execvp(argv[0], argv);
	x = (char)errno;
	if (write(errp[1], &x, 1) < 0)
		_exit(127);
	_exit(127);
}

static int start_bpf(struct ag_core *c, struct ag_bpf *b, char *const argv[], pid_t *out,
		     struct vg_err *err)
{
	int go[2], errp[2], status;
	char e;
	pid_t pid;

	if (pipe2(go, O_CLOEXEC) || pipe2(errp, O_CLOEXEC))
		return vg_errf(err, errno, "pipe: %m");
	pid = spawn(argv, go, errp);
	close(go[0]);
	close(errp[1]);
	if (pid < 0) {
		close(go[1]);
		close(errp[0]);
		return vg_errf(err, errno, "fork: %m");
	}
	c->launcher = c->root = pid;
	if (vg_ag_bpf_add_target(b, pid, err)) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		close(go[1]);
		close(errp[0]);
		return -EIO;
	}
	if (write(go[1], "x", 1) != 1)
		e = EPIPE;
	close(go[1]);
	if (read(errp[0], &e, 1) == 1) {
		close(errp[0]);
		waitpid(pid, &status, 0);
		return vg_errf(err, e, "cannot run %s: %s", argv[0], strerror(e));
	}
	close(errp[0]);
	*out = pid;
	return 0;
}

static int finish(struct ag_core *c, int r)
{
	vg_ag_core_free(c);
	return r;
}

int vg_agent_run(const struct vg_agent_opts *o, char *const argv[], struct vg_agent_stats *st,
		 struct vg_err *err)
{
	struct ag_core c;
	struct ag_bpf *b = NULL;
	struct ag_seccomp *s = NULL;
	pid_t pid = -1;
	int r;

	memset(st, 0, sizeof(*st));
	st->exit_status = -1;
	if ((r = check_opts(o, err)) || (r = vg_ag_core_init(&c, o, st, err)))
		return r;
	if (o->recorder == VG_AGENT_SECCOMP) {
		r = vg_ag_seccomp_start(&s, argv, &c, &pid, err);
		c.read_counters = seccomp_counters;
		c.counters_ctx = s;
	} else {
		r = vg_ag_bpf_open(&b, err);
		if (!r)
			r = start_bpf(&c, b, argv, &pid, err);
		c.read_counters = bpf_counters;
		c.counters_ctx = b;
	}
	if (!r)
		r = loop(&c, b, s, pid, false, err);
	if (s) {
		if (r)
			kill(pid, SIGKILL);
		vg_ag_seccomp_close(s);
		if (st->exit_status < 0 && waitpid(pid, &st->exit_status, 0) != pid)
			st->exit_status = -1;
	}
	if (b) {
		if (r && pid > 0 && st->exit_status < 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &st->exit_status, 0);
		}
		vg_ag_bpf_close(b);
	}
	return finish(&c, r);
}

int vg_agent_attach(const struct vg_agent_opts *o, pid_t pid, struct vg_agent_stats *st,
		    struct vg_err *err)
{
	struct ag_core c;
	struct ag_bpf *b = NULL;
	int r;

	memset(st, 0, sizeof(*st));
	st->exit_status = -1;
	if (o->recorder == VG_AGENT_SECCOMP)
		return vg_errf(err, ENOTSUP,
			       "seccomp can only record a program the agent starts (use run)");
	if (kill(pid, 0) && errno == ESRCH)
		return vg_errf(err, ESRCH, "no process %d", (int)pid);
	if ((r = check_opts(o, err)) || (r = vg_ag_core_init(&c, o, st, err)))
		return r;
	r = vg_ag_bpf_open(&b, err);
	c.read_counters = bpf_counters;
	c.counters_ctx = b;
	c.root = pid;
	if (!r)
		r = vg_ag_bpf_add_target(b, pid, err);
	if (!r)
		r = loop(&c, b, NULL, pid, true, err);
	vg_ag_bpf_close(b);
	return finish(&c, r);
}
