// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's relay is the oracle: one relay client, built against rrelay
 * (rrelay_compat.h) and against <linux/relay.h>, gets identical write
 * sequences (sizes crossing sub-buffer ends, too-big records, full buffers,
 * flush, reset, start reserves, overwrite); the bytes read back with read()
 * and the full/big counts must be identical, and as many as the script
 * gives: two empty streams (a client that wrote nothing) are no match.
 *
 * A fixture loads both clients with one variant's parameters; each variant
 * runs every test.
 */
#define _GNU_SOURCE
#include <sched.h>

#include "kselftest_harness.h"
#include "util.h"

#define DBG "/sys/kernel/debug"
#define MAXBUF (1 << 20)

static const char *const clients[2] = { "rrelay_test_client", "relay_test_client" };

/* "R n" reads n bytes from buf0 of both; anything else goes to ctl. */
static const char *const script[] = {
	"write 10 5", "R 7", "write 100 3", "R 1000", "write 60 40", "R 50",
	"flush", "R 100000", "write 300 1", "write 255 2", "__write 33 9",
	"reserve 17 12", "R 3", "write 256 1", "R 100000", "write 40 100",
	"R 100000", "write 8 3", "flush", "R 100000", "write 0 3", "write 1 700",
	"R 333", "write 250 3", "R 100000", "consumed 0 1", "write 9 9", "flush",
	"R 100000", "reset", "write 5 5", "flush", "R 100000", "write 128 64",
	"R 999", "write 64 64", "R 100000", "write 300 2", "write 257 1", "flush",
	"R 100000",
};

/*
 * relay_switch_subbuf(buf, len) finishes the current sub-buffer whether or
 * not a record of len bytes still fits: each switch below takes a
 * sub-buffer, so without a reader the ring fills (full counts) and, in
 * overwrite mode, laps; the reads see where every record went.
 */
static const char *const switch_script[] = {
	"write 10 3", "switch 0 10", "R 100000", "write 30 1", "switch 0 10",
	"switch 0 10", "R 100000", "write 20 2", "switch 0 10", "write 7 1",
	"switch 0 10", "write 8 1", "switch 0 10", "write 9 1", "switch 0 10",
	"write 11 1", "switch 0 10", "write 12 1", "switch 0 10", "write 13 1",
	"R 100000", "write 20 2", "switch 0 300", "write 7 1", "flush", "R 100000",
};

static unsigned char got[2][MAXBUF];

FIXTURE(oracle) {
	int fd[2];
};

/*
 * What relay makes of the script in each mode: bytes read back in all, and
 * the full and big counts. Worked out with a line-by-line port of relay's
 * write, switch and read paths (kernel/relay.c, 7.2) run over the script;
 * relay agrees. Every record goes to buf0 (the test runs on CPU 0).
 */
FIXTURE_VARIANT(oracle) {
	const char *params;
	size_t bytes;
	long long full, big;
};

FIXTURE_VARIANT_ADD(oracle, per_cpu) { "", 6266, 108, 3 };
FIXTURE_VARIANT_ADD(oracle, global) { "global=1", 6266, 108, 3 };
FIXTURE_VARIANT_ADD(oracle, per_cpu_start_reserve) { "start_reserve=16", 5103, 112, 3 };
FIXTURE_VARIANT_ADD(oracle, global_overwrite) { "global=1 overwrite=1", 6064, 41, 3 };
FIXTURE_VARIANT_ADD(oracle, per_cpu_8x512) { "subbuf_size=512 n_subbufs=8", 14962, 88, 0 };
/* Not a power of two: sub-buffers start at any byte. */
FIXTURE_VARIANT_ADD(oracle, overwrite_5x300) {
	"overwrite=1 subbuf_size=300 n_subbufs=5", 8566, 40, 0
};

FIXTURE_SETUP(oracle)
{
	cpu_set_t cpu0;
	char path[128];
	int k;

	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu0), &cpu0));
	ASSERT_EQ(0, sh("grep -q '^rrelay ' /proc/modules || insmod /opt/modules/rrelay.ko"));
	for (k = 0; k < 2; k++) {
		ASSERT_EQ(0, sh("insmod /opt/modules/%s.ko %s", clients[k], variant->params))
			TH_LOG("insmod %s", clients[k]);
		snprintf(path, sizeof(path), DBG "/%s/buf0", clients[k]);
		self->fd[k] = open(path, O_RDONLY);
		ASSERT_LE(0, self->fd[k]) TH_LOG("open %s: %s", path, strerror(errno));
	}
}

FIXTURE_TEARDOWN(oracle)
{
	int k;

	for (k = 0; k < 2; k++) {
		if (self->fd[k] >= 0)
			close(self->fd[k]);
		sh("rmmod %s 2>/dev/null", clients[k]);
	}
}

/*
 * Runs the script on both clients: returns the bytes read back (relay's),
 * and whether the streams were identical (the first difference is logged).
 */
static size_t run(struct __test_metadata *_metadata, int fd[2], int *same,
		  const char *const *script, int steps)
{
	size_t total = 0;
	char path[128];
	int i, k;

	*same = 1;
	for (i = 0; i < steps; i++) {
		size_t n[2];

		if (script[i][0] == 'R') {
			size_t want = strtoul(script[i] + 2, NULL, 10);

			if (want > MAXBUF)
				want = MAXBUF;
			for (k = 0; k < 2; k++)
				n[k] = read_upto(fd[k], got[k], want);
			if (*same && (n[0] != n[1] || memcmp(got[0], got[1], n[0]))) {
				*same = 0;
				TH_LOG("step %d (%s): rrelay read %zu bytes, relay %zu",
				       i, script[i], n[0], n[1]);
			}
			total += n[1];
			continue;
		}
		for (k = 0; k < 2; k++) {
			snprintf(path, sizeof(path), DBG "/%s/ctl", clients[k]);
			EXPECT_EQ(0, put(path, script[i])) TH_LOG("%s: %s", path, script[i]);
		}
	}
	return total;
}

static size_t run_script(struct __test_metadata *_metadata, int fd[2], int *same)
{
	return run(_metadata, fd, same, script, ARRAY_SIZE(script));
}

/* The read() streams are identical, and as long as the script gives. */
TEST_F(oracle, read_streams)
{
	int same;
	size_t total = run_script(_metadata, self->fd, &same);

	EXPECT_TRUE(same);
	EXPECT_EQ(variant->bytes, total);
}

/* The full and big counts of both clients agree, and with @want if given. */
static void check_counts(struct __test_metadata *_metadata, const long long *want)
{
	static const char *const keys[] = { "full", "big" };
	char path[128];
	int i, k;

	for (i = 0; i < 2; i++) {
		long long v[2];

		for (k = 0; k < 2; k++) {
			snprintf(path, sizeof(path), DBG "/%s/info", clients[k]);
			v[k] = keyval(path, keys[i]);
		}
		EXPECT_EQ(v[1], v[0]) TH_LOG("%s: rrelay %lld, relay %lld", keys[i], v[0], v[1]);
		if (want)
			EXPECT_EQ(want[i], v[0]) TH_LOG("%s", keys[i]);
	}
}

/* The full and big counts are identical, and as the script gives. */
TEST_F(oracle, full_and_big_counts)
{
	const long long want[] = { variant->full, variant->big };
	int same;

	run_script(_metadata, self->fd, &same);
	check_counts(_metadata, want);
}

/*
 * Explicit switches: identical streams, not empty, and the same full and
 * big counts.
 */
TEST_F(oracle, explicit_switches)
{
	int same;
	size_t total = run(_metadata, self->fd, &same, switch_script, ARRAY_SIZE(switch_script));

	EXPECT_TRUE(same);
	EXPECT_LT(0, total);
	check_counts(_metadata, NULL);
}

TEST_HARNESS_MAIN
