// SPDX-License-Identifier: GPL-2.0
/*
 * A relay client, written for <linux/relay.h> the way in-tree clients are,
 * driven from user space through debugfs so tests can feed it identical
 * write sequences. Built twice (tests/modules/Kbuild):
 *   rrelay_test_client.ko  with -DUSE_RRELAY: rrelay, via rrelay_compat.h
 *   relay_test_client.ko   without: the kernel's own relay (the oracle)
 * The include line below is the only difference between the two builds,
 * apart from reading the full/big counters: relay_stats() is not exported
 * in 7.2, so the kernel build reads them from the buffers.
 *
 * debugfs: <modname>/buf<cpu> (the channel's files), <modname>/ctl (write
 * commands: "open", "close", "write LEN N", "__write LEN N", "reserve LEN N",
 * "flush", "reset", "consumed CPU N", "seq N" (next record number),
 * "switch CPU LEN" (relay_switch_subbuf() of that CPU's buffer),
 * "hrtimer LEN N" (N records of LEN bytes, one per millisecond, written
 * from an hrtimer: hardirq context)), <modname>/info (read: counters).
 *
 * rrelay build only: "open create-only", "open remove-only" and "open helper"
 * open the channel with only one of the file callbacks (which rrelay must
 * refuse) or with both; <modname>/null_calls (read) calls every function of
 * the C API that takes a channel or buffer with NULL and prints each result;
 * "atomic" calls relay_flush(), relay_stats(), relay_buf_full() and
 * relay_subbufs_consumed(chan, 0, 1) under spin_lock_irqsave(), then again
 * from hardirq context on another CPU (an IPI), as mt7915 and ath11k do:
 * relay's are callable there, so rrelay's must be.
 */
#ifdef USE_RRELAY
#include <rrelay_compat.h>
#else
#include <linux/relay.h>
#endif
#include <linux/debugfs.h>
#include <linux/hrtimer.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

static int global;
module_param(global, int, 0444);
MODULE_PARM_DESC(global, "One global buffer instead of per-CPU buffers");

static int overwrite;
module_param(overwrite, int, 0444);
MODULE_PARM_DESC(overwrite, "Overwrite unread sub-buffers when full");

static ulong subbuf_size = 256;
module_param(subbuf_size, ulong, 0444);
MODULE_PARM_DESC(subbuf_size, "Sub-buffer size in bytes");

static ulong n_subbufs = 4;
module_param(n_subbufs, ulong, 0444);
MODULE_PARM_DESC(n_subbufs, "Number of sub-buffers");

static ulong start_reserve;
module_param(start_reserve, ulong, 0444);
MODULE_PARM_DESC(start_reserve, "Bytes to reserve at the start of each sub-buffer");

#ifdef USE_RRELAY
static int default_files;
module_param(default_files, int, 0444);
MODULE_PARM_DESC(default_files, "Let rrelay create the buffer files (no create_buf_file)");
#endif

static struct dentry *dir;
static struct rchan *chan;
static DEFINE_MUTEX(lock);
static u32 seq;
static struct hrtimer timer;
static size_t timer_len;
static atomic_t timer_left;

static int client_subbuf_start(struct rchan_buf *buf, void *subbuf, void *prev_subbuf)
{
	if (start_reserve) {
		/* rrelay ignores a reserve that leaves no room: never fill past the sub-buffer. */
		memset(subbuf, 0xee, min_t(size_t, start_reserve, subbuf_size));
		subbuf_start_reserve(buf, start_reserve);
	}
	if (overwrite)
		return 1;
	return !relay_buf_full(buf);
}

static struct dentry *client_create_buf_file(const char *filename, struct dentry *parent,
					     umode_t mode, struct rchan_buf *buf,
					     int *is_global)
{
	*is_global = global;
	return debugfs_create_file(filename, mode, parent, buf, &relay_file_operations);
}

static int client_remove_buf_file(struct dentry *dentry)
{
	debugfs_remove(dentry);
	return 0;
}

static const struct rchan_callbacks client_callbacks = {
	.subbuf_start = client_subbuf_start,
	.create_buf_file = client_create_buf_file,
	.remove_buf_file = client_remove_buf_file,
};

/* Record k of length len: a little-endian sequence number, then a pattern. */
static void fill_record(u8 *p, size_t len, u32 k)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = i < 4 ? (k >> (8 * i)) & 0xff : (u8)(k * 7 + i);
}

static int do_write(const char *how, size_t len, unsigned int n)
{
	u8 *rec = kmalloc(len ? len : 1, GFP_KERNEL);
	unsigned long flags;
	unsigned int i;

	if (!rec)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		fill_record(rec, len, seq++);
		if (!strcmp(how, "write")) {
			relay_write(chan, rec, len);
		} else if (!strcmp(how, "__write")) {
			__relay_write(chan, rec, len);
		} else {
			void *slot;

			local_irq_save(flags);
			slot = relay_reserve(chan, len);
			if (slot)
				memcpy(slot, rec, len);
			local_irq_restore(flags);
		}
	}
	kfree(rec);
	return 0;
}

/* Hardirq context: one record per tick; the channel outlives the timer. */
static enum hrtimer_restart timer_fn(struct hrtimer *t)
{
	u8 rec[256];

	fill_record(rec, timer_len, seq++);
	relay_write(chan, rec, timer_len);
	if (atomic_dec_return(&timer_left) <= 0)
		return HRTIMER_NORESTART;
	hrtimer_forward_now(t, ms_to_ktime(1));
	return HRTIMER_RESTART;
}

/* A relay_stats() counter: RELAY_STATS_BUF_FULL or RELAY_STATS_WRT_BIG. */
static size_t client_count(int flag)
{
#ifdef USE_RRELAY
	return relay_stats(chan, flag);
#else
	size_t sum = 0;
	int cpu;

	for_each_possible_cpu(cpu) {
		struct rchan_buf *buf = *per_cpu_ptr(chan->buf, cpu);

		if (buf && (!global || cpu == 0))
			sum += flag == RELAY_STATS_BUF_FULL ? buf->stats.full_count
							    : buf->stats.big_count;
	}
	return sum;
#endif
}

#ifdef USE_RRELAY
static struct rchan_callbacks client_default_file_callbacks = {
	.subbuf_start = client_subbuf_start,
};

static int helper_files;
module_param(helper_files, int, 0444);
MODULE_PARM_DESC(helper_files, "Create the files with rrelay_create_buf_file()");

/* A client that makes its own files, with rrelay's helper: mmap and splice work. */
static struct dentry *client_helper_create(const char *filename, struct dentry *parent,
					   umode_t mode, struct rchan_buf *buf, int *is_global)
{
	*is_global = global;
	return rrelay_create_buf_file(filename, parent, mode, buf);
}

static const struct rchan_callbacks client_helper_callbacks = {
	.subbuf_start = client_subbuf_start,
	.create_buf_file = client_helper_create,
	.remove_buf_file = client_remove_buf_file,
};

/* Half pairs, which rrelay_open() refuses: each would work if it were let through. */
static const struct rchan_callbacks client_create_only_callbacks = {
	.subbuf_start = client_subbuf_start,
	.create_buf_file = client_helper_create,
};

static const struct rchan_callbacks client_remove_only_callbacks = {
	.subbuf_start = client_subbuf_start,
	.remove_buf_file = client_remove_buf_file,
};

static char null_text[512];

/* Every call of the C API that takes a channel or a buffer, given NULL. */
static ssize_t null_calls_read(struct file *file, char __user *ubuf, size_t count,
			       loff_t *ppos)
{
	struct rrelay_reservation res;
	struct rrelay_buf_stats st;
	size_t n = 0;
	char name[] = "null_calls_file";

	if (*ppos == 0) {
		rrelay_close(NULL);
		rrelay_flush(NULL);
		rrelay_reset(NULL);
		rrelay_subbufs_consumed(NULL, 0, 1);
		rrelay_subbuf_start_reserve(NULL, 16);
		rrelay_write_noinline(NULL, name, sizeof(name));
		__rrelay_write_noinline(NULL, name, sizeof(name));
		n = scnprintf(null_text, sizeof(null_text),
			      "close ignored\nflush ignored\nreset ignored\n"
			      "subbufs_consumed ignored\nsubbuf_start_reserve ignored\n"
			      "write_noinline ignored\n__write_noinline ignored\n");
		n += scnprintf(null_text + n, sizeof(null_text) - n,
			       "stats %zu\nbuf_stats %d\nbuf_full %d\nswitch_subbuf %zu\n",
			       rrelay_stats(NULL, ~0), rrelay_buf_stats(NULL, 0, &st),
			       rrelay_buf_full(NULL), rrelay_switch_subbuf(NULL, 16));
		n += scnprintf(null_text + n, sizeof(null_text) - n,
			       "reserve_noinline %d\ncreate_buf_file %d\n",
			       !!rrelay_reserve_noinline(NULL, 16, &res),
			       !!rrelay_create_buf_file(name, dir, 0400, NULL));
		mutex_lock(&lock);
		if (chan)
			n += scnprintf(null_text + n, sizeof(null_text) - n,
				       "buf_stats_null_out %d\nbuf_stats_no_cpu %d\n",
				       rrelay_buf_stats(chan, 0, NULL),
				       rrelay_buf_stats(chan, nr_cpu_ids, &st));
		mutex_unlock(&lock);
	} else {
		n = strlen(null_text);
	}
	return simple_read_from_buffer(ubuf, count, ppos, null_text, n);
}

static const struct file_operations null_calls_fops = {
	.owner = THIS_MODULE,
	.read = null_calls_read,
};
#endif

/* Opens the channel; variant names a callback set (rrelay build only) or is "". */
static int client_open(const char *variant)
{
	const struct rchan_callbacks *cb = &client_callbacks;

	if (chan)
		return -EBUSY;
#ifdef USE_RRELAY
	if (default_files) {
		client_default_file_callbacks.is_global = global;
		cb = &client_default_file_callbacks;
	}
	if (helper_files || !strcmp(variant, "helper"))
		cb = &client_helper_callbacks;
	else if (!strcmp(variant, "create-only"))
		cb = &client_create_only_callbacks;
	else if (!strcmp(variant, "remove-only"))
		cb = &client_remove_only_callbacks;
	else if (*variant)
		return -EINVAL;
#else
	if (*variant)
		return -EINVAL;
#endif
	chan = relay_open("buf", dir, subbuf_size, n_subbufs, cb, NULL);
	if (!chan)
		return -EINVAL;
	return 0;
}

#ifdef USE_RRELAY
static DEFINE_SPINLOCK(atomic_lock);
static size_t atomic_sink;

/* The controls in atomic context, under a spinlock or in hardirq. */
static void atomic_controls(void *unused)
{
	relay_flush(chan);
	atomic_sink += relay_stats(chan, RELAY_STATS_BUF_FULL);
	atomic_sink += relay_buf_full(*per_cpu_ptr(chan->buf, 0));
	relay_subbufs_consumed(chan, 0, 1);
}

static int do_atomic(void)
{
	unsigned long flags;
	int cpu;

	spin_lock_irqsave(&atomic_lock, flags);
	atomic_controls(NULL);
	spin_unlock_irqrestore(&atomic_lock, flags);
	cpu = cpumask_any_but(cpu_online_mask, raw_smp_processor_id());
	if (cpu >= nr_cpu_ids)
		return -ENODEV;
	return smp_call_function_single(cpu, atomic_controls, NULL, 1);
}
#endif

static ssize_t ctl_write(struct file *file, const char __user *ubuf, size_t count, loff_t *ppos)
{
	char cmd[64], how[16], variant[16] = "";
	size_t len;
	unsigned int n, cpu;
	int ret = 0;

	if (count >= sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, count))
		return -EFAULT;
	cmd[count] = 0;

	mutex_lock(&lock);
	if (!strncmp(cmd, "open", 4)) {
		if (sscanf(cmd, "open %15s", variant) != 1)
			variant[0] = 0;
		ret = client_open(variant);
	} else if (!chan) {
		ret = -ENODEV;
	} else if (!strncmp(cmd, "close", 5)) {
		hrtimer_cancel(&timer);
		relay_close(chan);
		chan = NULL;
	} else if (!strncmp(cmd, "flush", 5)) {
		relay_flush(chan);
	} else if (!strncmp(cmd, "reset", 5)) {
		relay_reset(chan);
	} else if (sscanf(cmd, "seq %u", &n) == 1) {
		seq = n;
	} else if (sscanf(cmd, "hrtimer %zu %u", &len, &n) == 2 && len <= 256 && n > 0) {
		hrtimer_cancel(&timer);
		timer_len = len;
		atomic_set(&timer_left, n);
		hrtimer_start(&timer, ms_to_ktime(1), HRTIMER_MODE_REL);
#ifdef USE_RRELAY
	} else if (!strncmp(cmd, "atomic", 6)) {
		ret = do_atomic();
#endif
	} else if (sscanf(cmd, "switch %u %zu", &cpu, &len) == 2 && cpu < nr_cpu_ids &&
		   *per_cpu_ptr(chan->buf, cpu)) {
		unsigned long flags;

		/* relay's switch wants its CPU's writers kept out. */
		local_irq_save(flags);
		relay_switch_subbuf(*per_cpu_ptr(chan->buf, cpu), len);
		local_irq_restore(flags);
	} else if (sscanf(cmd, "consumed %u %u", &cpu, &n) == 2) {
		relay_subbufs_consumed(chan, cpu, n);
	} else if (sscanf(cmd, "%15s %zu %u", how, &len, &n) == 3 &&
		   (!strcmp(how, "write") || !strcmp(how, "__write") || !strcmp(how, "reserve"))) {
		ret = do_write(how, len, n);
	} else {
		ret = -EINVAL;
	}
	mutex_unlock(&lock);
	return ret ? ret : count;
}

static ssize_t info_read(struct file *file, char __user *ubuf, size_t count, loff_t *ppos)
{
	char text[128];
	int n;

	mutex_lock(&lock);
	if (chan)
		n = scnprintf(text, sizeof(text),
			      "open 1\nfull %zu\nbig %zu\nsubbuf_size %zu\nn_subbufs %zu\n",
			      client_count(RELAY_STATS_BUF_FULL), client_count(RELAY_STATS_WRT_BIG),
			      chan->subbuf_size, chan->n_subbufs);
	else
		n = scnprintf(text, sizeof(text), "open 0\n");
	mutex_unlock(&lock);
	return simple_read_from_buffer(ubuf, count, ppos, text, n);
}

static const struct file_operations ctl_fops = {
	.owner = THIS_MODULE,
	.write = ctl_write,
};

static const struct file_operations info_fops = {
	.owner = THIS_MODULE,
	.read = info_read,
};

static int __init client_init(void)
{
	int ret;

	hrtimer_setup(&timer, timer_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	dir = debugfs_create_dir(THIS_MODULE->name, NULL);
	debugfs_create_file("ctl", 0200, dir, NULL, &ctl_fops);
	debugfs_create_file("info", 0444, dir, NULL, &info_fops);
#ifdef USE_RRELAY
	debugfs_create_file("null_calls", 0400, dir, NULL, &null_calls_fops);
#endif
	ret = client_open("");
	if (ret)
		debugfs_remove(dir);
	return ret;
}

static void __exit client_exit(void)
{
	hrtimer_cancel(&timer);
	if (chan)
		relay_close(chan);
	debugfs_remove(dir);
}

module_init(client_init);
module_exit(client_exit);
MODULE_DESCRIPTION("relay client for rrelay's tests (rrelay and kernel relay builds)");
MODULE_LICENSE("GPL");
