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

/* What watch and serve set up alike: options, configuration, outputs, signals. */
struct daemon {
	struct ids_args a;
	struct vg_ids_config c;
	struct vg_alerter sinks;
	struct vg_guest_opts go;
	int stage; /* how far start() got, for end() */
};

/* 0 to run, 1 when --help was answered, EXIT_ERROR after printing the problem. SINKS_ALWAYS:
 * stdout when no --output is given (watch); otherwise only the outputs named (serve). */
static int start(struct daemon *d, int argc, char **argv, unsigned opts, void (*help)(void),
		 bool sinks_always)
{
	memset(d, 0, sizeof(*d));
	if (ids_parse(argc, argv, opts, help, &d->a))
		return EXIT_ERROR;
	d->stage = 1;
	if (d->a.help)
		return 1;
	if (ids_config(&d->a, &d->c))
		return EXIT_ERROR;
	d->stage = 2;
	if ((sinks_always || d->a.noutputs) && ids_sinks_open(&d->sinks, &d->a))
		return EXIT_ERROR;
	d->stage = 3;
	vmi_guest_opts(&d->a.vmi, &d->go);
	install_signals();
	return 0;
}

static int end(struct daemon *d, int rc)
{
	if (d->stage >= 3)
		vg_alerter_close(&d->sinks);
	if (d->stage >= 2)
		vg_ids_config_free(&d->c);
	ids_args_free(&d->a);
	return rc;
}

int cmd_ids_watch(int argc, char **argv)
{
	struct vg_watcher w;
	struct daemon d;
	int rc = start(&d, argc, argv, IDS_OPT_CHECKS | IDS_OPT_WATCH, watch_help, true);

	if (rc)
		return end(&d, rc == 1 ? EXIT_OK : rc);
	vg_watcher_init(&w, &d.go, &d.c, emit_to_sinks, &d.sinks);
	w.warn = print_warning;
	if (vg_watcher_run(&w, interval_ms(&d.a, &d.c), &loop_ctl, &d.sinks))
		rc = cli_fail("watch: out of memory");
	vg_watcher_free(&w);
	return end(&d, rc);
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
	struct vg_err err = { 0 };
	struct vg_ids_server sv;
	struct daemon d;
	int rc = start(&d, argc, argv, IDS_OPT_CHECKS | IDS_OPT_WATCH | IDS_OPT_SOCKET, serve_help,
		       false);

	if (rc)
		return end(&d, rc == 1 ? EXIT_OK : rc);
	/* serve's alerts go to subscribers; sinks only when asked for */
	if (vg_ids_server_open(&sv, d.a.socket, &d.go, &d.c, d.a.noutputs ? &d.sinks : NULL, &err))
		return end(&d, cli_fail("serve: %s", err.msg));
	sv.w.warn = print_warning;
	fprintf(stderr, "%s: serving %s on %s\n", PROG_NAME, d.a.vmi.vm, d.a.socket);
	rc = vg_ids_server_run(&sv, interval_ms(&d.a, &d.c), &loop_ctl) ? EXIT_ERROR : EXIT_OK;
	vg_ids_server_close(&sv);
	return end(&d, rc);
}
