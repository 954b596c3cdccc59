/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of rrelay's in-guest kselftests (tests/selftests/rrelay/, on
 * kselftest_harness.h).
 */
#ifndef RRELAY_TEST_UTIL_H
#define RRELAY_TEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif
#ifndef __printf
#define __printf(a, b) __attribute__((__format__(__printf__, a, b)))
#endif

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

#endif
