// SPDX-License-Identifier: MIT
/*
 * Verdicts from status.json: the research's binary one (executable when the sample exited 0
 * or was stopped by the timeout, exit status 124 in timeout(1)'s convention) and vigil's finer
 * one, which says how it ran or why it did not.
 */
#include <stdio.h>
#include <string.h>

#include "sbx_int.h"
#include "vigil/sandbox.h"

const char *sbx_verdict_name(enum sbx_verdict v)
{
	static const char *const names[] = { "ran", "crashed", "load-failed", "not-executable",
					     "env-error" };

	return (unsigned)v < 5 ? names[v] : "env-error";
}

void sbx_outcome_not_run(enum sbx_verdict v, const char *reason, struct sbx_outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->v = v;
	sbx_copy(o->reason, sizeof(o->reason), reason);
	sbx_copy(o->exit_str, sizeof(o->exit_str), "-");
}

void sbx_outcome_from_status(const struct sbx_status *st, unsigned timeout_s, struct sbx_outcome *o)
{
	memset(o, 0, sizeof(*o));
	sbx_copy(o->exit_str, sizeof(o->exit_str), "-");
	if (!st->present) {
		o->v = SBX_V_ENV_ERROR;
		sbx_copy(o->reason, sizeof(o->reason), "the environment left no status");
		return;
	}
	if (!st->started) {
		if (st->exec_error[0]) {
			o->v = SBX_V_LOAD_FAILED;
			snprintf(o->reason, sizeof(o->reason), "exec failed: %s", st->exec_error);
		} else {
			o->v = SBX_V_ENV_ERROR;
			sbx_copy(o->reason, sizeof(o->reason), "the sample was never started");
		}
		return;
	}
	if (st->timed_out) {
		o->v = SBX_V_RAN;
		o->executable = true;
		snprintf(o->reason, sizeof(o->reason), "ran until the %u s timeout", timeout_s);
		sbx_copy(o->exit_str, sizeof(o->exit_str), "124 (timeout)");
		return;
	}
	if (st->signal) {
		const char *name = sigabbrev_np(st->signal);

		o->v = SBX_V_CRASHED;
		snprintf(o->reason, sizeof(o->reason), "killed by signal %d (SIG%s)", st->signal,
			 name ? name : "?");
		snprintf(o->exit_str, sizeof(o->exit_str), "signal %d", st->signal);
		return;
	}
	if (st->has_exit) {
		o->v = SBX_V_RAN;
		o->executable = st->exit_code == 0 || st->exit_code == 124;
		snprintf(o->reason, sizeof(o->reason), "exited with status %d", st->exit_code);
		snprintf(o->exit_str, sizeof(o->exit_str), "%d", st->exit_code);
		return;
	}
	o->v = SBX_V_ENV_ERROR;
	sbx_copy(o->reason, sizeof(o->reason), "started, but no exit status or signal recorded");
}
