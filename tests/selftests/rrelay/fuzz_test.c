// SPDX-License-Identifier: GPL-2.0
/*
 * In-guest fuzzer: from fixed seeds, random sequences of open, read, readv,
 * pread, mmap (good and bad), ioctl (known and random commands and
 * arguments), splice, sendfile, poll, lseek and close on the files of live
 * channels, while the sample producer writes and the churn channel is
 * closed and reopened under the fuzzer. Every operation has an expected
 * outcome, worked out from its arguments and the file's geometry: success
 * (with a result in range) or one errno; a race with the churn adds one
 * alternative where it can change the answer (ENOENT for an open, or EIO
 * from debugfs while the file is being removed; ENODEV for an mmap). The
 * kernel must stay sound (the runner fails the run on any kernel report),
 * and the clients must unload after fuzzing.
 *
 * A fixture loads the sample (4 sub-buffers of 4096 bytes, writing) and the
 * test client (per-CPU, rrelay's own files, 4 sub-buffers of 256 bytes);
 * each seed is a variant. The seeds together must reach every kind of
 * outcome: the seed tests add up what they reached in memory shared by
 * the whole program, and the last test checks the sum (running any seed
 * that has not run in this program itself, e.g. when tests are selected
 * with -t).
 */
#include "kselftest_harness.h"
#include "util.h"

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
#define NONE (-1)
#define ITERS 3000

static const unsigned long long seeds[] = { 1, 42, 0xdeadbeef, 20261122 };

static unsigned long long rng;

static unsigned int next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned int)(rng >> 16);
}

/* The sample's buffers (never closed while fuzzed) and the churn channel's. */
enum kind { SAMPLE, CHURN };

static const struct {
	const char *path;
	enum kind kind;
} paths[] = {
	{ S "/sample0", SAMPLE },
	{ S "/sample1", SAMPLE },
	{ S "/sample2", SAMPLE },
	{ S "/sample3", SAMPLE },
	{ T "/buf0", CHURN },
	{ T "/buf1", CHURN },
};

/* Geometry: the sample has 4 x 4096 bytes, the test client 4 x 256 (one page). */
#define N_SUBBUFS 4
static const size_t subbuf_size[] = { [SAMPLE] = 4096, [CHURN] = 256 };
static const size_t map_size[] = { [SAMPLE] = 16384, [CHURN] = 4096 };

static long ops, unexpected;
static char buf[1 << 16];
static char touched; /* bytes read from mappings land here */

/* Outcomes that the seeds together must reach, or the fuzzer tested little. */
enum reached { OPENED, READ_DATA, MAPPED, MAP_EINVAL, MAP_EACCES, MAP_EPERM, PAD_EINVAL,
	       CONSUMED, FLAGS_EINVAL, RANDOM_ENOTTY, SPLICED, SENT, POLLED_IN, N_REACHED };

static const char *const reached_names[] = {
	"open", "read data", "mmap", "mmap EINVAL", "mmap EACCES", "mmap EPERM",
	"GET_PADDING EINVAL", "PUT_CONSUMED", "SET_FLAGS EINVAL", "random ioctl ENOTTY",
	"splice data", "sendfile data", "poll POLLIN",
};

static long reached[N_REACHED];

/*
 * What the seeds reached, added up across the tests (each runs in a
 * process of its own): shared memory, mapped before the harness forks.
 */
static struct {
	long ops;
	long reached[N_REACHED];
	bool done[ARRAY_SIZE(seeds)];
} *tally;

static void __attribute__((constructor)) tally_map(void)
{
	tally = mmap(NULL, sizeof(*tally), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     -1, 0);
	if (tally == MAP_FAILED) {
		perror("mmap tally");
		exit(KSFT_FAIL);
	}
}

static void __printf(3, 4) report(const char *what, int fd, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (unexpected++ < 10)
		ksft_print_msg("unexpected: %s on fd %d: %s\n", what, fd, msg);
}

/*
 * Checks one call's outcome, called right after it: ret < 0 with errno, or
 * success. want and also are the expected outcomes, 0 for success or an
 * errno (also may be NONE). Returns whether the outcome was expected.
 */
static int expect(const char *what, int fd, long ret, int want, int also)
{
	int got = ret < 0 ? errno : 0;

	ops++;
	if (got != want && got != also) {
		report(what, fd, "%s, expected %s%s%s", got ? strerror(got) : "success",
		       want ? strerror(want) : "success", also == NONE ? "" : " or ",
		       also == NONE ? "" : also ? strerror(also) : "success");
		return 0;
	}
	return 1;
}

/* Success is expected unless the slot is closed; returns whether it succeeded. */
static int expect_ok(const char *what, int fd, long ret)
{
	return expect(what, fd, ret, fd < 0 ? EBADF : 0, NONE) && ret >= 0;
}

static void check_range(const char *what, int fd, long ret, unsigned long max)
{
	if ((unsigned long)ret > max)
		report(what, fd, "returned %ld of at most %lu", ret, max);
}

/* An mmap with random geometry: most are refused, each for its reason. */
static void fuzz_mmap(int fd, enum kind kind)
{
	size_t len = (next() % 3) ? 4096 * (1 + next() % 64) : 4096;
	int writable = !(next() % 4), shared = next() % 2;
	off_t off = (next() % 4) ? 0 : 4096 * (next() % 3);
	int want, also = NONE, err;
	void *m, *m2;

	m = mmap(NULL, len, writable ? PROT_READ | PROT_WRITE : PROT_READ,
		 shared ? MAP_SHARED : MAP_PRIVATE, fd, off);
	if (fd < 0) {
		want = EBADF;
	} else if (writable && shared) {
		want = EACCES; /* the VFS: the file is open read-only */
	} else {
		if (kind == CHURN)
			also = ENODEV; /* the churn may have closed the channel */
		/* The data (offset 0, the whole buffer) or the meta page after it. */
		if (!(len == map_size[kind] && !off) && !(len == 4096 && off == map_size[kind]))
			want = EINVAL;
		else if (writable)
			want = EPERM;
		else
			want = 0;
	}
	err = m == MAP_FAILED ? errno : 0;
	if (!expect("mmap", fd, m == MAP_FAILED ? -1 : 0, want, also)) {
		if (m != MAP_FAILED)
			munmap(m, len);
		return;
	}
	if (m == MAP_FAILED) {
		reached[MAP_EINVAL] += err == EINVAL;
		reached[MAP_EACCES] += err == EACCES;
		reached[MAP_EPERM] += err == EPERM;
		return;
	}
	reached[MAPPED]++;
	/* Mapped: the whole buffer, read-only for good, never growing. */
	touched += ((char *)m)[len - 1 - next() % len];
	errno = 0;
	if (mprotect(m, len, PROT_READ | PROT_WRITE) == 0 || errno != EACCES)
		report("mprotect writable", fd, "%s", errno ? strerror(errno) : "succeeded");
	errno = 0;
	m2 = mremap(m, len, 2 * len, MREMAP_MAYMOVE);
	if (m2 != MAP_FAILED || errno != EFAULT) {
		report("mremap growing", fd, "%s",
		       m2 != MAP_FAILED ? "succeeded" : strerror(errno));
		if (m2 != MAP_FAILED) {
			m = m2;
			len *= 2;
		}
	}
	munmap(m, len);
}

static int is_known_ioctl(unsigned int cmd)
{
	return cmd == RRELAY_IOC_GET_GEOMETRY || cmd == RRELAY_IOC_GET_POSITIONS ||
	       cmd == RRELAY_IOC_GET_PADDING || cmd == RRELAY_IOC_PUT_CONSUMED ||
	       cmd == RRELAY_IOC_SET_FLAGS;
}

static void one_op(int *fds, enum kind *kinds, int *pipefd, int out)
{
	int slot = next() % NFD, fd = fds[slot], want, p_ok, idx;
	enum kind kind = kinds[slot];
	struct rrelay_padding pad;
	struct rrelay_positions pos;
	struct rrelay_geometry geo;
	struct pollfd p;
	struct iovec iov[2];
	unsigned long arg;
	unsigned int cmd;
	size_t len;
	__u64 v;
	long ret;

	switch (next() % 14) {
	case 0: /* (re)open a file; the churn channel's may be gone */
		if (fd >= 0)
			close(fd);
		idx = next() % ARRAY_SIZE(paths);
		kinds[slot] = paths[idx].kind;
		fds[slot] = open(paths[idx].path, O_RDONLY);
		/*
		 * The churn channel's file may be gone (ENOENT), or being
		 * removed: debugfs then refuses the open with EIO (relay's
		 * files alike). Both mean the channel went.
		 */
		if (paths[idx].kind == CHURN && fds[slot] < 0 && errno == EIO)
			errno = ENOENT;
		want = paths[idx].kind == CHURN ? ENOENT : NONE;
		reached[OPENED] += expect("open", 0, fds[slot], 0, want) && fds[slot] >= 0;
		break;
	case 1:
		len = next() % sizeof(buf);
		ret = read(fd, buf, len);
		if (expect_ok("read", fd, ret)) {
			check_range("read", fd, ret, len);
			reached[READ_DATA] += ret > 0;
		}
		break;
	case 2:
		iov[0].iov_base = buf;
		iov[0].iov_len = next() % 4096;
		iov[1].iov_base = buf + 4096;
		iov[1].iov_len = next() % 4096;
		ret = readv(fd, iov, 2);
		if (expect_ok("readv", fd, ret))
			check_range("readv", fd, ret, iov[0].iov_len + iov[1].iov_len);
		break;
	case 3:
		fuzz_mmap(fd, kind);
		break;
	case 4:
		if (expect_ok("GET_GEOMETRY", fd, ioctl(fd, RRELAY_IOC_GET_GEOMETRY, &geo)) &&
		    (geo.subbuf_size != subbuf_size[kind] || geo.n_subbufs != N_SUBBUFS ||
		     geo.mmap_size != map_size[kind]))
			report("GET_GEOMETRY", fd, "%llu x %llu, %llu to map", geo.subbuf_size,
			       geo.n_subbufs, geo.mmap_size);
		if (expect_ok("GET_POSITIONS", fd, ioctl(fd, RRELAY_IOC_GET_POSITIONS, &pos)) &&
		    (pos.consumed > pos.produced || pos.produced - pos.consumed > N_SUBBUFS ||
		     pos.offset > subbuf_size[kind] ||
		     pos.flags & ~(__u64)(RRELAY_POS_STOPPED | RRELAY_POS_FINALIZED)))
			report("GET_POSITIONS", fd,
			       "produced %llu consumed %llu offset %llu flags %llu",
			       pos.produced, pos.consumed, pos.offset, pos.flags);
		break;
	case 5:
		pad.subbuf = next() % 40;
		want = fd < 0 ? EBADF : pad.subbuf < N_SUBBUFS ? 0 : EINVAL;
		ret = ioctl(fd, RRELAY_IOC_GET_PADDING, &pad);
		reached[PAD_EINVAL] += ret < 0 && errno == EINVAL && want == EINVAL;
		if (expect("GET_PADDING", fd, ret, want, NONE) && ret == 0 &&
		    pad.padding > subbuf_size[kind])
			report("GET_PADDING", fd, "padding %llu", pad.padding);
		break;
	case 6: /* more than is ready: EINVAL; what was ready before: fine */
		v = next() % 6;
		p_ok = fd >= 0 && !ioctl(fd, RRELAY_IOC_GET_POSITIONS, &pos);
		ret = ioctl(fd, RRELAY_IOC_PUT_CONSUMED, &v);
		if (fd < 0)
			expect("PUT_CONSUMED", fd, ret, EBADF, NONE);
		else if (v > N_SUBBUFS)
			expect("PUT_CONSUMED", fd, ret, EINVAL, NONE);
		else if (p_ok && v <= pos.produced - pos.consumed)
			reached[CONSUMED] += expect("PUT_CONSUMED", fd, ret, 0, NONE) && v > 0;
		else /* the producer may have finished more meanwhile */
			expect("PUT_CONSUMED", fd, ret, EINVAL, 0);
		break;
	case 7: /* random command and argument, pointers included */
		if (next() % 2) {
			unsigned int dir = next() % 4, nr = next() % 8;

			cmd = _IOC(dir, RRELAY_IOC_MAGIC, nr, next() % 64);
		} else {
			cmd = next();
		}
		arg = (next() % 2) ? (unsigned long)buf : (unsigned long)next();
		ret = ioctl(fd, cmd, arg);
		if (fd < 0)
			expect("ioctl", fd, ret, EBADF, NONE);
		else if (!is_known_ioctl(cmd))
			reached[RANDOM_ENOTTY] += expect("ioctl", fd, ret, ENOTTY, NONE);
		else if (arg == (unsigned long)buf)
			expect("ioctl", fd, ret, 0, EINVAL); /* values read from buf */
		else /* a random address, likely unmapped; or values read from it */
			expect("ioctl", fd, ret, EFAULT, ret < 0 && errno == EINVAL ? EINVAL : 0);
		break;
	case 8:
		len = next() % 65536;
		ret = splice(fd, NULL, pipefd[1], NULL, len, SPLICE_F_NONBLOCK);
		/* The pipe is empty: splice never has to wait for room. */
		if (expect_ok("splice", fd, ret)) {
			check_range("splice", fd, ret, len);
			reached[SPLICED] += ret > 0;
		}
		while (read(pipefd[0], buf, sizeof(buf)) > 0)
			;
		break;
	case 9: /* into a pipe (lossless); into a file rrelay refuses: EINVAL */
		len = next() % 65536;
		if (next() % 2) {
			lseek(out, 0, SEEK_SET);
			ret = sendfile(out, fd, NULL, len);
			expect("sendfile to a file", fd, ret, fd < 0 ? EBADF : EINVAL, NONE);
			break;
		}
		ret = sendfile(pipefd[1], fd, NULL, len);
		if (expect_ok("sendfile", fd, ret)) {
			check_range("sendfile", fd, ret, len);
			reached[SENT] += ret > 0;
		}
		while (read(pipefd[0], buf, sizeof(buf)) > 0)
			;
		break;
	case 10:
		p.fd = fd;
		p.events = POLLIN | POLLRDNORM;
		p.revents = 0;
		ret = poll(&p, 1, next() % 3);
		ops++;
		/* A closed slot (fd -1) is skipped by poll. */
		if (ret < 0 || (fd < 0 && (ret || p.revents)) ||
		    (fd >= 0 && ret != !!p.revents) ||
		    (p.revents && p.revents != (POLLIN | POLLRDNORM) &&
		     (kind != CHURN || p.revents != (POLLERR | POLLHUP))))
			report("poll", fd, "returned %ld, revents %#x", ret, p.revents);
		reached[POLLED_IN] += p.revents == (POLLIN | POLLRDNORM);
		break;
	case 11:
		want = fd < 0 ? EBADF : ESPIPE;
		expect("lseek", fd, lseek(fd, next() % 100, SEEK_SET), want, NONE);
		break;
	case 12:
		v = next() % 4;
		want = fd < 0 ? EBADF : v <= RRELAY_FLAG_FINISHED_ONLY ? 0 : EINVAL;
		ret = ioctl(fd, RRELAY_IOC_SET_FLAGS, &v);
		reached[FLAGS_EINVAL] += ret < 0 && errno == EINVAL && want == EINVAL;
		expect("SET_FLAGS", fd, ret, want, NONE);
		break;
	case 13:
		expect("pread", fd, pread(fd, buf, next() % 4096, next() % 100),
		       fd < 0 ? EBADF : ESPIPE, NONE);
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

/*
 * ITERS random operations from seed number @s, with the churn running;
 * returns how many had an outcome other than the expected one. What it
 * reached goes into the tally, and the seed is marked done there.
 */
static long run_seed(struct __test_metadata *_metadata, unsigned int s)
{
	int fds[NFD], pipefd[2], out, st, k;
	enum kind kinds[NFD];
	long before = unexpected, ops_before = ops;
	long before_reached[N_REACHED];
	unsigned int i;
	pid_t churner;

	memcpy(before_reached, reached, sizeof(reached));
	rng = seeds[s];
	for (k = 0; k < NFD; k++) {
		fds[k] = -1;
		kinds[k] = SAMPLE;
	}
	ASSERT_EQ(0, pipe(pipefd));
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	out = open("/tmp/fuzz.out", O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, out) TH_LOG("open /tmp/fuzz.out: %s", strerror(errno));
	churner = fork();
	ASSERT_LE(0, churner) TH_LOG("fork: %s", strerror(errno));
	if (churner == 0)
		churn(ITERS / 100 + 1);
	for (k = 0; k < ITERS; k++)
		one_op(fds, kinds, pipefd, out);
	waitpid(churner, &st, 0);
	for (k = 0; k < NFD; k++)
		if (fds[k] >= 0)
			close(fds[k]);
	close(pipefd[0]);
	close(pipefd[1]);
	close(out);
	for (i = 0; i < N_REACHED; i++)
		tally->reached[i] += reached[i] - before_reached[i];
	tally->ops += ops - ops_before;
	tally->done[s] = true;
	return unexpected - before;
}

static unsigned int seed_index(unsigned long long seed)
{
	unsigned int s;

	for (s = 0; s < ARRAY_SIZE(seeds) && seeds[s] != seed; s++)
		;
	return s;
}

/* rrelay, and the sample (writing) and the test client, loaded afresh. */
static void load_clients(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, sh("grep -q '^rrelay ' /proc/modules || insmod /opt/modules/rrelay.ko"));
	sh("rmmod rust_relay_sample 2>/dev/null; rmmod rrelay_test_client 2>/dev/null");
	ASSERT_EQ(0, sh("insmod /opt/modules/rust_relay_sample.ko %s",
			"rate=500 subbuf_size=4096 n_subbufs=4"));
	ASSERT_EQ(0, sh("insmod /opt/modules/rrelay_test_client.ko default_files=1"));
	ASSERT_EQ(0, put(S "/control", "start"));
}

/* Whatever a test left loaded (a test that passed unloaded both itself). */
static void unload_clients(void)
{
	put(S "/control", "stop");
	sh("rmmod rust_relay_sample 2>/dev/null; rmmod rrelay_test_client 2>/dev/null");
}

FIXTURE(fuzz) {
	int unused;
};

FIXTURE_VARIANT(fuzz) {
	unsigned long long seed;
};

FIXTURE_VARIANT_ADD(fuzz, seed_1) { .seed = 1 };
FIXTURE_VARIANT_ADD(fuzz, seed_42) { .seed = 42 };
FIXTURE_VARIANT_ADD(fuzz, seed_deadbeef) { .seed = 0xdeadbeef };
FIXTURE_VARIANT_ADD(fuzz, seed_20261122) { .seed = 20261122 };

FIXTURE_SETUP(fuzz)
{
	load_clients(_metadata);
}

FIXTURE_TEARDOWN(fuzz)
{
	unload_clients();
}

/*
 * Every operation from the seed has its expected outcome; afterwards the
 * clients unload (the fuzzer's files are closed, nothing else holds them).
 */
TEST_F_TIMEOUT(fuzz, expected_outcomes, 120)
{
	unsigned int s = seed_index(variant->seed);
	long bad;

	ASSERT_GT(ARRAY_SIZE(seeds), s) TH_LOG("seed %llu is not in seeds[]", variant->seed);
	bad = run_seed(_metadata, s);
	EXPECT_EQ(0, bad) TH_LOG("seed %llu: %ld of %d random operations with another outcome",
				 variant->seed, bad, ITERS);
	put(S "/control", "stop");
	EXPECT_EQ(0, sh("rmmod rust_relay_sample && rmmod rrelay_test_client"))
		TH_LOG("the clients unload after fuzzing");
}

/* The same channels, for the seeds' sum. */
FIXTURE(fuzz_seeds) {
	int unused;
};

FIXTURE_SETUP(fuzz_seeds)
{
	load_clients(_metadata);
}

FIXTURE_TEARDOWN(fuzz_seeds)
{
	unload_clients();
}

/* The seeds together reached every kind of outcome. */
TEST_F_TIMEOUT(fuzz_seeds, every_outcome_reached, 300)
{
	unsigned int s, i;
	int missing = 0;
	long bad;

	for (s = 0; s < ARRAY_SIZE(seeds); s++) {
		if (tally->done[s])
			continue;
		ksft_print_msg("seed %llu has not run in this program: running it\n", seeds[s]);
		bad = run_seed(_metadata, s);
		EXPECT_EQ(0, bad)
			TH_LOG("seed %llu: %ld of %d random operations with another outcome",
			       seeds[s], bad, ITERS);
	}
	ksft_print_msg("%ld operations in all\n", tally->ops);
	for (i = 0; i < N_REACHED; i++) {
		ksft_print_msg("%-20s %ld\n", reached_names[i], tally->reached[i]);
		missing += !tally->reached[i];
	}
	EXPECT_EQ(0, missing) TH_LOG("the seeds reached every kind of outcome (%d not reached)",
				     missing);
}

TEST_HARNESS_MAIN
