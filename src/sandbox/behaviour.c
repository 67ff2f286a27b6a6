// SPDX-License-Identifier: MIT
/*
 * Behaviours from a run's parsed artifacts: each has a stable id, an ATT&CK technique, a
 * weight, and a rule over the counts the parsers produced (thresholds documented in
 * docs/sandbox.md). The behaviour score is the capped sum of the weights of the behaviours
 * seen (the table of ids, techniques and weights is bhv_table.c). Also the run's JSON form.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sbx_int.h"
#include "vigil/sandbox.h"

/* Thresholds: a scan reaches several hosts or many ports of one; a flood is many events to
 * one destination; repeated sessions to one destination are beaconing. */
#define SCAN_DSTS 5
#define SCAN_PORTS 10
#define FLOOD_EVENTS 200
#define BEACON_SESSIONS 3
#define BUSY_SYSCALLS 200 /* a run that timed out making fewer calls was spinning */

static void set(struct sbx_report *r, enum sbx_bhv b, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set(struct sbx_report *r, enum sbx_bhv b, const char *fmt, ...)
{
	va_list ap;

	r->bhv |= 1u << b;
	va_start(ap, fmt);
	vsnprintf(r->evidence[b], SBX_NOTE, fmt, ap);
	va_end(ap);
}

static uint32_t sc_count(const struct sbx_syscalls *sc, const char *name)
{
	for (uint32_t i = 0; i < sc->nnames; i++)
		if (!strcmp(sc->names[i].name, name))
			return sc->names[i].n;
	return 0;
}

static void services(struct sbx_report *r)
{
	char buf[SBX_NOTE];

	sbx_service_impact(&r->svc, buf, sizeof(buf));
	if (strcmp(buf, "none"))
		set(r, SBX_B_SERVICE_STOP, "%s", buf);
}

void sbx_derive(struct sbx_report *r, const struct sbx_analyse_opts *o)
{
	const struct sbx_net *n = &r->net;
	const struct sbx_syscalls *sc = &r->sc;
	const struct sbx_files *f = &r->files;
	struct sbx_scores def;
	const struct sbx_scores *s = o && o->scores ? o->scores : NULL;
	uint32_t other_deleted;
	int score = 0;

	if (!s) {
		sbx_scores_default(&def);
		s = &def;
	}
	r->bhv = 0;
	memset(r->evidence, 0, sizeof(r->evidence));
	if (n->distinct_dsts >= SCAN_DSTS || n->max_ports_one_dst >= SCAN_PORTS)
		set(r, SBX_B_SCAN, "%u destinations, %u ports, %u (host, port) pairs",
		    n->distinct_dsts, n->distinct_ports, n->distinct_pairs);
	if (n->brute_sessions)
		set(r, SBX_B_BRUTE, "%u of %u sessions to 22/23/2323 sent login-like bytes",
		    n->brute_sessions, n->login_port_sessions);
	if (n->cnc_sessions || n->max_repeat >= BEACON_SESSIONS)
		set(r, SBX_B_CNC,
		    "%u connections to a resolved name, up to %u sessions to one peer",
		    n->cnc_sessions, n->max_repeat);
	if (n->dns)
		set(r, SBX_B_DNS, "%u lookups, first %s", n->dns, n->nqnames ? n->qnames[0] : "?");
	/* more events than the sinkhole logs, aimed at few hosts, is a flood too */
	if (n->max_flood >= FLOOD_EVENTS || (n->dropped && n->distinct_dsts < SCAN_DSTS))
		set(r, SBX_B_FLOOD, "%u events to one destination, %u more not logged",
		    n->max_flood, n->dropped);
	if (sc->listens && sc->listen_port)
		set(r, SBX_B_LISTEN, "listen() x%u, port %u", sc->listens, sc->listen_port);
	else if (sc->listens)
		set(r, SBX_B_LISTEN, "listen() x%u", sc->listens);
	if (sc->self_unlinked[0] || f->self_deleted[0])
		set(r, SBX_B_SELF_DELETE, "%s",
		    sc->self_unlinked[0] ? sc->self_unlinked : f->self_deleted);
	if (f->persist || sc->persist_attempts)
		set(r, SBX_B_PERSIST, "%s%s", f->persist ? f->persist_paths[0] : sc->persist_path,
		    f->persist ? "" : " (attempt)");
	if (f->encrypted)
		set(r, SBX_B_ENCRYPT, "%u files rewritten near-random, e.g. %s", f->encrypted,
		    f->encrypted_paths[0]);
	other_deleted = f->deleted - (f->self_deleted[0] ? 1 : 0);
	if (other_deleted)
		set(r, SBX_B_DESTROY, "%u files deleted, e.g. %s", other_deleted,
		    f->deleted_paths[0]);
	if (sc->forks)
		set(r, SBX_B_FORK, "%u forks, %u processes", sc->forks, sc->npids);
	if (sc->execs)
		set(r, SBX_B_EXEC, "%u execs", sc->execs);
	if (sc->kills_other)
		set(r, SBX_B_KILL, "%u signals to other processes", sc->kills_other);
	if (sc->renames)
		set(r, SBX_B_RENAME, "prctl(PR_SET_NAME)%s%s", sc->new_name[0] ? " to " : "",
		    sc->new_name);
	services(r);
	if (n->miner_sessions)
		set(r, SBX_B_RESOURCE, "%u stratum sessions", n->miner_sessions);
	else if (r->st.timed_out && sc->total && sc->total < BUSY_SYSCALLS && !sc->sleeps &&
		 !n->events)
		set(r, SBX_B_RESOURCE, "busy until the deadline with %u system calls", sc->total);
	if (sc->escapes)
		set(r, SBX_B_ESCAPE, "%u calls", sc->escapes);
	if (sc->reboots || sc_count(sc, "reboot"))
		set(r, SBX_B_REBOOT, "reboot() x%u", sc->reboots);
	if (r->st.pids_max_hits || r->st.mem_max_hits || r->st.oom_kills)
		set(r, SBX_B_EXHAUST, "process limit hit %u times, memory limit %u, OOM kills %u",
		    r->st.pids_max_hits, r->st.mem_max_hits, r->st.oom_kills);
	for (int b = 0; b < SBX_B__COUNT; b++)
		if (r->bhv & (1u << b))
			score += s->weights[b];
	r->behaviour_score = score > s->cap ? s->cap : score;
}

void sbx_service_impact(const struct sbx_services *s, char *buf, size_t len)
{
	const struct sbx_svc *v[] = { &s->http, &s->telnet, &s->ssh };
	const char *names[] = { "http", "telnet", "ssh" };
	size_t at = 0;

	buf[0] = '\0';
	for (int i = 0; i < 3; i++) {
		int n;

		if (!v[i]->known || !v[i]->before || v[i]->after)
			continue;
		n = snprintf(buf + at, len - at, "%s%s down", at ? "; " : "", names[i]);
		if (n < 0 || (size_t)n >= len - at)
			break;
		at += (size_t)n;
	}
	if (!at)
		snprintf(buf, len, "none");
}

static void svc_json(struct vg_json *j, const char *k, const struct sbx_svc *s)
{
	if (!s->known)
		return;
	vg_json_key(j, k);
	vg_json_obj_open(j);
	vg_json_kbool(j, "before", s->before);
	vg_json_kbool(j, "after", s->after);
	vg_json_obj_close(j);
}

void sbx_report_json(struct vg_json *j, const struct sbx_report *r, const struct sbx_outcome *o,
		     const struct sbx_scores *s)
{
	struct sbx_scores def;
	char buf[SBX_NOTE];

	if (!s) {
		sbx_scores_default(&def);
		s = &def;
	}
	vg_json_obj_open(j);
	vg_json_kstr(j, "research_verdict", o->executable ? "executable" : "not executable");
	vg_json_kstr(j, "verdict", sbx_verdict_name(o->v));
	vg_json_kstr(j, "reason", o->reason);
	vg_json_kstr(j, "exit", o->exit_str);
	if (r) {
		vg_json_kint(j, "duration_ms", r->st.duration_ms);
		vg_json_kint(j, "children_killed", r->st.children_killed);
		vg_json_key(j, "limits");
		vg_json_obj_open(j);
		vg_json_kuint(j, "pids_max_hits", r->st.pids_max_hits);
		vg_json_kuint(j, "mem_max_hits", r->st.mem_max_hits);
		vg_json_kuint(j, "oom_kills", r->st.oom_kills);
		vg_json_obj_close(j);
		vg_json_kint(j, "behaviour_score", r->behaviour_score);
		vg_json_key(j, "behaviours");
		vg_json_arr_open(j);
		for (int b = 0; b < SBX_B__COUNT; b++) {
			if (!(r->bhv & (1u << b)))
				continue;
			vg_json_obj_open(j);
			vg_json_kstr(j, "id", sbx_bhv_table[b].id);
			vg_json_kstr(j, "attack", sbx_bhv_table[b].attack);
			vg_json_kint(j, "weight", s->weights[b]);
			vg_json_kstr(j, "evidence", r->evidence[b]);
			vg_json_obj_close(j);
		}
		vg_json_arr_close(j);
		sbx_service_impact(&r->svc, buf, sizeof(buf));
		vg_json_kstr(j, "service_impact", buf);
		vg_json_key(j, "services");
		vg_json_obj_open(j);
		svc_json(j, "http", &r->svc.http);
		svc_json(j, "telnet", &r->svc.telnet);
		svc_json(j, "ssh", &r->svc.ssh);
		vg_json_obj_close(j);
		vg_json_key(j, "syscalls");
		vg_json_obj_open(j);
		vg_json_kuint(j, "total", r->sc.total);
		vg_json_key(j, "counts");
		vg_json_obj_open(j);
		for (uint32_t i = 0; i < r->sc.nnames; i++)
			vg_json_kuint(j, r->sc.names[i].name, r->sc.names[i].n);
		vg_json_obj_close(j);
		vg_json_key(j, "notable");
		vg_json_arr_open(j);
		for (uint32_t i = 0; i < r->sc.nnotable; i++)
			vg_json_str(j, r->sc.notable[i]);
		vg_json_arr_close(j);
		vg_json_obj_close(j);
		vg_json_key(j, "network");
		vg_json_obj_open(j);
		vg_json_kuint(j, "events", r->net.events);
		vg_json_kuint(j, "tcp", r->net.tcp);
		vg_json_kuint(j, "udp", r->net.udp);
		vg_json_kuint(j, "dns", r->net.dns);
		vg_json_kuint(j, "icmp", r->net.icmp);
		vg_json_kuint(j, "not_logged", r->net.dropped);
		vg_json_kuint(j, "distinct_destinations", r->net.distinct_dsts);
		vg_json_kuint(j, "distinct_ports", r->net.distinct_ports);
		vg_json_kuint(j, "login_port_sessions", r->net.login_port_sessions);
		vg_json_kuint(j, "login_attempts", r->net.brute_sessions);
		vg_json_key(j, "dns_names");
		vg_json_arr_open(j);
		for (uint32_t i = 0; i < r->net.nqnames; i++)
			vg_json_str(j, r->net.qnames[i]);
		vg_json_arr_close(j);
		vg_json_obj_close(j);
		vg_json_key(j, "files");
		vg_json_obj_open(j);
		vg_json_kuint(j, "created", r->files.created);
		vg_json_kuint(j, "modified", r->files.modified);
		vg_json_kuint(j, "deleted", r->files.deleted);
		vg_json_kuint(j, "encrypted", r->files.encrypted);
		vg_json_kuint(j, "persistence", r->files.persist);
		vg_json_obj_close(j);
		vg_json_key(j, "processes");
		vg_json_obj_open(j);
		vg_json_kuint(j, "forks", r->sc.forks);
		vg_json_kuint(j, "execs", r->sc.execs);
		vg_json_kuint(j, "kills_other", r->sc.kills_other);
		vg_json_kuint(j, "renames", r->sc.renames);
		if (r->sc.new_name[0])
			vg_json_kstr(j, "new_name", r->sc.new_name);
		vg_json_obj_close(j);
		if (r->missing[0])
			vg_json_kstr(j, "missing_artifacts", r->missing);
	}
	vg_json_obj_close(j);
}
