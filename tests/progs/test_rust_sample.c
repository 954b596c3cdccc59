// SPDX-License-Identifier: GPL-2.0
/*
 * The Rust sample client (samples/rust_relay_sample.rs, on the Rust API in
 * include/rrelay.rs): every record it writes arrives intact, per-CPU and
 * global; in overwrite mode what arrives is intact and the loss is reported.
 */
#include "tap.h"

#include <dirent.h>
#include <stdint.h>

#define N 1000
#define SIZE 64

static unsigned char data[1 << 20];

/* Reads every rrelay_sample<cpu> file; checks records; counts sequence numbers. */
static int collect(int *seen, int *bad)
{
	char path[128];
	int cpu, records = 0;

	for (cpu = 0; cpu < 8; cpu++) {
		size_t n, off;
		int fd;

		snprintf(path, sizeof(path), "/sys/kernel/debug/rrelay_sample%d", cpu);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read_upto(fd, data, sizeof(data));
		close(fd);
		if (n % SIZE)
			(*bad)++;
		for (off = 0; off + SIZE <= n; off += SIZE) {
			uint32_t seq;
			int i, ok = 1;

			memcpy(&seq, data + off + 4, 4);
			for (i = 8; i < SIZE; i++)
				ok &= data[off + i] == (unsigned char)(seq + i - 8);
			if (!ok || seq >= N) {
				(*bad)++;
				continue;
			}
			seen[seq]++;
			records++;
		}
	}
	return records;
}

int main(void)
{
	int seen[N] = { 0 }, bad = 0, i, once = 1, records;

	load_rrelay();
	tap(sh("insmod /opt/modules/rust_relay_sample.ko records=%d record_size=%d", N, SIZE) == 0,
	    "load the Rust sample (per-CPU, no-overwrite)");
	records = collect(seen, &bad);
	for (i = 0; i < N; i++)
		once &= seen[i] == 1;
	tap(records == N && once && !bad, "every record arrived once, intact (%d of %d, %d bad)", records, N, bad);
	tap(sh("rmmod rust_relay_sample") == 0, "unload: the channel is closed on drop");
	tap(access("/sys/kernel/debug/rrelay/rrelay_sample", F_OK) != 0, "its statistics view is gone");

	memset(seen, 0, sizeof(seen));
	bad = 0;
	tap(sh("insmod /opt/modules/rust_relay_sample.ko records=%d record_size=%d global=1 overwrite=1 "
	       "subbuf_size=1024 n_subbufs=4", N, SIZE) == 0, "load the Rust sample (global, overwrite, 4 KiB)");
	records = collect(seen, &bad);
	tap(records > 0 && records <= 4 * 16 && !bad, "what arrives is intact (%d records, %d bad)", records, bad);
	tap(sh("awk '$1 == 0 && NF == 10 && $9 > 0 { ok = 1 } END { exit !ok }' "
	       "/sys/kernel/debug/rrelay/rrelay_sample/stats") == 0,
	    "the overwritten sub-buffers are counted in the statistics");
	tap(sh("rmmod rust_relay_sample") == 0, "unload");
	return tap_done();
}
