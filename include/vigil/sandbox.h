/* SPDX-License-Identifier: MIT */
/*
 * The malware impact sandbox: analysis of one run's artifacts (src/sandbox/env.h describes
 * them) into behaviours, verdicts and scores; AV label normalisation; the campaign store and
 * its reports. Everything parsed here comes from a hostile sample or a hostile AV report, so
 * every parser bounds its line count, line length and the number of things it keeps; a
 * parser never fails on bad content, it counts what it skipped.
 */
#ifndef VIGIL_SANDBOX_H
#define VIGIL_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vigil/alert.h"
#include "vigil/err.h"
#include "vigil/json.h"

/* ---- bounds on hostile input ---- */
#define SBX_MAX_FILE (16u << 20) /* bytes read of any artifact */
#define SBX_MAX_LINES 200000u	 /* lines looked at per artifact */
#define SBX_MAX_LINE 4096u	 /* longer lines are cut */
#define SBX_MAX_NOTABLE 24	 /* notable system calls kept verbatim */
#define SBX_MAX_SCNAMES 48	 /* distinct system call names counted */
#define SBX_MAX_QNAMES 8	 /* DNS names kept */
#define SBX_MAX_PATHS 4		 /* example paths kept per file category */
#define SBX_MAX_PIDS 256	 /* distinct PIDs of the sample's own tree */
#define SBX_NOTE 160		 /* one kept string */

/* ---- status.json ---- */
struct sbx_status {
	bool present; /* status.json parsed */
	bool started;
	char exec_error[32]; /* errno name, "" when none */
	bool has_exit;
	int exit_code;
	int signal; /* 0: none */
	bool timed_out;
	int64_t duration_ms;
	int children_killed;
	/* containment limits hit (status.json "limits", when the environment reports them) */
	uint32_t pids_max_hits, mem_max_hits, oom_kills;
};

/* ---- syscalls.log ---- */
struct sbx_sc_count {
	char name[24];
	uint32_t n;
};

struct sbx_syscalls {
	uint32_t total;	  /* system call lines recognised */
	uint32_t ignored; /* other lines */
	uint32_t nnames;
	struct sbx_sc_count names[SBX_MAX_SCNAMES];
	uint32_t unnamed; /* calls whose name did not fit the table */
	uint32_t nnotable;
	char notable[SBX_MAX_NOTABLE][SBX_NOTE];
	uint32_t forks, execs, kills, kills_other, renames, unlinks, listens, escapes, reboots;
	bool launched; /* the environment's own exec of the sample was seen (not counted) */
	uint32_t persist_attempts; /* opens for writing of persistence paths */
	uint32_t sleeps;	   /* blocking waits (sleep, poll, accept, ...) */
	char persist_path[SBX_NOTE];
	uint32_t nkill_targets;
	int32_t kill_targets[32];
	uint32_t npids;
	int32_t pids[SBX_MAX_PIDS]; /* line prefixes and fork/clone results */
	char new_name[32];	    /* process name set through prctl, when shown */
	char self_unlinked[SBX_NOTE];
	uint16_t listen_port; /* a bind() port, when shown */
};

/* ---- net.jsonl ---- */
struct sbx_net {
	uint32_t events, bad;
	uint32_t tcp, udp, dns, icmp;
	uint32_t distinct_dsts, distinct_ports, max_ports_one_dst, distinct_pairs;
	uint32_t login_port_sessions; /* tcp to 22/23/2323 */
	uint32_t brute_sessions;      /* ... carrying login-like bytes */
	uint32_t cnc_sessions;	      /* tcp to the resolved address after a lookup */
	uint32_t max_repeat;	      /* sessions to the busiest dst:port (not 22/23/2323) */
	uint32_t miner_sessions;      /* stratum protocol bytes */
	uint32_t max_flood;	      /* events to the busiest dst:port */
	uint32_t dropped;	      /* events the sinkhole did not log (its own cap) */
	uint32_t nqnames;
	char qnames[SBX_MAX_QNAMES][128];
};

/* ---- files.tsv ---- */
struct sbx_files {
	uint32_t created, modified, deleted, bad;
	uint32_t high_entropy_written; /* created or modified with near-random content */
	uint32_t encrypted;	       /* high-entropy rewrites (see behaviour.c) */
	uint32_t persist;
	char persist_paths[SBX_MAX_PATHS][SBX_NOTE];
	char encrypted_paths[SBX_MAX_PATHS][SBX_NOTE];
	char deleted_paths[SBX_MAX_PATHS][SBX_NOTE];
	char self_deleted[SBX_NOTE];
};

/* ---- services.json ---- */
struct sbx_svc {
	bool known, before, after;
};
struct sbx_services {
	struct sbx_svc http, telnet, ssh;
};

/* ---- behaviours: weight and ATT&CK id per kind (docs/sandbox.md) ---- */
enum sbx_bhv {
	SBX_B_SCAN,
	SBX_B_BRUTE,
	SBX_B_CNC,
	SBX_B_DNS,
	SBX_B_FLOOD,
	SBX_B_LISTEN,
	SBX_B_SELF_DELETE,
	SBX_B_PERSIST,
	SBX_B_ENCRYPT,
	SBX_B_DESTROY,
	SBX_B_FORK,
	SBX_B_EXEC,
	SBX_B_KILL,
	SBX_B_RENAME,
	SBX_B_SERVICE_STOP,
	SBX_B_RESOURCE,
	SBX_B_ESCAPE,
	SBX_B_REBOOT,
	SBX_B_EXHAUST,
	SBX_B__COUNT
};

struct sbx_bhv_info {
	const char *id;	    /* stable name used in CSV, JSON, the scores file */
	const char *attack; /* MITRE ATT&CK technique */
	int weight;	    /* default weight in the behaviour score */
	const char *summary;
};
extern const struct sbx_bhv_info sbx_bhv_table[SBX_B__COUNT];
int sbx_bhv_find(const char *id); /* index or -1 */

/* ---- scores ---- */
#define SBX_MAX_CLASSES 32
struct sbx_scores {
	unsigned n;
	struct {
		char cls[24];
		int score;
	} c[SBX_MAX_CLASSES];
	int unknown; /* detected, but no class more than one engine agrees on */
	int clean;   /* no engine detected it */
	int weights[SBX_B__COUNT];
	int cap; /* the behaviour score's ceiling */
};
void sbx_scores_default(struct sbx_scores *s);
/* Overrides the defaults from a JSON file (format in docs/sandbox.md). */
int sbx_scores_load(struct sbx_scores *s, const char *path, struct vg_err *err);
int sbx_scores_parse(struct sbx_scores *s, const char *text, size_t len, struct vg_err *err);

/* ---- AV labels (AVClass-style normalisation) ---- */
struct sbx_labels {
	bool present;	   /* a report was found */
	unsigned engines;  /* engines in the report */
	unsigned detected; /* engines that flagged it */
	char family[32];   /* "" when no family had two engines */
	unsigned family_votes;
	char cls[24]; /* "clean", "unknown" or a class from the score table's vocabulary */
	unsigned class_votes;
};
/* A VirusTotal-style report: {"scans":{ENGINE:{"detected":bool,"result":str}}} (v2) or
 * {"data":{"attributes":{"last_analysis_results":{ENGINE:{"category","result"}}}}} (v3). */
int sbx_labels_parse(struct sbx_labels *l, const char *text, size_t len, struct vg_err *err);
/* DIR/SHA256.json; -ENOENT (without an error message) when there is none. */
int sbx_labels_load(struct sbx_labels *l, const char *dir, const char *sha256, struct vg_err *err);
/* Tokens of one engine's label after dropping generic ones and mapping aliases; for tests
 * and the JSON report. Returns the number of tokens written (each < 32 bytes). */
unsigned sbx_label_tokens(const char *label, char tok[][32], unsigned max);
int sbx_label_score(const struct sbx_scores *s, const struct sbx_labels *l);

/* ---- verdicts ---- */
enum sbx_verdict {
	SBX_V_RAN,	   /* exited (any code) or ran until the timeout */
	SBX_V_CRASHED,	   /* killed by a signal it raised or received, not the deadline */
	SBX_V_LOAD_FAILED, /* an ELF for this machine that the environment could not start */
	SBX_V_NOT_EXEC,	   /* not an ELF, or not one this machine can run */
	SBX_V_ENV_ERROR,   /* the environment failed; nothing is known about the sample */
};
const char *sbx_verdict_name(enum sbx_verdict v);

struct sbx_outcome {
	bool executable; /* the research's verdict: exit 0 or timeout (124) */
	enum sbx_verdict v;
	char reason[SBX_NOTE]; /* "exit 0", "timed out after 10 s", "signal 11 (SIGSEGV)", ... */
	char exit_str[32];     /* CSV "exit status or signal": "0", "124", "SIGSEGV", "-" */
};
void sbx_outcome_from_status(const struct sbx_status *st, unsigned timeout_s,
			     struct sbx_outcome *o);
/* Not run: not-ELF, wrong machine, missing loader, environment error. */
void sbx_outcome_not_run(enum sbx_verdict v, const char *reason, struct sbx_outcome *o);

/* ---- one run's analysis ---- */
struct sbx_analyse_opts {
	const char *sample_name; /* the sample's file name, for self-deletion */
	const struct sbx_scores *scores;
};

struct sbx_report {
	struct sbx_status st;
	struct sbx_syscalls sc;
	struct sbx_net net;
	struct sbx_files files;
	struct sbx_services svc;
	uint32_t bhv; /* bit (1u << enum sbx_bhv) */
	char evidence[SBX_B__COUNT][SBX_NOTE];
	int behaviour_score;
	char missing[96]; /* artifacts that were absent, space-separated */
};

/* Buffer parsers (one per artifact; the fuzz target drives them). None fails on content. */
void sbx_parse_status(struct sbx_status *st, const char *buf, size_t len);
void sbx_parse_syscalls(struct sbx_syscalls *sc, const char *buf, size_t len,
			const char *sample_name);
void sbx_parse_net(struct sbx_net *n, const char *buf, size_t len);
void sbx_parse_files(struct sbx_files *f, const char *buf, size_t len, const char *sample_name);
void sbx_parse_services(struct sbx_services *s, const char *buf, size_t len);
/* Behaviours and the behaviour score from the parsed parts. */
void sbx_derive(struct sbx_report *r, const struct sbx_analyse_opts *o);
/* Reads RUN_DIR's artifacts, parses them and derives; fails only on I/O errors other than a
 * missing artifact. */
int sbx_analyse(struct sbx_report *r, const char *run_dir, const struct sbx_analyse_opts *o,
		struct vg_err *err);
/* Comma-free list of behaviour ids separated by ';' ("" when none). */
void sbx_bhv_list(uint32_t bhv, char *buf, size_t len);
/* "http down; telnet down" or "none" (services that answered before and not after). */
void sbx_service_impact(const struct sbx_services *s, char *buf, size_t len);

/* The run's result as one JSON object (verdicts, behaviours with evidence and ATT&CK ids,
 * system call counts, network, files, services). */
void sbx_report_json(struct vg_json *j, const struct sbx_report *r, const struct sbx_outcome *o,
		     const struct sbx_scores *s);

/* ---- preparing the environments' images (prepare.c) ---- */
#define SBX_MAX_ENVS 3

struct sbx_prepare_opts {
	const char *const *envs; /* NULL or none: all three */
	unsigned nenvs;
	const char *cache_dir; /* NULL: $VIGIL_CACHE/sandbox or ~/.cache/vigil/sandbox */
	/* progress: WHAT names the environments the running builder makes */
	void (*step)(void *ctx, const char *what, const char *step);
	void *ctx;
};

struct sbx_prepared {
	char env[16];
	char image[4096]; /* where a run finds it */
	double seconds;	  /* spent building (0: made with an earlier environment) */
};

/* Downloads and builds the images of the environments into the cache, once: the only step
 * that needs the network. Afterwards runs work without it (inside `unshare -n`); a run whose
 * environment was not prepared fails with an error naming `vigil sandbox prepare`. An image
 * already in the cache and built from these sources is kept (the builders answer from the
 * cache). OUT has room for one entry per environment; *NOUT says how many were prepared. */
int sbx_prepare(const struct sbx_prepare_opts *o, struct sbx_prepared *out, unsigned *nout,
		struct vg_err *err);

/* ---- running one sample in one environment (runner.c) ---- */
struct sbx_worker; /* one sinkhole and one environment instance */
struct sbx_ident;

struct sbx_worker_opts {
	const char *env;       /* "system", "container" or "minimal" */
	int worker;	       /* 0..n-1: names the sinkhole namespace and the scratch space */
	const char *cache_dir; /* NULL: $VIGIL_CACHE or ~/.cache/vigil, then /sandbox */
	const char *work_dir;  /* this worker's scratch directory (created) */
};
bool sbx_env_known(const char *name);
int sbx_worker_open(struct sbx_worker **w, const struct sbx_worker_opts *o, struct vg_err *err);
void sbx_worker_close(struct sbx_worker *w);

struct sbx_result {
	bool ran; /* the environment ran the sample: r holds its analysis */
	struct sbx_outcome o;
	struct sbx_report r;
	int64_t wall_ms; /* the whole run: environment, sample, analysis */
	int attempts;	 /* environment runs (a failed one is retried once) */
};
/* Identification's verdict first (not-ELF, wrong machine, missing loader are recorded with
 * the reason and not run, unless FORCE); then a run into RUN_DIR (created; must not exist or
 * be empty), the sinkhole logging net.jsonl there, and the analysis. An environment failure
 * is a result (SBX_V_ENV_ERROR), not an error; errors are the runner's own (RUN_DIR). */
int sbx_worker_run(struct sbx_worker *w, const char *sample, const struct sbx_ident *id,
		   const char *run_dir, unsigned timeout_s, const struct sbx_scores *scores,
		   bool force, struct sbx_result *res, struct vg_err *err);

int sbx_sha256_file(const char *path, char hex[65], struct vg_err *err);
/* Removes PATH and everything under it (not following symlinks). */
int sbx_rmtree(const char *path);

/* ---- a sample and its results as JSON (result.c) ---- */
struct sbx_sample {
	char sha256[65];
	const char *path;
	uint64_t size;
	const struct sbx_ident *id;
	struct sbx_labels labels;
	int label_score; /* -1: no AV report */
};
/* "static", "dynamic", "-" (not an ELF) */
const char *sbx_linkage(const struct sbx_ident *id);
/* Members describing the sample (inside an open object): sha256, path, file_type, machine,
 * linkage, interp, labels. */
void sbx_sample_json_fields(struct vg_json *j, const struct sbx_sample *s);

/* The sample at PATH described (sample.c): identification into *ID (S points at it), SHA-256,
 * size and, with LABELS_DIR, its AV report's labels and label score (a report that does not
 * parse counts as none). S keeps PATH. */
int sbx_sample_load(struct sbx_sample *s, struct sbx_ident *id, const char *path,
		    const char *labels_dir, const struct sbx_scores *scores, struct vg_err *err);

/* ---- one sample in one environment (one.c) ---- */
struct sbx_one_opts {
	const char *env, *sample;
	const char *run_dir;	/* the artifacts; must not exist or be empty */
	const char *labels_dir; /* NULL: no label score */
	const struct sbx_scores *scores;
	unsigned timeout_s;
	bool force;	     /* run what identification says cannot run */
	int worker;	     /* sinkhole and scratch slot; -1: derived from the PID */
	const char *scratch; /* NULL: $TMPDIR/vigil-sbx-one-PID (removed after a run) */
};
/* Describes the sample (S, ID) and runs it (RES) as sbx_worker_run does. */
int sbx_one(const struct sbx_one_opts *o, struct sbx_sample *s, struct sbx_ident *id,
	    struct sbx_result *res, struct vg_err *err);

/* ---- the campaign store (store.c, SQLite; schema in docs/sandbox.md) ---- */
struct sbx_store;
int sbx_store_open(struct sbx_store **st, const char *path, bool create, struct vg_err *err);
void sbx_store_close(struct sbx_store *st);
int sbx_store_put_sample(struct sbx_store *st, const struct sbx_sample *s, struct vg_err *err);
/* Adds a pending run unless (sha256, env) is already there, finished or not. */
int sbx_store_add_run(struct sbx_store *st, const char *sha256, const char *env, unsigned timeout_s,
		      struct vg_err *err);
/* Runs left 'running' by an interrupted campaign go back to 'pending'; returns how many. */
int sbx_store_reset_running(struct sbx_store *st, struct vg_err *err);
/* Claims one pending run, preferring PREFER's environment and never one in SKIP (a
 * NULL-terminated list). 1 claimed, 0 nothing left, negative errno. */
struct sbx_claim {
	char sha256[65];
	char env[16];
	char path[4096];
	unsigned timeout_s;
};
int sbx_store_claim(struct sbx_store *st, int worker, const char *prefer, const char *const *skip,
		    struct sbx_claim *c, struct vg_err *err);
/* Gives a claimed run back (its worker cannot run that environment). */
int sbx_store_release(struct sbx_store *st, const struct sbx_claim *c, struct vg_err *err);
int sbx_store_finish(struct sbx_store *st, const struct sbx_claim *c, const struct sbx_result *res,
		     const struct sbx_scores *sc, struct vg_err *err);
struct sbx_counts {
	unsigned total, pending, running, done;
};
int sbx_store_counts(struct sbx_store *st, struct sbx_counts *n, struct vg_err *err);

/* One finished run joined with its sample, as the reports read it. Strings live until the
 * callback returns. */
struct sbx_row {
	const char *sha256, *path, *file_type, *machine, *linkage, *env;
	const char *research, *exit_status, *verdict, *reason, *cls, *family, *behaviours,
		*service_impact, *result_json, *sample_json;
	int label_score; /* -1: no AV report */
	int behaviour_score;
	int64_t duration_ms, wall_ms, seq;
};
/* Calls FN for every finished run with seq > AFTER (0: all), in completion order or, with
 * BY_SAMPLE, ordered by sha256 then environment. A non-zero return from FN stops and is
 * returned. */
int sbx_store_each(struct sbx_store *st, int64_t after, bool by_sample,
		   int (*fn)(void *ctx, const struct sbx_row *r), void *ctx, struct vg_err *err);

/* ---- reports (reports.c, chart.c) ---- */
#define SBX_CSV_HEADER                                                               \
	"sha256,file_type,machine,linkage,environment,research_verdict,exit_status," \
	"finer_verdict,class,label_score,behaviour_score,behaviours,service_impact,duration_ms"
int sbx_report_csv(struct sbx_store *st, const char *path, struct vg_err *err);
/* DIR/SHA256.json per sample: the sample and its result in each environment. */
int sbx_report_json_dir(struct sbx_store *st, const char *dir, unsigned *nfiles,
			struct vg_err *err);
/* A PNG comparing the environments: verdict counts and mean behaviour score. */
int sbx_report_chart(struct sbx_store *st, const char *path, struct vg_err *err);

/* ---- alerts (alert.c) ---- */
struct sbx_alert_text {
	char summary[300];
	char attack[256]; /* the behaviours' ATT&CK ids, comma-separated */
	char *evidence;	  /* malloc'd JSON object; free it */
};
/* The alert for finished run R (DESIGN.md §6: source "sandbox", check sandbox-threat-score,
 * target the sample) when its behaviour or label score reaches MIN_SCORE: 1 and A filled (its
 * strings live in T), 0 when it scored less, -ENOMEM. */
int sbx_run_alert(const struct sbx_row *r, int min_score, struct vg_alert *a,
		  struct sbx_alert_text *t);

/* ---- campaigns (campaign.c) ---- */
struct sbx_progress {
	struct sbx_counts n;
	const struct sbx_row *row; /* a run that just finished; NULL on a periodic tick */
	double elapsed_s;
};

struct sbx_campaign_opts {
	const char *db;
	const char *const *envs;
	unsigned nenvs;
	const char *const *samples; /* files, or directories whose regular files are samples */
	unsigned nsamples;
	const char *labels_dir; /* NULL: no label scores */
	const struct sbx_scores *scores;
	unsigned timeout_s;
	unsigned workers;     /* parallel workers, each with its own sinkhole and environments */
	const char *run_root; /* NULL: DB.runs; artifacts stay in RUN_ROOT/SHA256-ENV */
	void (*progress)(void *ctx, const struct sbx_progress *p);
	void *ctx;
	struct vg_alerter *alerts; /* NULL: none; else an alert per run reaching alert_score */
	int alert_score;
};
/* Adds the samples (identified, hashed, labelled) and their runs to the store, returns
 * interrupted runs to pending, and runs every pending run in worker processes. Returns 0 when
 * every run is done; an error when workers could not finish them (FINAL says how far). */
int sbx_campaign_run(const struct sbx_campaign_opts *o, struct sbx_counts *final,
		     struct vg_err *err);

/* ==== identification (src/sandbox/identify.c; owned by the environments' side) ==== */
#define SBX_ID_MAX_PHDRS 512 /* more program headers than this: malformed */
#define SBX_ID_INTERP 256    /* PT_INTERP paths longer than this - 1: malformed */

struct sbx_ident {
	bool is_elf;
	bool malformed; /* an ELF whose headers cannot be used; bad says why */
	char ftype[24]; /* "ELF 32-bit LSB", "script", "text", "data", "empty" */
	int bits;	/* 32 or 64 */
	bool big_endian;
	uint16_t type;	  /* e_type */
	uint16_t machine; /* e_machine */
	char machine_name[16];
	bool dynamic;	  /* has PT_INTERP: needs a program interpreter */
	bool has_dynamic; /* has PT_DYNAMIC */
	bool pie;
	char interp[SBX_ID_INTERP];
	char bad[64];
};

enum sbx_runnable {
	SBX_RUN_OK,
	SBX_RUN_NOT_ELF,
	SBX_RUN_BAD_ELF,
	SBX_RUN_WRONG_ARCH, /* anything but 32-bit little-endian ARM */
	SBX_RUN_NO_LOADER,  /* dynamic, and its PT_INTERP is absent from the environment */
};

/* Never fails on content: a non-ELF or malformed ELF is described in ID. */
void sbx_identify_buf(struct sbx_ident *id, const void *buf, size_t len);
/* Reads at most the first 1 MiB of PATH; fails only on I/O errors. */
int sbx_identify_file(struct sbx_ident *id, const char *path, struct vg_err *err);
const char *sbx_machine_name(uint16_t e_machine);
/* Can the environments run it, given whether its interpreter is present there (ask the
 * environment's has_interp)? REASON gets one phrase, e.g. "missing loader: /lib/x is not in
 * the environment". */
enum sbx_runnable sbx_ident_runnable(const struct sbx_ident *id, bool interp_present, char *reason,
				     size_t cap);
/* ==== end of identification ==== */

#endif
