/* SPDX-License-Identifier: GPL-2.0 */
/* Minimal kselftest-style TAP and helpers for rrelay's in-guest tests. */
#ifndef RRELAY_TAP_H
#define RRELAY_TAP_H

#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define __noreturn __attribute__((__noreturn__))

static int tap_n, tap_failed;

/* Reports one test; returns cond. */
static inline int __printf(2, 3) tap(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed = 1;
	return cond;
}

static inline void __printf(1, 2) diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* The plan comes last (valid TAP), so a crash shows as a missing plan. */
static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed;
}

static inline void __noreturn bail(const char *what)
{
	printf("Bail out! %s: %s\n", what, strerror(errno));
	printf("1..%d\nnot ok %d bailed out\n", tap_n + 1, tap_n + 1);
	exit(1);
}

static inline void pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		bail("sched_setaffinity");
}

static inline void load_rrelay(void)
{
	if (sh("grep -q '^rrelay ' /proc/modules || insmod /opt/modules/rrelay.ko"))
		bail("insmod rrelay.ko");
}

#endif
