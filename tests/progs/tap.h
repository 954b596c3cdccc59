/* SPDX-License-Identifier: GPL-2.0 */
/* Minimal kselftest-style TAP and helpers for rrelay's in-guest tests. */
#ifndef RRELAY_TAP_H
#define RRELAY_TAP_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define __printf(a, b) __attribute__((__format__(__printf__, a, b)))
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

/* Runs a shell command; returns its exit status. */
static inline int __printf(1, 2) sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Writes a string to a file; returns 0 or -errno. */
static inline int put(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Reads up to max bytes with read() until EOF or max; returns the count. */
static inline size_t read_upto(int fd, unsigned char *out, size_t max)
{
	size_t got = 0;

	while (got < max) {
		ssize_t n = read(fd, out + got, max - got);

		if (n <= 0)
			break;
		got += n;
	}
	return got;
}

/* Reads one "key value" number from a text file, or -1. */
static inline long long keyval(const char *path, const char *key)
{
	char line[256], k[64];
	long long v, found = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lld", k, &v) == 2 && !strcmp(k, key))
			found = v;
	fclose(f);
	return found;
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
