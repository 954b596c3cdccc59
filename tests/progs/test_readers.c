// SPDX-License-Identifier: GPL-2.0
/*
 * The five ways to drain an rrelay buffer deliver the same bytes: read(),
 * readv(), mmap + the uapi ioctls, splice into a pipe, sendfile into a pipe
 * (per-CPU and global buffers); splice on a full pipe, partial transfers and
 * O_NONBLOCK; every bad input with its errno; poll woken from hardirq.
 */
#include "tap.h"

#include <linux/rrelay.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define D "/sys/kernel/debug/rrelay_test_client"
#define CTL D "/ctl"
#define MAX (1 << 16)
#define CLIENT "/opt/modules/rrelay_test_client.ko"

static unsigned char ref[MAX], got[MAX];

static void ctl(const char *cmd)
{
	if (put(CTL, cmd))
		bail(cmd);
}

/* The same data each time: reset, restart the sequence, write, flush. */
static void produce(void)
{
	ctl("reset");
	ctl("seq 0");
	ctl("write 100 30");
	ctl("write 37 11");
	ctl("write 250 4");
	ctl("write 512 1");
	ctl("flush");
}

static int open_buf(void)
{
	int fd = open(D "/buf0", O_RDONLY);

	if (fd < 0)
		bail("open buf0");
	return fd;
}

static size_t drain_read(int fd, unsigned char *out)
{
	return read_upto(fd, out, MAX);
}

/* readv() (read_iter) into vectors of odd sizes that split records and sub-buffers. */
static size_t drain_readv(int fd, unsigned char *out)
{
	static const size_t sizes[] = { 1, 99, 7, 300, 2, 513, 64 };
	struct iovec iov[3];
	size_t got = 0, k = 0;
	unsigned char *p;
	ssize_t n;
	int i;

	for (;;) {
		for (i = 0, p = out + got; i < 3; i++, k++) {
			iov[i].iov_base = p;
			iov[i].iov_len = sizes[k % 7];
			p += iov[i].iov_len;
		}
		if (p > out + MAX)
			break;
		n = readv(fd, iov, 3);
		if (n <= 0)
			break;
		got += n;
	}
	return got;
}

static size_t drain_mmap(int fd, unsigned char *out)
{
	struct rrelay_geometry g;
	struct rrelay_positions p;
	struct rrelay_padding pad;
	size_t got = 0;
	unsigned char *map;
	__u64 k, one = 1;

	if (ioctl(fd, RRELAY_IOC_GET_GEOMETRY, &g))
		bail("GET_GEOMETRY");
	map = mmap(NULL, g.mmap_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		bail("mmap");
	if (ioctl(fd, RRELAY_IOC_GET_POSITIONS, &p))
		bail("GET_POSITIONS");
	for (k = p.consumed; k < p.produced; k++) {
		pad.subbuf = k % g.n_subbufs;
		if (ioctl(fd, RRELAY_IOC_GET_PADDING, &pad))
			bail("GET_PADDING");
		memcpy(out + got, map + pad.subbuf * g.subbuf_size, g.subbuf_size - pad.padding);
		got += g.subbuf_size - pad.padding;
		if (ioctl(fd, RRELAY_IOC_PUT_CONSUMED, &one))
			bail("PUT_CONSUMED");
	}
	munmap(map, g.mmap_size);
	return got;
}

static size_t drain_splice(int fd, unsigned char *out)
{
	int p[2];
	size_t got = 0;
	ssize_t n;

	if (pipe(p))
		bail("pipe");
	while ((n = splice(fd, NULL, p[1], NULL, MAX, SPLICE_F_NONBLOCK)) > 0)
		got += read_upto(p[0], out + got, n);
	close(p[0]);
	close(p[1]);
	return got;
}

/* sendfile into a pipe: lossless (the data stays in the caller's pipe). */
static size_t drain_sendfile(int fd, unsigned char *out)
{
	int p[2];
	size_t got = 0;
	ssize_t n;

	if (pipe(p))
		bail("pipe");
	while ((n = sendfile(p[1], fd, NULL, MAX)) > 0)
		got += read_upto(p[0], out + got, n);
	if (n < 0)
		diag("sendfile: %s", strerror(errno));
	close(p[0]);
	close(p[1]);
	return got;
}

/*
 * sendfile to a file or socket goes through the kernel's internal pipe,
 * which throws away what a short write leaves (a full disk, a socket
 * closed early): those bytes would be consumed and lost. rrelay refuses it
 * (EINVAL) and consumes nothing.
 */
static void sendfile_refused(int out, const char *what)
{
	int fd = open_buf();
	ssize_t n;

	produce();
	errno = 0;
	n = sendfile(out, fd, NULL, MAX);
	tap(n < 0 && errno == EINVAL && read_upto(fd, got, MAX) == 4919 &&
	    !memcmp(got, ref, 4919),
	    "sendfile to %s: EINVAL, and the data is still there (%s)", what, strerror(errno));
	close(fd);
}

static void sendfile_to_file_or_socket_refused(void)
{
	int f = open("/tmp/sendfile.out", O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (f < 0)
		bail("open /tmp/sendfile.out");
	sendfile_refused(f, "a regular file");
	close(f);
	/*
	 * A device that is always full (ENOSPC on every write): a disk that
	 * filled up. (The test kernel has no networking for a socket.)
	 */
	f = open("/dev/full", O_WRONLY);
	if (f < 0)
		bail("open /dev/full");
	sendfile_refused(f, "a full device (/dev/full)");
	close(f);
}

/* The sub-buffer protocol: GET_NEXT_SUBBUF, copy from the mapping, PUT_NEXT_SUBBUF. */
static size_t drain_next(int fd, unsigned char *out)
{
	struct rrelay_geometry g;
	struct rrelay_next nx;
	unsigned char *map;
	size_t got = 0;

	if (ioctl(fd, RRELAY_IOC_GET_GEOMETRY, &g))
		bail("GET_GEOMETRY");
	map = mmap(NULL, g.mmap_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		bail("mmap");
	while (!ioctl(fd, RRELAY_IOC_GET_NEXT_SUBBUF, &nx) && got + nx.len <= MAX) {
		memcpy(out + got, map + nx.offset, nx.len);
		got += nx.len;
		if (ioctl(fd, RRELAY_IOC_PUT_NEXT_SUBBUF))
			bail("PUT_NEXT_SUBBUF");
	}
	if (errno != EAGAIN)
		diag("GET_NEXT_SUBBUF: %s", strerror(errno));
	munmap(map, g.mmap_size);
	return got;
}

static void same_stream(const char *mode)
{
	static const struct {
		const char *name;
		size_t (*drain)(int fd, unsigned char *out);
	} readers[] = {
		{ "readv", drain_readv },
		{ "mmap+ioctl", drain_mmap },
		{ "mmap+next", drain_next },
		{ "splice", drain_splice },
		{ "sendfile", drain_sendfile },
	};
	size_t nref, n;
	unsigned int i;
	int fd = open_buf();

	produce();
	nref = drain_read(fd, ref);
	tap(nref == 3000 + 407 + 1000 + 512, "%s: read() drains all %zu bytes written", mode, nref);
	for (i = 0; i < ARRAY_SIZE(readers); i++) {
		produce();
		n = readers[i].drain(fd, got);
		tap(n == nref && !memcmp(ref, got, n),
		    "%s: %s delivers the read() stream (%zu bytes)", mode, readers[i].name, n);
		tap(read(fd, got, MAX) == 0, "%s: %s consumed everything", mode, readers[i].name);
	}
	close(fd);
}

static void splice_full_pipe(void)
{
	int fd = open_buf(), p[2];
	size_t total = 0;
	ssize_t n;

	if (pipe(p))
		bail("pipe");
	fcntl(p[1], F_SETPIPE_SZ, 4096);
	produce();
	n = splice(fd, NULL, p[1], NULL, MAX, SPLICE_F_NONBLOCK);
	tap(n > 0 && n <= 4096, "splice into a 4 KiB pipe moves at most 4 KiB (%zd)", n);
	errno = 0;
	tap(splice(fd, NULL, p[1], NULL, MAX, SPLICE_F_NONBLOCK) < 0 && errno == EAGAIN,
	    "splice into a full pipe with SPLICE_F_NONBLOCK: EAGAIN");
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	total = read_upto(p[0], got, n);
	while ((n = splice(fd, NULL, p[1], NULL, 1000, 0)) > 0)
		total += read_upto(p[0], got + total, n);
	tap(total == 4919 && !memcmp(got, ref, total),
	    "partial splices of at most 1000 bytes still deliver the exact stream (%zu)", total);
	close(p[0]);
	close(p[1]);
	close(fd);
}

static void bad_inputs(void)
{
	struct rrelay_geometry g;
	struct rrelay_padding pad = { .subbuf = 99 };
	__u64 many = 1000;
	int fd = open_buf();
	void *m;

	if (ioctl(fd, RRELAY_IOC_GET_GEOMETRY, &g))
		bail("GET_GEOMETRY");
	tap(g.subbuf_size == 512 && g.n_subbufs == 16 && g.mmap_size == 8192,
	    "GET_GEOMETRY: 512 x 16, 8192 bytes to map");
	errno = 0;
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	tap(m == MAP_FAILED && errno == EINVAL, "mmap of part of the buffer: EINVAL");
	errno = 0;
	m = mmap(NULL, 2 * 8192, PROT_READ, MAP_SHARED, fd, 0);
	tap(m == MAP_FAILED && errno == EINVAL, "mmap beyond the buffer: EINVAL");
	errno = 0;
	m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 4096);
	tap(m == MAP_FAILED && errno == EINVAL, "mmap at a non-zero offset: EINVAL");
	errno = 0;
	m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	tap(m == MAP_FAILED && errno == EACCES, "writable shared mmap: EACCES (file is read-only)");
	m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
	tap(m != MAP_FAILED, "read-only mmap of the whole buffer");
	errno = 0;
	tap(mprotect(m, 8192, PROT_READ | PROT_WRITE) < 0 && errno == EACCES,
	    "mprotect to writable afterwards: EACCES");
	munmap(m, 8192);
	errno = 0;
	tap(ioctl(fd, _IO(RRELAY_IOC_MAGIC, 99)) < 0 && errno == ENOTTY, "unknown ioctl: ENOTTY");
	errno = 0;
	tap(ioctl(fd, RRELAY_IOC_GET_PADDING, &pad) < 0 && errno == EINVAL,
	    "GET_PADDING of a slot beyond the ring: EINVAL");
	errno = 0;
	tap(ioctl(fd, RRELAY_IOC_PUT_CONSUMED, &many) < 0 && errno == EINVAL,
	    "PUT_CONSUMED of more than is ready: EINVAL");
	errno = 0;
	tap(ioctl(fd, RRELAY_IOC_GET_POSITIONS, (void *)8) < 0 && errno == EFAULT,
	    "GET_POSITIONS to a bad pointer: EFAULT");
	close(fd);
}

/* RRELAY_FLAG_FINISHED_ONLY: the sub-buffer being written stays unread. */
static void finished_only(void)
{
	unsigned char b[MAX];
	__u64 flags = RRELAY_FLAG_FINISHED_ONLY, none = 0, bad = 2;
	int fd = open_buf();

	while (read(fd, b, sizeof(b)) > 0)
		;
	tap(ioctl(fd, RRELAY_IOC_SET_FLAGS, &flags) == 0, "SET_FLAGS finished-only");
	ctl("write 100 3");
	tap(read(fd, b, sizeof(b)) == 0,
	    "finished-only: a partly filled sub-buffer reads as empty");
	ctl("write 300 1");
	tap(read(fd, b, sizeof(b)) == 300,
	    "finished-only: the finished sub-buffer reads (300 bytes)");
	tap(ioctl(fd, RRELAY_IOC_SET_FLAGS, &none) == 0 && read(fd, b, sizeof(b)) == 300,
	    "flags 0: the rest of the current sub-buffer reads too");
	errno = 0;
	tap(ioctl(fd, RRELAY_IOC_SET_FLAGS, &bad) < 0 && errno == EINVAL,
	    "SET_FLAGS with an unknown flag: EINVAL");
	close(fd);
}

static void hardirq_wakeup(void)
{
	unsigned char b[MAX];
	struct pollfd p;
	pid_t child;
	int st, fd = open_buf();

	while (read(fd, b, sizeof(b)) > 0)
		;
	child = fork();
	if (child == 0) {
		p.fd = fd;
		p.events = POLLIN;
		_exit(poll(&p, 1, 10000) == 1 && (p.revents & POLLIN) ? 0 : 1);
	}
	usleep(200000);
	ctl("hrtimer 200 4");
	waitpid(child, &st, 0);
	usleep(100000); /* the timer's last records: no writer may run during a reset */
	tap(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "poll is woken by a switch in hardirq context (hrtimer writer)");
	close(fd);
}

/*
 * Wakeup stress: a hardirq writer finishes a sub-buffer every 2 ms (two
 * 256-byte records a millisecond apart, 512-byte sub-buffers), 1000 times;
 * the reader drains, then sleeps in poll() again. A lost wakeup shows as a
 * poll that times out while a finished sub-buffer waits.
 */
static void poll_wakeup_stress(void)
{
	const size_t total = 2000 * 256;
	struct pollfd p = { .fd = open_buf(), .events = POLLIN };
	unsigned char b[MAX];
	int wakeups = 0, timeouts = 0;
	size_t got = 0;
	ssize_t n;

	while (read(p.fd, b, sizeof(b)) > 0)
		;
	ctl("hrtimer 256 2000");
	/* The last sub-buffer fills without finishing: the flush below ends it. */
	while (got < total - 512) {
		if (poll(&p, 1, 5000) != 1) {
			timeouts++;
			break;
		}
		wakeups++;
		while ((n = read(p.fd, b, sizeof(b))) > 0)
			got += n;
	}
	usleep(200000); /* the timer's last records */
	ctl("flush");
	while ((n = read(p.fd, b, sizeof(b))) > 0)
		got += n;
	tap(!timeouts && got == total && wakeups > 0,
	    "poll wakeup stress: %d wakeups, %zu of %zu bytes, %d lost", wakeups, got, total,
	    timeouts);
	close(p.fd);
}

static void after_close(void)
{
	unsigned char b[MAX];
	int fd = open_buf();
	void *m;

	produce();
	ctl("close");
	errno = 0;
	m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
	tap(m == MAP_FAILED && errno == ENODEV, "mmap after close: ENODEV");
	size_t n = read_upto(fd, b, sizeof(b));

	tap(n == 4919, "read after close drains the data (%zu bytes)", n);
	tap(read(fd, b, sizeof(b)) == 0, "then read returns 0");
	close(fd);
	ctl("open");
}

/* Overwrite mode: a reader that fell behind loses whole sub-buffers, counted. */
/*
 * The figures of buffer @cpu in the stats view of channel "buf" (cpu
 * produced consumed bytes_written bytes_read full big dropped overwritten
 * lost); false when there is no such row.
 */
static bool buf_stats(int cpu, long long v[10])
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/sys/kernel/debug/rrelay/buf/stats", "r");

	while (f && !found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%lld %lld %lld %lld %lld %lld %lld %lld %lld %lld",
			       &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8],
			       &v[9]) == 10 && v[0] == cpu;
	if (f)
		fclose(f);
	return found;
}

/*
 * Zero-copy splice lends the sub-buffers' pages to the pipe: the writer gets
 * them back (the stats view's consumed) only once the pipe lets go of them.
 */
static void splice_lends_pages(void)
{
	long long held[10] = {0}, back[10] = {0};
	int fd = open_buf(), p[2];
	ssize_t n;

	produce();
	if (pipe(p))
		bail("pipe");
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	n = splice(fd, NULL, p[1], NULL, MAX, SPLICE_F_NONBLOCK);
	buf_stats(0, held);
	tap(n == 4919 && held[1] > 0 && held[2] == 0,
	    "spliced sub-buffers stay lent to the pipe (%zd bytes, %lld finished, %lld back)",
	    n, held[1], held[2]);
	read_upto(p[0], got, n > 0 ? n : 0);
	buf_stats(0, back);
	tap(n > 0 && !memcmp(got, ref, n) && back[2] == held[1],
	    "the pipe delivers the stream, and the writer gets the sub-buffers back once it is read (%lld)",
	    back[2]);
	close(p[0]);
	close(p[1]);
	close(fd);
}

/*
 * The meta page (offset mmap_size) shows the counts and the sub-buffer
 * handed out; one is handed out at a time, and given back once.
 */
static void next_subbuf_protocol(void)
{
	struct rrelay_geometry g;
	struct rrelay_next nx = {0};
	volatile struct rrelay_meta *m;
	long long v[10] = {0};
	int fd = open_buf(), busy, held, again;
	unsigned char *map;

	produce();
	if (ioctl(fd, RRELAY_IOC_GET_GEOMETRY, &g))
		bail("GET_GEOMETRY");
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, g.mmap_size);
	map = mmap(NULL, g.mmap_size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED || map == MAP_FAILED)
		bail("mmap meta and data");
	buf_stats(0, v);
	tap(m->version == RRELAY_META_VERSION && m->subbuf_size == 512 && m->n_subbufs == 16 &&
	    m->produced == (unsigned long long)v[1] && m->consumed == 0,
	    "meta page: version %llu, %llu x %llu, produced %llu (stats %lld), consumed %llu",
	    m->version, m->subbuf_size, m->n_subbufs, m->produced, v[1], m->consumed);
	held = ioctl(fd, RRELAY_IOC_GET_NEXT_SUBBUF, &nx);
	busy = ioctl(fd, RRELAY_IOC_GET_NEXT_SUBBUF, &nx) < 0 && errno == EBUSY;
	tap(!held && busy && m->reader_held == 1 && m->reader_subbuf == nx.subbuf &&
	    m->reader_offset == nx.offset && m->reader_len == nx.len && nx.len > 0 &&
	    !memcmp(map + nx.offset, ref, nx.len),
	    "GET_NEXT_SUBBUF hands out sub-buffer %llu (%llu bytes at %llu), in the meta page; EBUSY again",
	    nx.subbuf, nx.len, nx.offset);
	again = ioctl(fd, RRELAY_IOC_PUT_NEXT_SUBBUF);
	tap(!again && ioctl(fd, RRELAY_IOC_PUT_NEXT_SUBBUF) < 0 && errno == EINVAL &&
	    m->reader_held == 0 && m->consumed == 1,
	    "PUT_NEXT_SUBBUF gives it back (consumed %llu); once only (EINVAL)", m->consumed);
	munmap((void *)m, 4096);
	munmap(map, g.mmap_size);
	close(fd);
}

/* Record k of @len bytes, as relay_test_client.c writes it (fill_record). */
static bool is_record(const unsigned char *p, size_t len, unsigned int k)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (i < 4 ? (k >> (8 * i)) & 0xff : (unsigned char)(k * 7 + i)))
			return false;
	return true;
}

/*
 * In overwrite mode too, the writer never starts a sub-buffer whose pages a
 * pipe holds: it drops (and counts) instead, and the pipe's bytes stay put.
 */
static void overwrite_spares_lent_pages(void)
{
	long long v[10] = {0};
	unsigned char b[3 * 512];
	int fd, p[2], k;
	bool same = true;
	ssize_t n;

	if (sh("insmod %s default_files=1 overwrite=1 subbuf_size=512 n_subbufs=4", CLIENT))
		bail("insmod client");
	/* Three of the four sub-buffers; the flush starts the fourth. */
	ctl("write 256 6");
	ctl("flush");
	fd = open_buf();
	if (pipe(p))
		bail("pipe");
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	n = splice(fd, NULL, p[1], NULL, MAX, SPLICE_F_NONBLOCK);
	/* Ten laps' worth: every switch finds the next slot lent. */
	ctl("write 256 80");
	buf_stats(0, v);
	read_upto(p[0], b, n > 0 ? n : 0);
	for (k = 0; k < 6 && n == sizeof(b); k++)
		same &= is_record(b + 256 * k, 256, k);
	tap(n == sizeof(b) && same && v[7] > 0 && v[8] == 0,
	    "overwrite mode: lent pages stay (spliced %zd, intact %d, dropped %lld, overwritten %lld)",
	    n, same, v[7], v[8]);
	close(p[0]);
	close(p[1]);
	close(fd);
	if (sh("rmmod rrelay_test_client"))
		bail("rmmod");
}

/*
 * In overwrite mode, a sub-buffer held by an mmap reader is out of the
 * writer's reach: it drops records rather than overwrite it, until it is
 * given back.
 */
static void overwrite_spares_a_held_subbuf(void)
{
	struct rrelay_geometry g;
	struct rrelay_next nx = {0};
	long long v[10] = {0}, produced;
	unsigned char *map;
	int fd, k;
	bool same = true;

	if (sh("insmod %s default_files=1 overwrite=1 subbuf_size=512 n_subbufs=4", CLIENT))
		bail("insmod client");
	ctl("write 256 6");
	ctl("flush");
	fd = open_buf();
	if (ioctl(fd, RRELAY_IOC_GET_GEOMETRY, &g))
		bail("GET_GEOMETRY");
	map = mmap(NULL, g.mmap_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED || ioctl(fd, RRELAY_IOC_GET_NEXT_SUBBUF, &nx))
		bail("mmap and GET_NEXT_SUBBUF");
	ctl("write 256 16");
	buf_stats(0, v);
	for (k = 0; k < 2; k++)
		same &= is_record(map + nx.offset + 256 * k, 256, k);
	tap(nx.subbuf == 0 && nx.len == 512 && same && v[7] == 14 && v[8] == 0,
	    "overwrite mode: a held sub-buffer stays (intact %d, dropped %lld, overwritten %lld)",
	    same, v[7], v[8]);
	if (ioctl(fd, RRELAY_IOC_PUT_NEXT_SUBBUF))
		bail("PUT_NEXT_SUBBUF");
	produced = v[1];
	ctl("write 256 2");
	ctl("flush");
	buf_stats(0, v);
	tap(v[7] == 14 && v[1] == produced + 1,
	    "given back, the writer starts its slot again (produced %lld, then %lld; dropped %lld)",
	    produced, v[1], v[7]);
	munmap(map, g.mmap_size);
	close(fd);
	if (sh("rmmod rrelay_test_client"))
		bail("rmmod");
}

static void overwrite_loss(void)
{
	long long lost = -1, overwritten = -1, v[10];
	unsigned char b[MAX];
	size_t n;
	int fd;

	if (sh("insmod %s default_files=1 global=1 overwrite=1 subbuf_size=512 n_subbufs=4",
	       CLIENT))
		bail("insmod client");
	ctl("write 512 10");
	fd = open_buf();
	n = read_upto(fd, b, sizeof(b));
	tap(n == 4 * 512 && b[0] == 6,
	    "a lagging reader resumes at the oldest intact sub-buffer (record %u, %zu bytes)",
	    b[0], n);
	if (buf_stats(0, v)) {
		overwritten = v[8];
		lost = v[9];
	}
	tap(lost == 6 && overwritten == 6,
	    "the 6 overwritten sub-buffers are reported: overwritten %lld, lost %lld",
	    overwritten, lost);
	close(fd);
	if (sh("rmmod rrelay_test_client"))
		bail("rmmod");
}

int main(void)
{
	load_rrelay();
	pin_to_cpu(0);
	if (sh("insmod " CLIENT " default_files=1 subbuf_size=512 n_subbufs=16"))
		bail("insmod client");
	same_stream("per-cpu");
	splice_full_pipe();
	sendfile_to_file_or_socket_refused();
	splice_lends_pages();
	next_subbuf_protocol();
	bad_inputs();
	finished_only();
	hardirq_wakeup();
	after_close();
	if (sh("rmmod rrelay_test_client"))
		bail("rmmod");
	if (sh("insmod " CLIENT " default_files=1 global=1 subbuf_size=512 n_subbufs=16"))
		bail("insmod client");
	tap(keyval("/sys/kernel/debug/rrelay/buf/stats", "global") == 1 &&
	    keyval("/sys/kernel/debug/rrelay/buf/stats", "buffers") == 1,
	    "global: one buffer, and the stats view says so");
	same_stream("global");
	poll_wakeup_stress();
	if (sh("rmmod rrelay_test_client"))
		bail("rmmod");
	if (sh("insmod " CLIENT " helper_files=1 subbuf_size=512 n_subbufs=16"))
		bail("insmod client");
	same_stream("client files via rrelay_create_buf_file");
	if (sh("rmmod rrelay_test_client"))
		bail("rmmod");
	overwrite_loss();
	overwrite_spares_lent_pages();
	overwrite_spares_a_held_subbuf();
	return tap_done();
}
