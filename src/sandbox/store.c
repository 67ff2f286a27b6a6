// SPDX-License-Identifier: MIT
/*
 * The campaign store: one SQLite database per campaign, samples keyed by sha256 and runs
 * keyed by (sha256, env). A run is pending, running (claimed by a worker) or done; workers in
 * separate processes claim runs in IMMEDIATE transactions, and an interrupted campaign's
 * running rows return to pending when it is restarted, so a re-run redoes exactly the
 * unfinished work. WAL mode lets the reporting parent read while workers write.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbx_int.h"
#include "vigil/clock.h"
#include "vigil/sandbox.h"

#define SCHEMA_VERSION "1"

struct sbx_store {
	sqlite3 *db;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
	"CREATE TABLE IF NOT EXISTS samples("
	" sha256 TEXT PRIMARY KEY, path TEXT NOT NULL, size INTEGER, file_type TEXT,"
	" machine TEXT, linkage TEXT, interp TEXT, label_class TEXT, label_family TEXT,"
	" label_score INTEGER, sample_json TEXT);"
	"CREATE TABLE IF NOT EXISTS runs("
	" sha256 TEXT NOT NULL REFERENCES samples(sha256), env TEXT NOT NULL,"
	" state TEXT NOT NULL DEFAULT 'pending' CHECK(state IN ('pending','running','done')),"
	" worker INTEGER, attempts INTEGER NOT NULL DEFAULT 0, timeout_s INTEGER NOT NULL,"
	" research_verdict TEXT, exit_status TEXT, verdict TEXT, reason TEXT,"
	" behaviour_score INTEGER, behaviours TEXT, service_impact TEXT, duration_ms INTEGER,"
	" wall_ms INTEGER, result_json TEXT, claimed_at TEXT, finished_at TEXT, seq INTEGER,"
	" PRIMARY KEY(sha256, env));"
	"CREATE INDEX IF NOT EXISTS runs_state ON runs(state);"
	"INSERT OR IGNORE INTO meta VALUES('schema', '" SCHEMA_VERSION "');";

static int db_err(struct sbx_store *st, struct vg_err *err, const char *what)
{
	return vg_errf(err, EIO, "results database: %s: %s", what, sqlite3_errmsg(st->db));
}

int sbx_store_open(struct sbx_store **out, const char *path, bool create, struct vg_err *err)
{
	struct sbx_store *st = calloc(1, sizeof(*st));
	int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
	char *msg = NULL;

	*out = NULL;
	if (!st)
		return vg_errf(err, ENOMEM, "out of memory");
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		vg_errf(err, EIO, "%s: %s", path, st->db ? sqlite3_errmsg(st->db) : "cannot open");
		sqlite3_close(st->db);
		free(st);
		return -EIO;
	}
	/* workers in other processes hold the write lock for one short transaction at a time */
	sqlite3_busy_timeout(st->db, 60000);
	if (sqlite3_exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
			 &msg) != SQLITE_OK ||
	    (create && sqlite3_exec(st->db, schema, NULL, NULL, &msg) != SQLITE_OK)) {
		vg_errf(err, EIO, "%s: %s", path, msg ? msg : "schema");
		sqlite3_free(msg);
		sqlite3_close(st->db);
		free(st);
		return -EIO;
	}
	*out = st;
	return 0;
}

void sbx_store_close(struct sbx_store *st)
{
	if (!st)
		return;
	sqlite3_close(st->db);
	free(st);
}

/* The JSON a stream of vg_json calls wrote, as a malloc'd string. */
static char *json_text(void (*fn)(struct vg_json *, const void *, const void *), const void *a,
		       const void *b)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct vg_json j;

	if (!f)
		return NULL;
	vg_json_init(&j, f, false);
	fn(&j, a, b);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void sample_obj(struct vg_json *j, const void *a, const void *b)
{
	(void)b;
	vg_json_obj_open(j);
	sbx_sample_json_fields(j, a);
	vg_json_obj_close(j);
}

int sbx_store_put_sample(struct sbx_store *st, const struct sbx_sample *s, struct vg_err *err)
{
	sqlite3_stmt *q;
	char *js = json_text(sample_obj, s, NULL);
	int rc;

	if (!js)
		return vg_errf(err, ENOMEM, "out of memory");
	if (sqlite3_prepare_v2(st->db,
			       "INSERT OR REPLACE INTO samples VALUES(?,?,?,?,?,?,?,?,?,?,?)", -1,
			       &q, NULL) != SQLITE_OK) {
		free(js);
		return db_err(st, err, "adding a sample");
	}
	sqlite3_bind_text(q, 1, s->sha256, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 2, s->path ? s->path : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)s->size);
	sqlite3_bind_text(q, 4, s->id->ftype, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 5, s->id->is_elf ? s->id->machine_name : "-", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 6, sbx_linkage(s->id), -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 7, s->id->dynamic ? s->id->interp : "", -1, SQLITE_TRANSIENT);
	if (s->labels.present) {
		sqlite3_bind_text(q, 8, s->labels.cls, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 9, s->labels.family, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(q, 10, s->label_score);
	}
	sqlite3_bind_text(q, 11, js, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	free(js);
	return rc == SQLITE_DONE ? 0 : db_err(st, err, "adding a sample");
}

int sbx_store_add_run(struct sbx_store *st, const char *sha256, const char *env, unsigned timeout_s,
		      struct vg_err *err)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db,
			       "INSERT OR IGNORE INTO runs(sha256, env, timeout_s) VALUES(?,?,?)",
			       -1, &q, NULL) != SQLITE_OK)
		return db_err(st, err, "adding a run");
	sqlite3_bind_text(q, 1, sha256, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 2, env, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(q, 3, (int)timeout_s);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_err(st, err, "adding a run");
}

int sbx_store_reset_running(struct sbx_store *st, struct vg_err *err)
{
	if (sqlite3_exec(st->db,
			 "UPDATE runs SET state='pending', worker=NULL WHERE state='running'", NULL,
			 NULL, NULL) != SQLITE_OK)
		return db_err(st, err, "resetting interrupted runs");
	return sqlite3_changes(st->db);
}

static bool skipped(const char *env, const char *const *skip)
{
	for (; skip && *skip; skip++)
		if (!strcmp(env, *skip))
			return true;
	return false;
}

int sbx_store_claim(struct sbx_store *st, int worker, const char *prefer, const char *const *skip,
		    struct sbx_claim *c, struct vg_err *err)
{
	sqlite3_stmt *q = NULL;
	char ts[96];
	int rc, found = 0;

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_err(st, err, "claiming a run");
	if (sqlite3_prepare_v2(
		    st->db,
		    "SELECT r.sha256, r.env, s.path, r.timeout_s FROM runs r JOIN samples "
		    "s USING(sha256) WHERE r.state='pending' ORDER BY (r.env = ?) DESC, "
		    "r.rowid",
		    -1, &q, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(q, 1, prefer ? prefer : "", -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *env = (const char *)sqlite3_column_text(q, 1);

		if (!env || skipped(env, skip))
			continue;
		sbx_copy(c->sha256, sizeof(c->sha256), (const char *)sqlite3_column_text(q, 0));
		sbx_copy(c->env, sizeof(c->env), env);
		sbx_copy(c->path, sizeof(c->path), (const char *)sqlite3_column_text(q, 2));
		c->timeout_s = (unsigned)sqlite3_column_int(q, 3);
		found = 1;
		break;
	}
	sqlite3_finalize(q);
	q = NULL;
	if (found) {
		vg_rfc3339_now(ts, sizeof(ts));
		if (sqlite3_prepare_v2(st->db,
				       "UPDATE runs SET state='running', worker=?, claimed_at=? "
				       "WHERE sha256=? AND env=?",
				       -1, &q, NULL) != SQLITE_OK)
			goto fail;
		sqlite3_bind_int(q, 1, worker);
		sqlite3_bind_text(q, 2, ts, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 3, c->sha256, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 4, c->env, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(q) != SQLITE_DONE)
			goto fail;
		sqlite3_finalize(q);
		q = NULL;
	}
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return found;
fail:
	rc = db_err(st, err, "claiming a run");
	sqlite3_finalize(q);
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int sbx_store_release(struct sbx_store *st, const struct sbx_claim *c, struct vg_err *err)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(
		    st->db, "UPDATE runs SET state='pending', worker=NULL WHERE sha256=? AND env=?",
		    -1, &q, NULL) != SQLITE_OK)
		return db_err(st, err, "releasing a run");
	sqlite3_bind_text(q, 1, c->sha256, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 2, c->env, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_err(st, err, "releasing a run");
}

static void result_obj(struct vg_json *j, const void *a, const void *b)
{
	const struct sbx_result *res = a;

	sbx_report_json(j, res->ran ? &res->r : NULL, &res->o, b);
}

int sbx_store_finish(struct sbx_store *st, const struct sbx_claim *c, const struct sbx_result *res,
		     const struct sbx_scores *sc, struct vg_err *err)
{
	char bhv[512], impact[SBX_NOTE], ts[96];
	char *js = json_text(result_obj, res, sc);
	sqlite3_stmt *q;
	int rc;

	if (!js)
		return vg_errf(err, ENOMEM, "out of memory");
	sbx_bhv_list(res->ran ? res->r.bhv : 0, bhv, sizeof(bhv));
	if (res->ran)
		sbx_service_impact(&res->r.svc, impact, sizeof(impact));
	else
		sbx_copy(impact, sizeof(impact), "-");
	vg_rfc3339_now(ts, sizeof(ts));
	if (sqlite3_prepare_v2(
		    st->db,
		    "UPDATE runs SET state='done', attempts=attempts+?, research_verdict=?, "
		    "exit_status=?, verdict=?, reason=?, behaviour_score=?, behaviours=?, "
		    "service_impact=?, duration_ms=?, wall_ms=?, result_json=?, finished_at=?, "
		    "seq=(SELECT IFNULL(MAX(seq),0)+1 FROM runs) WHERE sha256=? AND env=?",
		    -1, &q, NULL) != SQLITE_OK) {
		free(js);
		return db_err(st, err, "recording a run");
	}
	sqlite3_bind_int(q, 1, res->attempts);
	sqlite3_bind_text(q, 2, res->o.executable ? "executable" : "not executable", -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(q, 3, res->o.exit_str, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 4, sbx_verdict_name(res->o.v), -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, res->o.reason, -1, SQLITE_TRANSIENT);
	if (res->ran)
		sqlite3_bind_int(q, 6, res->r.behaviour_score);
	sqlite3_bind_text(q, 7, bhv, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 8, impact, -1, SQLITE_TRANSIENT);
	if (res->ran)
		sqlite3_bind_int64(q, 9, res->r.st.duration_ms);
	sqlite3_bind_int64(q, 10, res->wall_ms);
	sqlite3_bind_text(q, 11, js, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 12, ts, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 13, c->sha256, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 14, c->env, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	free(js);
	return rc == SQLITE_DONE ? 0 : db_err(st, err, "recording a run");
}

int sbx_store_counts(struct sbx_store *st, struct sbx_counts *n, struct vg_err *err)
{
	sqlite3_stmt *q;

	memset(n, 0, sizeof(*n));
	if (sqlite3_prepare_v2(st->db, "SELECT state, COUNT(*) FROM runs GROUP BY state", -1, &q,
			       NULL) != SQLITE_OK)
		return db_err(st, err, "counting runs");
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(q, 0);
		unsigned k = (unsigned)sqlite3_column_int(q, 1);

		n->total += k;
		if (s && !strcmp(s, "pending"))
			n->pending = k;
		else if (s && !strcmp(s, "running"))
			n->running = k;
		else if (s && !strcmp(s, "done"))
			n->done = k;
	}
	sqlite3_finalize(q);
	return 0;
}

static const char *col(sqlite3_stmt *q, int i)
{
	const char *s = (const char *)sqlite3_column_text(q, i);

	return s ? s : "";
}

int sbx_store_each(struct sbx_store *st, int64_t after, bool by_sample,
		   int (*fn)(void *ctx, const struct sbx_row *r), void *ctx, struct vg_err *err)
{
	static const char sel[] =
		"SELECT r.sha256, s.path, s.file_type, s.machine, s.linkage, r.env, "
		"r.research_verdict, r.exit_status, r.verdict, r.reason, s.label_class, "
		"s.label_family, r.behaviours, r.service_impact, r.result_json, s.sample_json, "
		"IFNULL(s.label_score, -1), IFNULL(r.behaviour_score, 0), "
		"IFNULL(r.duration_ms, 0), IFNULL(r.wall_ms, 0), r.seq FROM runs r JOIN samples s "
		"USING(sha256) WHERE r.state='done' AND r.seq > ? ORDER BY ";
	char sql[sizeof(sel) + 32];
	sqlite3_stmt *q;
	int rc = 0, step;

	snprintf(sql, sizeof(sql), "%s%s", sel, by_sample ? "r.sha256, r.env" : "r.seq");
	if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
		return db_err(st, err, "reading runs");
	sqlite3_bind_int64(q, 1, after);
	while (!rc && (step = sqlite3_step(q)) == SQLITE_ROW) {
		struct sbx_row r = {
			col(q, 0),
			col(q, 1),
			col(q, 2),
			col(q, 3),
			col(q, 4),
			col(q, 5),
			col(q, 6),
			col(q, 7),
			col(q, 8),
			col(q, 9),
			col(q, 10),
			col(q, 11),
			col(q, 12),
			col(q, 13),
			col(q, 14),
			col(q, 15),
			sqlite3_column_int(q, 16),
			sqlite3_column_int(q, 17),
			sqlite3_column_int64(q, 18),
			sqlite3_column_int64(q, 19),
			sqlite3_column_int64(q, 20),
		};

		rc = fn(ctx, &r);
	}
	sqlite3_finalize(q);
	return rc;
}
