// SPDX-License-Identifier: GPL-2.0
/*
 * The ways to drain an rrelay buffer deliver the same bytes: read(), readv(),
 * mmap with the uapi ioctls (GET_PADDING and PUT_CONSUMED, or the
 * GET_NEXT_SUBBUF/PUT_NEXT_SUBBUF protocol), splice into a pipe, sendfile
 * into a pipe; with per-CPU buffers, a global buffer, and a client's own
 * files (rrelay_create_buf_file). And the edges of each: splice on a full
 * pipe, partial transfers and SPLICE_F_NONBLOCK; sendfile to a file or a
 * device refused, consuming nothing; pages lent to a pipe until it lets go
 * of them; the meta page; every bad mmap and ioctl with its errno;
 * finished-only reads; a file read after its channel closed; poll woken
 * from hardirq, once and a thousand times; and overwrite mode, which loses
 * (and counts) the sub-buffers a lagging reader missed, but never one that
 * a pipe or an mmap reader holds.
 *
 * Each test gets the test client (tests/modules/relay_test_client.c)
 * freshly loaded, 16 sub-buffers of 512 bytes unless its fixture says
 * otherwise, on CPU 0.
 */
#define _GNU_SOURCE
#include <sched.h>

#include "kselftest_harness.h"
#include "util.h"

#include <linux/rrelay.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <sys/wait.h>

/* One result per behaviour; each check inside it says what it saw. */
#define CHECK(cond, fmt, ...) EXPECT_TRUE(cond) TH_LOG(fmt, ##__VA_ARGS__)
#define BAIL(what) ASSERT_TRUE(0) TH_LOG("%s: %s", what, strerror(errno))

#define D "/sys/kernel/debug/rrelay_test_client"
#define CTL D "/ctl"
#define STATS "/sys/kernel/debug/rrelay/buf/stats"
#define MAX (1 << 16)

/* What produce() writes: 30 x 100, 11 x 37, 4 x 250 and 1 x 512 bytes (4919). */
#define STREAM (3000 + 407 + 1000 + 512)

static unsigned char ref[MAX], got[MAX];

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/*
 * The set-up of every fixture: rrelay, and the test client loaded afresh
 * with @params; buf0 opened into *@fd when @open_now (else *@fd is -1).
 */
static void load_client(struct __test_metadata *_metadata, const char *params, int *fd,
			bool open_now)
{
	*fd = -1;
	ASSERT_EQ(0, pin(0));
	ASSERT_EQ(0, sh("grep -q '^rrelay ' /proc/modules || insmod /opt/modules/rrelay.ko"));
	sh("rmmod rrelay_test_client 2>/dev/null");
	ASSERT_EQ(0, sh("insmod /opt/modules/rrelay_test_client.ko %s", params))
		TH_LOG("insmod rrelay_test_client %s", params);
	if (open_now) {
		*fd = open(D "/buf0", O_RDONLY);
		ASSERT_LE(0, *fd) TH_LOG("open buf0: %s", strerror(errno));
	}
}

/* The tear-down of every fixture: the file closed, then the client unloads. */
static void unload_client(struct __test_metadata *_metadata, int fd)
{
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(0, sh("rmmod rrelay_test_client")) TH_LOG("rmmod rrelay_test_client");
}

static void ctl(struct __test_metadata *_metadata, const char *cmd)
{
	ASSERT_EQ(0, put(CTL, cmd)) TH_LOG("%s: %s", CTL, cmd);
}

static int open_buf(struct __test_metadata *_metadata)
{
	int fd = open(D "/buf0", O_RDONLY);

	if (fd < 0)
		BAIL("open buf0");
	return fd;
}

/* The same data each time: reset, restart the sequence, write, flush. */
static void produce(struct __test_metadata *_metadata)
{
	ctl(_metadata, "reset");
	ctl(_metadata, "seq 0");
	ctl(_metadata, "write 100 30");
	ctl(_metadata, "write 37 11");
	ctl(_metadata, "write 250 4");
	ctl(_metadata, "write 512 1");
	ctl(_metadata, "flush");
}

/*
 * The reference stream, in ref: what produce() writes, drained with read();
 * returns its length, all STREAM bytes (or the test stops here).
 */
static size_t reference(struct __test_metadata *_metadata, int fd)
{
	size_t n;

	produce(_metadata);
	n = read_upto(fd, ref, MAX);
	ASSERT_EQ(STREAM, n) TH_LOG("read() drains all %d bytes written (%zu)", STREAM, n);
	return n;
}

/*
 * The figures of buffer @cpu in the stats view of channel "buf" (cpu
 * produced consumed bytes_written bytes_read full big dropped overwritten
 * lost); false when there is no such row.
 */
static bool buf_stats(int cpu, long long v[10])
{
	char line[256];
	bool found = false;
	FILE *f = fopen(STATS, "r");

	while (f && !found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%lld %lld %lld %lld %lld %lld %lld %lld %lld %lld",
			       &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8],
			       &v[9]) == 10 && v[0] == cpu;
	if (f)
		fclose(f);
	return found;
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

/* The drains (drain_*): each empties buffer @fd into @out, returns the bytes it got. */

/* readv() (read_iter) into vectors of odd sizes that split records and sub-buffers. */
static size_t drain_readv(struct __test_metadata *_metadata, int fd, unsigned char *out)
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

/* The mapping, read slot by slot with GET_POSITIONS, GET_PADDING and PUT_CONSUMED. */
static size_t drain_mmap(struct __test_metadata *_metadata, int fd, unsigned char *out)
{
	struct rrelay_geometry g;
	struct rrelay_positions p;
	struct rrelay_padding pad;
	size_t got = 0;
	unsigned char *map;
	__u64 k, one = 1;

	if (ioctl(fd, RRELAY_IOC_GET_GEOMETRY, &g))
		BAIL("GET_GEOMETRY");
	map = mmap(NULL, g.mmap_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		BAIL("mmap");
	if (ioctl(fd, RRELAY_IOC_GET_POSITIONS, &p))
		BAIL("GET_POSITIONS");
	for (k = p.consumed; k < p.produced; k++) {
		pad.subbuf = k % g.n_subbufs;
		if (ioctl(fd, RRELAY_IOC_GET_PADDING, &pad))
			BAIL("GET_PADDING");
		memcpy(out + got, map + pad.subbuf * g.subbuf_size, g.subbuf_size - pad.padding);
		got += g.subbuf_size - pad.padding;
		if (ioctl(fd, RRELAY_IOC_PUT_CONSUMED, &one))
			BAIL("PUT_CONSUMED");
	}
	munmap(map, g.mmap_size);
	return got;
}

/* The sub-buffer protocol: GET_NEXT_SUBBUF, copy from the mapping, PUT_NEXT_SUBBUF. */
static size_t drain_next(struct __test_metadata *_metadata, int fd, unsigned char *out)
{
	struct rrelay_geometry g;
	struct rrelay_next nx;
	unsigned char *map;
	size_t got = 0;

	if (ioctl(fd, RRELAY_IOC_GET_GEOMETRY, &g))
		BAIL("GET_GEOMETRY");
	map = mmap(NULL, g.mmap_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		BAIL("mmap");
	while (!ioctl(fd, RRELAY_IOC_GET_NEXT_SUBBUF, &nx) && got + nx.len <= MAX) {
		memcpy(out + got, map + nx.offset, nx.len);
		got += nx.len;
		if (ioctl(fd, RRELAY_IOC_PUT_NEXT_SUBBUF))
			BAIL("PUT_NEXT_SUBBUF");
	}
	if (errno != EAGAIN)
		TH_LOG("GET_NEXT_SUBBUF: %s", strerror(errno));
	munmap(map, g.mmap_size);
	return got;
}

static size_t drain_splice(struct __test_metadata *_metadata, int fd, unsigned char *out)
{
	int p[2];
	size_t got = 0;
	ssize_t n;

	if (pipe(p))
		BAIL("pipe");
	while ((n = splice(fd, NULL, p[1], NULL, MAX, SPLICE_F_NONBLOCK)) > 0)
		got += read_upto(p[0], out + got, n);
	close(p[0]);
	close(p[1]);
	return got;
}

/* sendfile into a pipe: lossless (the data stays in the caller's pipe). */
static size_t drain_sendfile(struct __test_metadata *_metadata, int fd, unsigned char *out)
{
	int p[2];
	size_t got = 0;
	ssize_t n;

	if (pipe(p))
		BAIL("pipe");
	while ((n = sendfile(p[1], fd, NULL, MAX)) > 0)
		got += read_upto(p[0], out + got, n);
	if (n < 0)
		TH_LOG("sendfile: %s", strerror(errno));
	close(p[0]);
	close(p[1]);
	return got;
}

/*
 * Every drain, in each way the client can have its buffers: per-CPU and
 * global, in rrelay's own files or in files the client creates with
 * rrelay_create_buf_file().
 */
FIXTURE(stream) {
	int fd;
};

FIXTURE_VARIANT(stream) {
	const char *params;
};

FIXTURE_VARIANT_ADD(stream, per_cpu) {
	.params = "default_files=1 subbuf_size=512 n_subbufs=16",
};

FIXTURE_VARIANT_ADD(stream, global) {
	.params = "default_files=1 global=1 subbuf_size=512 n_subbufs=16",
};

FIXTURE_VARIANT_ADD(stream, client_files) {
	.params = "helper_files=1 subbuf_size=512 n_subbufs=16",
};

FIXTURE_SETUP(stream)
{
	load_client(_metadata, variant->params, &self->fd, true);
}

FIXTURE_TEARDOWN(stream)
{
	unload_client(_metadata, self->fd);
}

TEST_F(stream, read)
{
	size_t n;

	produce(_metadata);
	n = read_upto(self->fd, ref, MAX);
	CHECK(n == STREAM, "read() drains all %zu bytes written", n);
}

/*
 * The bytes @drain gets from what produce() writes are the read() stream,
 * and it leaves nothing behind.
 */
static void same_stream(struct __test_metadata *_metadata, int fd, const char *name,
			size_t (*drain)(struct __test_metadata *_metadata, int fd,
					unsigned char *out))
{
	size_t nref = reference(_metadata, fd), n;

	produce(_metadata);
	n = drain(_metadata, fd, got);
	CHECK(n == nref && !memcmp(ref, got, n), "%s delivers the read() stream (%zu bytes)",
	      name, n);
	CHECK(read(fd, got, MAX) == 0, "%s consumed everything", name);
}

TEST_F(stream, readv)
{
	same_stream(_metadata, self->fd, "readv", drain_readv);
}

TEST_F(stream, mmap_ioctl)
{
	same_stream(_metadata, self->fd, "mmap+ioctl", drain_mmap);
}

TEST_F(stream, mmap_next)
{
	same_stream(_metadata, self->fd, "mmap+next", drain_next);
}

TEST_F(stream, splice)
{
	same_stream(_metadata, self->fd, "splice", drain_splice);
}

TEST_F(stream, sendfile)
{
	same_stream(_metadata, self->fd, "sendfile", drain_sendfile);
}

/* Per-CPU buffers in rrelay's own files, buf0 open. */
FIXTURE(reader) {
	int fd;
};

FIXTURE_SETUP(reader)
{
	load_client(_metadata, "default_files=1 subbuf_size=512 n_subbufs=16", &self->fd, true);
}

FIXTURE_TEARDOWN(reader)
{
	unload_client(_metadata, self->fd);
}

TEST_F(reader, splice_full_pipe)
{
	int fd = self->fd, p[2];
	size_t total = 0;
	ssize_t n;

	reference(_metadata, fd);
	if (pipe(p))
		BAIL("pipe");
	fcntl(p[1], F_SETPIPE_SZ, 4096);
	produce(_metadata);
	n = splice(fd, NULL, p[1], NULL, MAX, SPLICE_F_NONBLOCK);
	CHECK(n > 0 && n <= 4096, "splice into a 4 KiB pipe moves at most 4 KiB (%zd)", n);
	errno = 0;
	CHECK(splice(fd, NULL, p[1], NULL, MAX, SPLICE_F_NONBLOCK) < 0 && errno == EAGAIN,
	      "splice into a full pipe with SPLICE_F_NONBLOCK: EAGAIN (%s)", strerror(errno));
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	total = read_upto(p[0], got, n);
	while ((n = splice(fd, NULL, p[1], NULL, 1000, 0)) > 0)
		total += read_upto(p[0], got + total, n);
	CHECK(total == STREAM && !memcmp(got, ref, total),
	      "partial splices of at most 1000 bytes still deliver the exact stream (%zu)", total);
	close(p[0]);
	close(p[1]);
}

/*
 * sendfile to a file or socket goes through the kernel's internal pipe,
 * which throws away what a short write leaves (a full disk, a socket
 * closed early): those bytes would be consumed and lost. rrelay refuses it
 * (EINVAL) and consumes nothing.
 */
static void sendfile_refused(struct __test_metadata *_metadata, int fd, const char *path,
			     int flags, const char *what)
{
	int out = open(path, flags, 0600);
	ssize_t n;

	if (out < 0)
		BAIL(path);
	reference(_metadata, fd);
	produce(_metadata);
	errno = 0;
	n = sendfile(out, fd, NULL, MAX);
	CHECK(n < 0 && errno == EINVAL && read_upto(fd, got, MAX) == STREAM &&
	      !memcmp(got, ref, STREAM),
	      "sendfile to %s: EINVAL, and the data is still there (%s)", what, strerror(errno));
	close(out);
}

TEST_F(reader, sendfile_to_file_refused)
{
	sendfile_refused(_metadata, self->fd, "/tmp/sendfile.out", O_RDWR | O_CREAT | O_TRUNC,
			 "a regular file");
}

/*
 * A device that is always full (ENOSPC on every write): a disk that filled
 * up. (The test kernel has no networking for a socket.)
 */
TEST_F(reader, sendfile_to_full_device_refused)
{
	sendfile_refused(_metadata, self->fd, "/dev/full", O_WRONLY, "a full device (/dev/full)");
}

/*
 * Zero-copy splice lends the sub-buffers' pages to the pipe: the writer gets
 * them back (the stats view's consumed) only once the pipe lets go of them.
 */
TEST_F(reader, splice_lends_pages)
{
	long long held[10] = {0}, back[10] = {0};
	int fd = self->fd, p[2];
	ssize_t n;

	reference(_metadata, fd);
	produce(_metadata);
	if (pipe(p))
		BAIL("pipe");
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	n = splice(fd, NULL, p[1], NULL, MAX, SPLICE_F_NONBLOCK);
	buf_stats(0, held);
	CHECK(n == STREAM && held[1] > 0 && held[2] == 0,
	      "spliced sub-buffers stay lent to the pipe (%zd bytes, %lld finished, %lld back)",
	      n, held[1], held[2]);
	read_upto(p[0], got, n > 0 ? n : 0);
	buf_stats(0, back);
	CHECK(n > 0 && !memcmp(got, ref, n) && back[2] == held[1],
	      "the pipe delivers the stream, and the writer gets the sub-buffers back once it is read (%lld)",
	      back[2]);
	close(p[0]);
	close(p[1]);
}

/*
 * The meta page (offset mmap_size) shows the counts and the sub-buffer
 * handed out; one is handed out at a time, and given back once.
 */
TEST_F(reader, next_subbuf_protocol)
{
	struct rrelay_geometry g;
	struct rrelay_next nx = {0};
	volatile struct rrelay_meta *m;
	long long v[10] = {0};
	int fd = self->fd, busy, held, again;
	unsigned char *map;

	reference(_metadata, fd);
	produce(_metadata);
	if (ioctl(fd, RRELAY_IOC_GET_GEOMETRY, &g))
		BAIL("GET_GEOMETRY");
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, g.mmap_size);
	map = mmap(NULL, g.mmap_size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED || map == MAP_FAILED)
		BAIL("mmap meta and data");
	buf_stats(0, v);
	CHECK(m->version == RRELAY_META_VERSION && m->subbuf_size == 512 && m->n_subbufs == 16 &&
	      m->produced == (unsigned long long)v[1] && m->consumed == 0,
	      "meta page: version %llu, %llu x %llu, produced %llu (stats %lld), consumed %llu",
	      m->version, m->subbuf_size, m->n_subbufs, m->produced, v[1], m->consumed);
	held = ioctl(fd, RRELAY_IOC_GET_NEXT_SUBBUF, &nx);
	busy = ioctl(fd, RRELAY_IOC_GET_NEXT_SUBBUF, &nx) < 0 && errno == EBUSY;
	CHECK(!held && busy && m->reader_held == 1 && m->reader_subbuf == nx.subbuf &&
	      m->reader_offset == nx.offset && m->reader_len == nx.len && nx.len > 0 &&
	      !memcmp(map + nx.offset, ref, nx.len),
	      "GET_NEXT_SUBBUF hands out sub-buffer %llu (%llu bytes at %llu), in the meta page; EBUSY again",
	      nx.subbuf, nx.len, nx.offset);
	again = ioctl(fd, RRELAY_IOC_PUT_NEXT_SUBBUF);
	CHECK(!again && ioctl(fd, RRELAY_IOC_PUT_NEXT_SUBBUF) < 0 && errno == EINVAL &&
	      m->reader_held == 0 && m->consumed == 1,
	      "PUT_NEXT_SUBBUF gives it back (consumed %llu); once only (EINVAL)", m->consumed);
	munmap((void *)m, 4096);
	munmap(map, g.mmap_size);
}

TEST_F(reader, geometry)
{
	struct rrelay_geometry g;

	if (ioctl(self->fd, RRELAY_IOC_GET_GEOMETRY, &g))
		BAIL("GET_GEOMETRY");
	CHECK(g.subbuf_size == 512 && g.n_subbufs == 16 && g.mmap_size == 8192,
	      "GET_GEOMETRY: 512 x 16, 8192 bytes to map (%llu x %llu, %llu)", g.subbuf_size,
	      g.n_subbufs, g.mmap_size);
}

/* A mapping is of the whole buffer (8192 bytes), at offset 0. */
TEST_F(reader, mmap_bad_geometry)
{
	void *m;

	errno = 0;
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->fd, 0);
	CHECK(m == MAP_FAILED && errno == EINVAL, "mmap of part of the buffer: EINVAL");
	errno = 0;
	m = mmap(NULL, 2 * 8192, PROT_READ, MAP_SHARED, self->fd, 0);
	CHECK(m == MAP_FAILED && errno == EINVAL, "mmap beyond the buffer: EINVAL");
	errno = 0;
	m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, self->fd, 4096);
	CHECK(m == MAP_FAILED && errno == EINVAL, "mmap at a non-zero offset: EINVAL");
}

TEST_F(reader, mmap_read_only)
{
	void *m;

	errno = 0;
	m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	CHECK(m == MAP_FAILED && errno == EACCES,
	      "writable shared mmap: EACCES (file is read-only)");
	m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, self->fd, 0);
	if (m == MAP_FAILED)
		BAIL("read-only mmap of the whole buffer");
	errno = 0;
	CHECK(mprotect(m, 8192, PROT_READ | PROT_WRITE) < 0 && errno == EACCES,
	      "mprotect to writable afterwards: EACCES");
	munmap(m, 8192);
}

TEST_F(reader, ioctl_bad_inputs)
{
	struct rrelay_padding pad = { .subbuf = 99 };
	__u64 many = 1000;
	int fd = self->fd;

	errno = 0;
	CHECK(ioctl(fd, _IO(RRELAY_IOC_MAGIC, 99)) < 0 && errno == ENOTTY,
	      "unknown ioctl: ENOTTY");
	errno = 0;
	CHECK(ioctl(fd, RRELAY_IOC_GET_PADDING, &pad) < 0 && errno == EINVAL,
	      "GET_PADDING of a slot beyond the ring: EINVAL");
	errno = 0;
	CHECK(ioctl(fd, RRELAY_IOC_PUT_CONSUMED, &many) < 0 && errno == EINVAL,
	      "PUT_CONSUMED of more than is ready: EINVAL");
	errno = 0;
	CHECK(ioctl(fd, RRELAY_IOC_GET_POSITIONS, (void *)8) < 0 && errno == EFAULT,
	      "GET_POSITIONS to a bad pointer: EFAULT");
}

/*
 * RRELAY_FLAG_FINISHED_ONLY: the sub-buffer being written stays unread, by
 * read() and by the mapping's GET_POSITIONS.
 */
TEST_F(reader, finished_only)
{
	unsigned char b[MAX];
	__u64 flags = RRELAY_FLAG_FINISHED_ONLY, none = 0, bad = 2;
	struct rrelay_positions pos = { 0 };
	int fd = self->fd;

	while (read(fd, b, sizeof(b)) > 0)
		;
	CHECK(ioctl(fd, RRELAY_IOC_SET_FLAGS, &flags) == 0, "SET_FLAGS finished-only");
	ctl(_metadata, "write 100 3");
	CHECK(read(fd, b, sizeof(b)) == 0,
	      "finished-only: a partly filled sub-buffer reads as empty");
	CHECK(ioctl(fd, RRELAY_IOC_GET_POSITIONS, &pos) == 0 && pos.offset == 0,
	      "finished-only: GET_POSITIONS shows none of it (offset %llu)",
	      (unsigned long long)pos.offset);
	ctl(_metadata, "write 300 1");
	CHECK(read(fd, b, sizeof(b)) == 300,
	      "finished-only: the finished sub-buffer reads (300 bytes)");
	CHECK(ioctl(fd, RRELAY_IOC_SET_FLAGS, &none) == 0 &&
	      ioctl(fd, RRELAY_IOC_GET_POSITIONS, &pos) == 0 && pos.offset == 300,
	      "flags 0: GET_POSITIONS shows the current sub-buffer's 300 bytes (%llu)",
	      (unsigned long long)pos.offset);
	CHECK(read(fd, b, sizeof(b)) == 300,
	      "flags 0: the rest of the current sub-buffer reads too");
	errno = 0;
	CHECK(ioctl(fd, RRELAY_IOC_SET_FLAGS, &bad) < 0 && errno == EINVAL,
	      "SET_FLAGS with an unknown flag: EINVAL");
}

TEST_F(reader, hardirq_wakeup)
{
	unsigned char b[MAX];
	struct pollfd p;
	pid_t child;
	int st = -1, fd = self->fd;

	while (read(fd, b, sizeof(b)) > 0)
		;
	child = fork();
	if (child == 0) {
		p.fd = fd;
		p.events = POLLIN;
		_exit(poll(&p, 1, 10000) == 1 && (p.revents & POLLIN) ? 0 : 1);
	}
	if (child < 0)
		BAIL("fork");
	usleep(200000);
	ctl(_metadata, "hrtimer 200 4");
	waitpid(child, &st, 0);
	usleep(100000); /* the timer's last records: no writer may run during the unload */
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "poll is woken by a switch in hardirq context (hrtimer writer)");
}

/* A file still open when its channel closes keeps its data, and refuses mappings. */
TEST_F(reader, after_close)
{
	unsigned char b[MAX];
	int fd = self->fd;
	size_t n;
	void *m;

	produce(_metadata);
	ctl(_metadata, "close");
	errno = 0;
	m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(m == MAP_FAILED && errno == ENODEV, "mmap after close: ENODEV");
	n = read_upto(fd, b, sizeof(b));
	CHECK(n == STREAM, "read after close drains the data (%zu bytes)", n);
	CHECK(read(fd, b, sizeof(b)) == 0, "then read returns 0");
	ctl(_metadata, "open");
}

/* One global buffer, in rrelay's own files, buf0 open. */
FIXTURE(global_reader) {
	int fd;
};

FIXTURE_SETUP(global_reader)
{
	load_client(_metadata, "default_files=1 global=1 subbuf_size=512 n_subbufs=16",
		    &self->fd, true);
}

FIXTURE_TEARDOWN(global_reader)
{
	unload_client(_metadata, self->fd);
}

TEST_F(global_reader, stats_view)
{
	CHECK(keyval(STATS, "global") == 1 && keyval(STATS, "buffers") == 1,
	      "global: one buffer, and the stats view says so");
}

/*
 * Wakeup stress: a hardirq writer finishes a sub-buffer every 2 ms (two
 * 256-byte records a millisecond apart, 512-byte sub-buffers), 1000 times;
 * the reader drains, then sleeps in poll() again. A lost wakeup shows as a
 * poll that times out while a finished sub-buffer waits.
 */
TEST_F(global_reader, poll_wakeup_stress)
{
	const size_t total = 2000 * 256;
	struct pollfd p = { .fd = self->fd, .events = POLLIN };
	unsigned char b[MAX];
	int wakeups = 0, timeouts = 0;
	size_t got = 0;
	ssize_t n;

	while (read(p.fd, b, sizeof(b)) > 0)
		;
	ctl(_metadata, "hrtimer 256 2000");
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
	ctl(_metadata, "flush");
	while ((n = read(p.fd, b, sizeof(b))) > 0)
		got += n;
	CHECK(!timeouts && got == total && wakeups > 0,
	      "poll wakeup stress: %d wakeups, %zu of %zu bytes, %d lost", wakeups, got, total,
	      timeouts);
}

/* Overwrite mode, per-CPU buffers of 4 sub-buffers of 512 bytes; buf0 not yet open. */
FIXTURE(overwrite) {
	int fd;
};

FIXTURE_SETUP(overwrite)
{
	load_client(_metadata, "default_files=1 overwrite=1 subbuf_size=512 n_subbufs=4",
		    &self->fd, false);
}

FIXTURE_TEARDOWN(overwrite)
{
	unload_client(_metadata, self->fd);
}

/*
 * In overwrite mode too, the writer never starts a sub-buffer whose pages a
 * pipe holds: it drops (and counts) instead, and the pipe's bytes stay put.
 */
TEST_F(overwrite, lent_pages_stay)
{
	long long v[10] = {0};
	unsigned char b[3 * 512];
	int p[2], k;
	bool same = true;
	ssize_t n;

	/* Three of the four sub-buffers; the flush starts the fourth. */
	ctl(_metadata, "write 256 6");
	ctl(_metadata, "flush");
	self->fd = open_buf(_metadata);
	if (pipe(p))
		BAIL("pipe");
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	n = splice(self->fd, NULL, p[1], NULL, MAX, SPLICE_F_NONBLOCK);
	/* Ten laps' worth: every switch finds the next slot lent. */
	ctl(_metadata, "write 256 80");
	buf_stats(0, v);
	read_upto(p[0], b, n > 0 ? n : 0);
	for (k = 0; k < 6 && n == sizeof(b); k++)
		same &= is_record(b + 256 * k, 256, k);
	CHECK(n == sizeof(b) && same && v[7] > 0 && v[8] == 0,
	      "overwrite mode: lent pages stay (spliced %zd, intact %d, dropped %lld, overwritten %lld)",
	      n, same, v[7], v[8]);
	close(p[0]);
	close(p[1]);
}

/*
 * In overwrite mode, a sub-buffer held by an mmap reader is out of the
 * writer's reach: it drops records rather than overwrite it, until it is
 * given back.
 */
TEST_F(overwrite, held_subbuf_stays)
{
	struct rrelay_geometry g;
	struct rrelay_next nx = {0};
	long long v[10] = {0}, produced;
	unsigned char *map;
	int fd, k;
	bool same = true;

	ctl(_metadata, "write 256 6");
	ctl(_metadata, "flush");
	self->fd = open_buf(_metadata);
	fd = self->fd;
	if (ioctl(fd, RRELAY_IOC_GET_GEOMETRY, &g))
		BAIL("GET_GEOMETRY");
	map = mmap(NULL, g.mmap_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED || ioctl(fd, RRELAY_IOC_GET_NEXT_SUBBUF, &nx))
		BAIL("mmap and GET_NEXT_SUBBUF");
	ctl(_metadata, "write 256 16");
	buf_stats(0, v);
	for (k = 0; k < 2; k++)
		same &= is_record(map + nx.offset + 256 * k, 256, k);
	CHECK(nx.subbuf == 0 && nx.len == 512 && same && v[7] == 14 && v[8] == 0,
	      "overwrite mode: a held sub-buffer stays (intact %d, dropped %lld, overwritten %lld)",
	      same, v[7], v[8]);
	if (ioctl(fd, RRELAY_IOC_PUT_NEXT_SUBBUF))
		BAIL("PUT_NEXT_SUBBUF");
	produced = v[1];
	ctl(_metadata, "write 256 2");
	ctl(_metadata, "flush");
	buf_stats(0, v);
	CHECK(v[7] == 14 && v[1] == produced + 1,
	      "given back, the writer starts its slot again (produced %lld, then %lld; dropped %lld)",
	      produced, v[1], v[7]);
	munmap(map, g.mmap_size);
}

/* Overwrite mode, one global buffer of 4 sub-buffers of 512 bytes; buf0 not yet open. */
FIXTURE(overwrite_global) {
	int fd;
};

FIXTURE_SETUP(overwrite_global)
{
	load_client(_metadata, "default_files=1 global=1 overwrite=1 subbuf_size=512 n_subbufs=4",
		    &self->fd, false);
}

FIXTURE_TEARDOWN(overwrite_global)
{
	unload_client(_metadata, self->fd);
}

/* A reader that fell behind loses whole sub-buffers, counted. */
TEST_F(overwrite_global, lagging_reader_loses_oldest)
{
	long long lost = -1, overwritten = -1, v[10];
	unsigned char b[MAX];
	size_t n;

	ctl(_metadata, "write 512 10");
	self->fd = open_buf(_metadata);
	n = read_upto(self->fd, b, sizeof(b));
	CHECK(n == 4 * 512 && b[0] == 6,
	      "a lagging reader resumes at the oldest intact sub-buffer (record %u, %zu bytes)",
	      b[0], n);
	if (buf_stats(0, v)) {
		overwritten = v[8];
		lost = v[9];
	}
	CHECK(lost == 6 && overwritten == 6,
	      "the 6 overwritten sub-buffers are reported: overwritten %lld, lost %lld",
	      overwritten, lost);
}

TEST_HARNESS_MAIN
