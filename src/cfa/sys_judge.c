// SPDX-License-Identifier: MIT
/*
 * Judging one syscall kind (token) on its first use: where its code and call site are in the
 * model, the static checks (injected code, no such syscall instruction, wrong number, a call
 * site that is not the return of a call leading there), the training sets, the tuple key the
 * kind is trained and checked under, and the severity of what was found.
 */
#include <string.h>

#include "sys_verify_int.h"

static enum vg_severity severity(enum vg_sys_check c, const struct vg_sb_token *t)
{
	switch (c) {
	case VG_SYS_C_INJECTED:
		return VG_SEV_CRITICAL;
	case VG_SYS_C_BADINSN:
	case VG_SYS_C_WRONGNR:
	case VG_SYS_C_CALLSITE:
	case VG_SYS_C_UNMODELLED:
	case VG_SYS_C_EXEC:
		return VG_SEV_HIGH;
	case VG_SYS_C_UNSEEN:
		switch (t ? t->nr : 0) {
		case 41 ... 43: /* socket connect accept */
		case 49 ... 50: /* bind listen */
		case 57 ... 59: /* fork vfork execve */
		case 101:	/* ptrace */
		case 175:	/* init_module */
		case 288:	/* accept4 */
		case 310 ... 311:
		case 313: /* finit_module */
		case 319: /* memfd_create */
		case 322: /* execveat */
			return VG_SEV_HIGH;
		case 56: /* clone */
		case 435:
			return t->argkey & 0x2000 ? VG_SEV_MEDIUM : VG_SEV_HIGH;
		case 9:
		case 10:
			return t->argkey & 0x1000 ? VG_SEV_HIGH : VG_SEV_MEDIUM;
		}
		return VG_SEV_MEDIUM;
	case VG_SYS_C_TRANSITION:
		return VG_SEV_LOW;
	default:
		return VG_SEV_MEDIUM;
	}
}

/* ---- names for evidence ---- */

static const char *func_name(const struct vg_sys_model *m, uint32_t mm, uint64_t off)
{
	const struct vg_sys_mod *d;

	if (mm >= m->nmods)
		return NULL;
	d = &m->mods[mm];
	for (uint32_t i = 0; i < d->nfunc; i++) {
		const struct vg_sys_func *f = &m->funcs[d->func + i];

		if (off >= f->lo && off < f->hi)
			return vg_sys_str(m, f->name);
	}
	return NULL;
}

static void where(struct vg_sys_verifier *v, const struct vg_sb_loc *l, struct vg_sys_where *w,
		  bool word)
{
	const struct dmod *d =
		l->kind == VG_SB_K_FILE && l->module < v->nmods ? &v->mods[l->module] : NULL;

	w->kind = l->kind;
	w->off = l->off;
	w->word = word ? l->word : -1;
	w->module = d && d->defined	       ? d->name
		    : l->kind == VG_SB_K_VDSO  ? "[vdso]"
		    : l->kind == VG_SB_K_ANON  ? "[anonymous executable memory]"
		    : l->kind == VG_SB_K_NOVMA ? "[unmapped]"
					       : NULL;
	w->function = d && d->defined ? func_name(v->m, d->mm, l->off) : NULL;
}

/* ---- judging one token ---- */

static uint64_t mod_ident(const struct vg_sys_verifier *v, const struct vg_sb_loc *l)
{
	if (l->kind != VG_SB_K_FILE || l->module >= v->nmods)
		return l->kind;
	return v->mods[l->module].ident;
}

static uint64_t tuple_key(const struct vg_sys_verifier *v, const struct vg_sb_token *t,
			  const struct vg_sb_loc *site)
{
	struct {
		uint64_t ipmod, ipoff, sitemod, siteoff;
		uint32_t nr, argkey, pathhash, kinds;
	} k = { 0 };
	bool exec = t->nr == 59 || t->nr == 322;

	k.ipmod = mod_ident(v, &t->ip);
	k.ipoff = t->ip.kind == VG_SB_K_FILE || t->ip.kind == VG_SB_K_VDSO ? t->ip.off : 0;
	if (site) {
		k.sitemod = mod_ident(v, site);
		k.siteoff =
			site->kind == VG_SB_K_FILE || site->kind == VG_SB_K_VDSO ? site->off : 0;
		k.kinds = site->kind;
	}
	k.nr = t->nr;
	k.argkey = t->argkey & ~0x4000u; /* whether a path was readable is not a property */
	k.pathhash = exec ? t->pathhash : 0;
	return vg_sys_shash(&k, sizeof(k));
}

/* Whether call site L is the return address of a call that leads to function FN. */
static const char *site_problem(const struct vg_sys_verifier *v, const struct vg_sb_loc *l,
				uint32_t fn)
{
	const struct vg_sys_site *s;
	uint32_t mm;

	if (l->kind == VG_SB_K_ANON)
		return "the return address points into executable memory backed by no file";
	if (l->kind != VG_SB_K_FILE)
		return "the return address points into no file";
	if (l->module >= v->nmods || !v->mods[l->module].defined)
		return "the return address points into an undefined module";
	mm = v->mods[l->module].mm;
	if (mm == VG_SYS_NONE || !(v->m->mods[mm].flags & VG_SYS_MOD_ANALYSED))
		return "the return address points into a file the model does not know";
	s = vg_sys_find_site(v->m, mm, l->off);
	if (!s)
		return "the return address does not follow a call that can reach a system call";
	if (s->flags & VG_SYS_S_INDIRECT)
		return NULL;
	for (uint32_t i = 0; i < s->nlist; i++)
		if (v->m->lists[s->list + i] == fn)
			return NULL;
	return "the call at the return address does not lead to the function that made the "
	       "system call";
}

struct finding {
	enum vg_sys_check check;
	const char *reason;
	int expected_word;
};

/* Static judgement; *SITE gets the call site the tuple is keyed on. */
static struct finding judge_static(struct vg_sys_verifier *v, const struct vg_sb_token *t,
				   const struct vg_sb_loc **site)
{
	struct finding f = { 0, NULL, -1 };
	const struct vg_sys_insn *in;
	uint32_t mm;

	*site = t->ncand ? &t->cand[0] : NULL;
	if (t->ip.kind == VG_SB_K_ANON || t->ip.kind == VG_SB_K_NOVMA)
		return (struct finding){ VG_SYS_C_INJECTED,
					 "a system call was made from executable memory backed "
					 "by no file (injected code)",
					 -1 };
	if (t->ip.kind == VG_SB_K_VDSO) {
		if (t->nr == 96 || t->nr == 201 || t->nr == 228 || t->nr == 229 || t->nr == 309)
			return f;
		return (struct finding){ VG_SYS_C_BADINSN,
					 "the vDSO made a system call it never makes", -1 };
	}
	if (t->ip.kind != VG_SB_K_FILE || t->ip.module >= v->nmods ||
	    !v->mods[t->ip.module].defined)
		return (struct finding){ VG_SYS_C_UNDEFINED,
					 "the syscall names a module the gateway never received",
					 -1 };
	mm = v->mods[t->ip.module].mm;
	if (mm == VG_SYS_NONE || !(v->m->mods[mm].flags & VG_SYS_MOD_ANALYSED))
		return (struct finding){
			VG_SYS_C_UNMODELLED,
			"code of a file the model does not know made a system call", -1
		};
	in = vg_sys_find_insn(v->m, mm, t->ip.off);
	if (!in)
		return (struct finding){
			VG_SYS_C_BADINSN,
			"the instruction before this address is not one of the "
			"module's syscall instructions (a gadget or misaligned code)",
			-1
		};
	if (in->nr != VG_SYS_ANY_NR && in->nr != t->nr)
		return (struct finding){ VG_SYS_C_WRONGNR,
					 "the syscall instruction loads another number", -1 };
	if (in->flags & VG_SYS_I_SIGFRAME)
		return f;
	if (in->depth / 8 >= VG_SB_WINDOW) {
		/* the return address lies beyond the words the device reports: not checkable */
		*site = NULL;
		return f;
	}
	if (in->depth >= 0) {
		const struct vg_sb_loc *c = NULL;
		const char *why;

		f.expected_word = in->depth / 8;
		for (uint8_t i = 0; i < t->ncand; i++)
			if (t->cand[i].word == f.expected_word)
				c = &t->cand[i];
		*site = c;
		if (!c && (t->unres >> f.expected_word & 1))
			return f; /* the device could not look that word up: unknown, not wrong */
		if (!c)
			return (struct finding){
				VG_SYS_C_CALLSITE,
				"no return address where the function's frame keeps "
				"it: the stack was not made by a call (ROP, stack "
				"pivot, a jump into the function)",
				f.expected_word
			};
		why = site_problem(v, c, in->func);
		if (why)
			return (struct finding){ VG_SYS_C_CALLSITE, why, f.expected_word };
		return f;
	}
	/* the frame's layout is unknown there: any candidate that is a valid call site */
	for (uint8_t i = 0; i < t->ncand; i++)
		if (!site_problem(v, &t->cand[i], in->func)) {
			*site = &t->cand[i];
			return f;
		}
	return (struct finding){ VG_SYS_C_CALLSITE,
				 "none of the return addresses on the stack comes from a call "
				 "that leads to the function that made the system call",
				 -1 };
}

/* Names for evidence: looked up only when an alert needs them (a linear search by module). */
void vg_sys_name(struct vg_sys_verifier *v, struct dtok *d)
{
	if (d->named)
		return;
	d->named = true;
	where(v, &d->t.ip, &d->code, false);
	if (d->site_cand >= 0)
		where(v, &d->t.cand[d->site_cand], &d->site, true);
	else
		d->site = (struct vg_sys_where){ .word = -1 };
}

void vg_sys_judge(struct vg_sys_verifier *v, struct dtok *d)
{
	const struct vg_sb_loc *site;
	struct finding f = judge_static(v, &d->t, &site);
	bool trained = v->m->flags & VG_SYS_M_TRAINED;
	struct vg_sys_alert a = { 0 };

	d->judged = true;
	d->key = tuple_key(v, &d->t, site);
	d->site_cand = site ? (int8_t)(site - d->t.cand) : -1;
	if (v->o.train) {
		vg_sys_set_add(&v->trtuples, d->key);
		if (!f.check || f.check == VG_SYS_C_UNDEFINED)
			return;
	} else {
		if (f.check != VG_SYS_C_INJECTED &&
		    vg_sys_sorted_has(v->m->tuples, v->m->ntuples, d->key))
			return; /* seen in training: the static model was too strict here */
		if (!f.check && trained)
			f = (struct finding){ VG_SYS_C_UNSEEN,
					      "this system call from this code and call site never "
					      "happened in training",
					      -1 };
		if (!f.check)
			return;
	}
	vg_sys_name(v, d);
	a.check = f.check;
	a.severity = severity(f.check, &d->t);
	a.reason = f.reason;
	a.nr = d->t.nr;
	a.argkey = d->t.argkey;
	a.code = d->code;
	a.site = d->site;
	a.expected_word = f.expected_word;
	a.tid = v->cur ? v->cur->tid - 1 : 0;
	d->sev = (int)a.severity + 1;
	vg_sys_raise_alert(v, &a);
}
