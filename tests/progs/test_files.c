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
 */
#include "tap.h"

#include <linux/rrelay.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

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

static int open_errno(const char *p, int flags)
{
	int fd = open(p, flags);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return errno;
}

static void files_and_errnos(void)
{
	unsigned char b[4096];
	struct stat st = { 0 };
	int fd;
	ssize_t n;

	int have = stat(D "/buf0", &st) == 0;

	tap(have && (st.st_mode & 0777) == 0400 && st.st_uid == 0,
	    "default buffer file buf0 is root's, mode 0400 (%o)", st.st_mode & 0777);
	tap(exists(D "/buf3") && !exists(D "/buf4"), "one file per online CPU (buf0..buf3)");
	tap(open_errno(D "/buf0", O_WRONLY) == EACCES, "open for writing: EACCES");
	tap(open_errno(D "/buf0", O_RDWR) == EACCES, "open read-write: EACCES");
	fd = open(D "/buf0", O_RDONLY);
	if (fd < 0)
		bail("open buf0");
	tap(lseek(fd, 0, SEEK_SET) < 0 && errno == ESPIPE, "lseek: ESPIPE");
	errno = 0;
	tap(pread(fd, b, sizeof(b), 0) < 0 && errno == ESPIPE, "pread: ESPIPE");
	tap(read(fd, b, sizeof(b)) == 0, "read of an empty buffer returns 0 at once");
	if (put(CTL, "write 100 3"))
		bail("write");
	errno = 0;
	tap(read(fd, bad_pointer, 100) < 0 && errno == EFAULT, "read into a bad pointer: EFAULT");
	n = read(fd, b, sizeof(b));
	tap(n == 300, "nothing was consumed by the failed read (then %zd of 300 bytes)", n);
	close(fd);
}

static void poll_and_wakeup(void)
{
	struct pollfd p;
	unsigned char b[4096];
	int fd = open(D "/buf0", O_RDONLY);
	pid_t child;
	int st;

	if (fd < 0)
		bail("open buf0");
	while (read(fd, b, sizeof(b)) > 0)
		;
	p.fd = fd;
	p.events = POLLIN;
	tap(poll(&p, 1, 0) == 0, "poll: nothing ready after draining");
	if (put(CTL, "write 50 1"))
		bail("write");
	tap(poll(&p, 1, 0) == 0, "poll: a partly filled sub-buffer is not ready");
	child = fork();
	if (child == 0) {
		p.revents = 0;
		_exit(poll(&p, 1, 10000) == 1 && (p.revents & POLLIN) ? 0 : 1);
	}
	usleep(300000);
	if (put(CTL, "write 200 1"))
		bail("write");
	waitpid(child, &st, 0);
	tap(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "a reader blocked in poll is woken by a sub-buffer switch");
	tap(poll(&p, 1, 0) == 1 && (p.revents & POLLIN),
	    "poll: POLLIN once a sub-buffer is finished");
	p.events = POLLIN | POLLRDNORM;
	tap(poll(&p, 1, 0) == 1 && p.revents == (POLLIN | POLLRDNORM),
	    "poll: POLLRDNORM comes with POLLIN (revents %#x)", p.revents);
	p.events = POLLRDNORM;
	tap(poll(&p, 1, 0) == 1 && p.revents == POLLRDNORM,
	    "poll for POLLRDNORM alone reports it (revents %#x)", p.revents);
	close(fd);
}

/* Mappings: read-only, never writable (not even privately), never growing. */
static void mappings(void)
{
	int fd = open(D "/buf0", O_RDONLY);
	void *m, *m2;

	if (fd < 0)
		bail("open buf0");
	/* 4 sub-buffers of 256 bytes: one page. */
	errno = 0;
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	tap(m == MAP_FAILED && errno == EPERM, "writable private mmap: EPERM (%s)",
	    m == MAP_FAILED ? strerror(errno) : "mapped");
	if (m != MAP_FAILED)
		munmap(m, 4096);
	m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	tap(m != MAP_FAILED, "read-only private mmap of the same size works (control)");
	if (m != MAP_FAILED)
		munmap(m, 4096);
	errno = 0;
	m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	tap(m == MAP_FAILED && errno == EPERM, "executable mmap: EPERM (%s)",
	    m == MAP_FAILED ? strerror(errno) : "mapped");
	if (m != MAP_FAILED)
		munmap(m, 4096);
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		bail("mmap buf0");
	errno = 0;
	tap(mprotect(m, 4096, PROT_READ | PROT_EXEC) && errno == EACCES,
	    "mprotect to executable: EACCES (VM_MAYEXEC cleared): %s", strerror(errno));
	errno = 0;
	m2 = mremap(m, 4096, 8192, MREMAP_MAYMOVE);
	tap(m2 == MAP_FAILED && errno == EFAULT,
	    "mremap cannot grow the mapping (VM_DONTEXPAND): %s",
	    m2 == MAP_FAILED ? strerror(errno) : "grown");
	munmap(m2 == MAP_FAILED ? m : m2, m2 == MAP_FAILED ? 4096 : 8192);
	close(fd);
}

/* Every ioctl of include/uapi/linux/rrelay.h takes a pointer: each faults. */
static void ioctl_efault(void)
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
		bail("open buf0");
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		errno = 0;
		tap(ioctl(fd, cmds[i].cmd, bad_pointer) < 0 && errno == EFAULT,
		    "%s with a bad pointer: EFAULT (%s)", cmds[i].name, strerror(errno));
	}
	tap(ioctl(fd, RRELAY_IOC_GET_GEOMETRY, &g) == 0 && g.subbuf_size == 256,
	    "GET_GEOMETRY with a good pointer works (control)");
	close(fd);
}

static void stats_view(void)
{
	tap(keyval(STATS, "subbuf_size") == 256 && keyval(STATS, "n_subbufs") == 4,
	    "rrelay/buf/stats shows the geometry");
	tap(keyval(STATS, "buffers") == 4 && keyval(STATS, "global") == 0,
	    "rrelay/buf/stats counts 4 per-CPU buffers");
}

/*
 * create_buf_file and remove_buf_file come in pairs: rrelay_open() refuses
 * either alone (each half would work if let through: the client's create
 * makes real files, and remove-only would get rrelay's default files).
 */
static void callback_pairs(void)
{
	if (put(CTL, "close"))
		bail("close");
	tap(put(CTL, "open create-only") == -EINVAL,
	    "create_buf_file without remove_buf_file: refused");
	tap(!exists(D "/buf0") && !exists("/sys/kernel/debug/rrelay/buf"),
	    "... and nothing is left behind");
	tap(put(CTL, "open remove-only") == -EINVAL,
	    "remove_buf_file without create_buf_file: refused");
	tap(!exists(D "/buf0") && !exists("/sys/kernel/debug/rrelay/buf"),
	    "... and nothing is left behind");
	tap(put(CTL, "open helper") == 0 && exists(D "/buf0"),
	    "both callbacks: the channel opens, with the client's files (control)");
	if (put(CTL, "close") || put(CTL, "open"))
		bail("reopen");
}

/* NULL channels and buffers, as include/rrelay.h and README document them. */
static void c_api_with_null(void)
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
		bail("open null_calls");
	for (i = 0; fgets(line, sizeof(line), f); i++) {
		if (sscanf(line, "%63s %63s", k, v) != 2 || i >= ARRAY_SIZE(calls) ||
		    strcmp(k, calls[i].name)) {
			diag("unexpected line: %s", line);
			continue;
		}
		seen++;
		tap(!strcmp(v, calls[i].want), "%s with a NULL %s: %s (%s)", k,
		    strstr(k, "buf_stats_") ? "argument" : "channel or buffer", calls[i].want, v);
	}
	fclose(f);
	tap(seen == ARRAY_SIZE(calls), "every NULL call reported (%u of %zu)", seen,
	    ARRAY_SIZE(calls));
}

static void close_while_open(void)
{
	unsigned char b[8192];
	struct pollfd p;
	int fd;
	ssize_t n, total = 0;

	if (put(CTL, "reset") || put(CTL, "write 100 5"))
		bail("write");
	fd = open(D "/buf0", O_RDONLY);
	if (fd < 0)
		bail("open buf0");
	tap(put(CTL, "close") == 0, "close the channel while buf0 is open");
	tap(!exists(D "/buf0"), "the file is gone from debugfs");
	tap(!exists("/sys/kernel/debug/rrelay/buf"), "the channel left the statistics view");
	while ((n = read(fd, b, sizeof(b))) > 0)
		total += n;
	tap(total == 500, "the open file still reads out everything written (%zd of 500 bytes)",
	    total);
	tap(read(fd, b, sizeof(b)) == 0, "then read returns 0");
	p.fd = fd;
	p.events = POLLIN;
	tap(poll(&p, 1, 0) == 1 && (p.revents & POLLERR) && (p.revents & POLLHUP),
	    "poll: POLLERR|POLLHUP once closed and drained");
	tap(sh("rmmod rrelay_test_client") == 0, "the client unloads while the file is open");
	tap(sh("rmmod rrelay 2>/dev/null") != 0, "rrelay cannot be unloaded while a file is open");
	close(fd);
	tap(sh("rmmod rrelay") == 0, "rrelay unloads once the last file is closed");
	load_rrelay();
}

static void hotplug(void)
{
	unsigned char b[4096];
	int fd;

	if (sh("insmod /opt/modules/rrelay_test_client.ko default_files=1"))
		bail("insmod client");
	if (put(CTL, "close"))
		bail("close");
	if (put("/sys/devices/system/cpu/cpu3/online", "0"))
		bail("offline cpu3");
	tap(put(CTL, "open") == 0, "open a channel with CPU 3 offline");
	tap(exists(D "/buf2") && !exists(D "/buf3"), "no buffer for the offline CPU");
	tap(put("/sys/devices/system/cpu/cpu3/online", "1") == 0, "bring CPU 3 online");
	tap(exists(D "/buf3"), "the hotplug callback gave CPU 3 its buffer file");
	pin_to_cpu(3);
	if (put(CTL, "write 64 2") || put(CTL, "flush"))
		bail("write on cpu3");
	pin_to_cpu(0);
	tap(put("/sys/devices/system/cpu/cpu3/online", "0") == 0, "take CPU 3 offline again");
	fd = open(D "/buf3", O_RDONLY);
	tap(fd >= 0 && read_upto(fd, b, sizeof(b)) == 128,
	    "the offline CPU's buffer keeps its data (128 bytes)");
	if (fd >= 0)
		close(fd);
	tap(put("/sys/devices/system/cpu/cpu3/online", "1") == 0, "CPU 3 back online");
	tap(sh("rmmod rrelay_test_client") == 0, "client unloads");
}

/*
 * rrelay_subbuf_start_reserve() with a length that leaves no room for data
 * (relay's BUG_ON: length >= subbuf_size - 1) is ignored: every record is
 * written as if no reserve were asked for. 16 bytes are reserved (control).
 */
static void oversized_start_reserve(void)
{
	static const char *const lengths[] = { "255", "256", "18446744073709551615" };
	unsigned char b[4096];
	unsigned int i, k;
	size_t n;
	int fd, intact;

	for (i = 0; i < ARRAY_SIZE(lengths) + 1; i++) {
		const char *len = i < ARRAY_SIZE(lengths) ? lengths[i] : "16";

		if (sh("insmod /opt/modules/rrelay_test_client.ko default_files=1 start_reserve=%s",
		       len))
			bail("insmod client");
		if (put(CTL, "write 100 5") || put(CTL, "flush"))
			bail("write");
		fd = open(D "/buf0", O_RDONLY);
		if (fd < 0)
			bail("open buf0");
		n = read_upto(fd, b, sizeof(b));
		close(fd);
		if (!strcmp(len, "16")) {
			/*
			 * Each sub-buffer starts with the 16 reserved bytes: three
			 * with records, and the one the flush started (read as far
			 * as it is filled, as relay's read does).
			 */
			tap(n == 500 + 4 * 16 && b[0] == 0xee && b[15] == 0xee && b[16] == 0 &&
			    b[n - 1] == 0xee,
			    "start reserve of 16 bytes of 256: kept (%zu bytes read)", n);
		} else {
			/* Record k: its number, then bytes k * 7 + i. */
			for (k = 0, intact = n == 500; intact && k < 5; k++)
				intact = b[100 * k] == k &&
					 b[100 * k + 4] == (unsigned char)(k * 7 + 4);
			tap(intact && keyval(D "/info", "big") == 0,
			    "start reserve of %s bytes of 256: ignored, all 5 records read (%zu bytes)",
			    len, n);
		}
		if (sh("rmmod rrelay_test_client"))
			bail("rmmod client");
	}
}

int main(void)
{
	load_rrelay();
	pin_to_cpu(0);
	if (sh("insmod /opt/modules/rrelay_test_client.ko default_files=1"))
		bail("insmod client");
	files_and_errnos();
	poll_and_wakeup();
	mappings();
	ioctl_efault();
	stats_view();
	callback_pairs();
	c_api_with_null();
	close_while_open();
	hotplug();
	oversized_start_reserve();
	return tap_done();
}
