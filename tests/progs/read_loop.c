// SPDX-License-Identifier: GPL-2.0
/*
 * read_loop FILE CHUNK: the benchmark's bare reader (make bench, not a
 * test). read()s FILE, CHUNK bytes a call, into one buffer until read()
 * returns 0, and prints one line:
 *
 *   <bytes> <calls> <seconds>
 *
 * The seconds are CLOCK_MONOTONIC around the loop alone (the file is open
 * and the buffer touched before): under QEMU -icount, instructions. With
 * nothing written anywhere, this is the reader's own cost: the read()
 * system calls and their copies.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned long long total = 0, calls = 0;
	size_t chunk, i;
	double start;
	ssize_t n;
	char *buf;
	int fd;

	chunk = argc == 3 ? strtoul(argv[2], NULL, 0) : 0;
	if (!chunk) {
		fprintf(stderr, "usage: read_loop FILE CHUNK\n");
		return 2;
	}
	buf = aligned_alloc(4096, (chunk + 4095) & ~4095UL);
	fd = open(argv[1], O_RDONLY);
	if (!buf || fd < 0) {
		fprintf(stderr, "read_loop: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (i = 0; i < chunk; i += 4096)
		buf[i] = 0;
	start = now();
	while ((n = read(fd, buf, chunk)) > 0) {
		total += n;
		calls++;
	}
	if (n < 0) {
		fprintf(stderr, "read_loop: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	printf("%llu %llu %.9f\n", total, calls, now() - start);
	return 0;
}
