// SPDX-License-Identifier: MIT
/*
 * The two small JSON artifacts of a run, status.json and services.json (env.h), read with
 * jansson. They come from an environment that ran a hostile sample: a member of the wrong
 * type or out of range is treated as absent, never trusted.
 */
#include <jansson.h>
#include <string.h>

#include "sbx_int.h"
#include "vigil/sandbox.h"

static bool jbool(json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k));
}

static uint32_t count(json_t *v)
{
	json_int_t n = json_integer_value(v);

	return n > 0 && n < 0x7fffffff ? (uint32_t)n : 0;
}

void sbx_parse_status(struct sbx_status *st, const char *buf, size_t len)
{
	json_t *root, *v;

	memset(st, 0, sizeof(*st));
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		return;
	}
	st->present = true;
	st->started = jbool(root, "started");
	v = json_object_get(root, "exec_error");
	if (json_is_string(v))
		sbx_copy(st->exec_error, sizeof(st->exec_error), json_string_value(v));
	v = json_object_get(root, "exit_code");
	if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 255) {
		st->has_exit = true;
		st->exit_code = (int)json_integer_value(v);
	}
	v = json_object_get(root, "signal");
	if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < 128)
		st->signal = (int)json_integer_value(v);
	st->timed_out = jbool(root, "timed_out");
	v = json_object_get(root, "duration_ms");
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		st->duration_ms = json_integer_value(v);
	v = json_object_get(root, "children_killed");
	if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < 1000000)
		st->children_killed = (int)json_integer_value(v);
	v = json_object_get(root, "limits");
	st->pids_max_hits = count(json_object_get(v, "pids_max_hits"));
	st->mem_max_hits = count(json_object_get(v, "mem_max_hits"));
	st->oom_kills = count(json_object_get(v, "oom_kills"));
	json_decref(root);
}

static void svc_get(struct sbx_svc *s, json_t *o)
{
	if (!json_is_object(o))
		return;
	s->known = true;
	s->before = jbool(o, "before");
	s->after = jbool(o, "after");
}

void sbx_parse_services(struct sbx_services *s, const char *buf, size_t len)
{
	json_t *root;

	memset(s, 0, sizeof(*s));
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(root)) {
		svc_get(&s->http, json_object_get(root, "http"));
		svc_get(&s->telnet, json_object_get(root, "telnet"));
		svc_get(&s->ssh, json_object_get(root, "ssh"));
	}
	json_decref(root);
}
