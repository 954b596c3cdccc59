/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C producers' shared pieces (the C sample and the stress test module):
 * the record format, the twin of samples/record_format.rs (which documents
 * the layout; `rrelay decode` verifies what these write), their per-stream
 * counts and their control file.
 */
#ifndef _RRELAY_RECORD_FORMAT_H
#define _RRELAY_RECORD_FORMAT_H

#include <linux/fs.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/types.h>
#include <linux/uaccess.h>
#include <linux/unaligned.h>

#define RECORD_MAGIC	0x594c5252	/* "RRLY" */
#define HEADER_LEN	32
#define RECORD_SIZE	64		/* what the C producers write */

/* Contexts, as record_format.rs numbers and names them. */
enum { CTX_PROCESS, CTX_SOFTIRQ, CTX_HARDIRQ, CTX_NMI, CTX_COUNT };
static const char *const record_ctx_names[CTX_COUNT] = {
	"process", "softirq", "hardirq", "nmi",
};

/* Per stream (a CPU's context): the records written, and those relay dropped. */
struct record_counts {
	u64 written[CTX_COUNT];
	u64 dropped[CTX_COUNT];
};

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

/*
 * The counts file ("cpu context written dropped", `rrelay decode --expect`):
 * every stream of every possible CPU that wrote; @of gives a CPU's counts.
 */
static inline ssize_t record_counts_read(char __user *ubuf, size_t count, loff_t *ppos,
					 struct record_counts *(*of)(int cpu))
{
	size_t cap = num_possible_cpus() * CTX_COUNT * 64, n = 0;
	char *buf = kmalloc(cap, GFP_KERNEL);
	ssize_t ret;
	int cpu, ctx;

	if (!buf)
		return -ENOMEM;
	for_each_possible_cpu(cpu) {
		struct record_counts *c = of(cpu);

		for (ctx = 0; ctx < CTX_COUNT; ctx++)
			if (c->written[ctx])
				n += scnprintf(buf + n, cap - n, "%d %s %llu %llu\n", cpu,
					       record_ctx_names[ctx], c->written[ctx],
					       c->dropped[ctx]);
	}
	ret = simple_read_from_buffer(ubuf, count, ppos, buf, n);
	kfree(buf);
	return ret;
}

/* The control file: "start" runs @start, "stop" runs @stop, under @lock. */
static inline ssize_t producer_control(const char __user *ubuf, size_t count,
				       struct mutex *lock, const bool *running,
				       void (*start)(void), void (*stop)(void))
{
	char cmd[16] = "";

	if (copy_from_user(cmd, ubuf, min(count, sizeof(cmd) - 1)))
		return -EFAULT;
	mutex_lock(lock);
	if (sysfs_streq(cmd, "start") && !*running)
		start();
	else if (sysfs_streq(cmd, "stop") && *running)
		stop();
	else
		count = -EINVAL;
	mutex_unlock(lock);
	return count;
}

#endif /* _RRELAY_RECORD_FORMAT_H */
