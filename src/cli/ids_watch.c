// SPDX-License-Identifier: MIT
/*
 * vigil ids watch and ids serve: the options, the signals and the outputs; the watch state
 * machine and the control socket are the library's (vigil/ids_watcher.h, vigil/ids_serve.h).
 * SIGINT/SIGTERM stop cleanly, SIGHUP reopens file outputs (logrotate).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ids_common.h"
#include "ids_watch_cmd.h"
#include "vigil/ids_serve.h"
#include "vigil/ids_watcher.h"

static volatile sig_atomic_t stop_requested, reopen_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reopen_requested = 1;
	else
		stop_requested = 1;
}

static void install_signals(void)
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

static bool should_stop(void *ctx)
{
	return stop_requested;
}

static bool take_reopen(void *ctx)
{
	bool r = reopen_requested;

	reopen_requested = 0;
	return r;
}

static const struct vg_loop_ctl loop_ctl = { .stop = should_stop, .reopen = take_reopen };

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

static uint32_t interval_ms(const struct ids_args *a, const struct vg_ids_config *c)
{
	if (a->interval_ms)
		return a->interval_ms;
	return c->policy.interval_ms ? c->policy.interval_ms : VG_WATCHER_DEFAULT_INTERVAL_MS;
}

static void emit_to_sinks(void *ctx, const struct vg_finding *x, const char *event)
{
	vg_watcher_emit_alert(ctx, x, event);
}

static void watch_help(void)
{
	printf("Usage: %s ids watch --vm SOURCE [--interval DURATION] [--output SINK]...\n"
	       "       [--baseline FILE] [--policy FILE] [--check ID]... [--allow-modules LIST]\n"
	       "       [--allow-ports LIST]\n\n"
	       "Runs the checks every interval (default 5s; e.g. 500ms, 1s, 1m) and emits each\n"
	       "new finding once as a JSON alert line (event \"alert\"), a \"resolved\" event "
	       "when\n"
	       "it clears, and \"state\" events when the guest pauses, resumes, reboots or goes\n"
	       "away. Carries on through all of them; with the policy's on-gone = exit it stops\n"
	       "(exit 0) once the guest has been gone for gone-grace.\n"
	       "  --output SINK   stdout (default), file:PATH, syslog or unix:PATH; repeatable\n"
	       "  SIGHUP reopens file outputs; SIGINT/SIGTERM stop.\n",
	       PROG_NAME);
}

int cmd_ids_watch(int argc, char **argv)
{
	struct vg_alerter sinks = { 0 };
	struct vg_guest_opts go;
	struct vg_ids_config c;
	struct vg_watcher w;
	struct ids_args a;
	int rc;

	rc = ids_parse(argc, argv, IDS_OPT_CHECKS | IDS_OPT_WATCH, watch_help, &a);
	if (rc || a.help)
		goto out_args;
	rc = ids_config(&a, &c);
	if (rc)
		goto out_args;
	rc = ids_sinks_open(&sinks, &a);
	if (rc)
		goto out_cfg;
	install_signals();
	vmi_guest_opts(&a.vmi, &go);
	vg_watcher_init(&w, &go, &c, emit_to_sinks, &sinks);
	w.warn = print_warning;
	if (vg_watcher_run(&w, interval_ms(&a, &c), &loop_ctl, &sinks))
		rc = cli_fail("watch: out of memory");
	vg_watcher_free(&w);
	vg_alerter_close(&sinks);
out_cfg:
	vg_ids_config_free(&c);
out_args:
	ids_args_free(&a);
	return rc;
}

static void serve_help(void)
{
	printf("Usage: %s ids serve --vm SOURCE --socket PATH [--interval DURATION]\n"
	       "       [--output SINK]... [--baseline FILE] [--policy FILE] [--check ID]...\n\n"
	       "Watches the guest like 'ids watch' and answers on a Unix socket that only its\n"
	       "owner may use (mode 0600, peer uid checked). One command per line:\n"
	       "  checks | scan [ID...] | status | subscribe | unsubscribe | quit\n"
	       "Answers are JSON lines; subscribers receive every watch event as an alert line.\n"
	       "Alerts also go to --output sinks when given. See docs/ids.md.\n",
	       PROG_NAME);
}

int cmd_ids_serve(int argc, char **argv)
{
	struct vg_alerter sinks = { 0 };
	struct vg_err err = { 0 };
	struct vg_ids_server sv;
	struct vg_guest_opts go;
	struct vg_ids_config c;
	struct ids_args a;
	int rc;

	rc = ids_parse(argc, argv, IDS_OPT_CHECKS | IDS_OPT_WATCH | IDS_OPT_SOCKET, serve_help, &a);
	if (rc || a.help)
		goto out_args;
	rc = ids_config(&a, &c);
	if (rc)
		goto out_args;
	/* serve's alerts go to subscribers; sinks only when asked for */
	if (a.noutputs && (rc = ids_sinks_open(&sinks, &a)))
		goto out_cfg;
	vmi_guest_opts(&a.vmi, &go);
	if (vg_ids_server_open(&sv, a.socket, &go, &c, a.noutputs ? &sinks : NULL, &err)) {
		rc = cli_fail("serve: %s", err.msg);
		goto out_sinks;
	}
	sv.w.warn = print_warning;
	install_signals();
	fprintf(stderr, "%s: serving %s on %s\n", PROG_NAME, a.vmi.vm, a.socket);
	rc = vg_ids_server_run(&sv, interval_ms(&a, &c), &loop_ctl) ? EXIT_ERROR : EXIT_OK;
	vg_ids_server_close(&sv);
out_sinks:
	vg_alerter_close(&sinks);
out_cfg:
	vg_ids_config_free(&c);
out_args:
	ids_args_free(&a);
	return rc;
}
