// SPDX-License-Identifier: MIT
/*
 * The score table: malware class -> label score, the behaviour weights, and the behaviour
 * score's cap. A default is compiled in (ransomware and backdoors high, adware and miners
 * low, as the research ranks them); a JSON file overrides any part of it:
 *   {"classes": {"ransomware": 100, "mywiper": 95}, "unknown": 50, "clean": 0,
 *    "behaviours": {"scan": 15}, "cap": 100}
 * Values are integers 0..1000. Unknown behaviour ids are an error (a typo would otherwise
 * silently keep the default); unknown classes are added.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "sbx_int.h"
#include "vigil/sandbox.h"

static const struct {
	const char *cls;
	int score;
} default_classes[] = {
	{ "ransomware", 100 }, { "backdoor", 90 }, { "rootkit", 90 },	 { "botnet", 80 },
	{ "worm", 70 },	       { "trojan", 60 },   { "downloader", 60 }, { "dropper", 60 },
	{ "spyware", 60 },     { "exploit", 50 },  { "virus", 50 },	 { "hacktool", 40 },
	{ "miner", 30 },       { "adware", 20 },   { "grayware", 10 },
};

void sbx_scores_default(struct sbx_scores *s)
{
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < sizeof(default_classes) / sizeof(default_classes[0]); i++) {
		sbx_copy(s->c[i].cls, sizeof(s->c[i].cls), default_classes[i].cls);
		s->c[i].score = default_classes[i].score;
		s->n++;
	}
	s->unknown = 50;
	s->clean = 0;
	for (int b = 0; b < SBX_B__COUNT; b++)
		s->weights[b] = sbx_bhv_table[b].weight;
	s->cap = 100;
}

static int value(json_t *v, const char *what, int *out, struct vg_err *err)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000)
		return vg_errf(err, EINVAL, "scores: %s must be an integer 0..1000", what);
	*out = (int)json_integer_value(v);
	return 0;
}

static int set_class(struct sbx_scores *s, const char *cls, json_t *v, struct vg_err *err)
{
	unsigned i;

	if (!*cls || strlen(cls) >= sizeof(s->c[0].cls))
		return vg_errf(err, EINVAL, "scores: class name '%.40s' is empty or too long", cls);
	for (i = 0; i < s->n; i++)
		if (!strcmp(s->c[i].cls, cls))
			break;
	if (i == s->n) {
		if (s->n == SBX_MAX_CLASSES)
			return vg_errf(err, E2BIG, "scores: more than %d classes", SBX_MAX_CLASSES);
		sbx_copy(s->c[i].cls, sizeof(s->c[i].cls), cls);
		s->n++;
	}
	return value(v, cls, &s->c[i].score, err);
}

int sbx_scores_parse(struct sbx_scores *s, const char *text, size_t len, struct vg_err *err)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je), *o, *v;
	const char *k;
	int rc = 0;

	if (!json_is_object(root)) {
		json_decref(root);
		return vg_errf(err, EINVAL, "scores: not a JSON object (line %d: %s)", je.line,
			       je.text);
	}
	json_object_foreach(root, k, v)
	{
		if (strcmp(k, "classes") && strcmp(k, "unknown") && strcmp(k, "clean") &&
		    strcmp(k, "behaviours") && strcmp(k, "cap")) {
			rc = vg_errf(err, EINVAL, "scores: unknown key '%.40s'", k);
			goto out;
		}
	}
	o = json_object_get(root, "classes");
	if (o && !json_is_object(o)) {
		rc = vg_errf(err, EINVAL, "scores: \"classes\" must be an object");
		goto out;
	}
	json_object_foreach(o, k, v)
	{
		if ((rc = set_class(s, k, v, err)))
			goto out;
	}
	o = json_object_get(root, "behaviours");
	if (o && !json_is_object(o)) {
		rc = vg_errf(err, EINVAL, "scores: \"behaviours\" must be an object");
		goto out;
	}
	json_object_foreach(o, k, v)
	{
		int b = sbx_bhv_find(k);

		if (b < 0) {
			rc = vg_errf(err, EINVAL, "scores: unknown behaviour '%.40s'", k);
			goto out;
		}
		if ((rc = value(v, k, &s->weights[b], err)))
			goto out;
	}
	if ((v = json_object_get(root, "unknown")) && (rc = value(v, "unknown", &s->unknown, err)))
		goto out;
	if ((v = json_object_get(root, "clean")) && (rc = value(v, "clean", &s->clean, err)))
		goto out;
	if ((v = json_object_get(root, "cap")) && (rc = value(v, "cap", &s->cap, err)))
		goto out;
out:
	json_decref(root);
	return rc;
}

int sbx_scores_load(struct sbx_scores *s, const char *path, struct vg_err *err)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	char *text;
	int rc;

	if (!root)
		return vg_errf(err, EINVAL, "%s: line %d: %s", path, je.line, je.text);
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!text)
		return vg_errf(err, ENOMEM, "%s: out of memory", path);
	rc = sbx_scores_parse(s, text, strlen(text), err);
	free(text);
	return rc ? vg_err_prefix(err, "%s", path) : 0;
}

int sbx_label_score(const struct sbx_scores *s, const struct sbx_labels *l)
{
	if (!l->present)
		return -1;
	if (!strcmp(l->cls, "clean"))
		return s->clean;
	for (unsigned i = 0; i < s->n; i++)
		if (!strcmp(s->c[i].cls, l->cls))
			return s->c[i].score;
	return s->unknown;
}
