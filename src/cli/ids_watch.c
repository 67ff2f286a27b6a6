// SPDX-License-Identifier: MIT
/*
 * vigil ids watch: the checks on a fixed cadence, each change emitted once as an alert line to
 * the chosen sinks. Ticks are scheduled on absolute monotonic times so a slow look does not
 * drift the cadence; SIGINT/SIGTERM stop cleanly, SIGHUP reopens file sinks (logrotate).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "ids_watch_cmd.h"
#include "ids_watcher.h"
#include "vigil/net_correlate.h"
#include "vigil/sink.h"

#define DEFAULT_INTERVAL_MS 5000

static volatile sig_atomic_t stop_requested, reopen_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reopen_requested = 1;
	else
		stop_requested = 1;
}

void ids_install_signals(void)
{
	struct sigaction sa = { 0 };

	/* no SA_RESTART: a signal must cut the sleep short */
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

bool ids_stop_requested(void)
{
	return stop_requested;
}

bool ids_take_reopen(void)
{
	bool r = reopen_requested;

	reopen_requested = 0;
	return r;
}

static void print_warning(void *ctx, const char *msg)
{
	fprintf(stderr, "%s: warning: %s\n", PROG_NAME, msg);
}

int ids_sinks_open(struct vg_alerter *s, const struct ids_args *a)
{
	struct vg_err err = { 0 };

	if (vg_alerter_open(s, a->vmi.vm, a->outputs, a->noutputs, &err))
		return cli_fail_err(&err);
	s->warn = print_warning;
	return 0;
}

void ids_sinks_emit(struct vg_alerter *s, const struct vg_finding *x, const char *event)
{
	struct vg_alert al;

	vg_finding_alert(x, event, &al);
	vg_alerter_emit(s, &al);
}

static void emit_alert(void *ctx, const struct vg_alert *al)
{
	vg_alerter_emit(ctx, al);
}

static void emit_to_sinks(void *ctx, const struct vg_finding *x, const char *event)
{
	ids_sinks_emit(ctx, x, event);
}

uint32_t ids_interval_ms(const struct ids_args *a, const struct ids_ctx *c)
{
	if (a->interval_ms)
		return a->interval_ms;
	return c->policy.interval_ms ? c->policy.interval_ms : DEFAULT_INTERVAL_MS;
}

static void watch_help(void)
{
	printf("Usage: %s ids watch --vm SOURCE [--interval DURATION] [--output SINK]...\n"
	       "       [--baseline FILE] [--policy FILE] [--check ID]... [--allow-modules LIST]\n"
	       "       [--allow-ports LIST] [--switch-alerts PATH]\n\n"
	       "Runs the checks every interval (default 5s; e.g. 500ms, 1s, 1m) and emits each\n"
	       "new finding once as a JSON alert line (event \"alert\"), a \"resolved\" event "
	       "when\n"
	       "it clears, and \"state\" events when the guest pauses, resumes, reboots or goes\n"
	       "away. Carries on through all of them; with the policy's on-gone = exit it stops\n"
	       "(exit 0) once the guest has been gone for gone-grace.\n"
	       "  --output SINK   stdout (default), file:PATH, syslog or unix:PATH; repeatable\n"
	       "  --switch-alerts PATH  listen on PATH for 'vigil net switch --output unix:PATH'\n"
	       "                  and name the guest process owning each flagged flow's socket\n"
	       "                  (check flow-owner; docs/net.md)\n"
	       "  SIGHUP reopens file outputs; SIGINT/SIGTERM stop.\n",
	       PROG_NAME);
}

/* Sleeps until DEADLINE (monotonic ms) unless a signal arrives. */
static void sleep_until(uint64_t deadline_ms)
{
	struct timespec ts = { .tv_sec = deadline_ms / 1000,
			       .tv_nsec = (long)(deadline_ms % 1000) * 1000000 };

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

int cmd_ids_watch(int argc, char **argv)
{
	struct vg_alerter sinks = { 0 };
	struct vg_flow_feed *feed = NULL;
	struct vg_err err = { 0 };
	struct watcher w;
	struct ids_args a;
	struct ids_ctx c;
	uint64_t next;
	uint32_t interval;
	int rc;

	rc = ids_parse(argc, argv, IDS_OPT_CHECKS | IDS_OPT_WATCH | IDS_OPT_SWITCH, watch_help, &a);
	if (rc || a.help)
		goto out_args;
	rc = ids_ctx_init(&c, &a);
	if (rc)
		goto out_args;
	rc = ids_sinks_open(&sinks, &a);
	if (rc)
		goto out_ctx;
	if (a.switch_alerts && vg_flow_feed_open(&feed, a.switch_alerts, &err)) {
		rc = cli_fail_err(&err);
		vg_alerter_close(&sinks);
		goto out_ctx;
	}
	interval = ids_interval_ms(&a, &c);
	ids_install_signals();
	watcher_init(&w, &a, &c, emit_to_sinks, &sinks);
	next = watcher_now_ms();
	while (!ids_stop_requested()) {
		int t;

		if (ids_take_reopen())
			vg_alerter_reopen(&sinks);
		t = watcher_tick(&w);
		if (t < 0) {
			rc = cli_fail("watch: out of memory");
			break;
		}
		if (t > 0)
			break;
		/* the switch's flagged flows, matched against this guest's sockets */
		if (feed && w.open && vg_flow_feed_poll(feed, &w.g.lx, emit_alert, &sinks, &err))
			vg_err_clear(&err); /* an unreadable guest: the next look tries again */
		next += interval;
		if (next < watcher_now_ms()) /* a look longer than the interval: skip, no burst */
			next = watcher_now_ms() + interval;
		sleep_until(next);
	}
	watcher_free(&w);
	vg_flow_feed_close(feed);
	vg_alerter_close(&sinks);
out_ctx:
	ids_ctx_free(&c);
out_args:
	ids_args_free(&a);
	return rc;
}
