// SPDX-License-Identifier: GPL-2.0
/*
 * rrelay's buffer files as user space sees them: rrelay's own debugfs files
 * (mode 0400), refused opens, lseek, EFAULT, empty reads, poll and its
 * wakeup, the statistics view, a channel closed while its file is open,
 * and CPU hotplug while a channel is open.
 */
#include "tap.h"

#include <poll.h>
#include <sys/wait.h>

#define D "/sys/kernel/debug/rrelay_test_client"
#define CTL D "/ctl"
#define STATS "/sys/kernel/debug/rrelay/buf/stats"

/* An unmapped address the compiler cannot see through. */
static void *volatile bad_pointer = (void *)8;

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
	tap(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a reader blocked in poll is woken by a sub-buffer switch");
	tap(poll(&p, 1, 0) == 1 && (p.revents & POLLIN), "poll: POLLIN once a sub-buffer is finished");
	close(fd);
}

static void stats_view(void)
{
	tap(keyval(STATS, "subbuf_size") == 256 && keyval(STATS, "n_subbufs") == 4,
	    "rrelay/buf/stats shows the geometry");
	tap(keyval(STATS, "buffers") == 4 && keyval(STATS, "global") == 0,
	    "rrelay/buf/stats counts 4 per-CPU buffers");
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
	tap(total == 500, "the open file still reads out everything written (%zd of 500 bytes)", total);
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

int main(void)
{
	load_rrelay();
	pin_to_cpu(0);
	if (sh("insmod /opt/modules/rrelay_test_client.ko default_files=1"))
		bail("insmod client");
	files_and_errnos();
	poll_and_wakeup();
	stats_view();
	close_while_open();
	hotplug();
	return tap_done();
}
