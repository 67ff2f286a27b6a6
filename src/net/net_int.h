/* SPDX-License-Identifier: MIT */
/* Helpers shared inside src/net: file reading, the rule parser's option stage. */
#ifndef VIGIL_NET_INT_H
#define VIGIL_NET_INT_H

#include <stddef.h>

#include "vigil/err.h"
#include "vigil/net_rules.h"

/* Reads PATH whole (at most MAX bytes) into a NUL-terminated malloc'd buffer. */
int vg_net_read_file(const char *path, size_t max, char **out, size_t *len, struct vg_err *err);

/* Parses a rule's options (the text between the parentheses, NUL-terminated and writable)
 * into R; on a keyword outside the supported subset, -ENOTSUP with the keyword in ERR. */
int vg_rule_parse_options(struct vg_rule *r, char *opts, struct vg_err *err);
void vg_rule_free(struct vg_rule *r);

/* Parses "check NAME key value ..." (the words after "check") into C. */
int vg_net_check_parse(struct vg_net_rules *rs, char *words, struct vg_err *err);
void vg_net_checks_defaults(struct vg_net_checks *c);
void vg_net_checks_free(struct vg_net_checks *c);

#endif
