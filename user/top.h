/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* top.c: the live terminal view of `redscope top`. */
#ifndef REDSCOPE_TOP_H
#define REDSCOPE_TOP_H

#include <stdbool.h>

#include "view.h"

int top__start(enum view_sort sort, const char *filter);
void top__stop(void);
/* Handle the keys typed so far; true when the user asked to quit. */
bool top__keys(void);
void top__frame(struct view *v);

#endif /* REDSCOPE_TOP_H */
