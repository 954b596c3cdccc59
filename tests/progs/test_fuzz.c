// SPDX-License-Identifier: GPL-2.0
/*
 * In-guest fuzzer: from fixed seeds, random sequences of open, read, readv,
 * mmap (good and bad), ioctl (known and random commands and arguments),
 * splice, sendfile, poll, lseek and close on the files of live channels,
 * while the sample producer writes and the churn channel is closed and
 * reopened under the fuzzer. Every failure must be one of the errnos the
 * interface defines; the kernel must stay sound (the runner fails the run
 * on any kernel report).
 */
#include "tap.h"

#include <linux/rrelay.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define S "/sys/kernel/debug/rrelay_sample"
#define T "/sys/kernel/debug/rrelay_test_client"
#define NFD 6

static unsigned long long rng;

static unsigned int next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned int)(rng >> 16);
}

static const char *const paths[] = {
	S "/sample0", S "/sample1", S "/sample2", S "/sample3", T "/buf0", T "/buf1",
};

static long ops, unexpected;
static char buf[1 << 16];

/*
 * Accepts success, EBADF when the slot is closed (fd < 0), or one of the
 * listed errnos (a 0-terminated list); anything else is counted.
 */
static void expect(long ret, int fd, const char *what, ...)
{
	int e, err = errno;
	va_list ap;

	ops++;
	if (ret >= 0 || (fd < 0 && err == EBADF))
		return;
	va_start(ap, what);
	while ((e = va_arg(ap, int)))
		if (e == err) {
			va_end(ap);
			return;
		}
	va_end(ap);
	if (unexpected++ < 10)
		diag("unexpected: %s on fd %d -> %s", what, fd, strerror(err));
}

static void one_op(int *fds, int *pipefd, int out)
{
	int slot = next() % NFD, fd = fds[slot];
	struct rrelay_padding pad;
	struct rrelay_positions pos;
	struct rrelay_geometry geo;
	struct pollfd p;
	struct iovec iov[2];
	__u64 v;
	void *m;

	switch (next() % 13) {
	case 0: /* (re)open a file; the churn channel's may be gone */
		if (fd >= 0)
			close(fd);
		fds[slot] = open(paths[next() % (sizeof(paths) / sizeof(paths[0]))], O_RDONLY);
		expect(fds[slot], 0, "open", ENOENT, 0);
		break;
	case 1:
		expect(read(fd, buf, next() % sizeof(buf)), fd, "read", 0);
		break;
	case 2:
		iov[0].iov_base = buf;
		iov[0].iov_len = next() % 4096;
		iov[1].iov_base = buf + 4096;
		iov[1].iov_len = next() % 4096;
		expect(readv(fd, iov, 2), fd, "readv", 0);
		break;
	case 3: /* mmap with random geometry: most are refused */
		v = (next() % 3) ? 4096 * (1 + next() % 64) : 0;
		m = mmap(NULL, v ? v : 4096, (next() % 4) ? PROT_READ : PROT_READ | PROT_WRITE,
			 (next() % 2) ? MAP_SHARED : MAP_PRIVATE, fd, (next() % 4) ? 0 : 4096);
		expect(m == MAP_FAILED ? -1 : 0, fd, "mmap", EINVAL, EACCES, EPERM, ENODEV, 0);
		if (m != MAP_FAILED) {
			volatile char c = ((char *)m)[next() % 4096];
			(void)c;
			munmap(m, v ? v : 4096);
		}
		break;
	case 4:
		expect(ioctl(fd, RRELAY_IOC_GET_GEOMETRY, &geo), fd, "GET_GEOMETRY", 0);
		expect(ioctl(fd, RRELAY_IOC_GET_POSITIONS, &pos), fd, "GET_POSITIONS", 0);
		break;
	case 5:
		pad.subbuf = next() % 40;
		expect(ioctl(fd, RRELAY_IOC_GET_PADDING, &pad), fd, "GET_PADDING", EINVAL, 0);
		break;
	case 6:
		v = next() % 6;
		expect(ioctl(fd, RRELAY_IOC_PUT_CONSUMED, &v), fd, "PUT_CONSUMED", EINVAL, 0);
		break;
	case 7: /* random command and argument, pointers included */
		expect(ioctl(fd, (next() % 2) ? _IOC(next() % 4, RRELAY_IOC_MAGIC, next() % 8, next() % 64) : next(),
			     (next() % 2) ? (unsigned long)buf : (unsigned long)next()),
		       fd, "ioctl", ENOTTY, EFAULT, EINVAL, 0);
		break;
	case 8:
		expect(splice(fd, NULL, pipefd[1], NULL, next() % 65536, SPLICE_F_NONBLOCK), fd, "splice", EAGAIN, 0);
		while (read(pipefd[0], buf, sizeof(buf)) > 0)
			;
		break;
	case 9:
		lseek(out, 0, SEEK_SET);
		expect(sendfile(out, fd, NULL, next() % 65536), fd, "sendfile", 0);
		break;
	case 10:
		p.fd = fd;
		p.events = POLLIN;
		expect(poll(&p, 1, next() % 3), fd, "poll", 0);
		break;
	case 11:
		if (lseek(fd, next() % 100, SEEK_SET) >= 0)
			expect(-1, fd, "lseek succeeded", 0);
		else
			expect(-1, fd, "lseek", ESPIPE, 0);
		break;
	case 12:
		v = next() % 4;
		expect(ioctl(fd, RRELAY_IOC_SET_FLAGS, &v), fd, "SET_FLAGS", EINVAL, 0);
		break;
	}
}

/* The churn: the test client's channel closed and reopened under the fuzzer. */
static void churn(int rounds)
{
	while (rounds--) {
		put(T "/ctl", "write 100 5");
		usleep(20000);
		put(T "/ctl", "close");
		usleep(10000);
		put(T "/ctl", "open");
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	unsigned long long seeds[] = { 1, 42, 0xdeadbeef, 20261122 };
	int iters = argc > 1 ? atoi(argv[1]) : 3000;
	unsigned int s;

	load_rrelay();
	if (sh("insmod /opt/modules/rust_relay_sample.ko rate=500 subbuf_size=4096 n_subbufs=4") ||
	    sh("insmod /opt/modules/rrelay_test_client.ko default_files=1") ||
	    put(S "/control", "start"))
		bail("set-up");
	for (s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		int fds[NFD], pipefd[2], out, i, st;
		long before = unexpected;
		pid_t churner;

		rng = seeds[s];
		for (i = 0; i < NFD; i++)
			fds[i] = -1;
		if (pipe(pipefd))
			bail("pipe");
		fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
		out = open("/tmp/fuzz.out", O_RDWR | O_CREAT | O_TRUNC, 0600);
		churner = fork();
		if (churner == 0)
			churn(iters / 100 + 1);
		for (i = 0; i < iters; i++)
			one_op(fds, pipefd, out);
		waitpid(churner, &st, 0);
		for (i = 0; i < NFD; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		close(pipefd[0]);
		close(pipefd[1]);
		close(out);
		tap(unexpected == before, "seed %llu: %d random operations, every failure an expected errno",
		    seeds[s], iters);
	}
	put(S "/control", "stop");
	diag("%ld operations in all", ops);
	tap(sh("rmmod rust_relay_sample && rmmod rrelay_test_client") == 0, "the clients unload after fuzzing");
	return tap_done();
}
