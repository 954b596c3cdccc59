// SPDX-License-Identifier: GPL-2.0
/*
 * rrelay's buffer files as user space sees them: rrelay's own debugfs files
 * (mode 0400), refused opens, lseek and pread, EFAULT from read and from
 * every ioctl, empty reads, poll (POLLIN with POLLRDNORM) and its wakeup,
 * mappings (no writable private mapping, no growing with mremap), the
 * statistics view, a channel closed while its file is open, and CPU hotplug
 * while a channel is open. And the C API's promises as a client sees them
 * (tests/modules/relay_test_client.c): file callbacks come in pairs, NULL
 * channels and buffers are safe, a start reserve that leaves no room is
 * ignored.
 *
 * Each test gets the test client freshly loaded (per-CPU, rrelay's own
 * files, 4 sub-buffers of 256 bytes), on CPU 0.
 */
#define _GNU_SOURCE
#include <sched.h>

#include "kselftest_harness.h"
#include "util.h"

#include <linux/rrelay.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

/* One result per behaviour; each check inside it says what it saw. */
#define CHECK(cond, fmt, ...) EXPECT_TRUE(cond) TH_LOG(fmt, ##__VA_ARGS__)
#define BAIL(what) ASSERT_TRUE(0) TH_LOG("%s: %s", what, strerror(errno))

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

FIXTURE(files) {
	int unused;
};

FIXTURE_SETUP(files)
{
	ASSERT_EQ(0, pin(0));
	ASSERT_EQ(0, sh("grep -q '^rrelay ' /proc/modules || insmod /opt/modules/rrelay.ko"));
	sh("rmmod rrelay_test_client 2>/dev/null");
	ASSERT_EQ(0, sh("insmod /opt/modules/rrelay_test_client.ko default_files=1"));
}

FIXTURE_TEARDOWN(files)
{
	sh("rmmod rrelay_test_client 2>/dev/null");
}

#define D "/sys/kernel/debug/rrelay_test_client"
#define CTL D "/ctl"
#define STATS "/sys/kernel/debug/rrelay/buf/stats"

/* An unmapped address the compiler cannot see through (it may change elsewhere). */
void *bad_pointer = (void *)8;

static int exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

/* The errno of mapping one page of @fd so, or 0 (then unmapped again). */
static int mmap_errno(int fd, int prot, int flags)
{
	void *m = mmap(NULL, 4096, prot, flags, fd, 0);

	if (m == MAP_FAILED)
		return errno;
	munmap(m, 4096);
	return 0;
}

static int open_errno(const char *p, int flags)
{
	int fd = open(p, flags);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return errno;
}

TEST_F(files, files_and_errnos)
{
	unsigned char b[4096];
	struct stat st = { 0 };
	int fd;
	ssize_t n;

	int have = stat(D "/buf0", &st) == 0;

	CHECK(have && (st.st_mode & 0777) == 0400 && st.st_uid == 0,
	      "default buffer file buf0 is root's, mode 0400 (%o)", st.st_mode & 0777);
	CHECK(exists(D "/buf3") && !exists(D "/buf4"), "one file per online CPU (buf0..buf3)");
	CHECK(open_errno(D "/buf0", O_WRONLY) == EACCES, "open for writing: EACCES");
	CHECK(open_errno(D "/buf0", O_RDWR) == EACCES, "open read-write: EACCES");
	fd = open(D "/buf0", O_RDONLY);
	if (fd < 0)
		BAIL("open buf0");
	CHECK(lseek(fd, 0, SEEK_SET) < 0 && errno == ESPIPE, "lseek: ESPIPE");
	errno = 0;
	CHECK(pread(fd, b, sizeof(b), 0) < 0 && errno == ESPIPE, "pread: ESPIPE");
	CHECK(read(fd, b, sizeof(b)) == 0, "read of an empty buffer returns 0 at once");
	if (put(CTL, "write 100 3"))
		BAIL("write");
	errno = 0;
	CHECK(read(fd, bad_pointer, 100) < 0 && errno == EFAULT, "read into a bad pointer: EFAULT");
	n = read(fd, b, sizeof(b));
	CHECK(n == 300, "nothing was consumed by the failed read (then %zd of 300 bytes)", n);
	close(fd);
}

TEST_F(files, poll_and_wakeup)
{
	struct pollfd p;
	unsigned char b[4096];
	int fd = open(D "/buf0", O_RDONLY);
	pid_t child;
	int st;

	if (fd < 0)
		BAIL("open buf0");
	while (read(fd, b, sizeof(b)) > 0)
		;
	p.fd = fd;
	p.events = POLLIN;
	CHECK(poll(&p, 1, 0) == 0, "poll: nothing ready after draining");
	if (put(CTL, "write 50 1"))
		BAIL("write");
	CHECK(poll(&p, 1, 0) == 0, "poll: a partly filled sub-buffer is not ready");
	child = fork();
	if (child == 0) {
		p.revents = 0;
		_exit(poll(&p, 1, 10000) == 1 && (p.revents & POLLIN) ? 0 : 1);
	}
	usleep(300000);
	if (put(CTL, "write 250 1"))
		BAIL("write");
	waitpid(child, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "a reader blocked in poll is woken by a sub-buffer switch");
	CHECK(poll(&p, 1, 0) == 1 && (p.revents & POLLIN),
	      "poll: POLLIN once a sub-buffer is finished");
	p.events = POLLIN | POLLRDNORM;
	CHECK(poll(&p, 1, 0) == 1 && p.revents == (POLLIN | POLLRDNORM),
	      "poll: POLLRDNORM comes with POLLIN (revents %#x)", p.revents);
	p.events = POLLRDNORM;
	CHECK(poll(&p, 1, 0) == 1 && p.revents == POLLRDNORM,
	      "poll for POLLRDNORM alone reports it (revents %#x)", p.revents);
	close(fd);
}

/* Mappings: read-only, never writable (not even privately), never growing. */
TEST_F(files, mappings)
{
	int fd = open(D "/buf0", O_RDONLY), err;
	void *m, *m2;

	if (fd < 0)
		BAIL("open buf0");
	/* 4 sub-buffers of 256 bytes: one page. */
	err = mmap_errno(fd, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	CHECK(err == EPERM, "writable private mmap: EPERM (%s)", err ? strerror(err) : "mapped");
	CHECK(mmap_errno(fd, PROT_READ, MAP_PRIVATE) == 0,
	      "read-only private mmap of the same size works (control)");
	err = mmap_errno(fd, PROT_READ | PROT_EXEC, MAP_SHARED);
	CHECK(err == EPERM, "executable mmap: EPERM (%s)", err ? strerror(err) : "mapped");
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		BAIL("mmap buf0");
	errno = 0;
	CHECK(mprotect(m, 4096, PROT_READ | PROT_EXEC) && errno == EACCES,
	      "mprotect to executable: EACCES (VM_MAYEXEC cleared): %s", strerror(errno));
	errno = 0;
	m2 = mremap(m, 4096, 8192, MREMAP_MAYMOVE);
	CHECK(m2 == MAP_FAILED && errno == EFAULT,
	      "mremap cannot grow the mapping (VM_DONTEXPAND): %s",
	      m2 == MAP_FAILED ? strerror(errno) : "grown");
	munmap(m2 == MAP_FAILED ? m : m2, m2 == MAP_FAILED ? 4096 : 8192);
	close(fd);
}

/* Every ioctl of include/uapi/linux/rrelay.h takes a pointer: each faults. */
TEST_F(files, ioctl_efault)
{
	static const struct {
		unsigned long cmd;
		const char *name;
	} cmds[] = {
		{ RRELAY_IOC_GET_GEOMETRY, "GET_GEOMETRY" },
		{ RRELAY_IOC_GET_POSITIONS, "GET_POSITIONS" },
		{ RRELAY_IOC_GET_PADDING, "GET_PADDING" },
		{ RRELAY_IOC_PUT_CONSUMED, "PUT_CONSUMED" },
		{ RRELAY_IOC_SET_FLAGS, "SET_FLAGS" },
	};
	struct rrelay_geometry g;
	unsigned int i;
	int fd = open(D "/buf0", O_RDONLY);

	if (fd < 0)
		BAIL("open buf0");
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		errno = 0;
		CHECK(ioctl(fd, cmds[i].cmd, bad_pointer) < 0 && errno == EFAULT,
		      "%s with a bad pointer: EFAULT (%s)", cmds[i].name, strerror(errno));
	}
	CHECK(ioctl(fd, RRELAY_IOC_GET_GEOMETRY, &g) == 0 && g.subbuf_size == 256,
	      "GET_GEOMETRY with a good pointer works (control)");
	close(fd);
}

TEST_F(files, stats_view)
{
	CHECK(keyval(STATS, "subbuf_size") == 256 && keyval(STATS, "n_subbufs") == 4,
	      "rrelay/buf/stats shows the geometry");
	CHECK(keyval(STATS, "buffers") == 4 && keyval(STATS, "global") == 0,
	      "rrelay/buf/stats counts 4 per-CPU buffers");
}

/*
 * create_buf_file and remove_buf_file come in pairs: rrelay_open() refuses
 * either alone (each half would work if let through: the client's create
 * makes real files, and remove-only would get rrelay's default files).
 */
TEST_F(files, callback_pairs)
{
	if (put(CTL, "close"))
		BAIL("close");
	CHECK(put(CTL, "open create-only") == -EINVAL,
	      "create_buf_file without remove_buf_file: refused");
	CHECK(!exists(D "/buf0") && !exists("/sys/kernel/debug/rrelay/buf"),
	      "... and nothing is left behind");
	CHECK(put(CTL, "open remove-only") == -EINVAL,
	      "remove_buf_file without create_buf_file: refused");
	CHECK(!exists(D "/buf0") && !exists("/sys/kernel/debug/rrelay/buf"),
	      "... and nothing is left behind");
	CHECK(put(CTL, "open helper") == 0 && exists(D "/buf0"),
	      "both callbacks: the channel opens, with the client's files (control)");
	if (put(CTL, "close") || put(CTL, "open"))
		BAIL("reopen");
}

/* NULL channels and buffers, as include/rrelay.h and README document them. */
TEST_F(files, c_api_with_null)
{
	static const struct {
		const char *name, *want;
	} calls[] = {
		{ "close", "ignored" },
		{ "flush", "ignored" },
		{ "reset", "ignored" },
		{ "subbufs_consumed", "ignored" },
		{ "subbuf_start_reserve", "ignored" },
		{ "write_noinline", "ignored" },
		{ "__write_noinline", "ignored" },
		{ "stats", "0" },
		{ "buf_stats", "-22" },
		{ "buf_full", "0" },
		{ "switch_subbuf", "0" },
		{ "reserve_noinline", "0" },
		{ "create_buf_file", "0" },
		{ "buf_stats_null_out", "-22" },
		{ "buf_stats_no_cpu", "-22" },
	};
	char line[128], k[64], v[64];
	unsigned int i, seen = 0;
	FILE *f = fopen(D "/null_calls", "r");

	if (!f)
		BAIL("open null_calls");
	for (i = 0; fgets(line, sizeof(line), f); i++) {
		if (sscanf(line, "%63s %63s", k, v) != 2 || i >= ARRAY_SIZE(calls) ||
		    strcmp(k, calls[i].name)) {
			TH_LOG("unexpected line: %s", line);
			continue;
		}
		seen++;
		CHECK(!strcmp(v, calls[i].want), "%s with a NULL %s: %s (%s)", k,
		      strstr(k, "buf_stats_") ? "argument" : "channel or buffer", calls[i].want, v);
	}
	fclose(f);
	CHECK(seen == ARRAY_SIZE(calls), "every NULL call reported (%u of %zu)", seen,
	      ARRAY_SIZE(calls));
}

TEST_F(files, close_while_open)
{
	unsigned char b[8192];
	struct pollfd p;
	int fd;
	ssize_t n, total = 0;

	if (put(CTL, "reset") || put(CTL, "write 100 5"))
		BAIL("write");
	fd = open(D "/buf0", O_RDONLY);
	if (fd < 0)
		BAIL("open buf0");
	CHECK(put(CTL, "close") == 0, "close the channel while buf0 is open");
	CHECK(!exists(D "/buf0"), "the file is gone from debugfs");
	CHECK(!exists("/sys/kernel/debug/rrelay/buf"), "the channel left the statistics view");
	while ((n = read(fd, b, sizeof(b))) > 0)
		total += n;
	CHECK(total == 500, "the open file still reads out everything written (%zd of 500 bytes)",
	      total);
	CHECK(read(fd, b, sizeof(b)) == 0, "then read returns 0");
	p.fd = fd;
	p.events = POLLIN;
	CHECK(poll(&p, 1, 0) == 1 && (p.revents & POLLERR) && (p.revents & POLLHUP),
	      "poll: POLLERR|POLLHUP once closed and drained");
	CHECK(sh("rmmod rrelay_test_client") == 0, "the client unloads while the file is open");
	CHECK(sh("rmmod rrelay 2>/dev/null") != 0,
	      "rrelay cannot be unloaded while a file is open");
	close(fd);
	CHECK(sh("rmmod rrelay") == 0, "rrelay unloads once the last file is closed");
	ASSERT_EQ(0, sh("insmod /opt/modules/rrelay.ko"));
}

TEST_F(files, hotplug)
{
	unsigned char b[4096];
	int fd;

	if (put(CTL, "close"))
		BAIL("close");
	if (put("/sys/devices/system/cpu/cpu3/online", "0"))
		BAIL("offline cpu3");
	CHECK(put(CTL, "open") == 0, "open a channel with CPU 3 offline");
	CHECK(exists(D "/buf2") && !exists(D "/buf3"), "no buffer for the offline CPU");
	CHECK(put("/sys/devices/system/cpu/cpu3/online", "1") == 0, "bring CPU 3 online");
	CHECK(exists(D "/buf3"), "the hotplug callback gave CPU 3 its buffer file");
	pin(3);
	if (put(CTL, "write 64 2") || put(CTL, "flush"))
		BAIL("write on cpu3");
	pin(0);
	CHECK(put("/sys/devices/system/cpu/cpu3/online", "0") == 0, "take CPU 3 offline again");
	fd = open(D "/buf3", O_RDONLY);
	CHECK(fd >= 0 && read_upto(fd, b, sizeof(b)) == 128,
	      "the offline CPU's buffer keeps its data (128 bytes)");
	if (fd >= 0)
		close(fd);
	CHECK(put("/sys/devices/system/cpu/cpu3/online", "1") == 0, "CPU 3 back online");
	CHECK(sh("rmmod rrelay_test_client") == 0, "client unloads");
}

/*
 * rrelay_subbuf_start_reserve() with a length that leaves no room for data
 * (relay's BUG_ON: length >= subbuf_size - 1) is ignored: every record is
 * written as if no reserve were asked for. 16 bytes are reserved (control).
 */
TEST_F(files, oversized_start_reserve)
{
	static const char *const lengths[] = { "255", "256", "18446744073709551615" };
	unsigned char b[4096];
	unsigned int i, k;
	size_t n;
	int fd, intact;

	ASSERT_EQ(0, sh("rmmod rrelay_test_client"));
	for (i = 0; i < ARRAY_SIZE(lengths) + 1; i++) {
		const char *len = i < ARRAY_SIZE(lengths) ? lengths[i] : "16";

		if (sh("insmod /opt/modules/rrelay_test_client.ko default_files=1 start_reserve=%s",
		       len))
			BAIL("insmod client");
		if (put(CTL, "write 100 5") || put(CTL, "flush"))
			BAIL("write");
		fd = open(D "/buf0", O_RDONLY);
		if (fd < 0)
			BAIL("open buf0");
		n = read_upto(fd, b, sizeof(b));
		close(fd);
		if (!strcmp(len, "16")) {
			/*
			 * Each sub-buffer starts with the 16 reserved bytes: three
			 * with records, and the one the flush started (read as far
			 * as it is filled, as relay's read does).
			 */
			CHECK(n == 500 + 4 * 16 && b[0] == 0xee && b[15] == 0xee && b[16] == 0 &&
			      b[n - 1] == 0xee,
			      "start reserve of 16 bytes of 256: kept (%zu bytes read)", n);
		} else {
			/* Record k: its number, then bytes k * 7 + i. */
			for (k = 0, intact = n == 500; intact && k < 5; k++)
				intact = b[100 * k] == k &&
					 b[100 * k + 4] == (unsigned char)(k * 7 + 4);
			CHECK(intact && keyval(D "/info", "big") == 0,
			      "start reserve of %s bytes of 256: ignored, all 5 records read (%zu bytes)",
			      len, n);
		}
		if (sh("rmmod rrelay_test_client"))
			BAIL("rmmod client");
	}
}

TEST_HARNESS_MAIN
