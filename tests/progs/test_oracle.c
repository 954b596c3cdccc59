// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's relay is the oracle: one relay client, built against rrelay
 * (rrelay_compat.h) and against <linux/relay.h>, gets identical write
 * sequences (sizes crossing sub-buffer ends, too-big records, full buffers,
 * flush, reset, start reserves, overwrite); the bytes read back with read()
 * and the full/big counts must be identical, and as many as the script
 * gives: two empty streams (a client that wrote nothing) are no match.
 */
#include "tap.h"

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

static unsigned char got[2][MAXBUF];

/*
 * What relay makes of the script in each mode: bytes read back in all, and
 * the full and big counts. Worked out with a line-by-line port of relay's
 * write, switch and read paths (kernel/relay.c, 7.2) run over the script;
 * relay agrees. Every record goes to buf0 (the test runs on CPU 0).
 */
struct expected {
	size_t bytes;
	long long full, big;
};

static void run(const char *mode, const char *params, struct expected want)
{
	char path[128];
	int fd[2], i, k;
	size_t total = 0, mismatch_at = (size_t)-1;
	int same = 1;

	for (k = 0; k < 2; k++)
		if (sh("insmod /opt/modules/%s.ko %s", clients[k], params))
			bail("insmod client");
	for (k = 0; k < 2; k++) {
		snprintf(path, sizeof(path), DBG "/%s/buf0", clients[k]);
		fd[k] = open(path, O_RDONLY);
		if (fd[k] < 0)
			bail(path);
	}
	for (i = 0; i < (int)ARRAY_SIZE(script); i++) {
		size_t n[2];

		if (script[i][0] == 'R') {
			size_t want = strtoul(script[i] + 2, NULL, 10);

			for (k = 0; k < 2; k++)
				n[k] = read_upto(fd[k], got[k], want < MAXBUF ? want : MAXBUF);
			if (same && (n[0] != n[1] || memcmp(got[0], got[1], n[0]))) {
				same = 0;
				mismatch_at = total;
				diag("%s: step %d (%s): rrelay read %zu bytes, relay %zu", mode, i,
				     script[i], n[0], n[1]);
			}
			total += n[1];
			continue;
		}
		for (k = 0; k < 2; k++) {
			snprintf(path, sizeof(path), DBG "/%s/ctl", clients[k]);
			if (put(path, script[i]))
				bail(script[i]);
		}
	}
	tap(same, "%s: read() streams identical (%zu bytes)%s", mode, total,
	    same ? "" : " -- first mismatch logged above");
	tap(total == want.bytes, "%s: %zu bytes read back, as the script gives (%zu)", mode, total,
	    want.bytes);
	(void)mismatch_at;
	for (k = 0; k < 2; k++)
		close(fd[k]);

	static const char *const keys[] = { "full", "big" };
	const long long wanted[] = { want.full, want.big };

	for (i = 0; i < 2; i++) {
		long long v[2];

		for (k = 0; k < 2; k++) {
			snprintf(path, sizeof(path), DBG "/%s/info", clients[k]);
			v[k] = keyval(path, keys[i]);
		}
		tap(v[0] == v[1] && v[0] == wanted[i],
		    "%s: %s count identical and as the script gives (rrelay %lld, relay %lld, %lld)",
		    mode, keys[i], v[0], v[1], wanted[i]);
	}
	for (k = 0; k < 2; k++)
		if (sh("rmmod %s", clients[k]))
			bail("rmmod client");
}

int main(void)
{
	load_rrelay();
	pin_to_cpu(0);
	run("per-cpu", "", (struct expected){ 6266, 108, 3 });
	run("global", "global=1", (struct expected){ 6266, 108, 3 });
	run("per-cpu start_reserve", "start_reserve=16", (struct expected){ 5103, 112, 3 });
	run("global overwrite", "global=1 overwrite=1", (struct expected){ 6064, 41, 3 });
	run("per-cpu 8x512", "subbuf_size=512 n_subbufs=8", (struct expected){ 14962, 88, 0 });
	/* Not a power of two: the inline commit's division path. */
	run("overwrite 5x300", "overwrite=1 subbuf_size=300 n_subbufs=5",
	    (struct expected){ 8566, 40, 0 });
	return tap_done();
}
