// SPDX-License-Identifier: MIT
/*
 * AV label normalisation in the AVClass way: each engine's label is lowercased and split into
 * tokens; class words (ransom, backdoor, ddos, miner, ...) vote for a class; generic tokens
 * (trojan, generic, malware, linux, elf, variant, heur, ...), short tokens and numbers are
 * dropped; aliases are mapped to one family name (bashlite -> gafgyt, satori -> mirai). A
 * family or class is kept only when more than one engine names it, so one engine's odd label
 * does not decide. With no agreed class, a known family implies one (mirai -> botnet). The
 * report is attacker-influenced (labels are strings an AV derived from the sample), so every
 * count and length is bounded.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbx_int.h"
#include "vigil/sandbox.h"

#define MAX_ENGINES 256
#define MAX_TOKENS 16
#define MAX_CANDIDATES 128

struct word {
	const char *token, *canon;
};

/* class words: token -> class (names match the score table's vocabulary) */
static const struct word class_words[] = {
	{ "ransom", "ransomware" },
	{ "ransomware", "ransomware" },
	{ "filecoder", "ransomware" },
	{ "filecryptor", "ransomware" },
	{ "cryptolocker", "ransomware" },
	{ "locker", "ransomware" },
	{ "backdoor", "backdoor" },
	{ "bkdr", "backdoor" },
	{ "rat", "backdoor" },
	{ "remoteadmin", "backdoor" },
	{ "bot", "botnet" },
	{ "botnet", "botnet" },
	{ "ddos", "botnet" },
	{ "dos", "botnet" },
	{ "flooder", "botnet" },
	{ "ddoser", "botnet" },
	{ "trojan", "trojan" },
	{ "troj", "trojan" },
	{ "trj", "trojan" },
	{ "miner", "miner" },
	{ "coinminer", "miner" },
	{ "bitcoinminer", "miner" },
	{ "cryptominer", "miner" },
	{ "coinmine", "miner" },
	{ "adware", "adware" },
	{ "adw", "adware" },
	{ "downloader", "downloader" },
	{ "dldr", "downloader" },
	{ "dropper", "dropper" },
	{ "worm", "worm" },
	{ "virus", "virus" },
	{ "infector", "virus" },
	{ "rootkit", "rootkit" },
	{ "rkit", "rootkit" },
	{ "spyware", "spyware" },
	{ "spy", "spyware" },
	{ "stealer", "spyware" },
	{ "keylogger", "spyware" },
	{ "pws", "spyware" },
	{ "exploit", "exploit" },
	{ "hacktool", "hacktool" },
	{ "hktl", "hacktool" },
	{ "riskware", "grayware" },
	{ "pup", "grayware" },
	{ "pua", "grayware" },
	{ "grayware", "grayware" },
	{ "unwanted", "grayware" },
	{ NULL, NULL },
};

/* family aliases -> canonical family */
static const struct word aliases[] = {
	{ "bashlite", "gafgyt" }, { "lizkebab", "gafgyt" }, { "torlus", "gafgyt" },
	{ "bashdoor", "gafgyt" }, { "qbot", "gafgyt" },	    { "satori", "mirai" },
	{ "okiru", "mirai" },	  { "masuta", "mirai" },    { "sora", "mirai" },
	{ "owari", "mirai" },	  { "miori", "mirai" },	    { "mirailike", "mirai" },
	{ "kaiten", "tsunami" },  { "xorddos", "xorddos" }, { "aesddos", "dofloo" },
	{ "xmrig", "xmrig" },	  { NULL, NULL },
};

/* families whose class needs no engine to say it */
static const struct word family_class[] = {
	{ "mirai", "botnet" },	 { "gafgyt", "botnet" }, { "tsunami", "backdoor" },
	{ "hajime", "botnet" },	 { "mozi", "botnet" },	 { "dofloo", "botnet" },
	{ "xorddos", "botnet" }, { "xmrig", "miner" },	 { NULL, NULL },
};

static const char *const generic[] = {
	"generic",   "malware",	    "linux",	"elf",	     "elf32",	    "elf64",
	"unix",	     "variant",	    "heur",	"heuristic", "agent",	    "suspicious",
	"malicious", "application", "program",	"file",	     "script",	    "behaves",
	"like",	     "multi",	    "other",	"score",     "confidence",  "high",
	"medium",    "detected",    "threat",	"attribute", "artemis",	    "cloud",
	"static",    "lnux",	    "unsafe",	"gen",	     "genericrxaa", "genericrx",
	"genericml", "ai",	    "arm",	"mips",	     "x86",	    "armel",
	"eldorado",  "kcloud",	    "possible", "probably",  "susp",	    "malpack",
	"packed",    "upx",	    "tool",	"tsgeneric", "win32",	    "android",
	"html",	     "shell",	    NULL,
};

static const char *lookup(const struct word *w, const char *t)
{
	for (; w->token; w++)
		if (!strcmp(w->token, t))
			return w->canon;
	return NULL;
}

static bool is_generic(const char *t)
{
	size_t n = strlen(t), digits = 0, hex = 0;

	for (const char *const *g = generic; *g; g++)
		if (!strcmp(*g, t))
			return true;
	for (size_t i = 0; i < n; i++) {
		digits += !!isdigit((unsigned char)t[i]);
		hex += !!isxdigit((unsigned char)t[i]);
	}
	/* short tokens are suffixes (.a, .ab), numbers and hex ids are build counters */
	return n < 4 || digits == n || (hex == n && digits);
}

/* Splits LABEL into lowercase alphanumeric tokens. */
static unsigned split(const char *label, char tok[][32], unsigned max)
{
	unsigned n = 0;

	for (const char *p = label; *p && n < max;) {
		size_t k = 0;

		while (*p && !isalnum((unsigned char)*p))
			p++;
		while (*p && isalnum((unsigned char)*p)) {
			if (k < 31)
				tok[n][k++] = (char)tolower((unsigned char)*p);
			p++;
		}
		if (k) {
			tok[n][k] = '\0';
			n++;
		}
	}
	return n;
}

unsigned sbx_label_tokens(const char *label, char tok[][32], unsigned max)
{
	char raw[MAX_TOKENS][32];
	unsigned n = split(label, raw, MAX_TOKENS), out = 0;

	for (unsigned i = 0; i < n && out < max; i++) {
		const char *a = lookup(aliases, raw[i]);
		bool dup = false;

		if (!a && (lookup(class_words, raw[i]) || is_generic(raw[i])))
			continue;
		a = a ? a : raw[i];
		for (unsigned k = 0; k < out; k++)
			dup |= !strcmp(tok[k], a);
		if (!dup)
			sbx_copy(tok[out++], 32, a);
	}
	return out;
}

struct vote {
	char name[32];
	unsigned n;
};

static void vote(struct vote *v, unsigned *nv, const char *name)
{
	for (unsigned i = 0; i < *nv; i++)
		if (!strcmp(v[i].name, name)) {
			v[i].n++;
			return;
		}
	if (*nv < MAX_CANDIDATES) {
		sbx_copy(v[*nv].name, sizeof(v[0].name), name);
		v[(*nv)++].n = 1;
	}
}

static void one_label(const char *label, struct vote *fam, unsigned *nfam, struct vote *cls,
		      unsigned *ncls)
{
	char tok[MAX_TOKENS][32], raw[MAX_TOKENS][32];
	const char *seen[MAX_TOKENS];
	unsigned n = sbx_label_tokens(label, tok, MAX_TOKENS), nr = split(label, raw, MAX_TOKENS),
		 nseen = 0;

	for (unsigned i = 0; i < n; i++)
		vote(fam, nfam, tok[i]);
	/* one vote per class per engine, however many of its words the label repeats */
	for (unsigned i = 0; i < nr; i++) {
		const char *c = lookup(class_words, raw[i]);
		bool dup = false;

		if (!c)
			continue;
		for (unsigned k = 0; k < nseen; k++)
			dup |= seen[k] == c;
		if (!dup) {
			seen[nseen++] = c;
			vote(cls, ncls, c);
		}
	}
}

/* Class priority for ties: the table order of class_words (ransomware first). */
static int class_rank(const char *c)
{
	for (int i = 0; class_words[i].token; i++)
		if (!strcmp(class_words[i].canon, c))
			return i;
	return 1000;
}

static void decide(struct sbx_labels *l, struct vote *fam, unsigned nfam, struct vote *cls,
		   unsigned ncls)
{
	const struct vote *bf = NULL, *bc = NULL;
	const char *implied;

	for (unsigned i = 0; i < nfam; i++)
		if (fam[i].n >= 2 && (!bf || fam[i].n > bf->n))
			bf = &fam[i];
	for (unsigned i = 0; i < ncls; i++) {
		/* "trojan" is what engines say when they know nothing better */
		bool weaker = bc && !strcmp(bc->name, "trojan") && strcmp(cls[i].name, "trojan");

		if (cls[i].n < 2)
			continue;
		if (!bc || weaker ||
		    (strcmp(cls[i].name, "trojan") &&
		     (cls[i].n > bc->n ||
		      (cls[i].n == bc->n && class_rank(cls[i].name) < class_rank(bc->name)))))
			bc = &cls[i];
	}
	if (bf) {
		sbx_copy(l->family, sizeof(l->family), bf->name);
		l->family_votes = bf->n;
	}
	implied = bf ? lookup(family_class, bf->name) : NULL;
	if (bc && (strcmp(bc->name, "trojan") || !implied)) {
		sbx_copy(l->cls, sizeof(l->cls), bc->name);
		l->class_votes = bc->n;
	} else if (implied) {
		sbx_copy(l->cls, sizeof(l->cls), implied);
		l->class_votes = bf->n;
	} else {
		sbx_copy(l->cls, sizeof(l->cls), l->detected ? "unknown" : "clean");
	}
}

int sbx_labels_parse(struct sbx_labels *l, const char *text, size_t len, struct vg_err *err)
{
	json_t *root = json_loadb(text, len, 0, NULL), *scans, *v;
	struct vote *fam = calloc(2 * MAX_CANDIDATES, sizeof(*fam)), *cls = fam + MAX_CANDIDATES;
	unsigned nfam = 0, ncls = 0;
	const char *engine;
	bool v3 = false;

	memset(l, 0, sizeof(*l));
	if (!fam) {
		json_decref(root);
		return vg_errf(err, ENOMEM, "labels: out of memory");
	}
	scans = json_object_get(root, "scans");
	if (!json_is_object(scans)) {
		scans = json_object_get(
			json_object_get(json_object_get(root, "data"), "attributes"),
			"last_analysis_results");
		v3 = true;
	}
	if (!json_is_object(scans)) {
		json_decref(root);
		free(fam);
		return vg_errf(
			err, EINVAL,
			"labels: neither \"scans\" nor data.attributes.last_analysis_results");
	}
	l->present = true;
	json_object_foreach(scans, engine, v)
	{
		const char *res = json_string_value(json_object_get(v, "result"));
		bool det;

		if (l->engines >= MAX_ENGINES)
			break;
		l->engines++;
		if (v3) {
			const char *cat = json_string_value(json_object_get(v, "category"));

			det = cat && !strcmp(cat, "malicious");
		} else {
			det = json_is_true(json_object_get(v, "detected"));
		}
		if (!det || !res)
			continue;
		l->detected++;
		one_label(res, fam, &nfam, cls, &ncls);
	}
	decide(l, fam, nfam, cls, ncls);
	json_decref(root);
	free(fam);
	return 0;
}

int sbx_labels_load(struct sbx_labels *l, const char *dir, const char *sha256, struct vg_err *err)
{
	char name[80];
	char *buf;
	size_t len;
	int rc;

	memset(l, 0, sizeof(*l));
	snprintf(name, sizeof(name), "%.64s.json", sha256);
	rc = sbx_read_artifact(dir, name, &buf, &len, err);
	if (rc)
		return rc;
	rc = sbx_labels_parse(l, buf, len, err);
	free(buf);
	return rc ? vg_err_prefix(err, "%s/%s", dir, name) : 0;
}
