/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The sample producers' record format, in C: the twin of
 * samples/record_format.rs (which documents the layout), for the C sample
 * and the test modules. `rrelay decode` verifies what these write.
 */
#ifndef _RRELAY_RECORD_FORMAT_H
#define _RRELAY_RECORD_FORMAT_H

#include <linux/types.h>
#include <linux/unaligned.h>

#define RECORD_MAGIC	0x594c5252	/* "RRLY" */
#define HEADER_LEN	32
#define RECORD_SIZE	64		/* what the C producers write */

/* Contexts, as record_format.rs numbers them. */
enum { CTX_PROCESS, CTX_SOFTIRQ, CTX_HARDIRQ, CTX_NMI };

static inline u32 record_fnv1a(u32 h, const u8 *p, size_t n)
{
	while (n--) {
		h ^= *p++;
		h *= 0x01000193;
	}
	return h;
}

/* One RECORD_SIZE record of stream (@cpu, @ctx), number @seq, time @now_ns. */
static inline void record_encode(u8 *rec, int cpu, int ctx, u64 seq, u64 now_ns)
{
	u32 len = RECORD_SIZE - HEADER_LEN, sum;
	size_t i;

	put_unaligned_le32(RECORD_MAGIC, rec);
	put_unaligned_le16(cpu, rec + 4);
	rec[6] = ctx;
	rec[7] = 0;
	put_unaligned_le64(seq, rec + 8);
	put_unaligned_le64(now_ns, rec + 16);
	put_unaligned_le32(len, rec + 24);
	for (i = 0; i < len; i++)
		rec[HEADER_LEN + i] = (u8)(seq + i);
	sum = record_fnv1a(record_fnv1a(0x811c9dc5, rec, 28), rec + HEADER_LEN, len);
	put_unaligned_le32(sum, rec + 28);
}

#endif /* _RRELAY_RECORD_FORMAT_H */
